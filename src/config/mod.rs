//! Typed configuration: one TOML file, every key overridable by `PORTCULLIS_…`
//! environment variables (nested keys joined with `__`), validated before anything is
//! written. No globals: `main.rs` loads it and hands it to `Application::build`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::Deserialize;

mod bootstrap;
mod lifetime;
mod secret;
mod upstreams;

pub use bootstrap::{ClientConfig, UserConfig};
pub use lifetime::Lifetime;
pub use secret::Secret;
pub use upstreams::{ClaimPaths, FederationConfig, UpstreamConfig, UpstreamKind};

use crate::store::DatabaseUrl;

/// Environment variables with this prefix override the file.
pub const ENV_PREFIX: &str = "PORTCULLIS_";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The issuer identifier (OpenID Connect Discovery §3). Default: `http://{listen}`.
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Where generated files live: the SQLite database and the generated secret key.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`. Default: `sqlite://{data_dir}/portcullis.db`.
    #[serde(default)]
    pub database_url: Option<String>,
    /// Encrypts private keys at rest; at least 32 bytes. Generated into
    /// `{data_dir}/secret_key` when neither this nor `secret_key_file` is given.
    #[serde(default)]
    pub secret_key: Option<Secret>,
    #[serde(default)]
    pub secret_key_file: Option<PathBuf>,
    /// The file `secret_key` was read from (validation moves it out of `secret_key_file`),
    /// so the server can warn when others may read it.
    #[serde(skip)]
    pub secret_key_read_from: Option<PathBuf>,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub tokens: TokenConfig,
    #[serde(default)]
    pub keys: KeysConfig,
    #[serde(default)]
    pub sign_in: SignInConfig,
    #[serde(default)]
    pub mfa: MfaConfig,
    #[serde(default)]
    pub maintenance: MaintenanceConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Declarative bootstrap: upserted at every start (like Dex's static clients).
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Providers people may sign in with, in the order the sign-in page shows them.
    #[serde(default)]
    pub upstreams: Vec<UpstreamConfig>,
    #[serde(default)]
    pub federation: FederationConfig,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `portcullis=debug,info`; `RUST_LOG` wins.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// actix worker threads; default: one per core.
    pub workers: Option<usize>,
    /// How long a client has to send a request's body once its head has arrived.
    pub body_timeout: Lifetime,
    /// Open connections each worker accepts; more wait in the listen backlog.
    pub max_connections: usize,
    /// Proxies (CIDRs or addresses) whose `Forwarded`/`X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            workers: None,
            body_timeout: Lifetime::secs(5),
            max_connections: 10_000,
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub max_connections: u32,
    pub connect_timeout: Lifetime,
    /// SQLite: how long a writer waits for the write lock.
    pub busy_timeout: Lifetime,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            max_connections: 8,
            connect_timeout: Lifetime::secs(5),
            busy_timeout: Lifetime::secs(5),
        }
    }
}

/// Token lifetimes; checklist §1.33 gives the policy ranges.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    pub access_token_ttl: Lifetime,
    pub id_token_ttl: Lifetime,
    pub authorization_code_ttl: Lifetime,
    pub refresh_token_idle_ttl: Lifetime,
    pub refresh_token_absolute_ttl: Lifetime,
    /// `aud` of access tokens (RFC 9068 §3); default: the issuer.
    pub audience: Option<String>,
    /// A replay of a just-rotated refresh token within this window gets the same
    /// successor tokens instead of revoking the family (0 = no grace). Default 10 s: a
    /// response lost with a killed instance, a load balancer's reset or a mobile
    /// network is retried within a second or two, and a client's first backoffs fit;
    /// longer only widens the window in which a stolen predecessor is worth the same
    /// as the live token (#15: Dex uses 3 s, Okta 30 s).
    pub refresh_token_reuse_grace: Lifetime,
    /// Active refresh tokens per user and client; the oldest sign-in is revoked beyond it.
    pub max_refresh_tokens_per_client: i64,
    /// Scopes that lapse sooner than the rest, counted from the sign-in (e.g. a
    /// `payment = "15m"` scope is dropped from access tokens refreshed after that).
    pub scope_lifetimes: std::collections::BTreeMap<String, Lifetime>,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            access_token_ttl: Lifetime::secs(600),
            id_token_ttl: Lifetime::secs(600),
            authorization_code_ttl: Lifetime::secs(60),
            refresh_token_idle_ttl: Lifetime::secs(14 * 86_400),
            refresh_token_absolute_ttl: Lifetime::secs(90 * 86_400),
            audience: None,
            refresh_token_reuse_grace: Lifetime::secs(10),
            max_refresh_tokens_per_client: 10,
            scope_lifetimes: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// How long a new key is published before it signs (`keys rotate`, scheduled rotation).
    pub announce: Lifetime,
    /// Rotate automatically when the signing key is this old; off when absent.
    pub rotate_after: Option<Lifetime>,
    pub rsa_bits: usize,
    /// How often each instance reloads keys from the database.
    pub reload_interval: Lifetime,
    /// `Cache-Control: max-age` of `/jwks`.
    pub jwks_max_age: Lifetime,
}

impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig {
            announce: Lifetime::secs(86_400),
            rotate_after: None,
            rsa_bits: 2048,
            reload_interval: Lifetime::secs(30),
            jwks_max_age: Lifetime::secs(300),
        }
    }
}

/// Sign-in throttling (checklist §3.6: ≤ 100 failures an hour per account) and sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignInConfig {
    /// Failures per account within `failure_window` before it is locked.
    pub max_failures_per_account: i64,
    /// Failures per client address within `failure_window` before it is slowed down:
    /// each further attempt waits twice as long as the one before, up to
    /// `address_max_delay` — never a lockout for everyone behind one proxy or NAT.
    pub max_failures_per_address: i64,
    pub address_max_delay: Lifetime,
    /// Authorization requests stored per client address within `failure_window` (each
    /// waits up to 30 minutes for its person to sign in), then refused for as long.
    pub max_pending_per_address: i64,
    pub failure_window: Lifetime,
    pub lockout: Lifetime,
    /// Absolute lifetime of a browser session.
    pub session_lifetime: Lifetime,
    /// A browser session not used for this long ends (Keycloak's "SSO Session Idle").
    pub session_idle_timeout: Lifetime,
    /// Password hashes computed at once, each on its own thread with 19 MiB of its own
    /// (~20–30 ms of CPU each). One by default: memory stays bounded and a flood of
    /// sign-ins leaves the other cores to the token endpoints.
    pub hashing_concurrency: usize,
}

impl Default for SignInConfig {
    fn default() -> Self {
        SignInConfig {
            max_failures_per_account: 10,
            max_failures_per_address: 50,
            address_max_delay: Lifetime::secs(60),
            max_pending_per_address: 300,
            failure_window: Lifetime::secs(900),
            lockout: Lifetime::secs(900),
            session_lifetime: Lifetime::secs(12 * 3600),
            session_idle_timeout: Lifetime::secs(30 * 60),
            hashing_concurrency: 1,
        }
    }
}

/// Second factors and assurance levels (#12).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MfaConfig {
    /// The name authenticator apps show beside the account (the `otpauth://` issuer);
    /// default: the issuer's host.
    pub issuer_label: Option<String>,
    /// How long a second factor keeps a session at the `mfa` level; the session itself
    /// may live longer, and a request for `mfa` after this asks for a code again.
    pub level_max_age: Lifetime,
    /// When a request needs a second factor the person has not set up: offer enrolment
    /// inside the flow instead of answering `unmet_authentication_requirements` (or
    /// the level achieved, for a voluntary request). Clients may override it.
    pub enroll_on_step_up: bool,
    /// Scope → the level (`acr` value) it needs; below it the scope is not granted.
    pub scope_levels: std::collections::BTreeMap<String, String>,
    /// The `acr` values clients and tokens use for the two levels.
    pub acr_names: AcrNames,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcrNames {
    /// A password (one factor).
    pub pwd: String,
    /// A password and a second factor.
    pub mfa: String,
}

impl Default for AcrNames {
    fn default() -> Self {
        AcrNames {
            pwd: crate::oidc::acr::PWD.to_owned(),
            mfa: crate::oidc::acr::MFA.to_owned(),
        }
    }
}

impl MfaConfig {
    pub fn names(&self) -> crate::oidc::acr::Names {
        crate::oidc::acr::Names::new(&self.acr_names.pwd, &self.acr_names.mfa)
    }
}

