//! `/authorize` rules (issue #3, checklist §1.1–1.5, §1.16–1.18, §3.1): errors before
//! the client and redirect URI are known are pages, never redirects; later ones go back
//! to the client with `error`, `state` and `iss`.

use reqwest::header::LOCATION;

use crate::common::oidc::{
    self, authorize_url, browser, drive, location, pkce, query_of, WEB, WEB_CALLBACK,
};
use crate::common::TestApp;

/// A page, not a redirect: 400, HTML, no Location.
async fn assert_error_page(app: &TestApp, url: &str) {
    let response = app.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 400, "{url}");
    assert!(
        response.headers().get(LOCATION).is_none(),
        "never redirected: {url}"
    );
    assert_eq!(response.headers()["x-frame-options"], "DENY");
}

/// Sent back to the registered callback with `error` (and the request's state and iss).
async fn assert_redirected_error(app: &TestApp, url: &str, error: &str) {
    let response = app.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 303, "{url}");
    let to = location(&response);
    assert!(to.starts_with(WEB_CALLBACK), "{url} -> {to}");
    let params = query_of(&to);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some(error),
        "{url}"
    );
    assert_eq!(params["state"], "state-123");
    assert_eq!(params["iss"], app.issuer, "RFC 9207: iss on errors too");
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn unknown_clients_and_unregistered_redirect_uris_get_a_page() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (_, challenge) = pkce();
    assert_error_page(
        &app,
        &authorize_url(&app, "unknown", "https://evil.test/cb", &challenge, &[]),
    )
    .await;
    for tricky in [
        "https://web.test/callback/",
        "https://WEB.test/callback",
        "https://web.test:443/callback",
        "https://web.test/callback?x=1",
        "http://web.test/callback",
        "https://web.test/callback/../x",
        "https://web.test.evil.test/callback",
        "https://web.test@evil.test/callback",
        "https://evil.test/callback",
        "javascript:alert(1)",
        "//evil.test/callback",
    ] {
        assert_error_page(&app, &authorize_url(&app, WEB, tricky, &challenge, &[])).await;
    }
    // Missing redirect_uri (required by OpenID Connect), duplicated client_id, NUL bytes.
    assert_error_page(
        &app,
        &authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[("redirect_uri", "")]),
    )
    .await;
    let url = authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[]);
    assert_error_page(&app, &format!("{url}&client_id=spa")).await;
    assert_error_page(
        &app,
        &format!("{url}&redirect_uri=https%3A%2F%2Fweb.test%2Fcallback%00"),
    )
    .await;
    assert_error_page(&app, &format!("{}/authorize?client_id=%FF", app.issuer)).await;
}

#[tokio::test]
async fn bad_requests_from_a_known_client_go_back_with_the_right_error() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (_, challenge) = pkce();
    let url = |extra: &[(&str, &str)]| authorize_url(&app, WEB, WEB_CALLBACK, &challenge, extra);
    let base = url(&[]);
    let cases: Vec<(String, &str)> = vec![
        (url(&[("scope", "openid bogus")]), "invalid_scope"),
        (url(&[("scope", "")]), "invalid_scope"),
        (
            url(&[("code_challenge", ""), ("code_challenge_method", "")]),
            "invalid_request",
        ),
        (
            url(&[("code_challenge_method", "plain")]),
            "invalid_request",
        ),
        (url(&[("code_challenge_method", "")]), "invalid_request"),
        (url(&[("code_challenge", "too-short")]), "invalid_request"),
        (
            url(&[("response_type", "token")]),
            "unsupported_response_type",
        ),
        (
            url(&[("response_type", "code id_token")]),
            "unsupported_response_type",
        ),
        (url(&[("response_type", "")]), "unsupported_response_type"),
        (url(&[("prompt", "none login")]), "invalid_request"),
        (url(&[("max_age", "-1")]), "invalid_request"),
        (
            url(&[("request", "eyJhbGciOiJub25lIn0.e30.")]),
            "request_not_supported",
        ),
        (url(&[("id_token_hint", "not.a.token")]), "invalid_request"),
        // Parameters sent twice.
        (format!("{base}&scope=openid"), "invalid_request"),
        (
            format!("{base}&code_challenge={challenge}"),
            "invalid_request",
        ),
        // Broken encoding outside client_id/redirect_uri goes back to the client
        // (checklist §3.1).
        (format!("{base}&login_hint=%C0%AF"), "invalid_request"),
    ];
    for (url, error) in &cases {
        assert_redirected_error(&app, url, error).await;
    }
    // No session and no page allowed.
    assert_redirected_error(&app, &url(&[("prompt", "none")]), "login_required").await;
}

