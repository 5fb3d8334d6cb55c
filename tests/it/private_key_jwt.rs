//! `private_key_jwt` (RFC 7523 §2.2 and §3, OpenID Connect Core §9): a client
//! authenticates with a JWT signed by its own key — registered inline (`jwks`) or
//! published at its `jwks_uri`. Each refusal is `401 invalid_client`: a replayed
//! assertion, a wrong `aud`, an expired or too long-lived one, an unknown key, `none`.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpResponse, HttpServer};
use portcullis::config::ClientConfig;
use portcullis::crypto::jws::{self, Alg, Signer};
use portcullis::crypto::keygen;
use serde_json::{json, Value};

use crate::common::oidc::{self, claims};
use crate::common::TestApp;

const INLINE: &str = "signer";
const REMOTE: &str = "remote-signer";
const TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

struct Key {
    kid: String,
    signer: Signer,
    published: Value,
}

fn key(alg: Alg) -> Key {
    let generated = keygen::generate(alg, 2048).unwrap();
    Key {
        published: generated.jwk.to_published(&generated.kid, alg),
        signer: Signer::from_pkcs8(alg, &generated.pkcs8).unwrap(),
        kid: generated.kid,
    }
}

const CALLBACK: &str = "https://signer.test/callback";

fn client(id: &str, jwks: Option<Value>, jwks_uri: Option<String>) -> ClientConfig {
    ClientConfig {
        client_id: id.into(),
        token_endpoint_auth_method: Some("private_key_jwt".into()),
        grant_types: Some(vec![
            "authorization_code".into(),
            "refresh_token".into(),
            "client_credentials".into(),
        ]),
        redirect_uris: vec![CALLBACK.into()],
        scopes: Some(vec![
            "openid".into(),
            "offline_access".into(),
            "images:read".into(),
        ]),
        jwks,
        jwks_uri,
        ..Default::default()
    }
}

/// Serves a JWK Set that the test can change, on loopback.
async fn serve_jwks(jwks: Arc<Mutex<Value>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        let jwks = jwks.clone();
        App::new().route(
            "/jwks",
            web::get().to(move || {
                let body = jwks.lock().unwrap().clone();
                async move { HttpResponse::Ok().json(body) }
            }),
        )
    })
    .listen(listener)
    .unwrap()
    .workers(1)
    .disable_signals()
    .run();
    tokio::spawn(server);
    url
}

struct Setup {
    app: TestApp,
    inline: Key,
    remote_jwks: Arc<Mutex<Value>>,
}

async fn setup() -> Setup {
    let inline = key(Alg::ES256);
    let remote_jwks = Arc::new(Mutex::new(json!({ "keys": [] })));
    let jwks_uri = serve_jwks(remote_jwks.clone()).await;
    let published = json!({ "keys": [inline.published.clone()] });
    let app = TestApp::spawn_with(move |c| {
        oidc::with_apps(c);
        c.federation.allow_private_addresses = true;
        c.clients.push(client(INLINE, Some(published), None));
        c.clients.push(client(REMOTE, None, Some(jwks_uri)));
    })
    .await;
    Setup {
        app,
        inline,
        remote_jwks,
    }
}

/// Assertion claims for `client`, valid now, with `aud` the token endpoint.
fn assertion_claims(app: &TestApp, client: &str) -> Value {
    let now = app.clock.now();
    json!({
        "iss": client, "sub": client, "aud": app.url("/token"),
        "exp": now + 60, "iat": now, "jti": portcullis::crypto::token::random_id(),
    })
}

fn sign(key: &Key, claims: &Value) -> String {
    jws::encode(&key.signer, &key.kid, "JWT", claims)
}

