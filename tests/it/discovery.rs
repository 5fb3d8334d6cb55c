//! OpenID Connect Discovery 1.0 and RFC 8414 metadata.

use openidconnect::core::CoreProviderMetadata;
use openidconnect::IssuerUrl;
use serde_json::Value;

use crate::common::TestApp;

#[tokio::test]
async fn discovery_lists_the_code_flow_and_nothing_else() {
    let app = TestApp::spawn().await;
    let doc = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(doc["issuer"], app.issuer.as_str());
    assert_eq!(doc["authorization_endpoint"], app.url("/authorize"));
    assert_eq!(doc["token_endpoint"], app.url("/token"));
    assert_eq!(doc["jwks_uri"], app.url("/jwks"));
    // RFC 9700 §2.1.1, RFC 7636 §4.2: S256 only.
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    // RFC 9700 §2.1.2, §2.4: no implicit, no hybrid, no password grant.
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    let grants: Vec<&str> = doc["grant_types_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert!(!grants.contains(&"password") && !grants.contains(&"implicit"));
    // RFC 9207 §3.
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    let algs = doc["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(
        algs.contains(&Value::from("RS256")),
        "RS256 is the OIDC default"
    );
    assert!(!algs.contains(&Value::from("none")));
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert!(doc["scopes_supported"]
        .as_array()
        .unwrap()
        .contains(&Value::from("openid")));
    assert_eq!(doc["userinfo_endpoint"], app.url("/userinfo"));
    assert_eq!(doc["end_session_endpoint"], app.url("/logout"));
    assert_eq!(doc["revocation_feed_endpoint"], app.url("/revocations"));
    assert_eq!(
        doc["response_modes_supported"],
        serde_json::json!(["query", "form_post"])
    );
    // Discovery §3 defaults request_uri_parameter_supported to true; we support neither.
    assert_eq!(doc["request_uri_parameter_supported"], false);
    assert_eq!(doc["request_parameter_supported"], false);
}

#[tokio::test]
async fn every_advertised_url_answers() {
    let app = TestApp::spawn().await;
    let doc = app.get_json("/.well-known/openid-configuration").await;
    let jwks = app
        .http
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
    // An unknown client gets a page at /authorize, never a redirect (RFC 6749 §4.1.2.1)…
    let authorize = app
        .http
        .get(doc["authorization_endpoint"].as_str().unwrap())
        .query(&[("client_id", "x"), ("redirect_uri", "https://evil.test/cb")])
        .send()
        .await
        .unwrap();
    assert_eq!(authorize.status(), 400);
    assert!(authorize.headers().get("location").is_none());
    assert_eq!(authorize.headers()["x-frame-options"], "DENY");
    assert!(authorize.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let page = authorize.text().await.unwrap();
    assert!(!page.contains("evil.test"), "input is not reflected");
    // …/token answers RFC 6749 §5.2 JSON, never cached…
    let token = app
        .http
        .post(doc["token_endpoint"].as_str().unwrap())
        .form(&[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 400);
    assert_eq!(token.headers()["cache-control"], "no-store");
    let body: Value = token.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_grant_type");
    // …and /userinfo and /logout answer.
    let userinfo = app
        .http
        .get(doc["userinfo_endpoint"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    let logout = app
        .http
        .get(doc["end_session_endpoint"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
}

#[tokio::test]
async fn rfc8414_metadata_matches_openid_discovery() {
    let app = TestApp::spawn().await;
    let oidc = app.get_json("/.well-known/openid-configuration").await;
    let oauth = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(oidc, oauth);
}

#[tokio::test]
async fn an_independent_relying_party_accepts_the_metadata_and_keys() {
    let app = TestApp::spawn().await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
            .await
            .expect("openidconnect accepts our discovery document and JWKS");
    assert_eq!(metadata.issuer().as_str(), app.issuer);
    assert_eq!(metadata.jwks().keys().len(), 2);
}

#[tokio::test]
async fn a_configured_issuer_is_used_verbatim() {
    let app = TestApp::spawn_with(|c| c.issuer = Some("https://id.example.test".into())).await;
    let response = app
        .http
        .get(format!(
            "http://127.0.0.1:{}/.well-known/openid-configuration",
            app.port
        ))
        .send()
        .await
        .unwrap();
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], "https://id.example.test");
    assert_eq!(doc["jwks_uri"], "https://id.example.test/jwks");
}