#[tokio::test]
async fn state_comes_back_byte_identical_and_unknown_parameters_are_ignored() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (_, challenge) = pkce();
    let browser = browser();
    let long = "x".repeat(1024);
    for state in ["+ &=", long.as_str()] {
        let url = authorize_url(
            &app,
            WEB,
            WEB_CALLBACK,
            &challenge,
            &[("state", state), ("extra", "foobar")],
        );
        let to = location(&drive(&app, &browser, &url).await);
        let params = query_of(&to);
        assert_eq!(params["state"], state);
        assert!(params.contains_key("code"));
    }
}

#[tokio::test]
async fn a_signed_in_person_is_not_asked_again_unless_the_client_says_so() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (_, challenge) = pkce();
    let browser = browser();
    let first = drive(
        &app,
        &browser,
        &authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[]),
    )
    .await;
    assert!(query_of(&location(&first)).contains_key("code"));

    // Single sign-on and remembered consent: straight back with a code, even with prompt=none.
    for extra in [
        &[][..],
        &[("prompt", "none")][..],
        &[("max_age", "3600")][..],
    ] {
        let again = browser
            .get(authorize_url(&app, WEB, WEB_CALLBACK, &challenge, extra))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 303);
        assert!(
            query_of(&location(&again)).contains_key("code"),
            "{extra:?}"
        );
    }
    // prompt=login, max_age=0 and select_account send the person to the sign-in page.
    for extra in [
        ("prompt", "login"),
        ("max_age", "0"),
        ("prompt", "select_account"),
    ] {
        let forced = browser
            .get(authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[extra]))
            .send()
            .await
            .unwrap();
        assert!(
            location(&forced).starts_with("/login?request="),
            "{extra:?}"
        );
    }
    // prompt=consent shows the consent page again.
    let consent = browser
        .get(authorize_url(
            &app,
            WEB,
            WEB_CALLBACK,
            &challenge,
            &[("prompt", "consent")],
        ))
        .send()
        .await
        .unwrap();
    assert!(location(&consent).starts_with("/consent?request="));
    // A new scope needs consent, which prompt=none cannot show.
    let url = authorize_url(
        &app,
        WEB,
        WEB_CALLBACK,
        &challenge,
        &[("scope", "openid offline_access"), ("prompt", "none")],
    );
    let to = location(&browser.get(url).send().await.unwrap());
    assert_eq!(query_of(&to)["error"], "consent_required");
}

