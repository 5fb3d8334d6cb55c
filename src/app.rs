//! Start-up: [`Core`] (database, migrations, instance key) is what every command needs;
//! [`Application`] adds the declarative bootstrap, the signing keys, background key
//! reloading and the HTTP server on a listener it binds itself (port 0 in tests).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::clock;
use crate::config::{validate_issuer, Config};
use crate::crypto::password::PasswordHasher;
use crate::crypto::{token, MasterKey};
use crate::http::{self, request_log, AppState};
use crate::keys::KeyRing;
use crate::keys::{self, KeyError, KeyPolicy};
use crate::oauth::client::{self, MANAGED_BY_CONFIG};
use crate::oauth::registry::Registry;
use crate::oidc::discovery::ProviderMetadata;
use crate::people::accounts;
use crate::store::{self, DatabaseUrl, Db, PoolOptions, StoreError};

/// Why the server (or a command) could not start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot open the database {url:?}: {cause}")]
    Database { url: DatabaseUrl, cause: StoreError },
    #[error("secret_key: {0}")]
    SecretKey(String),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error("bootstrap: {0}")]
    Bootstrap(String),
    #[error("cannot listen on {addr}: {cause}")]
    Listen { addr: String, cause: std::io::Error },
}

/// The database (migrated) and the instance key.
pub struct Core {
    pub config: Arc<Config>,
    pub db: Db,
    pub master: Arc<MasterKey>,
}

impl Core {
    /// Opens the database, applies migrations and loads (or creates) the instance key.
    /// Blocking: call it from the CLI or inside `spawn_blocking`.
    pub fn open(config: Config) -> Result<Core, StartupError> {
        let url = DatabaseUrl::parse(&config.database_url())
            .map_err(|e| crate::config::ConfigError(format!("database_url: {e}")))?;
        let options = PoolOptions {
            max_connections: config.database.max_connections,
            connect_timeout: config.database.connect_timeout.0,
            busy_timeout: config.database.busy_timeout.0,
        };
        let db = Db::connect(&url, &options).map_err(|cause| StartupError::Database {
            url: url.clone(),
            cause,
        })?;
        let applied = db.migrate().map_err(|cause| StartupError::Database {
            url: url.clone(),
            cause,
        })?;
        for name in applied {
            tracing::info!(migration = %name, "applied migration");
        }
        let master = instance_key(&config)?;
        Ok(Core {
            config: Arc::new(config),
            db,
            master: Arc::new(master),
        })
    }

    pub fn key_policy(&self) -> KeyPolicy {
        KeyPolicy {
            rsa_bits: self.config.keys.rsa_bits,
            announce: self.config.keys.announce.as_secs(),
            retention: self.config.signed_token_max_lifetime(),
        }
    }

    /// Upserts `[[clients]]` and `[[users]]` from the configuration.
    pub fn bootstrap(&self) -> Result<(), StartupError> {
        let now = clock::now();
        for c in &self.config.clients {
            let row = client::to_row(c, &self.master, MANAGED_BY_CONFIG, now)
                .map_err(|e| StartupError::Bootstrap(format!("client {}: {e}", c.client_id)))?;
            self.db
                .run_blocking(|conn| store::clients::upsert(conn, &row))
                .map_err(|e| StartupError::Bootstrap(format!("client {}: {e}", c.client_id)))?;
        }
        for u in &self.config.users {
            self.db
                .run_blocking(|conn| {
                    store::transaction(conn, |conn| {
                        accounts::upsert_from_config(conn, &self.master, u, MANAGED_BY_CONFIG, now)
                    })
                })
                .map_err(|e| StartupError::Bootstrap(format!("user {}: {e}", u.username)))?;
        }
        Ok(())
    }

    /// Generates missing keys and loads every key into a ring.
    pub fn load_keys(&self) -> Result<Arc<KeyRing>, StartupError> {
        let now = clock::now();
        let policy = self.key_policy();
        let generated = self
            .db
            .run_blocking(|conn| keys::ensure_signing_keys(conn, &self.master, &policy, now))?;
        for kid in generated {
            tracing::info!(%kid, "generated signing key");
        }
        let ring = Arc::new(KeyRing::new(self.master.clone()));
        let rows = self
            .db
            .run_blocking(store::signing_keys::list)
            .map_err(KeyError::from)?;
        ring.load(rows, now)?;
        Ok(ring)
    }
}