impl Default for MfaConfig {
    fn default() -> Self {
        MfaConfig {
            issuer_label: None,
            level_max_age: Lifetime::secs(15 * 60),
            enroll_on_step_up: false,
            scope_levels: Default::default(),
            acr_names: AcrNames::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaintenanceConfig {
    /// How often each instance deletes expired sessions and stale sign-in counters.
    pub cleanup_interval: Lifetime,
    /// How long audit events are kept.
    pub audit_retention: Lifetime,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        MaintenanceConfig {
            cleanup_interval: Lifetime::secs(300),
            audit_retention: Lifetime::secs(90 * 86_400),
        }
    }
}

/// Prometheus metrics: off unless `listen` is set, and then only on that address, never
/// on the main listener (#11 item 11).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Where `GET /metrics` is served, such as `127.0.0.1:9464`.
    pub listen: Option<String>,
}

impl MetricsConfig {
    pub fn listen_addr(&self) -> Result<Option<SocketAddr>, String> {
        self.listen
            .as_deref()
            .map(|listen| {
                listen.parse().map_err(|_| {
                    format!("metrics.listen: {listen:?} is not an address such as 127.0.0.1:9464")
                })
            })
            .transpose()
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

impl Default for Config {
    fn default() -> Self {
        Figment::new()
            .extract()
            .expect("the defaults form a valid configuration")
    }
}

/// A configuration problem, naming the key and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads `path` (when given), then the environment, then validates.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = path {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "config file {} not found",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__").ignore(&["config"]));
        let mut config: Config = figment.extract().map_err(|errors| {
            ConfigError(
                errors
                    .into_iter()
                    .map(describe)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value and resolves `*_file` secrets. Writes nothing.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        self.validate_inner().map_err(ConfigError)
    }

    fn validate_inner(&mut self) -> Result<(), String> {
        self.listen_addr()?;
        self.metrics.listen_addr()?;
        if let Some(issuer) = &self.issuer {
            validate_issuer(issuer).map_err(|e| format!("issuer: {e}"))?;
        }
        DatabaseUrl::parse(&self.database_url()).map_err(|e| format!("database_url: {e}"))?;
        self.secret_key = secret::resolve("secret_key", &self.secret_key, &self.secret_key_file)?;
        if let Some(path) = self.secret_key_file.take() {
            self.secret_key_read_from = Some(path);
        }
        if let Some(key) = &self.secret_key {
            if key.expose().len() < crate::crypto::MasterKey::MIN_LEN {
                return Err(format!(
                    "secret_key: must be at least {} bytes (generate one with `openssl rand -base64 32`)",
                    crate::crypto::MasterKey::MIN_LEN
                ));
            }
        }
        crate::http::client_addr::TrustedProxies::parse(&self.http.trusted_proxies)?;
        if self.database.max_connections == 0 {
            return Err("database.max_connections: must be at least 1".into());
        }
        self.validate_lifetimes()?;
        let AcrNames { pwd, mfa } = &self.mfa.acr_names;
        for (key, name) in [("pwd", pwd), ("mfa", mfa)] {
            // acr_values is a space-separated list (OpenID Connect Core §3.1.2.1).
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(format!(
                    "mfa.acr_names.{key}: must be a non-empty value without spaces"
                ));
            }
        }
        if pwd == mfa || pwd == crate::oidc::acr::PAPE_MULTI_FACTOR {
            return Err(
                "mfa.acr_names.pwd: must differ from mfa and from the PAPE multi-factor policy"
                    .into(),
            );
        }
        let names = self.mfa.names();
        for (scope, level) in &self.mfa.scope_levels {
            if names.parse(level).is_none() {
                return Err(format!(
                    "mfa.scope_levels.{scope}: {level:?} is not a level this server knows"
                ));
            }
        }
        if self
            .mfa
            .issuer_label
            .as_deref()
            .is_some_and(|l| l.contains(':'))
        {
            return Err("mfa.issuer_label: must not contain ':'".into());
        }
        upstreams::validate_all(&mut self.upstreams, &names)?;
        bootstrap::validate_all(&mut self.clients, &mut self.users, &names)
    }

    fn validate_lifetimes(&self) -> Result<(), String> {
        let t = &self.tokens;
        let positive = [
            ("tokens.access_token_ttl", t.access_token_ttl),
            ("tokens.id_token_ttl", t.id_token_ttl),
            ("tokens.authorization_code_ttl", t.authorization_code_ttl),
            ("tokens.refresh_token_idle_ttl", t.refresh_token_idle_ttl),
            (
                "tokens.refresh_token_absolute_ttl",
                t.refresh_token_absolute_ttl,
            ),
            ("keys.reload_interval", self.keys.reload_interval),
            ("sign_in.failure_window", self.sign_in.failure_window),
            ("sign_in.lockout", self.sign_in.lockout),
            ("sign_in.address_max_delay", self.sign_in.address_max_delay),
            ("sign_in.session_lifetime", self.sign_in.session_lifetime),
            ("mfa.level_max_age", self.mfa.level_max_age),
            (
                "federation.connect_timeout",
                self.federation.connect_timeout,
            ),
            ("federation.timeout", self.federation.timeout),
            (
                "federation.discovery_max_age",
                self.federation.discovery_max_age,
            ),
            ("federation.state_ttl", self.federation.state_ttl),
            (
                "sign_in.session_idle_timeout",
                self.sign_in.session_idle_timeout,
            ),
        ];
        for (key, value) in positive {
            if value.as_secs() < 1 {
                return Err(format!("{key}: must be at least one second"));
            }
        }
        // RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED."
        if t.authorization_code_ttl.as_secs() > 600 {
            return Err(
                "tokens.authorization_code_ttl: must be at most 10 minutes (RFC 6749 §4.1.2)"
                    .into(),
            );
        }
        if t.refresh_token_idle_ttl > t.refresh_token_absolute_ttl {
            return Err(
                "tokens.refresh_token_idle_ttl: must not exceed tokens.refresh_token_absolute_ttl"
                    .into(),
            );
        }
        if self.sign_in.max_failures_per_account < 1 || self.sign_in.max_failures_per_address < 1 {
            return Err(
                "sign_in.max_failures_per_account and max_failures_per_address: must be at least 1"
                    .into(),
            );
        }
        if self.sign_in.max_pending_per_address < 1 {
            return Err("sign_in.max_pending_per_address: must be at least 1".into());
        }
        if self.sign_in.hashing_concurrency < 1 {
            return Err("sign_in.hashing_concurrency: must be at least 1".into());
        }
        if !(2048..=8192).contains(&self.keys.rsa_bits) {
            return Err("keys.rsa_bits: must be between 2048 and 8192".into());
        }
        if self
            .keys
            .rotate_after
            .is_some_and(|r| r <= self.keys.announce)
        {
            return Err("keys.rotate_after: must be longer than keys.announce".into());
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        self.listen.parse().map_err(|_| {
            format!(
                "listen: {:?} is not an address such as 127.0.0.1:8080",
                self.listen
            )
        })
    }

    /// The database URL, defaulting to a SQLite file in `data_dir`.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}", self.data_dir.join("portcullis.db").display())
        })
    }

