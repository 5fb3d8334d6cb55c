//! Google's other name for itself. Google documents an ID token's `iss` as
//! `https://accounts.google.com` or `accounts.google.com` ("Authenticate with a backend
//! server: verify the integrity of the ID token"). `openidconnect` reads `iss` as a URL
//! while it parses the token response, so a token naming the issuer without its scheme
//! never reaches its verifier: the exchange fails to parse. For `kind = "google"` only,
//! that answer is verified here instead — the signature by the upstream's published key
//! through `openidconnect`'s own JWK type (no cryptography of ours), then `iss` (the
//! issuer without its scheme), `aud`, `azp`, `exp`, `nonce` and `hd`, as Core §3.1.3.7
//! lists them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::JsonWebKey;
use serde_json::Value;

use super::{Asserted, FederationError};

/// What the token must say.
pub struct Expected<'a> {
    /// The issuer without its scheme (`accounts.google.com`).
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub hosted_domain: Option<&'a str>,
    pub now: i64,
}

/// Why a token was not accepted: its key is not among those given (fetch them again),
/// or anything else.
pub enum Failure {
    UnknownKey,
    Refused(FederationError),
}

/// The issuer without its scheme, the form Google may use in `iss`.
pub fn schemeless(issuer: &str) -> &str {
    issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .unwrap_or(issuer)
}

fn reject(why: &str) -> Failure {
    Failure::Refused(FederationError::Rejected(format!("ID token: {why}")))
}

fn json(part: &str) -> Result<Value, Failure> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| reject("not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| reject("not JSON"))
}

/// Verifies the ID token in a token response `body` against `keys`.
pub fn verify(
    body: &[u8],
    keys: &CoreJsonWebKeySet,
    e: &Expected<'_>,
) -> Result<Asserted, Failure> {
    let tokens: Value = serde_json::from_slice(body).map_err(|_| reject("no token response"))?;
    let jwt = tokens["id_token"]
        .as_str()
        .ok_or_else(|| reject("missing"))?;
    let mut parts = jwt.split('.');
    let (Some(head), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(reject("not a JWS"));
    };
    let header = json(head)?;
    // Google signs with RS256 only; nothing else is taken (never `none`, never HMAC).
    if header["alg"] != "RS256" {
        return Err(reject("alg"));
    }
    let kid = header["kid"].as_str();
    let key = keys
        .keys()
        .iter()
        .find(|k| k.key_id().map(|id| id.as_str()) == kid)
        .ok_or(Failure::UnknownKey)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| reject("signature"))?;
    key.verify_signature(
        &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        format!("{head}.{payload}").as_bytes(),
        &signature,
    )
    .map_err(|_| reject("signature"))?;

    let claims = json(payload)?;
    if claims["iss"].as_str() != Some(e.issuer) {
        return Err(reject("iss"));
    }
    let audiences: Vec<&str> = match &claims["aud"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&e.client_id) {
        return Err(reject("aud"));
    }
    // Core §3.1.3.7 (4, 5): with several audiences, `azp` must be us.
    let azp = claims["azp"].as_str();
    if (audiences.len() > 1 || azp.is_some()) && azp != Some(e.client_id) {
        return Err(reject("azp"));
    }
    if claims["exp"].as_i64().is_none_or(|exp| exp <= e.now) {
        return Err(reject("exp"));
    }
    if claims["nonce"].as_str() != Some(e.nonce) {
        return Err(reject("nonce"));
    }
    if let Some(domain) = e.hosted_domain {
        if claims["hd"].as_str() != Some(domain) {
            return Err(Failure::Refused(FederationError::NotAllowed(
                "hosted domain",
            )));
        }
    }
    let text = |key: &str| {
        claims[key]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Ok(Asserted {
        subject: text("sub").ok_or_else(|| reject("sub"))?,
        email: text("email"),
        email_verified: matches!(&claims["email_verified"], Value::Bool(true))
            || claims["email_verified"] == "true",
        name: text("name"),
        preferred_username: None,
        amr: claims["amr"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    })
}
