//! `portcullis-verifier`: what a resource server written in Rust needs to accept Portcullis
//! access tokens on its own, without calling the authorization server on every request.
//!
//! - [`Verifier::builder`] takes the issuer URL; [`Builder::build`] reads its discovery
//!   document and JWKS. Keys are cached as long as the JWKS response's `Cache-Control`
//!   allows, refreshed in the background when stale, and fetched again at once (at most
//!   once per cool-down) when a token names a `kid` we have not seen — so a key rotation
//!   is picked up without a restart and without a failed verification.
//! - [`Verifier::verify`] checks an access token as RFC 9068 §4 asks: the signature with
//!   an algorithm from the allow-list (RS256/ES256; `none` and HMAC cannot be expressed),
//!   `typ` `at+jwt`, `iss`, `aud`, `exp`/`nbf`/`iat` with a small leeway, and — when the
//!   verifier follows the revocation feed — that it was not revoked since.
//! - [`Verifier::authorize`] adds a handler's [`Requirement`]: scopes (RFC 6750 §3.1
//!   `insufficient_scope`), an `acr` level or a maximum authentication age (RFC 9470 §3
//!   `insufficient_user_authentication`). Every refusal is a [`Rejection`] that knows its
//!   status and `WWW-Authenticate` challenge.
//! - With the `actix` feature (on by default), [`AccessToken`] and [`Authorized`] are
//!   handler arguments and a [`Rejection`] is an actix-web error response.

mod bearer;
mod claims;
mod feed;
mod introspection;
mod keys;
mod rejection;
mod requirement;

#[cfg(feature = "actix")]
mod actix;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

#[cfg(feature = "actix")]
pub use crate::actix::{Authorized, Policy, Refused};
pub use crate::claims::AccessToken;
pub use crate::feed::{FeedOutage, FeedStatus};
pub use crate::rejection::Rejection;
pub use crate::requirement::Requirement;
pub use portcullis_jose::Alg;

/// Seconds since the Unix epoch; tests move it.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

fn system_clock() -> Clock {
    Arc::new(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    })
}

/// Why a verifier could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the issuer URL is not valid: {0}")]
    Issuer(String),
    #[error("cannot read the issuer's discovery document: {0}")]
    Discovery(String),
    #[error("cannot read the issuer's keys: {0}")]
    Keys(String),
    #[error("{0}")]
    Config(String),
}

/// Client credentials of this resource server (`client_secret_basic`), for
/// introspection and the revocation feed.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub id: String,
    pub secret: String,
}

/// How a [`Verifier`] is set up; see [`Verifier::builder`].
pub struct Builder {
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<Alg>,
    leeway: Duration,
    refetch_cooldown: Duration,
    http: Option<reqwest::Client>,
    credentials: Option<Credentials>,
    feed: Option<FeedOutage>,
    introspection_ttl: Duration,
    clock: Clock,
    realm: Option<String>,
}

impl Builder {
    /// The audiences this resource server answers to (RFC 9068 §4: `aud` must name one).
    /// Required.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The algorithms accepted (default RS256 and ES256). Keys of other algorithms in the
    /// JWKS are ignored, so a token signed with one is refused like an unknown key.
    pub fn algorithms(mut self, algorithms: &[Alg]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 30 seconds).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The least time between two JWKS fetches made because of an unknown `kid`
    /// (default 5 seconds): tokens with made-up `kid`s cannot make us fetch in a loop.
    pub fn refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.refetch_cooldown = cooldown;
        self
    }

    /// The HTTP client for discovery, JWKS, introspection and the feed (default: 10 s
    /// timeout to connect, no redirects followed).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// This resource server's client credentials at the issuer (a client registered
    /// with `introspection = "any"`): needed for [`Verifier::introspect`] and the feed.
    pub fn client_credentials(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.credentials = Some(Credentials {
            id: id.into(),
            secret: secret.into(),
        });
        self
    }

    /// Follows the issuer's revocation feed in the background, so revoked grants, tokens
    /// and disabled users are refused within about a second; `outage` says what to do
    /// while the feed cannot be reached. Needs [`Builder::client_credentials`].
    pub fn follow_revocations(mut self, outage: FeedOutage) -> Self {
        self.feed = Some(outage);
        self
    }

    /// How long an introspection answer is reused (default 10 seconds; never past the
    /// token's `exp`).
    pub fn introspection_cache(mut self, ttl: Duration) -> Self {
        self.introspection_ttl = ttl;
        self
    }

    /// The `realm` of the challenges (RFC 6750 §3), if any.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// The clock claims are checked against (tests move it).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Reads discovery and the JWKS, and starts following the feed when asked to.
    pub async fn build(self) -> Result<Verifier, SetupError> {
        // Compared with `iss` exactly as given (RFC 9068 §4); a trailing slash is only
        // dropped to build the discovery URL (OpenID Connect Discovery §4.1).
        let issuer = self.issuer;
        url::Url::parse(&issuer).map_err(|e| SetupError::Issuer(e.to_string()))?;
        if self.audiences.is_empty() {
            return Err(SetupError::Config(
                "name at least one audience this resource server answers to".into(),
            ));
        }
        if self.algorithms.is_empty() {
            return Err(SetupError::Config("allow at least one algorithm".into()));
        }
        if self.feed.is_some() && self.credentials.is_none() {
            return Err(SetupError::Config(
                "following revocations needs client credentials".into(),
            ));
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| SetupError::Config(e.to_string()))?,
        };
        let metadata = Metadata::fetch(&http, &issuer).await?;
        let keys = keys::RemoteKeys::load(
            http.clone(),
            metadata.jwks_uri.clone(),
            self.algorithms.clone(),
            self.refetch_cooldown,
        )
        .await
        .map_err(SetupError::Keys)?;
        let introspection = match (&metadata.introspection_endpoint, &self.credentials) {
            (Some(endpoint), Some(credentials)) => Some(introspection::Introspector::new(
                http.clone(),
                endpoint.clone(),
                credentials.clone(),
                self.introspection_ttl,
            )),
            _ => None,
        };
        let feed = match self.feed {
            None => None,
            Some(outage) => {
                let endpoint = metadata.revocation_feed_endpoint.clone().ok_or_else(|| {
                    SetupError::Discovery("the issuer publishes no revocation_feed_endpoint".into())
                })?;
                let credentials = self.credentials.clone().expect("checked above");
                Some(feed::Follower::start(
                    http.clone(),
                    endpoint,
                    credentials,
                    outage,
                    self.clock.clone(),
                ))
            }
        };
        Ok(Verifier(Arc::new(Inner {
            issuer,
            audiences: self.audiences,
            leeway: self.leeway.as_secs() as i64,
            keys,
            introspection,
            feed,
            clock: self.clock,
            realm: self.realm,
        })))
    }
}

