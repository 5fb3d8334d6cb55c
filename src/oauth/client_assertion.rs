//! `private_key_jwt` (RFC 7523 §2.2 and §3, OpenID Connect Core §9): a confidential
//! client authenticates with a short-lived JWT signed by its own key, instead of a
//! shared secret. The assertion is settled once per request, before any grant runs (it
//! may need the client's `jwks_uri` fetched, and its `jti` recorded): a `Presented::
//! Assertion` becomes `Presented::Asserted`, which `client_auth::check` accepts for
//! clients registered with `private_key_jwt` only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::client::{AuthMethod, Client};
use super::client_auth::Presented;
use super::registry::Registry;
use super::OAuthError;
use crate::crypto::jws::{self, PublicKey};
use crate::crypto::Alg;
use crate::federation::outbound::Outbound;
use crate::store::{client_assertion_jtis, Db};

/// RFC 7523 §2.2 `client_assertion_type`.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may still live when presented: its `jti` is kept that long,
/// and a long-lived assertion is a password by another name.
pub const MAX_LIFETIME: i64 = 300;
/// Clock skew allowed on `exp`, `nbf` and `iat`.
const SKEW: i64 = 30;
/// How long a fetched `jwks_uri` is used, and the least time between two fetches made
/// for an unknown `kid`.
const JWKS_TTL: Duration = Duration::from_secs(300);
const REFETCH_COOLDOWN: Duration = Duration::from_secs(10);

type Keys = Arc<Vec<(String, PublicKey)>>;

struct Fetched {
    keys: Keys,
    at: Instant,
    /// When a fetch was last made for an unknown `kid`.
    forced_at: Option<Instant>,
}

/// The `jwks_uri` key sets fetched, shared by every request of this instance.
pub struct Assertions {
    outbound: Outbound,
    fetched: Mutex<HashMap<String, Fetched>>,
}

/// RFC 7523 §3: the claims we check.
#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    nbf: Option<i64>,
    iat: Option<i64>,
    jti: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn names_any(&self, accepted: &[String]) -> bool {
        match self {
            Audience::One(a) => accepted.contains(a),
            Audience::Many(list) => list.iter().any(|a| accepted.contains(a)),
        }
    }
}

fn refused(description: &str) -> OAuthError {
    OAuthError::invalid_client(false).describe(description)
}

impl Assertions {
    pub fn new(outbound: Outbound) -> Self {
        Assertions {
            outbound,
            fetched: Mutex::new(HashMap::new()),
        }
    }

    /// A `Presented::Assertion` verified and its `jti` recorded: `Presented::Asserted`.
    /// Everything else is returned as it came. `audiences` are the `aud` values that
    /// name us: the issuer and the token endpoint (RFC 7523 §3 item 3, Core §9).
    pub async fn settle(
        &self,
        db: &Db,
        registry: &Registry,
        presented: Presented,
        audiences: &[String],
        now: i64,
    ) -> Result<Presented, OAuthError> {
        let Presented::Assertion {
            client_id,
            assertion,
        } = presented
        else {
            return Ok(presented);
        };
        let client = match registry.get_current(db, &client_id).await {
            Some(client) => Some(client),
            None => {
                let id = client_id.clone();
                db.run(move |conn| super::client::get(conn, &id)).await?
            }
        };
        let client = client
            .filter(|c| c.token_endpoint_auth_method == AuthMethod::PrivateKeyJwt && !c.public)
            .ok_or_else(|| refused("client authentication failed"))?;
        let verified = self.verify_signature(&client, &assertion).await?;
        let claims: Claims = serde_json::from_slice(&verified.payload)
            .map_err(|_| refused("the client assertion's claims are malformed"))?;
        // §3 items 1–2: for client authentication, iss and sub are the client (§2.2).
        if claims.iss != client.id || claims.sub != client.id {
            return Err(refused(
                "the client assertion's iss and sub must be the client_id",
            ));
        }
        if !claims.aud.names_any(audiences) {
            return Err(refused(
                "the client assertion's aud must be this issuer or its token endpoint",
            ));
        }
        // §3 item 4: not expired; and not valid for long (our bound).
        if now >= claims.exp + SKEW {
            return Err(refused("the client assertion has expired"));
        }
        if claims.exp - now > MAX_LIFETIME {
            return Err(refused(&format!(
                "the client assertion must expire within {MAX_LIFETIME} seconds"
            )));
        }
        if claims.nbf.is_some_and(|nbf| now < nbf - SKEW)
            || claims.iat.is_some_and(|iat| iat > now + SKEW)
        {
            return Err(refused("the client assertion is not valid yet"));
        }
        // §3 item 7: a `jti`, used once; kept until the assertion cannot be used anyway.
        let jti = claims
            .jti
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or_else(|| refused("the client assertion needs a jti"))?;
        let (id, expires_at) = (client.id.clone(), claims.exp + SKEW);
        let fresh = db
            .write(move |conn| client_assertion_jtis::record(conn, &id, &jti, expires_at))
            .await?;
        if !fresh {
            return Err(refused("the client assertion was used before"));
        }
        Ok(Presented::Asserted {
            client_id: client.id.clone(),
        })
    }

