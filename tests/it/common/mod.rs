//! `TestApp`: the real server on port 0 with its own database, plus helpers to run the
//! `portcullis` binary against the same configuration.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::Connection;
use portcullis::config::{Config, Secret};
use portcullis::Application;
use tempfile::TempDir;

pub mod fake_facebook;
pub mod fake_upstream;
pub mod mfa;
pub mod oidc;

pub const SECRET_KEY: &str = "integration-tests-secret-key-0123456789";

/// A database that lives as long as the tests that share it.
pub struct TestDb {
    pub url: String,
    admin: Option<(String, String)>,
    _dir: TempDir,
}

impl TestDb {
    /// A fresh PostgreSQL database when `TEST_POSTGRES_URL` is set, else a SQLite file.
    pub fn create() -> Arc<TestDb> {
        let dir = tempfile::tempdir().expect("temp dir");
        match std::env::var("TEST_POSTGRES_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!(
                    "portcullis_test_{}",
                    portcullis::crypto::token::random_id()
                        .to_lowercase()
                        .replace(['-', '_'], "")
                );
                let mut conn = diesel::PgConnection::establish(&admin_url)
                    .unwrap_or_else(|e| panic!("TEST_POSTGRES_URL is set but unreachable: {e}"));
                conn.batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create database");
                let mut url = url::Url::parse(&admin_url).expect("TEST_POSTGRES_URL is a URL");
                url.set_path(&name);
                // Loopback test databases need neither TLS nor GSSAPI. Without them, a
                // connection attempt still in flight when the test binary exits (a pool
                // retrying against a dropped database) cannot race OpenSSL's or
                // Kerberos's exit-time clean-up, which aborted the process after every
                // test had passed ("munmap_chunk(): invalid pointer").
                for (key, value) in [("sslmode", "disable"), ("gssencmode", "disable")] {
                    if !url.query_pairs().any(|(k, _)| k == key) {
                        url.query_pairs_mut().append_pair(key, value);
                    }
                }
                Arc::new(TestDb {
                    url: url.to_string(),
                    admin: Some((admin_url, name)),
                    _dir: dir,
                })
            }
            _ => Arc::new(TestDb {
                url: format!("sqlite://{}", dir.path().join("portcullis.db").display()),
                admin: None,
                _dir: dir,
            }),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.admin.is_some()
    }

    /// PostgreSQL only: removes the database under a running server.
    pub fn drop_now(&self) {
        if let Some((admin_url, name)) = &self.admin {
            let mut conn = diesel::PgConnection::establish(admin_url).expect("admin connection");
            conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .expect("drop database");
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.admin {
            if let Ok(mut conn) = diesel::PgConnection::establish(admin_url) {
                let _ = conn.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// The configuration every test starts from: port 0, its own database and data dir.
pub fn test_config(db: &TestDb, data_dir: &std::path::Path) -> Config {
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        database_url: Some(db.url.clone()),
        data_dir: data_dir.to_path_buf(),
        secret_key: Some(Secret::new(SECRET_KEY)),
        ..Config::default()
    };
    config.database.max_connections = 4;
    config.log.level = "warn".into();
    config
}

pub struct TestApp {
    pub issuer: String,
    pub port: u16,
    /// `[metrics] listen`, when the test set it.
    pub metrics_port: Option<u16>,
    pub http: reqwest::Client,
    pub config: Config,
    pub db: Arc<TestDb>,
    pub data_dir: Arc<TempDir>,
    /// The server's clock: `app.clock.advance(s)` is how time passes in a test.
    pub clock: portcullis::clock::Clock,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(customize: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb::create();
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        Self::start(db, dir, Default::default(), customize).await
    }

    /// Two instances started at the same moment on one fresh database.
    pub async fn spawn_two_at_once(customize: impl Fn(&mut Config)) -> (TestApp, TestApp) {
        let db = TestDb::create();
        let (a, b) = (
            Arc::new(tempfile::tempdir().unwrap()),
            Arc::new(tempfile::tempdir().unwrap()),
        );
        let clock = portcullis::clock::Clock::default();
        tokio::join!(
            Self::start(db.clone(), a, clock.clone(), &customize),
            Self::start(db, b, clock, &customize)
        )
    }

    /// Another instance on the same database (and secret key), as behind a load balancer.
    pub async fn spawn_sharing(&self, customize: impl FnOnce(&mut Config)) -> TestApp {
        Self::start(
            self.db.clone(),
            Arc::new(tempfile::tempdir().unwrap()),
            self.clock.clone(),
            customize,
        )
        .await
    }

    async fn start(
        db: Arc<TestDb>,
        dir: Arc<TempDir>,
        clock: portcullis::clock::Clock,
        customize: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut config = test_config(&db, dir.path());
        customize(&mut config);
        config.validate().expect("test configuration is valid");
        let app = Application::build_with_clock(config.clone(), clock.clone())
            .await
            .expect("server starts");
        let issuer = app.issuer().to_owned();
        let port = app.port();
        let metrics_port = app.metrics_port();
        let server = app.spawn();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        TestApp {
            issuer,
            port,
            metrics_port,
            http,
            config,
            db,
            data_dir: dir,
            clock,
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("JSON body")
    }

    /// Runs SQL on this app's database: how a test moves stored times into the past, as
    /// the passing of time would.
    pub fn execute_sql(&self, sql: &str) {
        let core = portcullis::Core::open(self.config.clone()).expect("open the database");
        core.db
            .run_blocking(|conn| {
                conn.batch_execute(sql)
                    .map_err(portcullis::store::StoreError::from)
            })
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Runs the `portcullis` binary against this app's database and secret key.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_with_stdin(args, "")
    }

    pub fn cli_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        cli_run(&self.config_file(), args, stdin, &[])
    }

    /// A TOML file with this app's database, secret key and data directory.
    pub fn config_file(&self) -> PathBuf {
        let path = self.data_dir.path().join("portcullis.toml");
        let toml = format!(
            "database_url = {:?}\nsecret_key = {:?}\ndata_dir = {:?}\n[keys]\nannounce = {}\n",
            self.db.url,
            SECRET_KEY,
            self.data_dir.path().display().to_string(),
            self.config.keys.announce.as_secs(),
        );
        std::fs::write(&path, toml).expect("write config");
        path
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Runs the binary with a config file, extra environment and standard input.
pub fn cli_run(
    config: &std::path::Path,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> Output {
    use std::io::Write;
    let mut command = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run portcullis");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().expect("portcullis exits")
}

/// Runs `client add` with `args` and returns the generated secret it printed once.
pub fn add_client(app: &TestApp, args: &[&str]) -> String {
    let mut all = vec!["client", "add"];
    all.extend_from_slice(args);
    let output = app.cli(&all);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
        .lines()
        .find_map(|l| l.strip_prefix("client_secret:"))
        .expect("a generated secret")
        .trim()
        .to_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Polls `check` every 100 ms for up to `seconds`.
pub async fn eventually<F, Fut>(seconds: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..seconds * 10 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}
