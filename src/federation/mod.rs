//! Federated sign-in (#13): people sign in at an upstream provider and Portcullis still
//! issues its own tokens. `outbound` is the one HTTP client for every upstream call;
//! `oidc` speaks OpenID Connect to an upstream through the `openidconnect` crate; this
//! file is the flow around them — a `state` stored server-side, bound to the browser and
//! the waiting authorization request, taken once at the callback (RFC 9700 §4.7, §4.4:
//! `iss` on the callback is checked when present). Which local account the upstream's
//! person becomes is `people::federated`.

use std::sync::Arc;

use openidconnect::RedirectUrl;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::config::{Config, UpstreamConfig, UpstreamKind};
use crate::crypto::{token, MasterKey};
use crate::oidc::acr::Level;
use crate::store::federation_states::{self, FederationStateRow};
use crate::store::{Db, StoreError};

pub mod facebook;
pub mod google;
pub mod oauth2;
pub mod oidc;
pub mod outbound;

use outbound::Outbound;

/// What an upstream vouched for, verified.
#[derive(Debug, Clone)]
pub struct Asserted {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    /// The upstream's own `amr`, as it gave it (RFC 8176), if it did.
    pub amr: Vec<String>,
}

/// Why a federated sign-in did not happen. The person sees a page that names the
/// provider and offers to try again; the audit log gets the reason.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// No such upstream.
    #[error("unknown provider")]
    Unknown,
    /// The callback's `state` is missing, unknown, used, expired, for another provider or
    /// from another browser.
    #[error("state: {0}")]
    BadState(&'static str),
    /// The upstream answered with an error (the person declined, or it refused us).
    #[error("the provider answered {0}")]
    Denied(String),
    /// The upstream could not be reached, or too slowly.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// What came back does not verify (code exchange, ID token, `iss`).
    #[error("rejected: {0}")]
    Rejected(String),
    /// The upstream vouched for someone this upstream may not sign in (`hosted_domain`).
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FederationError {
    /// The audit event's `reason`: a fixed word, never the upstream's own text.
    pub fn reason(&self) -> &'static str {
        match self {
            FederationError::Unknown => "unknown_provider",
            FederationError::BadState(_) => "bad_state",
            FederationError::Denied(_) => "denied",
            FederationError::Unreachable(_) => "unreachable",
            FederationError::Rejected(_) => "rejected",
            FederationError::NotAllowed(_) => "not_allowed",
            FederationError::Store(_) => "unavailable",
        }
    }
}

pub struct Upstream {
    pub config: UpstreamConfig,
    /// What a sign-in through it reaches (`level`, by the server's level names).
    pub level: Level,
    protocol: Protocol,
}

/// How an upstream is spoken to.
enum Protocol {
    Oidc(Box<oidc::Provider>),
    Facebook(Box<facebook::Provider>),
    Oauth2(Box<oauth2::Provider>),
}

/// The configured upstreams and the client that calls them.
pub struct Federation {
    upstreams: Vec<Arc<Upstream>>,
    outbound: Outbound,
    /// How long each step took, by upstream, step and outcome (`/metrics`).
    timings: prometheus::HistogramVec,
    issuer: String,
    state_ttl: i64,
}

/// The query of a callback (RFC 6749 §4.1.2, §4.1.2.1; RFC 9207 `iss`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub iss: Option<String>,
}

/// What a started sign-in keeps for its callback, sealed.
#[derive(Serialize, Deserialize)]
struct Kept {
    nonce: String,
    pkce_verifier: String,
}

/// A sign-in that did not finish, and the authorization request waiting for it when the
/// callback came back to the browser that started it (so "Try again" can return there).
#[derive(Debug)]
pub struct Failure {
    pub error: FederationError,
    pub request_id: Option<String>,
}

impl From<FederationError> for Failure {
    fn from(error: FederationError) -> Self {
        Failure {
            error,
            request_id: None,
        }
    }
}

/// Why a person goes to an upstream: to sign in (for the authorization request waiting,
/// if any), or, already signed in, to link it to their account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    SignIn { request_id: Option<String> },
    Link { user_id: String },
}

impl Purpose {
    /// The authorization request waiting for this sign-in, if any.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Purpose::SignIn { request_id } => request_id.as_deref(),
            Purpose::Link { .. } => None,
        }
    }

    fn of(row: &FederationStateRow) -> Purpose {
        match &row.link_user_id {
            Some(user_id) => Purpose::Link {
                user_id: user_id.clone(),
            },
            None => Purpose::SignIn {
                request_id: row.request_id.clone(),
            },
        }
    }
}

/// Where a finished upstream sign-in goes on.
pub struct Finished {
    pub upstream: Arc<Upstream>,
    pub asserted: Asserted,
    pub purpose: Purpose,
}

