//! `/token` for `authorization_code` (issue #3, checklist §1.6–1.10, §1.23–1.26, §3.2):
//! exact RFC 6749 §5.2 errors, single-use codes whose replay revokes what they issued,
//! PKCE checked, no-store on every answer.

use reqwest::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use serde_json::Value;

use crate::common::oidc::{self, browser, code_for, pkce, redeem, WEB, WEB_CALLBACK, WEB_SECRET};
use crate::common::TestApp;

async fn assert_token_error(
    response: reqwest::Response,
    status: u16,
    error: &str,
) -> reqwest::header::HeaderMap {
    assert_eq!(response.status(), status);
    let headers = response.headers().clone();
    assert_eq!(
        headers[CACHE_CONTROL], "no-store",
        "RFC 6749 §5.1 on errors too"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    headers
}

async fn userinfo_status(app: &TestApp, access_token: &str) -> u16 {
    app.http
        .get(app.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_code_is_exchanged_once_and_a_replay_revokes_what_it_issued() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser(), WEB, WEB_CALLBACK, &challenge).await;
    let first = redeem(&app, &code, &verifier).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()[CACHE_CONTROL], "no-store");
    let tokens: Value = first.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid profile email");
    assert!(tokens["expires_in"].as_i64().unwrap() > 0);
    assert!(
        tokens.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    let access_token = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&app, access_token).await, 200);

    assert_token_error(redeem(&app, &code, &verifier).await, 400, "invalid_grant").await;
    assert_eq!(
        userinfo_status(&app, access_token).await,
        401,
        "the first token died with the replay"
    );
}

#[tokio::test]
async fn twenty_parallel_redemptions_of_one_code_yield_exactly_one_token() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser(), WEB, WEB_CALLBACK, &challenge).await;
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let request = app
                .http
                .post(app.url("/token"))
                .basic_auth(WEB, Some(WEB_SECRET))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", WEB_CALLBACK),
                    ("code_verifier", verifier.as_str()),
                ]);
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        19,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn pkce_is_checked_and_a_wrong_verifier_burns_the_code() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (verifier, challenge) = pkce();
    let browser = browser();
    for wrong in [
        "",
        challenge.as_str(),
        &"a".repeat(42),
        &"a".repeat(129),
        "not allowed characters + / = é and long enough to pass the length",
    ] {
        let code = code_for(&app, &browser, WEB, WEB_CALLBACK, &challenge).await;
        assert_token_error(redeem(&app, &code, wrong).await, 400, "invalid_grant").await;
        assert_token_error(redeem(&app, &code, &verifier).await, 400, "invalid_grant").await;
    }
    // Verifiers of exactly 43 and 128 characters are fine.
    for length in [43, 128] {
        let verifier = "v".repeat(length);
        let challenge = portcullis::crypto::token::b64url(&portcullis::crypto::token::sha256(
            verifier.as_bytes(),
        ));
        let code = code_for(&app, &browser, WEB, WEB_CALLBACK, &challenge).await;
        assert_eq!(
            redeem(&app, &code, &verifier).await.status(),
            200,
            "{length}"
        );
    }
}

