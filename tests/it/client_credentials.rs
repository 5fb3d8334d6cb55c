//! `client_credentials` (RFC 6749 §4.4): services get tokens for themselves; the token's
//! `sub` can never be a user's (RFC 9700 §4.15, checklist §1.32).

use portcullis::config::{Lifetime, Secret};
use portcullis::Config;
use serde_json::Value;

use crate::common::oidc::{self, introspect, API, API_SECRET, WEB, WEB_SECRET};
use crate::common::TestApp;

async fn client_token(
    app: &TestApp,
    id: &str,
    secret: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    app.http
        .post(app.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_service_gets_a_token_for_itself_that_introspects_as_active() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let response = client_token(&app, API, API_SECRET, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(
        tokens["scope"], "images:read",
        "default: every scope the client has"
    );
    assert!(tokens.get("refresh_token").is_none() && tokens.get("id_token").is_none());
    let info = introspect(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["sub"], format!("client:{API}"));
    assert_eq!(info["client_id"], API);
    assert!(info.get("username").is_none());
    // The registered method only (client_secret_basic for `api`).
    let post = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", API),
            ("client_secret", API_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        post.status(),
        401,
        "api is registered for client_secret_basic"
    );
}

#[tokio::test]
async fn clients_without_the_grant_or_without_a_secret_are_refused() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let web = client_token(&app, WEB, WEB_SECRET, &[]).await;
    assert_eq!(web.status(), 400);
    assert_eq!(
        web.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    let public = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", oidc::SPA),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 401);
    let scope = client_token(&app, API, API_SECRET, &[("scope", "openid")]).await;
    assert_eq!(scope.status(), 400);
    assert_eq!(
        scope.json::<Value>().await.unwrap()["error"],
        "invalid_scope"
    );
    let wrong = client_token(&app, API, "wrong", &[]).await;
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn a_client_token_is_not_a_person_and_can_be_revoked() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let tokens: Value = client_token(&app, API, API_SECRET, &[])
        .await
        .json()
        .await
        .unwrap();
    let at = tokens["access_token"].as_str().unwrap();
    let userinfo = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401, "no user behind a client token");
    let revoked = app
        .http
        .post(app.url("/revoke"))
        .basic_auth(API, Some(API_SECRET))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        introspect(&app, at).await,
        serde_json::json!({ "active": false })
    );
}

#[tokio::test]
async fn a_client_registered_while_serving_gets_tokens_at_once() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let secret = crate::common::add_client(
        &app,
        &[
            "reports",
            "--grant-type",
            "client_credentials",
            "--scope",
            "reports:write",
        ],
    );
    // Not yet in the in-memory registry: the database answers.
    let response = client_token(&app, "reports", &secret, &[]).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["scope"], "reports:write");
}

/// #11 item 5: the in-memory registry never accepts what the database has removed or
/// replaced — not "within one reload", from the next request, on every instance.
#[tokio::test]
async fn a_removed_client_or_a_replaced_secret_is_refused_from_the_next_request() {
    // No timed reload can rescue the test: it would come after an hour.
    let hourly = |c: &mut Config| {
        oidc::with_apps(c);
        c.keys.reload_interval = Lifetime::secs(3600);
    };
    let app = TestApp::spawn_with(hourly).await;
    let other = app.spawn_sharing(hourly).await;
    for instance in [&app, &other] {
        let response = client_token(instance, API, API_SECRET, &[]).await;
        assert_eq!(response.status(), 200, "served from memory");
    }

    // A third instance starts with a new secret for `api` in its file.
    const NEW_SECRET: &str = "api-secret-replaced-0123456789abcdef";
    let replaced = app
        .spawn_sharing(|c| {
            hourly(c);
            let api = c.clients.iter_mut().find(|c| c.client_id == API).unwrap();
            api.client_secret = Some(Secret::new(NEW_SECRET));
        })
        .await;
    for instance in [&app, &other, &replaced] {
        let old = client_token(instance, API, API_SECRET, &[]).await;
        assert_eq!(old.status(), 401, "the replaced secret is refused");
        let body: Value = old.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
        let new = client_token(instance, API, NEW_SECRET, &[]).await;
        assert_eq!(new.status(), 200, "the new secret works");
    }

    let output = app.cli(&["client", "remove", API]);
    assert!(
        output.status.success(),
        "{}",
        crate::common::stderr(&output)
    );
    for instance in [&app, &other, &replaced] {
        let response = client_token(instance, API, NEW_SECRET, &[]).await;
        assert_eq!(response.status(), 401, "the removed client is refused");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
    }
}

/// #11 item 5: without its database, an instance issues nothing from memory — the
/// next request is a 503, not a token from a registry nobody can check.
#[tokio::test]
async fn without_the_database_no_client_is_accepted_from_memory() {
    let app = TestApp::spawn_with(|c| {
        oidc::with_apps(c);
        c.keys.reload_interval = Lifetime::secs(3600);
    })
    .await;
    if !app.db.is_postgres() {
        // A SQLite file cannot be taken away from a running process; the PostgreSQL run covers this.
        return;
    }
    assert_eq!(client_token(&app, API, API_SECRET, &[]).await.status(), 200);
    app.db.drop_now();
    let response = client_token(&app, API, API_SECRET, &[]).await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "server_error");
    assert!(body.get("access_token").is_none());
}
