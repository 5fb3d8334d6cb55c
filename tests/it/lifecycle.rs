//! The life of a token (issue #4): refresh rotation with reuse detection, the grace
//! period, concurrency, scope narrowing and lapsing scopes, lifetimes, the per-client
//! cap, introspection (RFC 7662), revocation (RFC 7009) and banning a user.

use std::collections::BTreeMap;

use portcullis::config::{ClientConfig, Lifetime, Secret};
use serde_json::Value;

use crate::common::oidc::{
    self, introspect, offline_tokens, refresh, revoke_as, API, API_SECRET, WEB, WEB_SECRET,
};
use crate::common::TestApp;

fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {v}"))
        .to_owned()
}

async fn assert_invalid_grant(response: reqwest::Response) {
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
}

#[tokio::test]
async fn rotation_then_reuse_of_an_old_token_revokes_the_whole_family() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let first = offline_tokens(&app).await;
    let rt0 = s(&first, "refresh_token");
    let mut current = rt0.clone();
    let mut latest = first.clone();
    for _ in 0..3 {
        let response = refresh(&app, &current, &[]).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        latest = response.json().await.unwrap();
        let next = s(&latest, "refresh_token");
        assert_ne!(next, current, "rotated");
        assert!(
            latest.get("id_token").is_some(),
            "openid: a refreshed ID token"
        );
        // The rotated-out token no longer introspects as active.
        let old = app
            .http
            .post(app.url("/introspect"))
            .basic_auth(WEB, Some(WEB_SECRET))
            .form(&[("token", current.as_str())])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(old, serde_json::json!({ "active": false }));
        current = next;
    }
    let newest_at = s(&latest, "access_token");
    assert_eq!(introspect(&app, &newest_at).await["active"], true);

    assert_invalid_grant(refresh(&app, &rt0, &[]).await).await;
    assert_invalid_grant(refresh(&app, &current, &[]).await).await;
    assert_eq!(
        introspect(&app, &newest_at).await,
        serde_json::json!({ "active": false })
    );
    assert_eq!(
        introspect(&app, &s(&first, "access_token")).await["active"],
        false
    );
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let recent = core
        .db
        .run_blocking(|c| portcullis::store::audit::recent(c, 20))
        .unwrap();
    assert!(
        recent.iter().any(|e| e.kind == "refresh_token.reused"),
        "the reuse is audited"
    );
}

#[tokio::test]
async fn reuse_revokes_that_sign_in_only() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let tab_a = offline_tokens(&app).await;
    let tab_b = offline_tokens(&app).await;
    let a0 = s(&tab_a, "refresh_token");
    assert_eq!(refresh(&app, &a0, &[]).await.status(), 200);
    // Past the reuse grace window, the replay is theft.
    app.clock
        .advance(app.config.tokens.refresh_token_reuse_grace.as_secs() as i64 + 1);
    assert_invalid_grant(refresh(&app, &a0, &[]).await).await;
    let b = refresh(&app, &s(&tab_b, "refresh_token"), &[]).await;
    assert_eq!(b.status(), 200, "the other sign-in is untouched");
}

async fn race(app: &TestApp, other: &TestApp, token: &str, n: usize) -> Vec<(u16, Value)> {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let target = if i % 2 == 0 { app } else { other };
            let request = target
                .http
                .post(target.url("/token"))
                .basic_auth(WEB, Some(WEB_SECRET))
                .form(&[("grant_type", "refresh_token"), ("refresh_token", token)]);
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                (
                    response.status().as_u16(),
                    response.json::<Value>().await.unwrap(),
                )
            })
        })
        .collect();
    let mut results = Vec::new();
    for h in handles {
        results.push(h.await.unwrap());
    }
    results
}

/// Without a grace window (`refresh_token_reuse_grace = 0`), every replay is theft.
fn no_grace(c: &mut portcullis::Config) {
    oidc::with_apps(c);
    c.tokens.refresh_token_reuse_grace = Lifetime::secs(0);
}