#[tokio::test]
async fn codes_are_bound_to_their_client_redirect_uri_and_lifetime() {
    let app = TestApp::spawn_with(|c| {
        oidc::with_apps(c);
        c.tokens.authorization_code_ttl = portcullis::config::Lifetime::secs(1);
    })
    .await;
    let (verifier, challenge) = pkce();
    let browser = browser();
    // Another client (first-party, client_secret_post) presents web's code.
    let code = code_for(&app, &browser, WEB, WEB_CALLBACK, &challenge).await;
    let stolen = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", WEB_CALLBACK),
            ("code_verifier", verifier.as_str()),
            ("client_id", oidc::FIRST),
            ("client_secret", WEB_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_token_error(stolen, 400, "invalid_grant").await;
    // A different redirect_uri.
    let code = code_for(&app, &browser, WEB, WEB_CALLBACK, &challenge).await;
    let moved = app
        .http
        .post(app.url("/token"))
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://web.test/callback/"),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_token_error(moved, 400, "invalid_grant").await;
    // Expired (the code lives one second here).
    let code = code_for(&app, &browser, WEB, WEB_CALLBACK, &challenge).await;
    app.clock.advance(3);
    assert_token_error(redeem(&app, &code, &verifier).await, 400, "invalid_grant").await;
}

/// Another client holding web's code (the public SPA naming itself, or a confidential
/// one) gets the plain answer an unknown code gets, and the code is neither burned nor,
/// once redeemed, its grant revoked (hardening #11 item 7).
#[tokio::test]
async fn a_code_presented_by_another_client_is_neither_burned_nor_revoked() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (verifier, challenge) = pkce();
    let browser = browser();
    let code = code_for(&app, &browser, WEB, WEB_CALLBACK, &challenge).await;
    let present = |code: String, as_client: &'static [(&'static str, &'static str)]| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", WEB_CALLBACK.to_owned()),
            ("code_verifier", verifier.clone()),
        ];
        form.extend(as_client.iter().map(|(k, v)| (*k, v.to_string())));
        app.http.post(app.url("/token")).form(&form).send()
    };
    const AS_SPA: &[(&str, &str)] = &[("client_id", oidc::SPA)];
    const AS_FIRST: &[(&str, &str)] = &[("client_id", oidc::FIRST), ("client_secret", WEB_SECRET)];
    let unknown = invalid_grant(present("no-such-code".into(), AS_SPA).await.unwrap()).await;
    for as_client in [AS_SPA, AS_FIRST] {
        let stolen = invalid_grant(present(code.clone(), as_client).await.unwrap()).await;
        assert_eq!(stolen, unknown, "nothing says the code is real");
    }
    // The code still works for web, once.
    let tokens: Value = redeem(&app, &code, &verifier).await.json().await.unwrap();
    let access_token = tokens["access_token"].as_str().unwrap();
    // Replayed by others: refused, and web's tokens stay live.
    for as_client in [AS_SPA, AS_FIRST] {
        invalid_grant(present(code.clone(), as_client).await.unwrap()).await;
    }
    assert_eq!(oidc::introspect(&app, access_token).await["active"], true);
    // Replayed by web itself: its grant is revoked.
    assert_token_error(redeem(&app, &code, &verifier).await, 400, "invalid_grant").await;
    assert_eq!(oidc::introspect(&app, access_token).await["active"], false);
}

/// A 400 `invalid_grant`, and its body.
async fn invalid_grant(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
    body
}

