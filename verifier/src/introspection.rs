//! Token introspection (RFC 7662) for opaque tokens and calls that need a token's live
//! state, with a short cache keyed by the SHA-256 of the token (never the token itself),
//! so a burst of calls with one token costs one round trip.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::{AccessToken, Credentials, Rejection};

/// The most answers held; past it, expired ones go, then all of them.
const CAPACITY: usize = 10_000;

/// An answer, and until when it may be reused.
type Cached = (Instant, Result<AccessToken, Rejection>);

pub(crate) struct Introspector {
    http: reqwest::Client,
    endpoint: String,
    credentials: Credentials,
    ttl: Duration,
    cache: Mutex<HashMap<Vec<u8>, Cached>>,
}

/// RFC 7662 §2.2; everything but `active` is optional.
#[derive(Deserialize)]
struct Answer {
    active: bool,
    token_type: Option<String>,
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}

impl Introspector {
    pub(crate) fn new(
        http: reqwest::Client,
        endpoint: String,
        credentials: Credentials,
        ttl: Duration,
    ) -> Self {
        Introspector {
            http,
            endpoint,
            credentials,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) async fn introspect(&self, token: &str, now: i64) -> Result<AccessToken, Rejection> {
        let key = portcullis_jose::sha256(token.as_bytes());
        if let Some((until, answer)) = self.cache.lock().expect("not poisoned").get(&key) {
            if Instant::now() < *until {
                return answer.clone();
            }
        }
        let answer = self.ask(token).await?;
        // Never past the token's own expiry.
        let ttl = match &answer {
            Ok(claims) => self.ttl.min(Duration::from_secs(
                claims.exp.saturating_sub(now).max(0) as u64
            )),
            Err(_) => self.ttl,
        };
        let mut cache = self.cache.lock().expect("not poisoned");
        if cache.len() >= CAPACITY {
            let now = Instant::now();
            cache.retain(|_, (until, _)| *until > now);
            if cache.len() >= CAPACITY {
                cache.clear();
            }
        }
        cache.insert(key, (Instant::now() + ttl, answer.clone()));
        answer
    }

    /// The issuer's answer: `Ok(claims)` for an active access token, `Ok(Err)` for
    /// anything else; `Err` when we could not ask (not cached).
    async fn ask(&self, token: &str) -> Result<Result<AccessToken, Rejection>, Rejection> {
        let unavailable = |e: &dyn std::fmt::Display| {
            tracing::warn!(error = %e, "token introspection failed");
            Rejection::unavailable("the issuer cannot be asked about the token")
        };
        let response = self
            .http
            .post(&self.endpoint)
            .basic_auth(&self.credentials.id, Some(&self.credentials.secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        if !response.status().is_success() {
            return Err(unavailable(&response.status()));
        }
        let answer: Answer = response.json().await.map_err(|e| unavailable(&e))?;
        if !answer.active {
            return Ok(Err(Rejection::invalid_token("the token is not active")));
        }
        // A refresh token is active too, but it is not a bearer token for us.
        if answer
            .token_type
            .as_deref()
            .is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Ok(Err(Rejection::invalid_token(
                "the token is not an access token",
            )));
        }
        Ok(serde_json::from_value(answer.claims.into())
            .map_err(|_| Rejection::invalid_token("the issuer's answer lacks claims we need")))
    }
}
