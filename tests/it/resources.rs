//! Resource indicators (RFC 8707): a client names the resource server a token is for;
//! only resources registered for the client may be named, each token is for one, and
//! what is malformed, unknown or not authorized is `invalid_target` — refused before
//! anything is spent (the code stays redeemable, the refresh token unrotated).

use serde_json::Value;

use crate::common::oidc::{
    self, browser, claims, drive, location, pkce, query_of, refresh, API, API_SECRET, WEB,
    WEB_CALLBACK, WEB_SECRET,
};
use crate::common::TestApp;

const API_RESOURCE: &str = "https://api.test";
const IMAGES: &str = "https://images.test/v1";
const REPORTS: &str = "https://reports.test";

fn with_resources(c: &mut portcullis::Config) {
    oidc::with_apps(c);
    for client in &mut c.clients {
        if client.client_id == WEB {
            client.resources = vec![API_RESOURCE.into(), IMAGES.into(), REPORTS.into()];
        }
        if client.client_id == API {
            client.resources = vec![IMAGES.into()];
            client.default_resource = Some(IMAGES.into());
        }
    }
}

/// `/authorize` as `web` with `offline_access` and these `resource`s; where the browser
/// is sent, and the PKCE verifier.
async fn authorize(app: &TestApp, resources: &[&str]) -> (String, String) {
    let (verifier, challenge) = pkce();
    let mut url = oidc::authorize_url(
        app,
        WEB,
        WEB_CALLBACK,
        &challenge,
        &[("scope", "openid offline_access")],
    );
    for r in resources {
        url.push_str(&format!("&resource={}", urlencode(r)));
    }
    let response = drive(app, &browser(), &url).await;
    assert_eq!(response.status(), 303);
    (location(&response), verifier)
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn token(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    app.http
        .post(app.url("/token"))
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn redeem(
    app: &TestApp,
    code: &str,
    verifier: &str,
    resources: &[&str],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", WEB_CALLBACK),
        ("code_verifier", verifier),
    ];
    form.extend(resources.iter().map(|r| ("resource", *r)));
    token(app, &form).await
}

async fn invalid_target(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_target", "{body}");
    body["error_description"].as_str().unwrap().to_owned()
}

fn aud(body: &Value) -> Value {
    claims(body["access_token"].as_str().unwrap())["aud"].clone()
}

#[tokio::test]
async fn authorize_refuses_a_resource_that_is_unknown_or_malformed() {
    let app = TestApp::spawn_with(with_resources).await;
    for bad in ["https://evil.test", "api", "https://api.test/#frag"] {
        let (to, _) = authorize(&app, &[bad]).await;
        assert!(to.starts_with(WEB_CALLBACK), "{bad}: {to}");
        let query = query_of(&to);
        assert_eq!(query["error"], "invalid_target", "{bad}");
        assert_eq!(query["state"], "state-123");
        assert_eq!(query["iss"], app.issuer);
        assert!(!query.contains_key("code"));
    }
}

#[tokio::test]
async fn each_token_is_for_the_one_resource_named_among_those_authorized() {
    let app = TestApp::spawn_with(with_resources).await;
    let (to, verifier) = authorize(&app, &[API_RESOURCE, IMAGES]).await;
    let code = query_of(&to).remove("code").expect("a code");

    // Two at once: each access token is for one resource. The code is not spent.
    let description =
        invalid_target(redeem(&app, &code, &verifier, &[API_RESOURCE, IMAGES]).await).await;
    assert!(description.contains("one resource"), "{description}");
    // One the client may ask for but this authorization did not name.
    invalid_target(redeem(&app, &code, &verifier, &[REPORTS]).await).await;
    // Several authorized and none named, with no default: the client must choose.
    invalid_target(redeem(&app, &code, &verifier, &[]).await).await;

    let response = redeem(&app, &code, &verifier, &[IMAGES]).await;
    assert_eq!(response.status(), 200);
    let first: Value = response.json().await.unwrap();
    assert_eq!(aud(&first), IMAGES);
    let refresh_token = first["refresh_token"].as_str().unwrap().to_owned();

    // RFC 8707 §2.2: a refresh may name another resource of the grant.
    let refused = refresh(&app, &refresh_token, &[("resource", REPORTS)]).await;
    assert!(invalid_target(refused).await.contains("not authorized"));
    // The refused refresh did not rotate the token.
    let response = refresh(&app, &refresh_token, &[("resource", API_RESOURCE)]).await;
    assert_eq!(response.status(), 200);
    let second: Value = response.json().await.unwrap();
    assert_eq!(aud(&second), API_RESOURCE);
    // Introspection describes it with its audience.
    let described = oidc::introspect(&app, second["access_token"].as_str().unwrap()).await;
    assert_eq!(described["active"], true);
    assert_eq!(described["aud"], API_RESOURCE);
    // Userinfo is ours to answer whatever the token's audience (as Keycloak does).
    let userinfo = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(second["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 200);
    // The successor carries the grant's resources on.
    let next = second["refresh_token"].as_str().unwrap();
    let response = refresh(&app, next, &[("resource", IMAGES)]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(aud(&response.json().await.unwrap()), IMAGES);
}

#[tokio::test]
async fn a_single_resource_is_the_audience_and_none_keeps_the_servers_audience() {
    let app = TestApp::spawn_with(with_resources).await;
    let (to, verifier) = authorize(&app, &[API_RESOURCE]).await;
    let code = query_of(&to).remove("code").unwrap();
    let body: Value = redeem(&app, &code, &verifier, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(aud(&body), API_RESOURCE);

    let (to, verifier) = authorize(&app, &[]).await;
    let code = query_of(&to).remove("code").unwrap();
    let response = redeem(&app, &code, &verifier, &[]).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        aud(&body),
        app.issuer,
        "tokens.audience defaults to the issuer"
    );
    // Named only at the token endpoint: any of the client's resources.
    let refreshed = refresh(
        &app,
        body["refresh_token"].as_str().unwrap(),
        &[("resource", REPORTS)],
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    assert_eq!(aud(&refreshed.json().await.unwrap()), REPORTS);
}

#[tokio::test]
async fn client_credentials_tokens_are_for_the_clients_resources() {
    let app = TestApp::spawn_with(with_resources).await;
    let ask = |resource: Option<&'static str>| {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("scope", "images:read"),
        ];
        if let Some(r) = resource {
            form.push(("resource", r));
        }
        app.http
            .post(app.url("/token"))
            .basic_auth(API, Some(API_SECRET))
            .form(&form)
            .send()
    };
    let named: Value = ask(Some(IMAGES)).await.unwrap().json().await.unwrap();
    assert_eq!(aud(&named), IMAGES);
    let default: Value = ask(None).await.unwrap().json().await.unwrap();
    assert_eq!(aud(&default), IMAGES, "default_resource");
    invalid_target(ask(Some(API_RESOURCE)).await.unwrap()).await;
    invalid_target(ask(Some("not a uri")).await.unwrap()).await;
}

#[test]
fn registrations_name_absolute_resource_uris_and_a_default_among_them() {
    use portcullis::config::{ClientConfig, Secret};
    let client = |resources: &[&str], default: Option<&str>| ClientConfig {
        client_id: "svc".into(),
        client_secret: Some(Secret::new("a-long-enough-secret-0123456789abcdef")),
        grant_types: Some(vec!["client_credentials".into()]),
        resources: resources.iter().map(|r| r.to_string()).collect(),
        default_resource: default.map(str::to_owned),
        ..Default::default()
    };
    assert!(portcullis::oauth::client::validate(&client(&[IMAGES], Some(IMAGES))).is_ok());
    let e = portcullis::oauth::client::validate(&client(&["images"], None)).unwrap_err();
    assert!(e.starts_with("resources[0]"), "{e}");
    let e = portcullis::oauth::client::validate(&client(&[IMAGES], Some(REPORTS))).unwrap_err();
    assert!(e.starts_with("default_resource"), "{e}");
}
