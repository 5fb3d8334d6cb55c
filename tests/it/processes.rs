//! Real `portcullis serve` processes, as an operator runs them: two on one database
//! publish the same keys and see each other's rotation, and nothing secret reaches
//! their output.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{eventually, TestDb};

const PASSWORD: &str = "correct horse battery staple";
const CLIENT_SECRET: &str = "client-secret-that-must-never-be-logged";
const SECRET_KEY: &str = "process-test-secret-key-0123456789abcdef";
const TOTP_SECRET: &str = "KRUGS4ZANFZSA43FMNZGK5BAOBQXG43X";

struct Serve {
    child: Child,
    port: u16,
}

impl Serve {
    fn start(config: &std::path::Path) -> Serve {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("PORTCULLIS_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        Serve { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Stops the process and returns everything it printed.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        out
    }
}

async fn jwks(http: &reqwest::Client, server: &Serve) -> Option<serde_json::Value> {
    let response = http.get(server.url("/jwks")).send().await.ok()?;
    response.json().await.ok()
}

#[tokio::test]
async fn two_serve_processes_share_keys_and_never_log_secrets() {
    let db = TestDb::create();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portcullis.toml");
    std::fs::write(
        &config,
        format!(
            r#"database_url = {url:?}
secret_key = {SECRET_KEY:?}
data_dir = {data:?}
[keys]
reload_interval = 1
[[clients]]
client_id = "api-server"
client_secret = {CLIENT_SECRET:?}
grant_types = ["client_credentials"]
scopes = ["images:read"]
[[users]]
username = "alice"
password = {PASSWORD:?}
totp_secret = {TOTP_SECRET:?}
"#,
            url = db.url,
            data = dir.path().display().to_string(),
        ),
    )
    .unwrap();

    let http = reqwest::Client::new();
    let first = Serve::start(&config);
    assert!(
        eventually(30, || async { jwks(&http, &first).await.is_some() }).await,
        "first instance serves"
    );
    let second = Serve::start(&config);
    assert!(
        eventually(30, || async { jwks(&http, &second).await.is_some() }).await,
        "second instance serves"
    );
    assert_eq!(jwks(&http, &first).await, jwks(&http, &second).await);

    let rotated = crate::common::cli_run(&config, &["keys", "rotate"], "", &[]);
    assert!(rotated.status.success());
    let both_see_it = eventually(10, || async {
        let (a, b) = (jwks(&http, &first).await, jwks(&http, &second).await);
        a == b && a.is_some_and(|j| j["keys"].as_array().unwrap().len() == 4)
    })
    .await;
    assert!(
        both_see_it,
        "the rotation is published by both without a restart"
    );

    // A request whose query carries secret-looking values, for the log check below.
    let _ = http
        .get(first.url(&format!("/authorize?code={CLIENT_SECRET}&state=s")))
        .send()
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    for output in [first.stop(), second.stop()] {
        assert!(output.contains("Portcullis is serving issuer"), "{output}");
        for secret in [PASSWORD, CLIENT_SECRET, SECRET_KEY, TOTP_SECRET] {
            assert!(
                !output.contains(secret),
                "a secret reached the output:\n{output}"
            );
        }
    }
}

/// SIGTERM stops a server that has a resource server following `/revocations`: the
/// stream ends at once instead of holding the graceful stop until its timeout (30 s,
/// beyond this test's bound), and the process exits cleanly.
#[tokio::test]
async fn sigterm_ends_revocation_streams_and_the_process_exits() {
    let db = TestDb::create();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portcullis.toml");
    std::fs::write(
        &config,
        format!(
            r#"database_url = {url:?}
secret_key = {SECRET_KEY:?}
data_dir = {data:?}
[[clients]]
client_id = "api-server"
client_secret = {CLIENT_SECRET:?}
grant_types = ["client_credentials"]
introspection = "any"
"#,
            url = db.url,
            data = dir.path().display().to_string(),
        ),
    )
    .unwrap();
    let http = reqwest::Client::new();
    let mut server = Serve::start(&config);
    assert!(
        eventually(30, || async { jwks(&http, &server).await.is_some() }).await,
        "serves"
    );
    let mut stream = http
        .get(server.url("/revocations"))
        .basic_auth("api-server", Some(CLIENT_SECRET))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(first.starts_with(b"retry:"));

    let killed = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ends with the server");
    let status = tokio::task::spawn_blocking(move || server.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}