    /// The signature, with the client's registered keys (inline, or from `jwks_uri`,
    /// fetched again once for an unknown `kid`).
    async fn verify_signature(
        &self,
        client: &Client,
        assertion: &str,
    ) -> Result<jws::Verified, OAuthError> {
        let bad_signature = || refused("the client assertion's signature does not verify");
        // The verified JWS, or whether the `kid` was one the keys do not hold.
        let lookup = |keys: &Keys| {
            let mut unknown = false;
            let verified = jws::verify(assertion, |kid| {
                let key = keys.iter().find(|(k, _)| k == kid).map(|(_, key)| key);
                unknown = key.is_none();
                key
            });
            verified.ok_or(unknown)
        };
        if let Some(keys) = &client.jwks {
            return lookup(keys).map_err(|_| bad_signature());
        }
        let Some(uri) = client.jwks_uri.as_deref() else {
            return Err(bad_signature());
        };
        match lookup(&self.keys_at(uri, false).await?) {
            Ok(verified) => Ok(verified),
            Err(true) => lookup(&self.keys_at(uri, true).await?).map_err(|_| bad_signature()),
            Err(false) => Err(bad_signature()),
        }
    }

    /// The keys at `uri`: cached for [`JWKS_TTL`]; `again` (an unknown `kid`) fetches
    /// at once, unless another unknown `kid` did within [`REFETCH_COOLDOWN`].
    async fn keys_at(&self, uri: &str, again: bool) -> Result<Keys, OAuthError> {
        let (cached, forced_at) = {
            let fetched = self.fetched.lock().unwrap_or_else(|e| e.into_inner());
            match fetched.get(uri) {
                None => (None, None),
                Some(f) => {
                    let fresh = if again {
                        f.forced_at.is_some_and(|t| t.elapsed() < REFETCH_COOLDOWN)
                    } else {
                        f.at.elapsed() < JWKS_TTL
                    };
                    (fresh.then(|| f.keys.clone()), f.forced_at)
                }
            }
        };
        if let Some(keys) = cached {
            return Ok(keys);
        }
        let url = url::Url::parse(uri).map_err(|_| refused("the client's jwks_uri is invalid"))?;
        let unreachable = |e: &dyn std::fmt::Display| {
            tracing::warn!(jwks_uri = uri, error = %e, "cannot fetch a client's keys");
            refused("the client's keys cannot be fetched")
        };
        let (status, body) = self
            .outbound
            .get_json(&url, None)
            .await
            .map_err(|e| unreachable(&e))?;
        if status != 200 {
            return Err(unreachable(&format!("status {status}")));
        }
        let keys: Keys = Arc::new(portcullis_jose::jwk::signing_keys(&body, &Alg::ALL));
        self.fetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                uri.to_owned(),
                Fetched {
                    keys: keys.clone(),
                    at: Instant::now(),
                    forced_at: if again {
                        Some(Instant::now())
                    } else {
                        forced_at
                    },
                },
            );
        Ok(keys)
    }
}

/// The client an assertion says it is from (`sub`), read without verifying anything:
/// only to find whose keys to verify it with, when the request names no `client_id`.
pub fn claimed_client(assertion: &str) -> Option<String> {
    use base64::Engine;
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    #[derive(Deserialize)]
    struct Sub {
        sub: String,
    }
    serde_json::from_slice::<Sub>(&bytes).ok().map(|s| s.sub)
}
