//! The three-server example (#14 item 5), walked end to end on loopback: Portcullis, the
//! example's API server and image server (`examples/three-servers`, built on
//! `portcullis-verifier`), and a person's SPA played by a browser and the test.
//!
//! SPA token accepted by the API → an image fetched through the API with the API's own
//! token → the image server refuses the wrong audience and the wrong scope → a payment
//! refused with the RFC 9470 challenge → the SPA re-authorizes with its `acr_values`, the
//! person types the TOTP code → the new token pays → the user is disabled → the API
//! refuses the still-unexpired token once the revocation feed says so.

use std::net::TcpListener;
use std::time::Instant;

use portcullis::config::{ClientConfig, Secret};
use serde_json::Value;
use three_servers::api::{self, Api, Settings};
use three_servers::images;

use crate::common::mfa::{code_at, type_code, ALICE_TOTP};
use crate::common::oidc::{self, authorize_url, browser, claims, drive, location, pkce, query_of};
use crate::common::{eventually, stdout, TestApp};

const API_RESOURCE: &str = "https://api.example.test";
const IMAGES_RESOURCE: &str = "https://images.example.test";
const SPA: &str = "photo-spa";
const SPA_CALLBACK: &str = "http://127.0.0.1:5173/callback";
const API_CLIENT: &str = "api-server";
const API_SECRET: &str = "api-server-secret-0123456789abcdefghij";
const MFA: &str = "urn:portcullis:acr:mfa";

fn three_servers(c: &mut portcullis::Config) {
    oidc::with_apps(c);
    c.users[0].totp_secret = Some(Secret::new(ALICE_TOTP));
    c.clients = vec![
        ClientConfig {
            client_id: SPA.into(),
            client_name: Some("Photo SPA".into()),
            public: true,
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            scopes: Some(vec![
                "openid".into(),
                "profile".into(),
                "offline_access".into(),
            ]),
            resources: vec![API_RESOURCE.into()],
            default_resource: Some(API_RESOURCE.into()),
            ..Default::default()
        },
        ClientConfig {
            client_id: API_CLIENT.into(),
            client_secret: Some(Secret::new(API_SECRET)),
            grant_types: Some(vec!["client_credentials".into()]),
            scopes: Some(vec!["images:read".into(), "images:list".into()]),
            resources: vec![IMAGES_RESOURCE.into()],
            default_resource: Some(IMAGES_RESOURCE.into()),
            introspection: portcullis::oauth::client::Introspection::Any,
            ..Default::default()
        },
    ];
}

fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    (l, url)
}

/// Runs `url` in the person's browser to the SPA's callback and redeems the code as a
/// public client with PKCE; the access token.
async fn spa_access(app: &TestApp, person: &reqwest::Client, url: &str, verifier: &str) -> String {
    let to = location(&drive(app, person, url).await);
    assert!(to.starts_with(SPA_CALLBACK), "sent to the SPA: {to}");
    let code = query_of(&to).remove("code").expect("a code");
    let response = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", SPA),
            ("code", &code),
            ("redirect_uri", SPA_CALLBACK),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    tokens["access_token"].as_str().unwrap().to_owned()
}

