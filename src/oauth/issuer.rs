//! Access tokens: JWTs per RFC 9068, signed with the client's access-token algorithm
//! (ES256 by default). Resource servers verify them against `/jwks`; `/userinfo` and
//! introspection also check that their grant is still live.

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::crypto::{jws, Alg};
use crate::keys::KeySet;

/// What every token issued by this server shares, from the configuration.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    /// RFC 9068 §3 `aud` when no resource was requested.
    pub audience: String,
    pub access_token_ttl: i64,
    pub id_token_ttl: i64,
    pub code_ttl: i64,
    pub refresh_idle_ttl: i64,
    pub refresh_absolute_ttl: i64,
    pub refresh_reuse_grace: i64,
    pub max_refresh_tokens_per_client: i64,
    /// The longest `exp - iat` of anything we sign, plus skew: longer is not ours.
    pub max_signed_lifetime: i64,
    /// Scope → seconds after `auth_time` when it lapses.
    pub scope_lifetimes: Vec<(String, i64)>,
    /// What tokens call the assurance levels (`[mfa.acr_names]`); rows keep the
    /// built-in names.
    pub acr_names: crate::oidc::acr::Names,
}

impl TokenSettings {
    pub fn new(config: &Config, issuer: &str) -> Self {
        let t = &config.tokens;
        TokenSettings {
            issuer: issuer.to_owned(),
            audience: t.audience.clone().unwrap_or_else(|| issuer.to_owned()),
            access_token_ttl: t.access_token_ttl.as_secs(),
            id_token_ttl: t.id_token_ttl.as_secs(),
            code_ttl: t.authorization_code_ttl.as_secs(),
            refresh_idle_ttl: t.refresh_token_idle_ttl.as_secs(),
            refresh_absolute_ttl: t.refresh_token_absolute_ttl.as_secs(),
            refresh_reuse_grace: t.refresh_token_reuse_grace.as_secs(),
            max_refresh_tokens_per_client: t.max_refresh_tokens_per_client.max(1),
            max_signed_lifetime: config.signed_token_max_lifetime(),
            scope_lifetimes: t
                .scope_lifetimes
                .iter()
                .map(|(k, v)| (k.clone(), v.as_secs()))
                .collect(),
            acr_names: config.mfa.names(),
        }
    }
}

impl TokenSettings {
    /// The scopes still in force at `now` for a sign-in at `auth_time`.
    pub fn unexpired_scopes(&self, scope: &[String], auth_time: i64, now: i64) -> Vec<String> {
        scope
            .iter()
            .filter(|s| {
                self.scope_lifetimes
                    .iter()
                    .all(|(name, ttl)| name != *s || now < auth_time + ttl)
            })
            .cloned()
            .collect()
    }
}

/// RFC 9068 §2.2 claims, plus RFC 9470 §3 `acr`/`auth_time`, RFC 9068 §2.2.1 `amr`,
/// and the grant they came from (revoking the grant makes the token inactive at introspection and userinfo).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
}

/// No key can sign for the algorithm (keys missing or not loaded yet).
#[derive(Debug, thiserror::Error)]
#[error("no signing key for {0}")]
pub struct NoSigningKey(pub Alg);

/// Seconds a token's `iat` may be ahead of our clock (another instance's clock).
pub const CLOCK_SKEW: i64 = 60;

/// Signs `claims` as an `at+jwt` (RFC 9068 §2.1).
pub fn mint(
    keys: &KeySet,
    alg: Alg,
    claims: &AccessTokenClaims,
    now: i64,
) -> Result<String, NoSigningKey> {
    let key = keys.signing_key(alg, now).ok_or(NoSigningKey(alg))?;
    Ok(jws::encode(&key.signer, &key.kid, "at+jwt", claims))
}

/// RFC 9068 §4: signature by one of our keys, `typ` `at+jwt`, our issuer, not expired.
/// Whether its grant is still live is the caller's second question.
pub fn verify(
    token: &str,
    keys: &KeySet,
    settings: &TokenSettings,
    now: i64,
) -> Option<AccessTokenClaims> {
    verify_with_kid(token, keys, settings, now).map(|(claims, _)| claims)
}

/// [`verify`], and the `kid` of the key that verified the token.
fn verify_with_kid(
    token: &str,
    keys: &KeySet,
    settings: &TokenSettings,
    now: i64,
) -> Option<(AccessTokenClaims, String)> {
    let verified = keys.verify(token, now)?;
    let typ = verified.typ.as_deref()?.to_ascii_lowercase();
    if typ != "at+jwt" && typ != "application/at+jwt" {
        return None;
    }
    let claims: AccessTokenClaims = serde_json::from_slice(&verified.payload).ok()?;
    // RFC 7519 §4.1.6: a token issued in the future (beyond the skew allowed), or one
    // that lives longer than anything we sign, was not minted by us (hardening #11 item 3:
    // what a stolen key would mint).
    let plausible = claims.iat <= now + CLOCK_SKEW
        && claims.exp.saturating_sub(claims.iat) <= settings.max_signed_lifetime;
    // Any `aud`: every access token we sign is ours to describe, whichever resource it
    // is for (RFC 8707) — checking `aud` is the resource server's part (RFC 9068 §4).
    // Userinfo accepts them too, as Keycloak does, so a client whose tokens are for its
    // API still reads the person's claims with them.
    (plausible && claims.iss == settings.issuer && claims.exp > now)
        .then_some((claims, verified.kid))
}

/// Access tokens whose signature already verified, by their text: resource servers
/// introspect the same token many times, and an ES256 verification costs ~70 µs. The
/// claims are kept until the token expires (at most `CAPACITY` tokens; when full, the
/// map starts over), with the key that verified them: a hit counts only while that key
/// is still published (`keys revoke`). Revocation of grants is never cached: callers
/// still check the grant and the deny-list on every request.
#[derive(Default)]
pub struct VerifiedTokens(std::sync::Mutex<std::collections::HashMap<String, Remembered>>);

/// A verified token's claims and the `kid` that verified them.
type Remembered = (AccessTokenClaims, String);

impl VerifiedTokens {
    const CAPACITY: usize = 10_000;

    /// [`verify`], remembering tokens that passed.
    pub fn verify(
        &self,
        token: &str,
        keys: &KeySet,
        settings: &TokenSettings,
        now: i64,
    ) -> Option<AccessTokenClaims> {
        let lock = || self.0.lock().unwrap_or_else(|e| e.into_inner());
        let hit = lock().get(token).cloned();
        if let Some((claims, kid)) = hit {
            if claims.exp > now && keys.verifying_key(&kid, now).is_some() {
                return Some(claims);
            }
        }
        let (claims, kid) = verify_with_kid(token, keys, settings, now)?;
        let mut cache = lock();
        if cache.len() >= Self::CAPACITY {
            cache.clear();
        }
        cache.insert(token.to_owned(), (claims.clone(), kid));
        Some(claims)
    }
}