#[tokio::test]
async fn consent_names_the_application_and_a_denial_goes_back_as_access_denied() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (_, challenge) = pkce();
    let browser = browser();
    let start = browser
        .get(authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[]))
        .send()
        .await
        .unwrap();
    let login = location(&start);
    let page = browser
        .get(app.url(&login))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Web App"),
        "the sign-in page names the application"
    );
    let request = query_of(&app.url(&login))["request"].clone();
    let csrf = oidc::csrf_of(&page);
    let signed_in = oidc::sign_in_for(&app, &browser, &csrf, &request).await;
    assert_eq!(
        location(&signed_in),
        format!("/authorize/resume?request={request}")
    );
    let consent = location(
        &browser
            .get(app.url(&location(&signed_in)))
            .send()
            .await
            .unwrap(),
    );
    let page = browser
        .get(app.url(&consent))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Web App") && page.contains("See your email address"));

    // A forged consent (no CSRF token) changes nothing.
    let forged = browser
        .post(app.url("/consent"))
        .form(&[("request", request.as_str()), ("decision", "allow")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    let denied = oidc::answer_consent(&app, &browser, &consent, "deny").await;
    let params = query_of(&location(&denied));
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "state-123");
    assert_eq!(params["iss"], app.issuer);
    // The request is gone: coming back to it shows a page.
    let again = browser
        .get(app.url(&format!("/authorize/resume?request={request}")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
}

#[tokio::test]
async fn a_pending_request_belongs_to_the_browser_that_started_it() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (_, challenge) = pkce();
    let alice = browser();
    let start = alice
        .get(authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[]))
        .send()
        .await
        .unwrap();
    let login = location(&start);
    let request = query_of(&app.url(&login))["request"].clone();
    // Another browser signs in and tries to complete alice's request.
    let other = browser();
    let page = other
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = oidc::csrf_of(&page);
    let _ = other
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", oidc::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let stolen = other
        .get(app.url(&format!("/authorize/resume?request={request}")))
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 400);
    assert!(stolen.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn first_party_clients_skip_consent_and_form_post_returns_a_self_posting_page() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (_, challenge) = pkce();
    let browser = browser();
    let url = authorize_url(
        &app,
        oidc::FIRST,
        oidc::FIRST_CALLBACK,
        &challenge,
        &[("response_mode", "form_post")],
    );
    let page = drive(&app, &browser, &url).await;
    assert_eq!(
        page.status(),
        200,
        "no consent page, straight to the form post"
    );
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("form-action https://first.test"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"action="https://first.test/cb""#));
    assert!(html.contains(r#"name="code""#) && html.contains(r#"name="iss""#));
    assert!(html.contains(r#"name="state" value="state-123""#));
}

/// The sign-in and consent forms end, after a chain of 303s, at the client's redirect URI:
/// their CSP `form-action`, which browsers check on every hop, names its origin (and no
/// other), the requested loopback port included (RFC 8252 §7.3).
#[tokio::test]
async fn sign_in_and_consent_pages_let_their_forms_end_at_the_client_only() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (_, challenge) = pkce();
    for (client, redirect_uri, origin) in [
        (WEB, WEB_CALLBACK, "https://web.test"),
        (oidc::SPA, oidc::SPA_CALLBACK, "http://127.0.0.1:53412"),
    ] {
        let browser = browser();
        let started = browser
            .get(authorize_url(&app, client, redirect_uri, &challenge, &[]))
            .send()
            .await
            .unwrap();
        let login = location(&started);
        assert!(login.starts_with("/login?request="), "{login}");
        let expected = format!("form-action 'self' {origin};");
        let csp_of = |response: &reqwest::Response| {
            response.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_owned()
        };
        let page = browser.get(app.url(&login)).send().await.unwrap();
        assert!(csp_of(&page).contains(&expected), "{}", csp_of(&page));
        let csrf = oidc::csrf_of(&page.text().await.unwrap());
        let request = query_of(&app.url(&login)).remove("request").unwrap();
        let signed_in = oidc::sign_in_for(&app, &browser, &csrf, &request).await;
        let resumed = browser
            .get(app.url(&location(&signed_in)))
            .send()
            .await
            .unwrap();
        let consent = location(&resumed);
        assert!(consent.starts_with("/consent?request="), "{consent}");
        let page = browser.get(app.url(&consent)).send().await.unwrap();
        assert!(csp_of(&page).contains(&expected), "{}", csp_of(&page));
    }
    // Without a waiting request the sign-in page leads nowhere else.
    let page = app.http.get(app.url("/login")).send().await.unwrap();
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("form-action 'self';"));
}

/// OpenID Connect Core §3.1.2.1 `max_age`, judged when the code is issued (#11 item 12):
/// a sign-in made during the request that grew older than `max_age` on the consent page
/// is not enough, and the person signs in again before a code is issued.
#[tokio::test]
async fn max_age_is_judged_when_the_code_is_issued() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (verifier, challenge) = pkce();
    let browser = browser();
    let start = authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[("max_age", "300")]);
    let to_login = browser.get(start).send().await.unwrap();
    let login = location(&to_login);
    assert!(login.starts_with("/login?request="), "{login}");
    let request = query_of(&app.url(&login)).remove("request").unwrap();
    let page = browser.get(app.url(&login)).send().await.unwrap();
    let csrf = oidc::csrf_of(&page.text().await.unwrap());
    let signed_in = oidc::sign_in_for(&app, &browser, &csrf, &request).await;
    let consent = location(&signed_in);
    let consent = if consent.starts_with("/authorize/resume") {
        location(&browser.get(app.url(&consent)).send().await.unwrap())
    } else {
        consent
    };
    assert!(consent.starts_with("/consent?request="), "{consent}");

    // Ten minutes on the consent page: the request is 15 minutes old, the sign-in 10.
    app.execute_sql(
        "UPDATE authorization_requests SET created_at = created_at - 900;
         UPDATE sessions SET auth_time = auth_time - 600;",
    );
    let mut response = oidc::answer_consent(&app, &browser, &consent, "allow").await;
    while response.status() == 303 && location(&response).starts_with("/authorize") {
        response = browser
            .get(app.url(&location(&response)))
            .send()
            .await
            .unwrap();
    }
    let again = location(&response);
    assert!(
        again.starts_with("/login?request="),
        "no code for a sign-in older than max_age: {again}"
    );

    // Signing in again ends at the client, consent remembered from this request.
    let page = browser.get(app.url(&again)).send().await.unwrap();
    let csrf = oidc::csrf_of(&page.text().await.unwrap());
    let request = query_of(&app.url(&again)).remove("request").unwrap();
    let mut done = oidc::sign_in_for(&app, &browser, &csrf, &request).await;
    while done.status() == 303 && location(&done).starts_with('/') {
        done = browser.get(app.url(&location(&done))).send().await.unwrap();
    }
    let callback = location(&done);
    assert!(callback.starts_with(WEB_CALLBACK), "{callback}");
    let code = query_of(&callback).remove("code").expect("a code");
    let tokens: serde_json::Value = oidc::redeem(&app, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let access_token = tokens["access_token"].as_str().expect("an access token");
    let info = oidc::introspect(&app, access_token).await;
    let age = portcullis::clock::now() - info["auth_time"].as_i64().unwrap();
    assert!(age <= 300, "auth_time within max_age: {age}s");
}

/// #11 item 8: every `/authorize` without a usable session stores its request for 30
/// minutes, so the requests stored per client address are bounded
/// (`sign_in.max_pending_per_address` within `failure_window`); then a 429 page, and
/// nothing more is stored. Other addresses are not affected.
#[tokio::test]
async fn the_requests_stored_per_address_are_bounded() {
    let app = TestApp::spawn_with(|c| {
        oidc::with_apps(c);
        c.sign_in.max_pending_per_address = 3;
        c.http.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    let (_, challenge) = pkce();
    let start = |from: &'static str| {
        // A new browser each time: no cookie, no session.
        let url = authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[]);
        async move {
            browser()
                .get(url)
                .header("x-forwarded-for", from)
                .send()
                .await
                .unwrap()
        }
    };
    for _ in 0..3 {
        let response = start("192.0.2.1").await;
        assert_eq!(response.status(), 303);
        assert!(location(&response).starts_with("/login?request="));
    }
    let refused = start("192.0.2.1").await;
    assert_eq!(refused.status(), 429);
    let retry_after: i64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    assert!(refused.text().await.unwrap().contains("<html"));

    let elsewhere = start("198.51.100.7").await;
    assert_eq!(elsewhere.status(), 303, "another address has its own slots");

    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let stored: i64 = core
        .db
        .run_blocking(|conn| {
            use diesel::prelude::*;
            use portcullis::store::schema::authorization_requests::dsl::*;
            authorization_requests
                .count()
                .get_result(conn)
                .map_err(portcullis::store::StoreError::from)
        })
        .unwrap();
    assert_eq!(stored, 4, "the refused request was not stored");
}
