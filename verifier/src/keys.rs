//! The issuer's signing keys (RFC 7517 §5), cached as long as the JWKS response allows
//! (`Cache-Control: max-age`), revalidated with `If-None-Match`, refreshed in the
//! background when stale, and fetched again at once — single-flight, at most once per
//! cool-down — when a token names a `kid` we do not hold.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use portcullis_jose::jws::{self, PublicKey, Verified};
use portcullis_jose::{jwk, Alg};
use tokio::time::Instant;

use crate::Rejection;

/// How long keys are kept when the JWKS response does not say.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// The longest we trust a JWKS response without asking again, whatever it says.
const LONGEST_MAX_AGE: Duration = Duration::from_secs(86_400);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// One fetched key set.
struct Snapshot {
    keys: HashMap<String, PublicKey>,
    fresh_until: Instant,
    etag: Option<String>,
    /// Bumped on every successful fetch, so a waiter can tell someone fetched meanwhile.
    generation: u64,
}

pub(crate) struct RemoteKeys {
    http: reqwest::Client,
    jwks_uri: String,
    allowed: Vec<Alg>,
    cooldown: Duration,
    current: RwLock<Arc<Snapshot>>,
    /// Held while fetching: one fetch at a time.
    fetching: tokio::sync::Mutex<()>,
    /// When the last fetch for an unknown `kid` started.
    last_forced: Mutex<Option<Instant>>,
    refreshing: AtomicBool,
}

enum Fetched {
    Keys(Snapshot),
    NotModified(Duration),
}

impl RemoteKeys {
    pub(crate) async fn load(
        http: reqwest::Client,
        jwks_uri: String,
        allowed: Vec<Alg>,
        cooldown: Duration,
    ) -> Result<Arc<Self>, String> {
        let keys = RemoteKeys {
            http,
            jwks_uri,
            allowed,
            cooldown,
            current: RwLock::new(Arc::new(Snapshot {
                keys: HashMap::new(),
                fresh_until: Instant::now(),
                etag: None,
                generation: 0,
            })),
            fetching: tokio::sync::Mutex::new(()),
            last_forced: Mutex::new(None),
            refreshing: AtomicBool::new(false),
        };
        let Fetched::Keys(first) = keys.fetch(None, 1).await? else {
            unreachable!("no If-None-Match on the first fetch");
        };
        *keys.current.write().expect("not poisoned") = Arc::new(first);
        Ok(Arc::new(keys))
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.current.read().expect("not poisoned").clone()
    }

    /// Verifies the JWS with the key its `kid` names; an unknown `kid` costs one fetch
    /// (unless one was made within the cool-down), then the token is tried once more.
    pub(crate) async fn verify(self: &Arc<Self>, token: &str) -> Result<Verified, Rejection> {
        let snapshot = self.snapshot();
        if Instant::now() >= snapshot.fresh_until {
            self.refresh_in_background();
        }
        let mut unknown = false;
        let verified = jws::verify(token, |kid| {
            let key = snapshot.keys.get(kid);
            unknown = key.is_none();
            key
        });
        if let Some(verified) = verified {
            return Ok(verified);
        }
        if !unknown {
            return Err(Rejection::invalid_token(
                "the token is not signed by the issuer",
            ));
        }
        let Some(snapshot) = self.fetch_for_unknown_kid(snapshot.generation).await else {
            return Err(Rejection::invalid_token(
                "the token is signed with an unknown key",
            ));
        };
        jws::verify(token, |kid| snapshot.keys.get(kid))
            .ok_or_else(|| Rejection::invalid_token("the token is signed with an unknown key"))
    }