/// The discovery members we use (OpenID Connect Discovery 1.0 §3, RFC 8414 §2).
#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
    introspection_endpoint: Option<String>,
    revocation_feed_endpoint: Option<String>,
}

impl Metadata {
    async fn fetch(http: &reqwest::Client, issuer: &str) -> Result<Metadata, SetupError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let failed = |e: &dyn std::fmt::Display| SetupError::Discovery(format!("{url}: {e}"));
        let response = http
            .get(&url)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| failed(&e))?;
        if !response.status().is_success() {
            return Err(failed(&response.status()));
        }
        let metadata: Metadata = response.json().await.map_err(|e| failed(&e))?;
        // Discovery §4.3: the issuer in the document is identical to the one we asked.
        if metadata.issuer != issuer {
            return Err(failed(&format!(
                "the document is for issuer {:?}",
                metadata.issuer
            )));
        }
        Ok(metadata)
    }
}

struct Inner {
    issuer: String,
    audiences: Vec<String>,
    leeway: i64,
    keys: Arc<keys::RemoteKeys>,
    introspection: Option<introspection::Introspector>,
    feed: Option<Arc<feed::Follower>>,
    clock: Clock,
    realm: Option<String>,
}

/// Verifies access tokens of one issuer. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Verifier(Arc<Inner>);

impl Verifier {
    /// Starts setting up a verifier for the tokens of `issuer` (its URL, as in `iss`).
    pub fn builder(issuer: impl Into<String>) -> Builder {
        Builder {
            issuer: issuer.into(),
            audiences: Vec::new(),
            algorithms: vec![Alg::RS256, Alg::ES256],
            leeway: Duration::from_secs(30),
            refetch_cooldown: Duration::from_secs(5),
            http: None,
            credentials: None,
            feed: None,
            introspection_ttl: Duration::from_secs(10),
            clock: system_clock(),
            realm: None,
        }
    }

    /// The issuer whose tokens this verifier accepts.
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The `realm` of this verifier's challenges.
    pub fn realm(&self) -> Option<&str> {
        self.0.realm.as_deref()
    }

    fn now(&self) -> i64 {
        (self.0.clock)()
    }

    /// Checks `token` locally (RFC 9068 §4) and against the revocation feed when it is
    /// followed. The only waiting it may do is one JWKS fetch for an unknown `kid`.
    pub async fn verify(&self, token: &str) -> Result<AccessToken, Rejection> {
        let verified = self.0.keys.verify(token).await?;
        // RFC 9068 §4: `typ` must be `at+jwt` (an ID token is `JWT`), compared without
        // case and with the optional `application/` prefix (RFC 7515 §4.1.9).
        let typ = verified.typ.as_deref().unwrap_or("").to_ascii_lowercase();
        if typ != "at+jwt" && typ != "application/at+jwt" {
            return Err(Rejection::invalid_token(
                "the token is not an access token (typ)",
            ));
        }
        let token: AccessToken = serde_json::from_slice(&verified.payload)
            .map_err(|_| Rejection::invalid_token("the token's claims are malformed"))?;
        token.check(&self.0.issuer, &self.0.audiences, self.now(), self.0.leeway)?;
        if let Some(feed) = &self.0.feed {
            feed.check(&token)?;
        }
        Ok(token)
    }

    /// Asks the issuer about `token` (RFC 7662), for opaque tokens or calls that need
    /// its live state; answers are cached for a few seconds by a hash of the token.
    /// Needs [`Builder::client_credentials`] and an issuer with introspection.
    pub async fn introspect(&self, token: &str) -> Result<AccessToken, Rejection> {
        let introspector = self.0.introspection.as_ref().ok_or_else(|| {
            Rejection::unavailable("introspection is not configured for this resource server")
        })?;
        let token = introspector.introspect(token, self.now()).await?;
        token.check(&self.0.issuer, &self.0.audiences, self.now(), self.0.leeway)?;
        Ok(token)
    }

    /// The whole check for one request: the `Authorization` header's bearer token
    /// (RFC 6750 §2.1), verified ([`Verifier::verify`], or [`Verifier::introspect`]
    /// when `need` asks for live state), then `need`.
    pub async fn authorize(
        &self,
        authorization: Option<&str>,
        need: &Requirement,
    ) -> Result<AccessToken, Rejection> {
        let token = bearer::token(authorization)?;
        let claims = if need.is_live() {
            self.introspect(token).await?
        } else {
            self.verify(token).await?
        };
        need.check(&claims, self.now())?;
        Ok(claims)
    }

    /// The feed follower's state, when the verifier follows revocations.
    pub fn feed_status(&self) -> Option<FeedStatus> {
        self.0.feed.as_ref().map(|f| f.status())
    }
}