#[tokio::test]
async fn without_grace_parallel_refreshes_on_two_instances_have_exactly_one_winner() {
    let app = TestApp::spawn_with(no_grace).await;
    let other = app.spawn_sharing(no_grace).await;
    let tokens = offline_tokens(&app).await;
    let results = race(&app, &other, &s(&tokens, "refresh_token"), 10).await;
    let statuses: Vec<u16> = results.iter().map(|(status, _)| *status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "no 5xx: {statuses:?}"
    );
    // No second live family was forked: the losers revoked the family (reuse).
    let (_, winner) = results.iter().find(|(status, _)| *status == 200).unwrap();
    assert_invalid_grant(refresh(&app, &s(winner, "refresh_token"), &[]).await).await;
}

/// Refreshes of different sign-ins at once (on SQLite they share commits): every one
/// rotates, and every successor is usable.
#[tokio::test]
async fn simultaneous_refreshes_of_different_sign_ins_all_rotate() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let mut current = Vec::new();
    for _ in 0..6 {
        current.push(s(&offline_tokens(&app).await, "refresh_token"));
    }
    for _ in 0..2 {
        let rounds = current.iter().map(|token| refresh(&app, token, &[]));
        let mut next = Vec::new();
        for response in futures_util::future::join_all(rounds).await {
            assert_eq!(response.status(), 200);
            next.push(s(&response.json().await.unwrap(), "refresh_token"));
        }
        current = next;
    }
    for token in &current {
        assert_eq!(introspect_refresh(&app, token).await["active"], true);
    }
}

async fn introspect_refresh(app: &TestApp, token: &str) -> Value {
    app.http
        .post(app.url("/introspect"))
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// #15: a response lost on its way (a killed instance, a reset connection) is retried
/// with the token the client still has. By default, within the grace window, every
/// retry — here parallel ones on two instances — gets the one successor refresh token and
/// an access token with the same claims; outside it, or for an older token, the family
/// is revoked.
#[tokio::test]
async fn within_the_grace_period_a_retry_gets_the_same_successors() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let other = app.spawn_sharing(oidc::with_apps).await;
    assert_eq!(
        app.config.tokens.refresh_token_reuse_grace.as_secs(),
        10,
        "the default"
    );
    let tokens = offline_tokens(&app).await;
    let rt0 = s(&tokens, "refresh_token");
    let results = race(&app, &other, &rt0, 6).await;
    assert!(
        results.iter().all(|(status, _)| *status == 200),
        "{results:?}"
    );
    let rt1 = s(&results[0].1, "refresh_token");
    // Test instances listen on ports of their own, so `iss` tells them apart.
    let claims = |body: &Value| {
        let mut c = oidc::claims(&s(body, "access_token"));
        c.as_object_mut().unwrap().remove("iss");
        c
    };
    let access = claims(&results[0].1);
    for (_, body) in &results {
        assert_eq!(s(body, "refresh_token"), rt1, "one successor");
        // Signed again after each commit, so not the same text: the same claims.
        assert_eq!(claims(body), access);
        assert_eq!(
            oidc::claims(&s(body, "id_token"))["iat"],
            access["iat"],
            "the ID token, too"
        );
    }
    // Still in the window, one more retry on either instance: the same again.
    app.clock.advance(9);
    let again = refresh(&other, &rt0, &[]).await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        s(&again.json::<Value>().await.unwrap(), "refresh_token"),
        rt1
    );
    // RT1 moves on; now RT0 is two generations old: reuse.
    let next = refresh(&app, &rt1, &[]).await;
    assert_eq!(next.status(), 200);
    let rt2 = s(&next.json::<Value>().await.unwrap(), "refresh_token");
    assert_invalid_grant(refresh(&app, &rt0, &[]).await).await;
    assert_invalid_grant(refresh(&app, &rt2, &[]).await).await;
}