    /// A new snapshot if someone fetched since `seen`, or we may fetch now and did.
    async fn fetch_for_unknown_kid(&self, seen: u64) -> Option<Arc<Snapshot>> {
        let _one_at_a_time = self.fetching.lock().await;
        let current = self.snapshot();
        if current.generation != seen {
            return Some(current);
        }
        {
            let mut last = self.last_forced.lock().expect("not poisoned");
            if last.is_some_and(|t| t.elapsed() < self.cooldown) {
                return None;
            }
            *last = Some(Instant::now());
        }
        // An unknown kid is a new key: ask without If-None-Match.
        match self.fetch(None, current.generation + 1).await {
            Ok(Fetched::Keys(snapshot)) => Some(self.store(snapshot)),
            Ok(Fetched::NotModified(_)) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot fetch the issuer's keys for an unknown kid");
                None
            }
        }
    }

    /// Stale keys keep verifying while one task fetches fresh ones.
    fn refresh_in_background(self: &Arc<Self>) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let keys = self.clone();
        tokio::spawn(async move {
            let _one_at_a_time = keys.fetching.lock().await;
            let current = keys.snapshot();
            if Instant::now() < current.fresh_until {
                keys.refreshing.store(false, Ordering::Release);
                return;
            }
            match keys
                .fetch(current.etag.as_deref(), current.generation + 1)
                .await
            {
                Ok(Fetched::Keys(snapshot)) => {
                    keys.store(snapshot);
                }
                Ok(Fetched::NotModified(max_age)) => {
                    keys.extend(max_age);
                }
                Err(e) => {
                    // Keep the keys we have; try again after the cool-down.
                    tracing::warn!(error = %e, "cannot refresh the issuer's keys; keeping the cached ones");
                    keys.extend(keys.cooldown);
                }
            }
            keys.refreshing.store(false, Ordering::Release);
        });
    }

    fn store(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        let snapshot = Arc::new(snapshot);
        *self.current.write().expect("not poisoned") = snapshot.clone();
        snapshot
    }

    fn extend(&self, max_age: Duration) {
        let mut current = self.current.write().expect("not poisoned");
        *current = Arc::new(Snapshot {
            keys: current.keys.clone(),
            fresh_until: Instant::now() + max_age,
            etag: current.etag.clone(),
            generation: current.generation,
        });
    }

    async fn fetch(&self, etag: Option<&str>, generation: u64) -> Result<Fetched, String> {
        let mut request = self.http.get(&self.jwks_uri).timeout(FETCH_TIMEOUT);
        if let Some(etag) = etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let max_age = max_age(response.headers(), self.cooldown);
        if response.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified(max_age));
        }
        if !response.status().is_success() {
            return Err(format!("{}: {}", self.jwks_uri, response.status()));
        }
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let jwks: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("{}: {e}", self.jwks_uri))?;
        if !jwks.get("keys").is_some_and(|k| k.is_array()) {
            return Err(format!("{}: not a JWK Set", self.jwks_uri));
        }
        let keys = jwk::signing_keys(&jwks, &self.allowed)
            .into_iter()
            .collect();
        Ok(Fetched::Keys(Snapshot {
            keys,
            fresh_until: Instant::now() + max_age,
            etag,
            generation,
        }))
    }
}

/// RFC 9111 §5.2.2: `max-age`, or none for `no-store`/`no-cache`; never less than the
/// cool-down (we do not fetch more often than that) nor more than a day.
fn max_age(headers: &reqwest::header::HeaderMap, floor: Duration) -> Duration {
    let mut age = DEFAULT_MAX_AGE;
    for directive in headers
        .get_all(reqwest::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            age = Duration::ZERO;
            break;
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            if let Ok(seconds) = seconds.trim_matches('"').parse::<u64>() {
                age = Duration::from_secs(seconds);
            }
        }
    }
    age.clamp(floor, LONGEST_MAX_AGE.max(floor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, CACHE_CONTROL};

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn cache_control_sets_how_long_keys_are_kept() {
        let floor = Duration::from_secs(5);
        let secs = |h: &HeaderMap| max_age(h, floor).as_secs();
        assert_eq!(secs(&headers("public, max-age=300")), 300);
        assert_eq!(secs(&headers("max-age=0")), 5);
        assert_eq!(secs(&headers("no-store")), 5);
        assert_eq!(secs(&headers("max-age=99999999")), 86_400);
        assert_eq!(secs(&HeaderMap::new()), 300);
    }
}