/// Reads `secret_key` from the configuration, or from `{data_dir}/secret_key`, creating
/// that file (mode 0600) with 256 random bits on first start.
fn instance_key(config: &Config) -> Result<MasterKey, StartupError> {
    if let Some(secret) = &config.secret_key {
        if let Some(path) = &config.secret_key_read_from {
            crate::files::warn_if_shared(path, "the secret_key_file");
        }
        return Ok(MasterKey::from_secret(secret.expose().as_bytes()));
    }
    let path = config.data_dir.join("secret_key");
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            crate::files::warn_if_shared(&path, "the secret_key file");
            let s = s.trim_end();
            if s.len() < MasterKey::MIN_LEN {
                return Err(StartupError::SecretKey(format!(
                    "{} is shorter than 32 bytes",
                    path.display()
                )));
            }
            Ok(MasterKey::from_secret(s.as_bytes()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = token::random_secret();
            crate::files::write_private_file(&path, &secret).map_err(|e| {
                StartupError::SecretKey(format!("cannot create {}: {e}", path.display()))
            })?;
            tracing::warn!(
                path = %path.display(),
                "no secret_key configured: generated one; back it up, and give the same secret_key \
                 to every instance that shares this database"
            );
            Ok(MasterKey::from_secret(secret.as_bytes()))
        }
        Err(e) => Err(StartupError::SecretKey(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// A running server.
pub struct Application {
    port: u16,
    issuer: String,
    data_location: String,
    server: Server,
    /// `[metrics] listen`: its port and server.
    metrics: Option<(u16, Server)>,
    background: tokio::task::JoinHandle<()>,
    /// Closed before a graceful stop, so open revocation streams end.
    feed: Arc<crate::revocation::feed::Feed>,
}

impl Application {
    /// Binds `listen`, opens storage, bootstraps, loads keys and builds the server.
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        Self::build_with_clock(config, clock::Clock::default()).await
    }

    /// [`Application::build`] on a given clock (tests move it; instances of one test
    /// share it).
    pub async fn build_with_clock(
        config: Config,
        clock: clock::Clock,
    ) -> Result<Application, StartupError> {
        let addr = config.listen_addr().map_err(crate::config::ConfigError)?;
        let listener = TcpListener::bind(addr).map_err(|cause| StartupError::Listen {
            addr: addr.to_string(),
            cause,
        })?;
        let local = listener
            .local_addr()
            .map_err(|cause| StartupError::Listen {
                addr: addr.to_string(),
                cause,
            })?;
        let issuer = config
            .issuer
            .clone()
            .unwrap_or_else(|| format!("http://{local}"));
        validate_issuer(&issuer).map_err(|e| {
            let hint = match config.issuer {
                Some(_) => String::new(),
                None => format!(" (derived from listen as {issuer}; set issuer to the public URL)"),
            };
            crate::config::ConfigError(format!("issuer: {e}{hint}"))
        })?;
        let metrics_listener = match config
            .metrics
            .listen_addr()
            .map_err(crate::config::ConfigError)?
        {
            Some(addr) => Some(
                TcpListener::bind(addr).map_err(|cause| StartupError::Listen {
                    addr: addr.to_string(),
                    cause,
                })?,
            ),
            None => None,
        };
        let data_location = DatabaseUrl::parse(&config.database_url())
            .map(|u| u.redacted())
            .unwrap_or_default();

        let (core, ring, origins, registry) = tokio::task::spawn_blocking(move || {
            let core = Core::open(config)?;
            core.bootstrap()?;
            let ring = core.load_keys()?;
            let origins = http::cors::AllowedOrigins::default();
            let registry = Registry::default();
            refresh_clients(&core, &origins, &registry)
                .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
            Ok::<_, StartupError>((core, ring, origins, registry))
        })
        .await
        .map_err(|e| StartupError::Bootstrap(format!("start-up task failed: {e}")))??;

        let (prometheus, metrics) = http::metrics::build().map_err(StartupError::Bootstrap)?;
        let upstream_calls = metrics.upstream_calls.clone();
        let metrics_server = match metrics_listener {
            Some(listener) => {
                let local = listener
                    .local_addr()
                    .map_err(|cause| StartupError::Listen {
                        addr: "metrics.listen".into(),
                        cause,
                    })?;
                let server = http::metrics::serve(listener, &prometheus).map_err(|cause| {
                    StartupError::Listen {
                        addr: local.to_string(),
                        cause,
                    }
                })?;
                Some((local.port(), server))
            }
            None => None,
        };
        let feed = Arc::new(crate::revocation::feed::Feed::default());
        let state = web::Data::new(AppState {
            discovery_json: ProviderMetadata::new(&issuer, &core.config.mfa.names())
                .to_json()
                .into(),
            db: core.db.clone(),
            keys: ring.clone(),
            jwks_cache_control: format!(
                "public, max-age={}",
                core.config.keys.jwks_max_age.as_secs()
            )
            .try_into()
            .expect("digits make a valid header value"),
            metrics,
            issuer_origin: url::Url::parse(&issuer)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default(),
            cookies: http::cookies::Cookies::for_issuer(&issuer),
            master: core.master.clone(),
            hasher: PasswordHasher::new(core.config.sign_in.hashing_concurrency),
            sign_in: core.config.sign_in.clone(),
            tokens: Arc::new(crate::oauth::issuer::TokenSettings::new(
                &core.config,
                &issuer,
            )),
            registry: registry.clone(),
            verified: Default::default(),
            proxies: http::client_addr::TrustedProxies::parse(&core.config.http.trusted_proxies)
                .map_err(crate::config::ConfigError)?,
            clock: clock.clone(),
            flow: Arc::new(crate::authorization::Flow {
                code_ttl: core.config.tokens.authorization_code_ttl.as_secs(),
                assurance: crate::oidc::assurance::Policy::new(&core.config.mfa),
            }),
            mfa_label: core.config.mfa.issuer_label.clone().unwrap_or_else(|| {
                url::Url::parse(&issuer)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_else(|| "Portcullis".into())
            }),
            federation: Arc::new(
                crate::federation::Federation::new(&core.config, &issuer, upstream_calls)
                    .map_err(crate::config::ConfigError)?,
            ),
            feed: feed.clone(),
            assertions: Arc::new(crate::oauth::client_assertion::Assertions::new(
                crate::federation::outbound::Outbound::new(&core.config.federation),
            )),
            assertion_audiences: vec![issuer.clone(), format!("{issuer}/token")],
        });
        let workers = core.config.http.workers;
        let body_timeout = core.config.http.body_timeout.0;
        let max_connections = core.config.http.max_connections.max(1);
        let core = Arc::new(core);
        let background = tokio::spawn({
            let (core, origins, registry) = (core.clone(), origins.clone(), registry.clone());
            let feed = feed.clone();
            async move {
                tokio::join!(
                    maintain(core.clone(), ring, origins, registry, clock.clone()),
                    feed.follow(core.db.clone()),
                    clean_up(core, clock)
                );
            }
        });

        // RFC 6797: behind TLS, browsers are told to come back over https only.
        let https = issuer.starts_with("https://");
        let mut server = HttpServer::new(move || {
            let hsts = middleware::DefaultHeaders::new().add((
                actix_web::http::header::STRICT_TRANSPORT_SECURITY,
                "max-age=31536000",
            ));
            App::new()
                .app_data(state.clone())
                .wrap(middleware::Compat::new(prometheus.clone()))
                .wrap(middleware::from_fn(
                    move |mut req, next: middleware::Next<_>| async move {
                        http::body_deadline::apply(&mut req, body_timeout);
                        if request_log::uri_too_long(&req) {
                            let response = actix_web::HttpResponse::UriTooLong().finish();
                            return Ok(req.into_response(response).map_into_right_body());
                        }
                        next.call(req)
                            .await
                            .map(|r| request_log::echo_request_id(r).map_into_left_body())
                    },
                ))
                .wrap(TracingLogger::<request_log::RequestSpan>::new())
                .wrap(middleware::Condition::new(https, hsts))
                .configure(|cfg| http::routes(cfg, &origins))
        })
        .listen(listener)
        .map_err(|cause| StartupError::Listen {
            addr: local.to_string(),
            cause,
        })?;
        if let Some(n) = workers {
            server = server.workers(n);
        }
        server = server.max_connections(max_connections);
        Ok(Application {
            port: local.port(),
            issuer,
            data_location,
            server: server.disable_signals().run(),
            metrics: metrics_server,
            background,
            feed,
        })
    }

    /// The port of the metrics listener, when `[metrics] listen` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Where the data lives (the database URL without its password).
    pub fn data_location(&self) -> &str {
        &self.data_location
    }

    /// Serves until the server is stopped (the binary stops it on SIGINT/SIGTERM).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let feed = self.feed.clone();
        let shutdown = tokio::spawn(async move {
            shutdown_signal().await;
            feed.close();
            handle.stop(true).await;
        });
        let metrics = self
            .metrics
            .map(|(_, server)| (server.handle(), tokio::spawn(server)));
        let result = self.server.await;
        shutdown.abort();
        self.background.abort();
        if let Some((handle, server)) = metrics {
            handle.stop(true).await;
            server.await.ok();
        }
        result
    }

    /// For tests: serve on a background task until that task is aborted.
    pub fn spawn(self) -> tokio::task::JoinHandle<std::io::Result<()>> {
        let background = self.background;
        let server = self.server;
        let metrics = self.metrics.map(|(_, server)| server);
        tokio::spawn(async move {
            // One task for both servers: aborting it drops both.
            let mut server = std::pin::pin!(server);
            let result = match metrics {
                None => server.await,
                Some(metrics) => tokio::select! {
                    result = &mut server => result,
                    _ = metrics => server.await,
                },
            };
            background.abort();
            result
        })
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

/// Every `keys.reload_interval`: reloads keys from the database (so a rotation made by
/// any instance is seen everywhere), rotates keys that have signed for `keys.rotate_after`
/// when that is set (several instances may race; the database decides), and reloads the
/// registered clients (CORS origins and the in-memory registry).
async fn maintain(
    core: Arc<Core>,
    ring: Arc<KeyRing>,
    origins: http::cors::AllowedOrigins,
    registry: Registry,
    clock: clock::Clock,
) {
    let mut tick = tokio::time::interval(
        core.config
            .keys
            .reload_interval
            .0
            .max(Duration::from_millis(100)),
    );
    tick.tick().await;
    loop {
        tick.tick().await;
        let (core, ring, origins, registry, now) = (
            core.clone(),
            ring.clone(),
            origins.clone(),
            registry.clone(),
            clock.now(),
        );
        let result = tokio::task::spawn_blocking(move || {
            if let Err(e) = refresh_clients(&core, &origins, &registry) {
                tracing::error!(error = %e, "client reload failed; keeping the clients already loaded");
            }
            refresh_keys(&core, &ring, now)
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "key reload failed; keeping the keys already loaded")
            }
            Err(e) => tracing::error!(error = %e, "maintenance task failed"),
        }
    }
}

/// Every `maintenance.cleanup_interval`: deletes expired sessions and stale sign-in
/// counters (`cleanup.rs`), in small batches, on any number of instances.
async fn clean_up(core: Arc<Core>, clock: clock::Clock) {
    let mut tick = tokio::time::interval(
        core.config
            .maintenance
            .cleanup_interval
            .0
            .max(Duration::from_secs(1)),
    );
    loop {
        tick.tick().await;
        let (core, now) = (core.clone(), clock.now());
        let result = tokio::task::spawn_blocking(move || {
            core.db
                .run_blocking(|conn| crate::cleanup::run_once(conn, &core.config, now))
        })
        .await;
        match result {
            Ok(Ok(removed)) if removed != crate::cleanup::Removed::default() => {
                tracing::info!(?removed, "cleaned up")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "clean-up failed; will retry"),
            Err(e) => tracing::error!(error = %e, "clean-up task failed"),
        }
    }
}

/// Reloads the registered clients: the CORS origins and the in-memory registry.
fn refresh_clients(
    core: &Core,
    origins: &http::cors::AllowedOrigins,
    registry: &Registry,
) -> Result<(), StoreError> {
    let (generation, rows) = core.db.run_blocking(store::clients::snapshot)?;
    let parsed = client::parse_all(rows);
    origins.replace(client::allowed_origins(&parsed));
    registry.replace(generation, parsed);
    Ok(())
}

fn refresh_keys(core: &Core, ring: &KeyRing, now: i64) -> Result<(), KeyError> {
    if let Some(after) = core.config.keys.rotate_after {
        let policy = core.key_policy();
        for alg in crate::crypto::Alg::ALL {
            let rotated = core.db.run_blocking(|conn| {
                keys::rotate_if_due(conn, &core.master, &policy, alg, after.as_secs(), now)
            });
            match rotated {
                Ok(Some(r)) => {
                    tracing::info!(kid = %r.kid, %alg, activates_at = r.activates_at, "scheduled key rotation")
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, %alg, "scheduled key rotation did not run"),
            }
        }
    }
    let rows = core.db.run_blocking(store::signing_keys::list)?;
    ring.load(rows, now)
}