fn challenge(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// A request to a resource server with a bearer token.
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
) -> reqwest::Response {
    http.request(method, url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// The value of `name="…"` in a challenge.
fn attribute(challenge: &str, name: &str) -> Option<String> {
    let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
    let end = challenge[start..].find('"')? + start;
    Some(challenge[start..end].to_owned())
}

#[tokio::test]
async fn the_three_servers_walk_sign_in_images_step_up_and_a_disabled_user() {
    let app = TestApp::spawn_with(three_servers).await;
    let http = reqwest::Client::new();

    let (images_listener, images_url) = listener();
    let images_verifier = images::verifier(&app.issuer, IMAGES_RESOURCE)
        .await
        .unwrap();
    tokio::spawn(images::serve(images_listener, images_verifier).unwrap());
    let (api_listener, api_url) = listener();
    let api = Api::new(Settings {
        issuer: app.issuer.clone(),
        resource: API_RESOURCE.into(),
        client_id: API_CLIENT.into(),
        client_secret: API_SECRET.into(),
        images_url: images_url.clone(),
        images_resource: IMAGES_RESOURCE.into(),
        payment_acr: MFA.into(),
    })
    .await
    .unwrap();
    let api_verifier = api.verifier().clone();
    tokio::spawn(api::serve(api_listener, api).unwrap());
    assert!(
        eventually(10, || async {
            api_verifier.feed_status().unwrap().connected
        })
        .await
    );

    // The person signs in to the SPA; its token is for the API.
    let person = browser();
    let (verifier, code_challenge) = pkce();
    let url = authorize_url(
        &app,
        SPA,
        SPA_CALLBACK,
        &code_challenge,
        &[("scope", "openid offline_access")],
    );
    let access = spa_access(&app, &person, &url, &verifier).await;
    assert_eq!(claims(&access)["aud"], API_RESOURCE);

    let me = call(
        &http,
        reqwest::Method::GET,
        format!("{api_url}/me"),
        &access,
    )
    .await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["sub"], claims(&access)["sub"]);

    // An image, through the API, which calls the image server with its own token.
    let photo = call(
        &http,
        reqwest::Method::GET,
        format!("{api_url}/photos/42"),
        &access,
    )
    .await;
    assert_eq!(photo.status(), 200);
    assert_eq!(photo.headers()["content-type"], "image/svg+xml");
    assert!(photo
        .text()
        .await
        .unwrap()
        .contains("image 42 for api-server"));

    // The image server refuses the person's token (its audience is the API) …
    let direct = call(
        &http,
        reqwest::Method::GET,
        format!("{images_url}/images/42"),
        &access,
    )
    .await;
    assert_eq!(direct.status(), 401);
    assert!(challenge(&direct).contains("error=\"invalid_token\""));
    // … and an API token without images:read.
    let listing: Value = app
        .http
        .post(app.url("/token"))
        .basic_auth(API_CLIENT, Some(API_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "images:list"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let narrow = listing["access_token"].as_str().unwrap();
    assert_eq!(claims(narrow)["aud"], IMAGES_RESOURCE);
    let refused = call(
        &http,
        reqwest::Method::GET,
        format!("{images_url}/images/42"),
        narrow,
    )
    .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        attribute(&challenge(&refused), "scope").as_deref(),
        Some("images:read")
    );

    // A payment needs mfa: RFC 9470's challenge says which level to come back with.
    let pay = call(
        &http,
        reqwest::Method::POST,
        format!("{api_url}/payments"),
        &access,
    )
    .await;
    assert_eq!(pay.status(), 401);
    let asked = challenge(&pay);
    assert_eq!(
        attribute(&asked, "error").as_deref(),
        Some("insufficient_user_authentication"),
        "{asked}"
    );
    let acr_values = attribute(&asked, "acr_values").expect("acr_values in the challenge");
    assert_eq!(acr_values, MFA);

    // The SPA re-authorizes with those acr_values; the person types only the code.
    let (verifier, code_challenge) = pkce();
    let url = authorize_url(
        &app,
        SPA,
        SPA_CALLBACK,
        &code_challenge,
        &[
            ("scope", "openid offline_access"),
            ("acr_values", &acr_values),
        ],
    );
    let step_up = location(&drive(&app, &person, &url).await);
    assert!(step_up.starts_with("/login/otp?request="), "{step_up}");
    let typed = type_code(&app, &person, &step_up, &code_at(&app, ALICE_TOTP, 0)).await;
    assert_eq!(typed.status(), 303);
    let resume = app.url(&location(&typed));
    let strong = spa_access(&app, &person, &resume, &verifier).await;
    assert_eq!(claims(&strong)["acr"], MFA);
    let pay = call(
        &http,
        reqwest::Method::POST,
        format!("{api_url}/payments"),
        &strong,
    )
    .await;
    assert_eq!(pay.status(), 200);
    let paid: Value = pay.json().await.unwrap();
    assert_eq!(paid["paid"], true);

    // The user is disabled: the API refuses the still-unexpired token once the feed
    // brings the event (docs/PERFORMANCE.md has the bound).
    let output = app.cli(&["user", "disable", "alice"]);
    assert!(output.status.success(), "{}", stdout(&output));
    let disabled_at = Instant::now();
    let refused = eventually(5, || async {
        let r = call(
            &http,
            reqwest::Method::GET,
            format!("{api_url}/me"),
            &strong,
        )
        .await;
        r.status() == 401 && challenge(&r).contains("the token has been revoked")
    })
    .await;
    assert!(refused, "the disabled user's token is refused");
    eprintln!(
        "refused {:?} after the disable committed",
        disabled_at.elapsed()
    );
    assert!(
        claims(&strong)["exp"].as_i64().unwrap() > app.clock.now(),
        "still unexpired"
    );
}
