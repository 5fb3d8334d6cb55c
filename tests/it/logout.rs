//! RP-Initiated Logout 1.0 (checklist §2 RP-Initiated Logout OP modules).

use reqwest::header::LOCATION;
use serde_json::Value;
use url::Url;

use crate::common::oidc::{
    self, browser, code_for, location, pkce, query_of, redeem, WEB, WEB_CALLBACK, WEB_SIGNED_OUT,
};
use crate::common::TestApp;

fn logout_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&app.url("/logout")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

/// A browser signed in through `web`, and the ID token it got.
async fn signed_in(app: &TestApp) -> (reqwest::Client, String) {
    let browser = browser();
    let (verifier, challenge) = pkce();
    let code = code_for(app, &browser, WEB, WEB_CALLBACK, &challenge).await;
    let tokens: Value = redeem(app, &code, &verifier).await.json().await.unwrap();
    (browser, tokens["id_token"].as_str().unwrap().to_owned())
}

async fn prompt_none_error(app: &TestApp, browser: &reqwest::Client) -> Option<String> {
    let (_, challenge) = pkce();
    let url = oidc::authorize_url(app, WEB, WEB_CALLBACK, &challenge, &[("prompt", "none")]);
    query_of(&location(&browser.get(url).send().await.unwrap())).remove("error")
}

#[tokio::test]
async fn a_hinted_logout_ends_the_session_and_returns_with_state() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (browser, id_token) = signed_in(&app).await;
    assert_eq!(prompt_none_error(&app, &browser).await, None, "signed in");
    let url = logout_url(
        &app,
        &[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", WEB_SIGNED_OUT),
            ("state", "s1"),
        ],
    );
    let response = browser.get(url).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("{WEB_SIGNED_OUT}?state=s1"));
    assert_eq!(
        prompt_none_error(&app, &browser).await.as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn unregistered_or_unverifiable_logout_requests_are_never_redirected() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (browser, id_token) = signed_in(&app).await;
    let mut tampered = id_token.clone();
    tampered.push('x');
    for params in [
        vec![
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", "https://evil.test/"),
        ],
        vec![
            ("id_token_hint", id_token.as_str()),
            (
                "post_logout_redirect_uri",
                "https://web.test/signed-out?x=1",
            ),
        ],
        vec![
            ("id_token_hint", tampered.as_str()),
            ("post_logout_redirect_uri", WEB_SIGNED_OUT),
        ],
        vec![("post_logout_redirect_uri", WEB_SIGNED_OUT)],
    ] {
        let response = browser.get(logout_url(&app, &params)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{params:?}");
        assert!(response.headers().get(LOCATION).is_none());
    }
    assert_eq!(
        prompt_none_error(&app, &browser).await,
        None,
        "still signed in"
    );
}

#[tokio::test]
async fn a_logout_without_a_hint_is_confirmed_by_the_person() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (browser, _) = signed_in(&app).await;
    let page = browser
        .get(logout_url(
            &app,
            &[
                ("client_id", WEB),
                ("post_logout_redirect_uri", WEB_SIGNED_OUT),
                ("state", "s2"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // Confirming ends at the client: the page's form-action allows it (checked by
    // Chromium on every hop after the POST).
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' https://web.test;"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Web App"));
    assert_eq!(
        prompt_none_error(&app, &browser).await,
        None,
        "not signed out before confirming"
    );
    // A forged confirmation (no CSRF token) is refused.
    let forged = browser
        .post(app.url("/logout/confirm"))
        .form(&[("client_id", WEB)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let csrf = oidc::csrf_of(&html);
    let confirmed = browser
        .post(app.url("/logout/confirm"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("client_id", WEB),
            ("post_logout_redirect_uri", WEB_SIGNED_OUT),
            ("state", "s2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&confirmed), format!("{WEB_SIGNED_OUT}?state=s2"));
    assert_eq!(
        prompt_none_error(&app, &browser).await.as_deref(),
        Some("login_required")
    );
    // With no session and no parameters: the signed-out page.
    let done = browser.get(app.url("/logout")).send().await.unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("signed out"));
}

/// Only a hint of this very session signs out without asking: an ID token of the same
/// person from an earlier sign-in gets the confirmation page.
#[tokio::test]
async fn a_hint_from_another_session_is_confirmed_by_the_person() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (browser, old_hint) = signed_in(&app).await;
    let url = logout_url(&app, &[("id_token_hint", &old_hint)]);
    assert_eq!(
        browser.get(&url).send().await.unwrap().status(),
        200,
        "signed out"
    );
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &browser, WEB, WEB_CALLBACK, &challenge).await;
    let tokens: Value = redeem(&app, &code, &verifier).await.json().await.unwrap();
    assert_eq!(
        prompt_none_error(&app, &browser).await,
        None,
        "signed in again"
    );

    let page = browser.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Sign out?"));
    assert_eq!(
        prompt_none_error(&app, &browser).await,
        None,
        "not signed out by the old hint"
    );
    // This session's own hint still signs out at once.
    let current = logout_url(
        &app,
        &[("id_token_hint", tokens["id_token"].as_str().unwrap())],
    );
    let done = browser.get(current).send().await.unwrap();
    assert!(done.text().await.unwrap().contains("You are signed out"));
    assert_eq!(
        prompt_none_error(&app, &browser).await.as_deref(),
        Some("login_required")
    );
}