impl Federation {
    pub fn new(
        config: &Config,
        issuer: &str,
        timings: prometheus::HistogramVec,
    ) -> Result<Federation, String> {
        let max_age = config.federation.discovery_max_age.as_secs();
        let names = config.mfa.names();
        let upstreams = config
            .upstreams
            .iter()
            .map(|u| {
                let protocol = match u.kind {
                    UpstreamKind::Oidc | UpstreamKind::Google => {
                        oidc::Provider::new(u, max_age).map(|p| Protocol::Oidc(Box::new(p)))
                    }
                    UpstreamKind::Facebook => {
                        facebook::Provider::new(u).map(|p| Protocol::Facebook(Box::new(p)))
                    }
                    UpstreamKind::Oauth2 => oauth2::Provider::new(u, &callback(issuer, &u.id))
                        .map(|p| Protocol::Oauth2(Box::new(p))),
                }
                .map_err(|e| format!("upstreams {:?}: {e}", u.id))?;
                let level = u
                    .level
                    .as_deref()
                    .and_then(|l| names.parse(l))
                    .unwrap_or(Level::Pwd);
                Ok(Arc::new(Upstream {
                    protocol,
                    level,
                    config: u.clone(),
                }))
            })
            .collect::<Result<_, String>>()?;
        Ok(Federation {
            upstreams,
            outbound: Outbound::new(&config.federation),
            timings,
            issuer: issuer.trim_end_matches('/').to_owned(),
            state_ttl: config.federation.state_ttl.as_secs(),
        })
    }

    /// The upstreams, in the order of the configuration (the sign-in page's buttons).
    pub fn upstreams(&self) -> &[Arc<Upstream>] {
        &self.upstreams
    }

    pub fn get(&self, id: &str) -> Option<Arc<Upstream>> {
        self.upstreams.iter().find(|u| u.config.id == id).cloned()
    }

