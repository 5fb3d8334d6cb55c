//! `/userinfo` (OpenID Connect Core §5.3, RFC 6750; checklist §3.5).

use reqwest::header::{CACHE_CONTROL, WWW_AUTHENTICATE};
use serde_json::Value;

use crate::common::oidc::{self, browser, code_for, pkce, redeem, WEB, WEB_CALLBACK};
use crate::common::TestApp;

async fn tokens(app: &TestApp) -> Value {
    let (verifier, challenge) = pkce();
    let code = code_for(app, &browser(), WEB, WEB_CALLBACK, &challenge).await;
    redeem(app, &code, &verifier).await.json().await.unwrap()
}

#[tokio::test]
async fn claims_follow_the_scopes_through_get_and_post() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let tokens = tokens(&app).await;
    let at = tokens["access_token"].as_str().unwrap();
    let get = app
        .http
        .get(app.url("/userinfo"))
        .header("authorization", format!("bearer {at}"))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200, "the scheme is case-insensitive");
    assert_eq!(get.headers()[CACHE_CONTROL], "no-store");
    let claims: Value = get.json().await.unwrap();
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(claims["email"], "alice@example.test");
    assert_eq!(claims["email_verified"], true);
    let post = app
        .http
        .post(app.url("/userinfo"))
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200, "RFC 6750 §2.2 form body");
    let post: Value = post.json().await.unwrap();
    assert_eq!(post["sub"], claims["sub"]);
}

#[tokio::test]
async fn bad_or_missing_tokens_get_rfc_6750_challenges() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let tokens = tokens(&app).await;
    let at = tokens["access_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();

    let none = app.http.get(app.url("/userinfo")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let challenge = none.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer") && !challenge.contains("error="),
        "{challenge}"
    );

    for bad in [
        "garbage",
        id_token,
        &format!("{at}x"),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    ] {
        let response = app
            .http
            .get(app.url("/userinfo"))
            .bearer_auth(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{bad}");
        assert!(response.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_token""#));
    }
    let in_query = app
        .http
        .get(app.url(&format!("/userinfo?access_token={at}")))
        .send()
        .await
        .unwrap();
    assert_eq!(in_query.status(), 400);
    let twice = app
        .http
        .post(app.url("/userinfo"))
        .bearer_auth(at)
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 400);
}

#[tokio::test]
async fn a_token_without_openid_is_refused_with_insufficient_scope() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (verifier, challenge) = pkce();
    let url = oidc::authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[("scope", "profile")]);
    let to = oidc::location(&oidc::drive(&app, &browser(), &url).await);
    let code = oidc::query_of(&to)["code"].clone();
    let tokens: Value = redeem(&app, &code, &verifier).await.json().await.unwrap();
    assert!(tokens.get("id_token").is_none(), "no openid, no ID token");
    let response = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
}

#[tokio::test]
async fn disabling_the_user_makes_their_access_tokens_useless() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let tokens = tokens(&app).await;
    let at = tokens["access_token"].as_str().unwrap();
    let output = app.cli(&["user", "disable", "alice"]);
    assert!(
        output.status.success(),
        "{}",
        crate::common::stderr(&output)
    );
    let response = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
