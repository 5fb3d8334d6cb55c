//! ID tokens (OpenID Connect Core §2, §3.1.3.6–3.1.3.7), signed with the client's
//! `id_token_signed_response_alg` (RS256 by default, §15.1).

use serde::{Deserialize, Serialize};

use crate::crypto::{jws, token, Alg};
use crate::keys::KeySet;
use crate::oauth::client::Client;
use crate::oauth::grants::mint::Authorized;
use crate::oauth::issuer::{NoSigningKey, TokenSettings};
use crate::oauth::OAuthError;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    /// §2: the party the token was issued to.
    pub azp: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub amr: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// OpenID Connect Front-Channel Logout §3: the session the token belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// §3.1.3.6: the left half of the SHA-256 of the access token, base64url. Both RS256 and
/// ES256 hash with SHA-256.
pub fn at_hash(access_token: &str) -> String {
    token::b64url(&token::sha256(access_token.as_bytes())[..16])
}

/// The OpenID Connect hook of the grants that act for a person (GUIDE: OpenID Connect
/// wraps OAuth): the ID token (§3.1.3.3) when `openid` was granted, saying how the
/// person authenticated — `auth_time`, `acr`, `amr` as the assurance policy left them —
/// bound to the access token by `at_hash`; `nonce` only in the first (§12.2).
pub fn for_grant(
    keys: &KeySet,
    settings: &TokenSettings,
    client: &Client,
    who: &Authorized<'_>,
    scope: &[String],
    access_token: &str,
    now: i64,
) -> Result<Option<String>, OAuthError> {
    if !scope.iter().any(|s| s == "openid") {
        return Ok(None);
    }
    let claims = IdTokenClaims {
        iss: settings.issuer.clone(),
        sub: who.user_id.to_owned(),
        aud: client.id.clone(),
        azp: client.id.clone(),
        exp: now + settings.id_token_ttl,
        iat: now,
        auth_time: who.auth_time,
        nonce: who.nonce.map(str::to_owned),
        acr: who.acr.map(|a| settings.acr_names.public(a)),
        amr: who.amr.clone(),
        at_hash: Some(at_hash(access_token)),
        sid: who.session_id.map(str::to_owned),
    };
    sign(keys, client.id_token_signed_response_alg, &claims, now)
        .map(Some)
        .map_err(|e| OAuthError::unavailable(&e))
}

pub fn sign(
    keys: &KeySet,
    alg: Alg,
    claims: &IdTokenClaims,
    now: i64,
) -> Result<String, NoSigningKey> {
    let key = keys.signing_key(alg, now).ok_or(NoSigningKey(alg))?;
    Ok(jws::encode(&key.signer, &key.kid, "JWT", claims))
}

/// The claims of an ID token we issued, signed by a key still published at `now`;
/// expiry is not checked (RP-Initiated Logout 1.0 §2 accepts an expired `id_token_hint`).
pub fn verify_hint(token: &str, keys: &KeySet, issuer: &str, now: i64) -> Option<IdTokenClaims> {
    let verified = keys.verify(token, now)?;
    if verified
        .typ
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("JWT"))
    {
        return None;
    }
    let claims: IdTokenClaims = serde_json::from_slice(&verified.payload).ok()?;
    (claims.iss == issuer).then_some(claims)
}
