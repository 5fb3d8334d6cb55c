//! CORS on the public documents (checklist §1.29): registered SPA origins only, no
//! credentials; nothing for other origins, nothing on /authorize.

use crate::common::{eventually, TestApp};
use portcullis::config::{ClientConfig, Lifetime};

fn with_spa(c: &mut portcullis::Config) {
    c.keys.reload_interval = Lifetime::secs(1);
    c.clients = vec![ClientConfig {
        client_id: "spa".into(),
        public: true,
        redirect_uris: vec!["https://spa.test/callback".into()],
        allowed_origins: vec!["https://spa.test".into()],
        ..Default::default()
    }];
}

async fn get_from(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .header("origin", origin)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn registered_origins_may_read_discovery_and_jwks() {
    let app = TestApp::spawn_with(with_spa).await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/jwks",
    ] {
        let ok = get_from(&app, path, "https://spa.test").await;
        assert_eq!(ok.status(), 200, "{path}");
        assert_eq!(
            ok.headers()["access-control-allow-origin"],
            "https://spa.test",
            "{path}"
        );
        assert!(
            ok.headers()
                .get("access-control-allow-credentials")
                .is_none(),
            "{path}"
        );

        let other = get_from(&app, path, "https://evil.test").await;
        assert_eq!(other.status(), 200, "{path}: the document itself is public");
        assert!(
            other.headers().get("access-control-allow-origin").is_none(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn preflight_is_answered_for_registered_origins_only() {
    let app = TestApp::spawn_with(with_spa).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/jwks"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let ok = preflight("https://spa.test").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://spa.test"
    );
    assert!(ok.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("GET"));
    let refused = preflight("https://evil.test").await.unwrap();
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn authorize_never_answers_cors() {
    let app = TestApp::spawn_with(with_spa).await;
    let response = get_from(&app, "/authorize", "https://spa.test").await;
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn an_origin_registered_later_is_picked_up_without_a_restart() {
    let app = TestApp::spawn_with(|c| c.keys.reload_interval = Lifetime::secs(1)).await;
    let before = get_from(&app, "/jwks", "https://photos.test").await;
    assert!(before
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let added = app.cli(&[
        "client",
        "add",
        "photos",
        "--public",
        "--redirect-uri",
        "https://photos.test/cb",
        "--allowed-origin",
        "https://photos.test",
    ]);
    assert!(added.status.success());
    let allowed = eventually(10, || async {
        get_from(&app, "/jwks", "https://photos.test")
            .await
            .headers()
            .get("access-control-allow-origin")
            .is_some()
    })
    .await;
    assert!(allowed);
}

/// Checklist §1.30: spoofed forwarding headers change neither the issuer nor any URL.
#[tokio::test]
async fn forwarding_headers_do_not_change_the_issuer() {
    let app = TestApp::spawn().await;
    let doc: serde_json::Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .header("x-forwarded-host", "evil.test")
        .header("x-forwarded-proto", "https")
        .header("forwarded", "host=evil.test;proto=https")
        .header("host", "evil.test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], app.issuer.as_str());
    assert!(!doc.to_string().contains("evil.test"));
}