    /// The origins a sign-in form may end at after our redirect (CSP `form-action`):
    /// each upstream's authorization endpoint, as discovery named it, else its issuer.
    pub async fn form_action_origins(&self) -> Vec<String> {
        let mut origins = Vec::new();
        for u in &self.upstreams {
            let discovered = match &u.protocol {
                Protocol::Oidc(p) => p.authorization_origin().await,
                Protocol::Facebook(p) => Some(p.authorization_origin()),
                Protocol::Oauth2(p) => Some(p.authorization_origin()),
            };
            let origin = match discovered {
                Some(o) => o,
                None => u
                    .config
                    .issuer()
                    .and_then(|i| url::Url::parse(i).ok())
                    .map(|i| i.origin().ascii_serialization())
                    .unwrap_or_default(),
            };
            if !origin.is_empty() && !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        origins
    }

    /// Our callback for `upstream`, as registered there.
    pub fn redirect_uri(&self, upstream: &str) -> String {
        callback(&self.issuer, upstream)
    }

    fn redirect(&self, upstream: &str) -> Result<RedirectUrl, FederationError> {
        RedirectUrl::new(self.redirect_uri(upstream))
            .map_err(|e| FederationError::Rejected(format!("redirect URI: {e}")))
    }

    /// Starts a sign-in at `upstream` for the browser with `binding`: the URL to send it
    /// to. The state row is written before the browser leaves.
    pub async fn begin(
        &self,
        db: &Db,
        master: &Arc<MasterKey>,
        upstream: &str,
        binding: &str,
        purpose: Purpose,
        now: i64,
    ) -> Result<url::Url, FederationError> {
        let started = std::time::Instant::now();
        let begun = self
            .begin_timed(db, master, upstream, binding, purpose, now)
            .await;
        self.observe(upstream, "start", started, begun.as_ref().err());
        begun
    }

    /// Finishes a sign-in at `upstream` from its callback in the browser with `binding`.
    pub async fn finish(
        &self,
        db: &Db,
        master: &Arc<MasterKey>,
        upstream: &str,
        binding: &str,
        callback: Callback,
        now: i64,
    ) -> Result<Finished, Failure> {
        let started = std::time::Instant::now();
        let finished = self
            .finish_timed(db, master, upstream, binding, callback, now)
            .await;
        let error = finished.as_ref().err().map(|f| &f.error);
        self.observe(upstream, "finish", started, error);
        finished
    }

    fn observe(
        &self,
        upstream: &str,
        step: &str,
        started: std::time::Instant,
        error: Option<&FederationError>,
    ) {
        if self.get(upstream).is_none() {
            return; // an unknown id in a URL must not grow the series
        }
        let outcome = error.map_or("ok", FederationError::reason);
        self.timings
            .with_label_values(&[upstream, step, outcome])
            .observe(started.elapsed().as_secs_f64());
    }

    async fn begin_timed(
        &self,
        db: &Db,
        master: &Arc<MasterKey>,
        upstream: &str,
        binding: &str,
        purpose: Purpose,
        now: i64,
    ) -> Result<url::Url, FederationError> {
        let up = self.get(upstream).ok_or(FederationError::Unknown)?;
        let (url, state, kept) = match &up.protocol {
            Protocol::Oidc(p) => {
                let started = p
                    .start(&self.outbound, &self.redirect(upstream)?, now)
                    .await?;
                let kept = Kept {
                    nonce: started.nonce,
                    pkce_verifier: started.pkce_verifier,
                };
                (started.url, started.state, kept)
            }
            Protocol::Oauth2(p) => {
                let started = p.start();
                let kept = Kept {
                    nonce: String::new(),
                    pkce_verifier: started.pkce_verifier,
                };
                (started.url, started.state, kept)
            }
            Protocol::Facebook(p) => {
                let started = p.start(&self.redirect_uri(upstream));
                let kept = Kept {
                    nonce: String::new(),
                    pkce_verifier: started.pkce_verifier,
                };
                (started.url, started.state, kept)
            }
        };
        let id = state_id(&state);
        let kept = serde_json::to_vec(&kept).expect("kept values serialise");
        let row = FederationStateRow {
            sealed: master.seal(id.as_bytes(), &kept),
            id,
            upstream: upstream.to_owned(),
            binding_hash: token::sha256(binding.as_bytes()),
            request_id: purpose.request_id().map(str::to_owned),
            link_user_id: match purpose {
                Purpose::Link { user_id } => Some(user_id),
                Purpose::SignIn { .. } => None,
            },
            created_at: now,
            expires_at: now + self.state_ttl,
        };
        db.run(move |conn| federation_states::insert(conn, &row))
            .await?;
        Ok(url)
    }

    async fn finish_timed(
        &self,
        db: &Db,
        master: &Arc<MasterKey>,
        upstream: &str,
        binding: &str,
        callback: Callback,
        now: i64,
    ) -> Result<Finished, Failure> {
        let (up, row) = self.take(db, upstream, binding, &callback, now).await?;
        // The browser is the one that started: what fails now may go back to its request.
        let request_id = Purpose::of(&row).request_id().map(str::to_owned);
        self.complete(master, up, row, callback, now)
            .await
            .map_err(|error| Failure { error, request_id })
    }

    /// The state a callback names: it exists, is this upstream's, and was started by this
    /// browser. Taken, whatever follows.
    async fn take(
        &self,
        db: &Db,
        upstream: &str,
        binding: &str,
        callback: &Callback,
        now: i64,
    ) -> Result<(Arc<Upstream>, FederationStateRow), FederationError> {
        let up = self.get(upstream).ok_or(FederationError::Unknown)?;
        let state = callback
            .state
            .clone()
            .filter(|s| !s.is_empty() && s.len() <= 512)
            .ok_or(FederationError::BadState("missing"))?;
        let id = state_id(&state);
        let row = db
            .run(move |conn| federation_states::take(conn, &id, now))
            .await?
            .ok_or(FederationError::BadState("unknown, used or expired"))?;
        if row.upstream != upstream {
            return Err(FederationError::BadState("for another provider"));
        }
        let same_browser: bool = row
            .binding_hash
            .ct_eq(&token::sha256(binding.as_bytes()))
            .into();
        if !same_browser {
            return Err(FederationError::BadState("from another browser"));
        }
        Ok((up, row))
    }

    /// Redeems the callback's code at the upstream and verifies what it says.
    async fn complete(
        &self,
        master: &Arc<MasterKey>,
        up: Arc<Upstream>,
        row: FederationStateRow,
        callback: Callback,
        now: i64,
    ) -> Result<Finished, FederationError> {
        let upstream = up.config.id.as_str();
        // RFC 9207 §2.4: an `iss` on the response must be the issuer we sent them to.
        if let Some(iss) = &callback.iss {
            if Some(iss.as_str()) != up.config.issuer() {
                return Err(FederationError::Rejected("iss of the callback".into()));
            }
        }
        if let Some(error) = callback.error {
            let error: String = error.chars().take(64).collect();
            return Err(FederationError::Denied(error));
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| FederationError::Rejected("no code".into()))?;
        let kept: Kept = master
            .open(row.id.as_bytes(), &row.sealed)
            .ok()
            .and_then(|k| serde_json::from_slice(&k).ok())
            .ok_or(FederationError::BadState("cannot be opened"))?;
        let asserted = match &up.protocol {
            Protocol::Oidc(p) => {
                p.finish(
                    &self.outbound,
                    &self.redirect(upstream)?,
                    code,
                    &kept.nonce,
                    kept.pkce_verifier,
                    now,
                )
                .await?
            }
            Protocol::Facebook(p) => {
                p.finish(
                    &self.outbound,
                    &self.redirect_uri(upstream),
                    &code,
                    &kept.pkce_verifier,
                )
                .await?
            }
            Protocol::Oauth2(p) => p.finish(&self.outbound, code, kept.pkce_verifier).await?,
        };
        Ok(Finished {
            upstream: up,
            asserted,
            purpose: Purpose::of(&row),
        })
    }
}

/// Our callback for `upstream` under `issuer`.
fn callback(issuer: &str, upstream: &str) -> String {
    format!(
        "{}/federation/{upstream}/callback",
        issuer.trim_end_matches('/')
    )
}

/// Rows are found by a hash of the state: the value itself is never stored.
fn state_id(state: &str) -> String {
    token::b64url(&token::sha256(state.as_bytes()))
}