#[tokio::test]
async fn client_authentication_failures_are_401_invalid_client() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("redirect_uri", WEB_CALLBACK),
    ];
    let wrong = app
        .http
        .post(app.url("/token"))
        .basic_auth(WEB, Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let headers = assert_token_error(wrong, 401, "invalid_client").await;
    assert!(headers[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let unknown = app
        .http
        .post(app.url("/token"))
        .basic_auth("nobody", Some("x"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_token_error(unknown, 401, "invalid_client").await;
    // web is registered for client_secret_basic: the secret in the body is refused.
    let mut posted = form.to_vec();
    posted.extend([("client_id", WEB), ("client_secret", WEB_SECRET)]);
    let post = app
        .http
        .post(app.url("/token"))
        .form(&posted)
        .send()
        .await
        .unwrap();
    assert_token_error(post, 401, "invalid_client").await;
    // A confidential client cannot act as a public one.
    let mut public = form.to_vec();
    public.push(("client_id", WEB));
    let none = app
        .http
        .post(app.url("/token"))
        .form(&public)
        .send()
        .await
        .unwrap();
    assert_token_error(none, 401, "invalid_client").await;
    // No credentials at all.
    let anonymous = app
        .http
        .post(app.url("/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_token_error(anonymous, 401, "invalid_client").await;
    // Two methods at once.
    let both = app
        .http
        .post(app.url("/token"))
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&posted)
        .send()
        .await
        .unwrap();
    assert_token_error(both, 400, "invalid_request").await;
}

#[tokio::test]
async fn malformed_token_requests_get_spec_shaped_errors() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let post = |body: &'static str, content_type: &'static str| {
        app.http
            .post(app.url("/token"))
            .basic_auth(WEB, Some(WEB_SECRET))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let form = "application/x-www-form-urlencoded";
    assert_token_error(
        post("grant_type=password&username=a&password=b", form)
            .await
            .unwrap(),
        400,
        "unsupported_grant_type",
    )
    .await;
    assert_token_error(
        post("grant_type=implicit", form).await.unwrap(),
        400,
        "unsupported_grant_type",
    )
    .await;
    assert_token_error(post("code=x", form).await.unwrap(), 400, "invalid_request").await;
    assert_token_error(
        post("grant_type=authorization_code&code=a&code=b", form)
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    assert_token_error(
        post(r#"{"grant_type":"authorization_code"}"#, "application/json")
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    assert_token_error(
        post("grant_type=%FF", form).await.unwrap(),
        400,
        "invalid_request",
    )
    .await;
    assert_token_error(
        post("grant_type=authorization_code&code=x", form)
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    // Upper case media type with a charset is fine: the code is simply unknown.
    let ok_type = post(
        "grant_type=authorization_code&code=x&redirect_uri=https%3A%2F%2Fweb.test%2Fcallback",
        "Application/X-WWW-Form-URLEncoded; charset=UTF-8",
    );
    assert_token_error(ok_type.await.unwrap(), 400, "invalid_grant").await;
    let get = app
        .http
        .get(app.url("/token?grant_type=authorization_code"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    let huge = app
        .http
        .post(app.url("/token"))
        .header("content-type", form)
        .body(vec![b'a'; 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
}

#[tokio::test]
async fn browser_apps_get_cors_on_the_token_endpoint_for_registered_origins_only() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/token"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let ok = preflight("https://spa.test").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://spa.test"
    );
    assert!(ok
        .headers()
        .get("access-control-allow-credentials")
        .is_none());
    let other = preflight("https://evil.test").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

/// Holds what a writer needs, from another connection, until dropped: on SQLite the
/// database's write lock; on PostgreSQL the tables of codes and refresh tokens, for
/// writing (reads go on, as under SQLite's write lock).
fn hold_the_write_lock(app: &TestApp) -> Box<dyn std::any::Any> {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    if let Some(path) = app.db.url.strip_prefix("sqlite://") {
        let mut conn = diesel::SqliteConnection::establish(path).unwrap();
        conn.batch_execute("BEGIN IMMEDIATE").unwrap();
        Box::new(conn)
    } else {
        let mut conn = diesel::PgConnection::establish(&app.db.url).unwrap();
        conn.batch_execute(
            "BEGIN; LOCK TABLE authorization_codes, refresh_tokens IN EXCLUSIVE MODE",
        )
        .unwrap();
        Box::new(conn)
    }
}

/// #11 item 12: the client is authenticated, and the request parsed, before a token
/// request takes the write lock or queues for the writer — so requests that cannot
/// succeed are answered while another writer holds the database, instead of waiting for
/// it (here for as long as a 60-second busy timeout).
#[tokio::test]
async fn refusals_are_answered_without_waiting_for_the_write_lock() {
    let app = TestApp::spawn_with(|c| {
        oidc::with_apps(c);
        c.database.busy_timeout = portcullis::config::Lifetime::secs(60);
    })
    .await;
    let well_formed = portcullis::crypto::token::random_secret();
    let held = hold_the_write_lock(&app);
    // A guard against hanging, not a timing assertion: waiting for the lock takes 60 s.
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap();
    let token = |form: Vec<(&'static str, String)>, secret: Option<&'static str>| {
        let mut request = http.post(app.url("/token")).form(&form);
        if let Some(secret) = secret {
            request = request.basic_auth(WEB, Some(secret));
        }
        request.send()
    };
    let code = |code: &str| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", WEB_CALLBACK.to_owned()),
            ("code_verifier", "v".repeat(43)),
        ]
    };
    let refresh = |token: &str| {
        vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", token.to_owned()),
        ]
    };
    let public = |mut form: Vec<(&'static str, String)>| {
        form.push(("client_id", oidc::SPA.to_owned()));
        form
    };
    let cases = [
        (
            token(code(&well_formed), Some("wrong")),
            401,
            "invalid_client",
        ),
        (
            token(refresh(&well_formed), Some("wrong")),
            401,
            "invalid_client",
        ),
        // A public client needs no secret: the request itself is checked first.
        (
            token(public(code(&well_formed)), None),
            400,
            "invalid_grant",
        ),
        (
            token(public(refresh("not-one-of-ours")), None),
            400,
            "invalid_grant",
        ),
    ];
    for (i, (response, status, error)) in cases.into_iter().enumerate() {
        let response = response.await.unwrap_or_else(|e| panic!("case {i}: {e}"));
        assert_eq!(response.status(), status, "case {i}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], error, "case {i}: {body}");
    }
    drop(held);
}

/// #14 "a typed client, parsed once": clients are parsed when loaded, and a row this
/// server could not have written (here a scope list that is not JSON) is left out of the
/// registry and refused alone — 503 `server_error`, like any storage failure — while every
/// other client goes on working from memory.
#[tokio::test]
async fn a_damaged_client_row_is_refused_alone() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    app.execute_sql(
        "UPDATE clients SET scopes = 'not json' WHERE id = 'api'; \
         UPDATE client_generation SET generation = generation + 1",
    );
    let as_api = app
        .http
        .post(app.url("/token"))
        .basic_auth(oidc::API, Some(oidc::API_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_token_error(as_api, 503, "server_error").await;
    let as_web = app
        .http
        .post(app.url("/revoke"))
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[("token", "unknown")])
        .send()
        .await
        .unwrap();
    assert_eq!(as_web.status(), 200, "the other clients are unaffected");
}
