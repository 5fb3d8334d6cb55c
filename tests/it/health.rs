//! `/healthz`, `/readyz`, `/metrics`, request ids.

use serde_json::Value;

use crate::common::{eventually, TestApp};

#[tokio::test]
async fn healthz_and_readyz_answer_when_all_is_well() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get_json("/healthz").await["status"], "ok");
    let ready = app.get_json("/readyz").await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"], "ok");
    assert_eq!(ready["keys"], "ok");
}

#[tokio::test]
async fn readyz_is_503_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    if !app.db.is_postgres() {
        // A SQLite file cannot be taken away from a running process; the PostgreSQL run covers this.
        return;
    }
    app.db.drop_now();
    let unavailable = eventually(10, || async {
        let response = app.get("/readyz").await;
        response.status() == 503
    })
    .await;
    assert!(unavailable, "/readyz turns 503");
    let body: Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(body["database"], "unreachable");
    // The process itself is still alive.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

/// #11 item 11: request counts by endpoint are for operators, on their own listener.
#[tokio::test]
async fn metrics_are_served_only_on_their_own_listener() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/metrics").await.status(), 404, "off by default");

    let app = TestApp::spawn_with(|c| c.metrics.listen = Some("127.0.0.1:0".into())).await;
    let port = app.metrics_port.expect("the metrics listener is bound");
    assert_ne!(port, app.port);
    assert_eq!(
        app.get("/metrics").await.status(),
        404,
        "never on the main listener"
    );
    let elsewhere = app
        .http
        .get(format!("http://127.0.0.1:{port}/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        elsewhere.status(),
        404,
        "the metrics listener serves nothing else"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_endpoint_and_status() {
    let app = TestApp::spawn_with(|c| c.metrics.listen = Some("127.0.0.1:0".into())).await;
    app.get("/jwks").await;
    app.get("/no/such/page/abc123").await;
    let metrics = format!("http://127.0.0.1:{}/metrics", app.metrics_port.unwrap());
    let response = app.http.get(metrics).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"portcullis_http_requests_total{endpoint="/jwks",method="GET",status="200"} 1"#
        ),
        "{text}"
    );
    // Unknown paths share one label: the series cannot grow without bound.
    assert!(!text.contains("abc123"));
    assert!(text.contains("portcullis_http_requests_duration_seconds_bucket"));
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let a = app.get("/healthz").await;
    let b = app.get("/healthz").await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id(&a).len(), 36);
    assert_ne!(id(&a), id(&b));
}

#[tokio::test]
async fn unknown_pages_and_assets_are_404() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/nothing-here").await.status(), 404);
    assert_eq!(app.get("/static/../Cargo.toml").await.status(), 404);
    assert_eq!(app.get("/static/css/nope.css").await.status(), 404);
    let css = app.get("/static/css/portcullis.css").await;
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
}

/// Checklist §3: URLs over 8 KiB get 414, not a 5xx, on every path.
#[tokio::test]
async fn overlong_urls_are_414() {
    let app = TestApp::spawn().await;
    let long = "a".repeat(9 * 1024);
    for path in [
        format!("/authorize?state={long}"),
        format!("/jwks?x={long}"),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 414, "{}", &path[..12]);
    }
    let fine = "a".repeat(7 * 1024);
    assert_eq!(app.get(&format!("/jwks?x={fine}")).await.status(), 200);
}

/// RFC 6797: HSTS on every response when the issuer is https (TLS in front), never on a
/// plain-http issuer, where it would mean nothing (§7.2) and only confuse.
#[tokio::test]
async fn hsts_is_sent_only_when_the_issuer_is_https() {
    let https = TestApp::spawn_with(|c| c.issuer = Some("https://id.example.test".into())).await;
    for path in ["/healthz", "/jwks", "/login", "/no-such-page"] {
        let response = https
            .http
            .get(format!("http://127.0.0.1:{}{path}", https.port))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path}"
        );
    }
    let plain = TestApp::spawn().await;
    let response = plain.get("/healthz").await;
    assert!(response
        .headers()
        .get("strict-transport-security")
        .is_none());
}

/// Hardening #11 item 6: a body trickled a byte at a time (here, one every 300 ms of a
/// declared 60) is cut off at `http.body_timeout` and the connection closed, instead of
/// holding it for as long as the client likes.
#[tokio::test]
async fn a_trickled_body_is_cut_off_at_the_body_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|c| {
        c.http.body_timeout = portcullis::config::Lifetime::secs(1);
    })
    .await;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(
            b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 60\r\n\r\ng",
        )
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..59 {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            if writer.write_all(b"r").await.is_err() {
                return;
            }
        }
    });
    // Without the deadline the last byte arrives after ~18 s; with it the answer comes
    // about a second in. The bound only keeps a failing test from hanging.
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        reader.read_to_end(&mut answer),
    )
    .await;
    trickle.abort();
    assert!(read.is_ok(), "the connection is still open");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 4"),
        "a refusal, then the connection closed: {answer}"
    );
}