/// The window is counted from the rotation: the same token presented after it is theft.
#[tokio::test]
async fn a_retry_after_the_grace_window_revokes_the_family() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let rt0 = s(&offline_tokens(&app).await, "refresh_token");
    let first = refresh(&app, &rt0, &[]).await;
    assert_eq!(first.status(), 200);
    let rt1 = s(&first.json::<Value>().await.unwrap(), "refresh_token");
    app.clock.advance(11);
    assert_invalid_grant(refresh(&app, &rt0, &[]).await).await;
    assert_invalid_grant(refresh(&app, &rt1, &[]).await).await;
}

#[tokio::test]
async fn scope_can_be_narrowed_never_widened_and_lapsing_scopes_drop_out() {
    let app = TestApp::spawn_with(|c| {
        oidc::with_apps(c);
        c.clients[0].scopes = Some(vec![
            "openid".into(),
            "profile".into(),
            "offline_access".into(),
            "payment".into(),
        ]);
        // Long enough for the sign-in and the first exchanges even on a busy machine.
        c.tokens.scope_lifetimes = BTreeMap::from([("payment".to_owned(), Lifetime::secs(4))]);
    })
    .await;
    let (verifier, challenge) = oidc::pkce();
    let url = oidc::authorize_url(
        &app,
        WEB,
        oidc::WEB_CALLBACK,
        &challenge,
        &[("scope", "openid offline_access payment")],
    );
    let to = oidc::location(&oidc::drive(&app, &oidc::browser(), &url).await);
    let tokens: Value = oidc::redeem(&app, &oidc::query_of(&to)["code"], &verifier)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tokens["scope"], "openid offline_access payment");

    let wider = refresh(
        &app,
        &s(&tokens, "refresh_token"),
        &[("scope", "openid profile")],
    )
    .await;
    assert_eq!(wider.status(), 400);
    assert_eq!(
        wider.json::<Value>().await.unwrap()["error"],
        "invalid_scope"
    );

    let narrow: Value = refresh(&app, &s(&tokens, "refresh_token"), &[("scope", "openid")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(narrow["scope"], "openid");
    assert!(narrow.get("id_token").is_some());
    app.clock.advance(5);
    // The refresh token kept the original scope, minus the payment scope that lapsed.
    let later: Value = refresh(&app, &s(&narrow, "refresh_token"), &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(later["scope"], "openid offline_access");
}

#[tokio::test]
async fn refresh_tokens_belong_to_their_client_and_expire() {
    let app = TestApp::spawn_with(|c| {
        oidc::with_apps(c);
        c.clients[0].refresh_token_idle_ttl = Some(Lifetime::secs(1));
    })
    .await;
    let tokens = offline_tokens(&app).await;
    let rt = s(&tokens, "refresh_token");
    let foreign = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("client_id", oidc::FIRST),
            ("client_secret", WEB_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_invalid_grant(foreign).await;
    let wrong_secret = app
        .http
        .post(app.url("/token"))
        .basic_auth(WEB, Some("wrong"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), 401);
    assert_invalid_grant(refresh(&app, "unknown-token", &[]).await).await;
    app.clock.advance(3);
    assert_invalid_grant(refresh(&app, &rt, &[]).await).await;
}

#[tokio::test]
async fn the_absolute_lifetime_ends_a_family_however_often_it_is_used() {
    let app = TestApp::spawn_with(|c| {
        oidc::with_apps(c);
        c.clients[0].refresh_token_absolute_ttl = Some(Lifetime::secs(3));
    })
    .await;
    let tokens = offline_tokens(&app).await;
    let next: Value = refresh(&app, &s(&tokens, "refresh_token"), &[])
        .await
        .json()
        .await
        .unwrap();
    app.clock.advance(4);
    assert_invalid_grant(refresh(&app, &s(&next, "refresh_token"), &[]).await).await;
}

#[tokio::test]
async fn the_oldest_sign_in_goes_beyond_the_cap() {
    let app = TestApp::spawn_with(|c| {
        oidc::with_apps(c);
        c.tokens.max_refresh_tokens_per_client = 2;
    })
    .await;
    let first = offline_tokens(&app).await;
    app.clock.advance(2);
    let second = offline_tokens(&app).await;
    app.clock.advance(2);
    let third = offline_tokens(&app).await;
    assert_invalid_grant(refresh(&app, &s(&first, "refresh_token"), &[]).await).await;
    assert_eq!(
        refresh(&app, &s(&second, "refresh_token"), &[])
            .await
            .status(),
        200
    );
    assert_eq!(
        refresh(&app, &s(&third, "refresh_token"), &[])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn introspection_describes_active_tokens_and_nothing_else() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let tokens = offline_tokens(&app).await;
    let at = s(&tokens, "access_token");
    let info = introspect(&app, &at).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["scope"], "openid profile offline_access");
    assert_eq!(info["client_id"], WEB);
    assert_eq!(info["username"], "alice");
    assert_eq!(info["token_type"], "Bearer");
    assert_eq!(info["iss"], app.issuer);
    assert_eq!(info["aud"], app.issuer);
    for claim in ["sub", "exp", "iat", "jti", "acr", "auth_time"] {
        assert!(info.get(claim).is_some(), "{claim} in {info}");
    }
    assert_eq!(
        info["exp"].as_i64().unwrap() - info["iat"].as_i64().unwrap(),
        tokens["expires_in"].as_i64().unwrap(),
        "checklist §1.33: expires_in = exp - iat"
    );
    // A refresh token is described to its own client only.
    let rt = s(&tokens, "refresh_token");
    let own: Value = app
        .http
        .post(app.url("/introspect"))
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[("token", rt.as_str()), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(own["active"], true, "a wrong hint still finds it");
    assert_eq!(own["token_type"], "refresh_token");
    assert_eq!(
        introspect(&app, &rt).await,
        serde_json::json!({ "active": false })
    );
    for garbage in ["garbage", "a.b.c", &format!("{at}x")] {
        assert_eq!(
            introspect(&app, garbage).await,
            serde_json::json!({ "active": false })
        );
    }

    let post = |client: Option<(&'static str, &'static str)>, form: Vec<(&'static str, String)>| {
        let mut request = app.http.post(app.url("/introspect")).form(&form);
        if let Some((id, secret)) = client {
            request = request.basic_auth(id, Some(secret));
        }
        request.send()
    };
    let anonymous = post(None, vec![("token", at.clone())]).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let public = post(
        None,
        vec![("token", at.clone()), ("client_id", oidc::SPA.into())],
    )
    .await
    .unwrap();
    assert_eq!(public.status(), 401);
    let wrong = post(Some((API, "wrong")), vec![("token", at.clone())])
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let missing = post(Some((API, API_SECRET)), vec![]).await.unwrap();
    assert_eq!(missing.status(), 400);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let get = app.http.get(app.url("/introspect")).send().await.unwrap();
    assert_eq!(get.status(), 405);
}

/// #11 item 11, RFC 7662 §4: a person's token and `username` are described to the client
/// it was issued to, and to resource servers (`introspection = "any"`), not to every
/// confidential client.
#[tokio::test]
async fn only_its_own_client_and_resource_servers_may_introspect_a_token() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let at = s(&offline_tokens(&app).await, "access_token");
    let as_client = |id: String, secret: String| {
        let request = app
            .http
            .post(app.url("/introspect"))
            .basic_auth(id, Some(secret))
            .form(&[("token", at.as_str())]);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let own = as_client(WEB.into(), WEB_SECRET.into()).await;
    assert_eq!(own["active"], true, "{own}");
    assert_eq!(own["username"], "alice");
    let resource_server = as_client(API.into(), API_SECRET.into()).await;
    assert_eq!(resource_server["active"], true, "{resource_server}");

    // The CLI registers resource servers too; any other confidential client (the
    // default) learns nothing, not even that the token is valid.
    let added = |introspection: Option<&str>| {
        let id = format!("rs-{}", introspection.unwrap_or("default"));
        let mut args = vec![id.as_str(), "--grant-type", "client_credentials"];
        if let Some(value) = introspection {
            args.extend(["--introspection", value]);
        }
        let secret = crate::common::add_client(&app, &args);
        (id, secret)
    };
    let (id, secret) = added(Some("any"));
    assert_eq!(as_client(id, secret).await["active"], true);
    for introspection in [None, Some("own")] {
        let (id, secret) = added(introspection);
        assert_eq!(
            as_client(id, secret).await,
            serde_json::json!({ "active": false })
        );
    }
}

#[tokio::test]
async fn revocation_by_the_owner_kills_the_grant_and_others_are_refused() {
    let app = TestApp::spawn_with(|c| {
        oidc::with_apps(c);
        c.clients.push(ClientConfig {
            client_id: "other".into(),
            client_secret: Some(Secret::new(WEB_SECRET)),
            redirect_uris: vec!["https://other.test/cb".into()],
            ..Default::default()
        });
    })
    .await;
    let tokens = offline_tokens(&app).await;
    let (at, rt) = (s(&tokens, "access_token"), s(&tokens, "refresh_token"));

    let refused = revoke_as(&app, "other", WEB_SECRET, &[("token", &rt)]).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    assert_eq!(
        introspect(&app, &at).await["active"],
        true,
        "not revoked by another client"
    );

    assert_eq!(
        revoke_as(&app, WEB, WEB_SECRET, &[("token", "unknown")])
            .await
            .status(),
        200
    );
    let bad_hint = revoke_as(
        &app,
        WEB,
        WEB_SECRET,
        &[("token", &rt), ("token_type_hint", "id_token")],
    )
    .await;
    assert_eq!(
        bad_hint.json::<Value>().await.unwrap()["error"],
        "unsupported_token_type"
    );
    let anonymous = app
        .http
        .post(app.url("/revoke"))
        .form(&[("token", rt.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let missing = revoke_as(&app, WEB, WEB_SECRET, &[]).await;
    assert_eq!(
        missing.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );

    assert_eq!(
        revoke_as(
            &app,
            WEB,
            WEB_SECRET,
            &[("token", &rt), ("token_type_hint", "refresh_token")]
        )
        .await
        .status(),
        200
    );
    assert_invalid_grant(refresh(&app, &rt, &[]).await).await;
    assert_eq!(
        introspect(&app, &at).await["active"],
        false,
        "RFC 7009 §2.1: the grant's access tokens too"
    );

    // An access token alone: its jti goes on the deny-list.
    let fresh = offline_tokens(&app).await;
    let at2 = s(&fresh, "access_token");
    assert_eq!(
        revoke_as(&app, WEB, WEB_SECRET, &[("token", &at2)])
            .await
            .status(),
        200
    );
    assert_eq!(introspect(&app, &at2).await["active"], false);
    let userinfo = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&at2)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    assert_eq!(
        refresh(&app, &s(&fresh, "refresh_token"), &[])
            .await
            .status(),
        200,
        "the refresh token lives on"
    );
}

#[tokio::test]
async fn disabling_a_user_cuts_everything_off() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let tokens = offline_tokens(&app).await;
    let output = app.cli(&["user", "disable", "alice"]);
    assert!(output.status.success());
    assert_eq!(
        introspect(&app, &s(&tokens, "access_token")).await["active"],
        false
    );
    assert_invalid_grant(refresh(&app, &s(&tokens, "refresh_token"), &[]).await).await;
}

#[tokio::test]
async fn a_password_change_revokes_refresh_tokens() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let tokens = offline_tokens(&app).await;
    let output = app.cli_with_stdin(
        &["user", "set-password", "alice", "--password-stdin"],
        "a whole new passphrase\n",
    );
    assert!(
        output.status.success(),
        "{}",
        crate::common::stderr(&output)
    );
    assert_invalid_grant(refresh(&app, &s(&tokens, "refresh_token"), &[]).await).await;
    assert_eq!(
        introspect(&app, &s(&tokens, "access_token")).await["active"],
        false
    );
}