async fn token_with(app: &TestApp, assertion: &str, client_id: Option<&str>) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("scope", "images:read"),
        ("client_assertion_type", TYPE),
        ("client_assertion", assertion),
    ];
    if let Some(id) = client_id {
        form.push(("client_id", id));
    }
    app.http
        .post(app.url("/token"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn refused(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client", "{body}");
    body["error_description"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn a_signed_assertion_authenticates_once_and_its_replay_is_refused() {
    let s = setup().await;
    let other = s
        .app
        .spawn_sharing(|c| {
            oidc::with_apps(c);
            c.federation.allow_private_addresses = true;
            let published = json!({ "keys": [s.inline.published.clone()] });
            c.clients.push(client(INLINE, Some(published), None));
        })
        .await;
    // Test instances listen on ports of their own: this one names both token endpoints.
    let mut both = assertion_claims(&s.app, INLINE);
    both["aud"] = json!([s.app.url("/token"), other.url("/token")]);
    let assertion = sign(&s.inline, &both);
    let response = token_with(&s.app, &assertion, None).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["client_id"],
        INLINE
    );

    // RFC 7523 §3 item 7: the same jti again — on another instance, or this one.
    assert!(refused(token_with(&other, &assertion, Some(INLINE)).await)
        .await
        .contains("used before"));
    assert!(refused(token_with(&s.app, &assertion, None).await)
        .await
        .contains("used before"));

    // Introspection accepts it as well (RFC 7662 §2.1; /revoke takes the same path).
    let access = body["access_token"].as_str().unwrap();
    let introspected: Value = s
        .app
        .http
        .post(s.app.url("/introspect"))
        .form(&[
            ("token", access),
            ("client_assertion_type", TYPE),
            (
                "client_assertion",
                &sign(&s.inline, &assertion_claims(&s.app, INLINE)),
            ),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["client_id"], INLINE);

    // The issuer is an accepted audience too.
    let mut to_issuer = assertion_claims(&s.app, INLINE);
    to_issuer["aud"] = json!([s.app.issuer]);
    assert_eq!(
        token_with(&s.app, &sign(&s.inline, &to_issuer), None)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn wrong_aud_expired_long_lived_unknown_key_and_none_are_refused() {
    let s = setup().await;
    let now = s.app.clock.now();
    let change = |f: &dyn Fn(&mut Value)| {
        let mut c = assertion_claims(&s.app, INLINE);
        f(&mut c);
        sign(&s.inline, &c)
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong aud",
            change(&|c| c["aud"] = json!("https://elsewhere.test/token")),
            "aud",
        ),
        (
            "expired",
            change(&|c| c["exp"] = json!(now - 31)),
            "expired",
        ),
        (
            "long-lived",
            change(&|c| c["exp"] = json!(now + 3600)),
            "within 300 seconds",
        ),
        (
            "no jti",
            change(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            "jti",
        ),
        (
            "iss not the client",
            change(&|c| c["iss"] = json!("someone")),
            "iss and sub",
        ),
        (
            "unknown key",
            sign(&key(Alg::ES256), &assertion_claims(&s.app, INLINE)),
            "signature",
        ),
    ];
    for (name, assertion, expected) in cases {
        let description = refused(token_with(&s.app, &assertion, None).await).await;
        assert!(description.contains(expected), "{name}: {description}");
    }
    // Checklist §3.9 and its table: headers that must not be trusted.
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let forge = |header: Value, sign: &dyn Fn(&[u8]) -> Vec<u8>| {
        let input = format!(
            "{}.{}",
            b64(&serde_json::to_vec(&header).unwrap()),
            b64(&serde_json::to_vec(&assertion_claims(&s.app, INLINE)).unwrap())
        );
        let signature = sign(input.as_bytes());
        format!("{input}.{}", b64(&signature))
    };
    let attacker = key(Alg::ES256);
    let jwk_secret = serde_json::to_vec(&s.inline.published).unwrap();
    let hmac = |input: &[u8]| {
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &jwk_secret);
        ring::hmac::sign(&k, input).as_ref().to_vec()
    };
    let forged: Vec<(&str, String)> = vec![
        (
            "alg none",
            forge(json!({"alg": "none", "kid": s.inline.kid}), &|_| Vec::new()),
        ),
        (
            "HS256 keyed with the client's JWK",
            forge(json!({"alg": "HS256", "kid": s.inline.kid}), &hmac),
        ),
        (
            "unknown crit, validly signed",
            forge(
                json!({"alg": "ES256", "kid": s.inline.kid, "crit": ["exp"], "exp": 1}),
                &|i| s.inline.signer.sign(i),
            ),
        ),
        (
            "the attacker's key in jwk and jku",
            forge(
                json!({"alg": "ES256", "kid": attacker.kid, "jwk": attacker.published,
                       "jku": "http://127.0.0.1:9/jwks"}),
                &|i| attacker.signer.sign(i),
            ),
        ),
        (
            "a kid that is SQL",
            forge(json!({"alg": "ES256", "kid": "' OR 1=1--"}), &|i| {
                attacker.signer.sign(i)
            }),
        ),
    ];
    for (name, assertion) in forged {
        let description = refused(token_with(&s.app, &assertion, Some(INLINE)).await).await;
        assert!(description.contains("signature"), "{name}: {description}");
    }
    // A client registered for a secret cannot use an assertion instead.
    let web = sign(&s.inline, &assertion_claims(&s.app, oidc::WEB));
    refused(token_with(&s.app, &web, None).await).await;
}

/// The code flow and refresh with an assertion in place of a secret.
#[tokio::test]
async fn a_code_and_a_refresh_are_redeemed_with_assertions() {
    let s = setup().await;
    let (verifier, challenge) = oidc::pkce();
    let url = oidc::authorize_url(
        &s.app,
        INLINE,
        CALLBACK,
        &challenge,
        &[("scope", "openid offline_access")],
    );
    let to = oidc::location(&oidc::drive(&s.app, &oidc::browser(), &url).await);
    let code = oidc::query_of(&to).remove("code").expect("a code");
    let assertion = sign(&s.inline, &assertion_claims(&s.app, INLINE));
    let form = |extra: &[(&'static str, String)]| {
        let mut form: Vec<(&str, String)> = vec![
            ("client_assertion_type", TYPE.into()),
            (
                "client_assertion",
                sign(&s.inline, &assertion_claims(&s.app, INLINE)),
            ),
        ];
        form.extend(extra.iter().cloned());
        form
    };
    let response = s
        .app
        .http
        .post(s.app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier.as_str()),
            ("client_assertion_type", TYPE),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let response = s
        .app
        .http
        .post(s.app.url("/token"))
        .form(&form(&[
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh_token.clone()),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Without an assertion the client has no way in.
    let response = s
        .app
        .http
        .post(s.app.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
            ("client_id", INLINE),
        ])
        .send()
        .await
        .unwrap();
    refused(response).await;
}

#[tokio::test]
async fn keys_at_a_jwks_uri_are_fetched_and_a_new_kid_fetches_them_again() {
    let s = setup().await;
    let first = key(Alg::ES256);
    *s.remote_jwks.lock().unwrap() = json!({ "keys": [first.published.clone()] });
    let response = token_with(
        &s.app,
        &sign(&first, &assertion_claims(&s.app, REMOTE)),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    // The client rotates its key: a kid we have not seen makes us look again.
    let second = key(Alg::RS256);
    *s.remote_jwks.lock().unwrap() = json!({ "keys": [second.published.clone()] });
    let response = token_with(
        &s.app,
        &sign(&second, &assertion_claims(&s.app, REMOTE)),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn one_method_only_and_discovery_says_who_accepts_it() {
    let s = setup().await;
    let assertion = sign(&s.inline, &assertion_claims(&s.app, INLINE));
    let response = s
        .app
        .http
        .post(s.app.url("/token"))
        .basic_auth(INLINE, Some("a-secret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", TYPE),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");

    let discovery = s.app.get_json("/.well-known/openid-configuration").await;
    for endpoint in ["token", "introspection", "revocation"] {
        let methods = &discovery[format!("{endpoint}_endpoint_auth_methods_supported")];
        assert!(
            methods
                .as_array()
                .unwrap()
                .contains(&json!("private_key_jwt")),
            "{endpoint}: {methods}"
        );
        assert_eq!(
            discovery[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")],
            json!(["RS256", "ES256"])
        );
    }
}

#[test]
fn a_private_key_jwt_client_registers_keys_and_no_secret() {
    use portcullis::oauth::client::validate;
    let k = key(Alg::ES256);
    assert!(validate(&client("c", Some(json!({"keys": [k.published]})), None)).is_ok());
    assert!(validate(&client("c", None, Some("https://c.test/jwks".into()))).is_ok());
    let e = validate(&client("c", None, None)).unwrap_err();
    assert!(e.starts_with("jwks"), "{e}");
    let e = validate(&client("c", Some(json!({"keys": []})), None)).unwrap_err();
    assert!(e.starts_with("jwks"), "{e}");
    let mut with_secret = client("c", None, Some("https://c.test/jwks".into()));
    with_secret.client_secret = Some(portcullis::config::Secret::new("s"));
    assert!(validate(&with_secret)
        .unwrap_err()
        .starts_with("client_secret"));
}