    /// The longest lifetime of anything a signing key signs, plus clock skew: how long
    /// a retired key must stay in the JWKS.
    pub fn signed_token_max_lifetime(&self) -> i64 {
        let per_client = self.clients.iter().filter_map(|c| c.access_token_ttl);
        let longest = per_client
            .chain([self.tokens.access_token_ttl, self.tokens.id_token_ttl])
            .max()
            .unwrap_or(self.tokens.access_token_ttl);
        longest.as_secs() + 60
    }
}

/// `key.path: what is wrong (where it came from)`, keys in lower case as in the file.
fn describe(e: figment::Error) -> String {
    let key = e.path.join(".").to_lowercase();
    let source = e
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", m.name))
        .unwrap_or_default();
    if key.is_empty() {
        format!("{}{source}", e.kind)
    } else {
        format!("{key}: {}{source}", e.kind)
    }
}

/// OpenID Connect Discovery §3: an https URL with no query or fragment. Plain http is
/// accepted for loopback hosts only, for development.
pub fn validate_issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|e| format!("{issuer:?} is not a URL: {e}"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials".into());
    }
    if issuer.ends_with('/') {
        return Err("must not end with '/' (endpoints are appended to it)".into());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if crate::oauth::client::is_loopback_host(&url) => Ok(()),
        "http" => Err("must use https (http is accepted for loopback hosts only)".into()),
        _ => Err("must be an https URL".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let mut config = Config::default();
        config.validate().unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert_eq!(config.database_url(), "sqlite://data/portcullis.db");
        assert_eq!(config.tokens.access_token_ttl.as_secs(), 600);
    }

    #[test]
    fn level_names_must_be_usable_in_acr_values() {
        for (pwd, mfa) in [
            ("urn:a b", "urn:gold"),
            ("", "urn:gold"),
            ("urn:same", "urn:same"),
            (crate::oidc::acr::PAPE_MULTI_FACTOR, "urn:gold"),
        ] {
            let mut config = Config::default();
            config.mfa.acr_names.pwd = pwd.into();
            config.mfa.acr_names.mfa = mfa.into();
            let error = config.validate().unwrap_err().0;
            assert!(
                error.starts_with("mfa.acr_names."),
                "{pwd:?}/{mfa:?}: {error}"
            );
        }
        // scope_levels and default_acr_values are read with the configured names.
        let mut config = Config::default();
        config.mfa.acr_names.mfa = "urn:gold".into();
        config.mfa.scope_levels = [("payment".to_owned(), crate::oidc::acr::MFA.to_owned())].into();
        assert!(config
            .validate()
            .unwrap_err()
            .0
            .starts_with("mfa.scope_levels.payment"));
        config.mfa.scope_levels = [("payment".to_owned(), "urn:gold".to_owned())].into();
        config.validate().unwrap();
    }

    #[test]
    fn issuer_rules() {
        assert!(validate_issuer("https://id.example.com").is_ok());
        assert!(validate_issuer("https://id.example.com/tenant").is_ok());
        assert!(validate_issuer("http://127.0.0.1:8080").is_ok());
        assert!(validate_issuer("http://localhost:8080").is_ok());
        assert!(validate_issuer("http://id.example.com").is_err());
        assert!(validate_issuer("https://id.example.com/").is_err());
        assert!(validate_issuer("https://id.example.com?x=1").is_err());
        assert!(validate_issuer("https://id.example.com#f").is_err());
        assert!(validate_issuer("ftp://id.example.com").is_err());
    }
}
