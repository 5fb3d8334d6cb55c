//! `portcullis-verifier` against the real server (#14 item 1): our access tokens verify,
//! our ID tokens do not; a key rotation is followed without a failed verification; the
//! revocation feed cuts off a revoked token and a disabled user; introspection mode
//! asks for the live state; and an unreachable feed fails open or closed as configured.

use std::sync::Arc;
use std::time::Duration;

use portcullis_verifier::{FeedOutage, Rejection, Requirement, Verifier};

use crate::common::oidc::{
    self, claims, offline_tokens, revoke_as, API, API_SECRET, WEB, WEB_SECRET,
};
use crate::common::{eventually, stdout, TestApp};

/// A verifier of `app`'s tokens on `app`'s clock, for the audience its tokens carry.
async fn verifier_for(
    app: &TestApp,
    audience: &str,
    setup: impl FnOnce(portcullis_verifier::Builder) -> portcullis_verifier::Builder,
) -> Verifier {
    let clock = app.clock.clone();
    setup(
        Verifier::builder(&app.issuer)
            .audience(audience)
            .clock(Arc::new(move || clock.now())),
    )
    .build()
    .await
    .unwrap()
}

/// A `client_credentials` token of the resource server itself.
async fn service_token(app: &TestApp) -> String {
    let response = app
        .http
        .post(app.url("/token"))
        .basic_auth(API, Some(API_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "images:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

fn header_of(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

fn aud(jwt: &str) -> String {
    claims(jwt)["aud"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn our_access_tokens_verify_and_our_id_tokens_do_not() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let tokens = offline_tokens(&app).await;
    let access = tokens["access_token"].as_str().unwrap();
    let v = verifier_for(&app, &aud(access), |b| b).await;
    let verified = v.verify(access).await.unwrap();
    assert_eq!(verified.sub, claims(access)["sub"]);
    assert_eq!(verified.client_id, WEB);
    assert!(verified.grant_id.is_some());
    match v.verify(tokens["id_token"].as_str().unwrap()).await {
        Err(Rejection::InvalidToken(d)) => assert!(d.contains("typ"), "{d}"),
        other => panic!("an ID token must not pass as an access token: {other:?}"),
    }
    // A verifier for another audience refuses it.
    let images = verifier_for(&app, "images", |b| b).await;
    assert!(matches!(
        images.verify(access).await,
        Err(Rejection::InvalidToken(_))
    ));
}

/// An announced rotation (`keys rotate`, then the announcement period passes): tokens
/// signed before, during and after all verify, and the last ones carry the new `kid`.
#[tokio::test]
async fn a_key_rotation_is_followed_without_a_failed_verification() {
    let app = TestApp::spawn_with(|c| {
        oidc::with_apps(c);
        c.keys.reload_interval = portcullis::config::Lifetime::secs(1);
    })
    .await;
    let first = service_token(&app).await;
    let alg = header_of(&first)["alg"].as_str().unwrap().to_owned();
    let old_kid = header_of(&first)["kid"].as_str().unwrap().to_owned();
    let v = verifier_for(&app, &aud(&first), |b| b).await;
    let mut failures = 0;
    let mut check = async |token: String| {
        if v.verify(&token).await.is_err() {
            failures += 1;
        }
    };
    for _ in 0..5 {
        check(service_token(&app).await).await;
    }
    let output = app.cli(&["keys", "rotate", "--alg", &alg]);
    assert!(output.status.success(), "{}", stdout(&output));
    let jwks_len = |app: &TestApp| {
        let url = app.url("/jwks");
        let http = app.http.clone();
        async move {
            let jwks: serde_json::Value = http.get(url).send().await.unwrap().json().await.unwrap();
            jwks["keys"].as_array().unwrap().len()
        }
    };
    let before = jwks_len(&app).await;
    assert!(eventually(10, || async { jwks_len(&app).await > before }).await);
    for _ in 0..5 {
        check(service_token(&app).await).await;
    }
    // The announcement period passes: the new key signs.
    app.clock
        .advance(app.config.keys.announce.as_secs() as i64 + 1);
    let mut new_kid = String::new();
    for _ in 0..5 {
        let token = service_token(&app).await;
        new_kid = header_of(&token)["kid"].as_str().unwrap().to_owned();
        check(token).await;
    }
    assert_eq!(failures, 0);
    assert_ne!(new_kid, old_kid, "the rotation happened");
}

/// The feed: a revoked access token (by `jti`), then a disabled user, are refused soon
/// after, though their signatures are still good.
#[tokio::test]
async fn the_verifier_follows_the_feed_and_refuses_what_was_revoked() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let first = offline_tokens(&app).await;
    let second = offline_tokens(&app).await;
    let (a, b) = (
        first["access_token"].as_str().unwrap(),
        second["access_token"].as_str().unwrap(),
    );
    let v = verifier_for(&app, &aud(a), |b| {
        b.client_credentials(API, API_SECRET)
            .follow_revocations(FeedOutage::ServeOnSignatures)
    })
    .await;
    assert!(eventually(10, || async { v.feed_status().unwrap().connected }).await);
    assert!(v.verify(a).await.is_ok());
    assert!(v.verify(b).await.is_ok());

    let response = revoke_as(&app, WEB, WEB_SECRET, &[("token", a)]).await;
    assert_eq!(response.status(), 200);
    let revoked = |token: String| {
        let v = v.clone();
        async move {
            matches!(v.verify(&token).await, Err(Rejection::InvalidToken(ref d)) if d == "the token has been revoked")
        }
    };
    let (a, b) = (a.to_owned(), b.to_owned());
    assert!(
        eventually(5, || revoked(a.clone())).await,
        "the revoked token is refused"
    );
    assert!(v.verify(&b).await.is_ok(), "the other sign-in is untouched");

    let output = app.cli(&["user", "disable", "alice"]);
    assert!(output.status.success(), "{}", stdout(&output));
    assert!(
        eventually(5, || revoked(b.clone())).await,
        "a disabled user's token is refused"
    );
    assert!(v.feed_status().unwrap().cursor >= 2);
}

/// `Requirement::live()`: the issuer is asked. A token revoked before the call is not
/// active, nor is a refresh token.
#[tokio::test]
async fn introspection_mode_asks_the_issuer() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let tokens = offline_tokens(&app).await;
    let access = tokens["access_token"].as_str().unwrap();
    let v = verifier_for(&app, &aud(access), |b| {
        b.client_credentials(API, API_SECRET)
    })
    .await;
    let live = Requirement::new().live();
    let bearer = |t: &str| format!("Bearer {t}");
    let verified = v.authorize(Some(&bearer(access)), &live).await.unwrap();
    assert_eq!(verified.client_id, WEB);

    let refresh = tokens["refresh_token"].as_str().unwrap();
    // Another client's refresh token is not active to a resource server (and would not
    // be an access token if it were).
    let refused = v
        .authorize(Some(&bearer(refresh)), &live)
        .await
        .unwrap_err();
    assert!(matches!(refused, Rejection::InvalidToken(_)), "{refused:?}");

    let other = offline_tokens(&app).await;
    let other = other["access_token"].as_str().unwrap();
    let response = revoke_as(&app, WEB, WEB_SECRET, &[("token", other)]).await;
    assert_eq!(response.status(), 200);
    let refused = v.authorize(Some(&bearer(other)), &live).await.unwrap_err();
    assert_eq!(
        refused,
        Rejection::InvalidToken("the token is not active".into())
    );
    // Locally its signature is still good: that is what the feed is for.
    assert!(v.verify(other).await.is_ok());
}

/// A feed the verifier cannot follow (here: refused credentials): failing open keeps
/// serving on signatures; failing closed answers 503 once the grace has passed.
#[tokio::test]
async fn an_unreachable_feed_fails_open_or_closed_as_configured() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let token = service_token(&app).await;
    let open = verifier_for(&app, &aud(&token), |b| {
        b.client_credentials(API, "wrong-secret")
            .follow_revocations(FeedOutage::ServeOnSignatures)
    })
    .await;
    let closed = verifier_for(&app, &aud(&token), |b| {
        b.client_credentials(API, "wrong-secret")
            .follow_revocations(FeedOutage::FailClosed {
                grace: Duration::ZERO,
            })
    })
    .await;
    assert!(open.verify(&token).await.is_ok());
    assert!(!open.feed_status().unwrap().connected);
    let refused = closed.verify(&token).await.unwrap_err();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.www_authenticate(None), None);
}

/// Introspection answers are reused for the cache's lifetime (keyed by the token's
/// hash): a burst costs one round trip, and a revocation shows once the entry lapses —
/// at once without a cache.
#[tokio::test]
async fn introspection_answers_are_cached_for_their_lifetime() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let tokens = offline_tokens(&app).await;
    let access = tokens["access_token"].as_str().unwrap();
    let cached = verifier_for(&app, &aud(access), |b| {
        b.client_credentials(API, API_SECRET)
    })
    .await;
    let uncached = verifier_for(&app, &aud(access), |b| {
        b.client_credentials(API, API_SECRET)
            .introspection_cache(Duration::ZERO)
    })
    .await;
    assert!(cached.introspect(access).await.is_ok());
    assert!(uncached.introspect(access).await.is_ok());
    let response = revoke_as(&app, WEB, WEB_SECRET, &[("token", access)]).await;
    assert_eq!(response.status(), 200);
    assert!(
        cached.introspect(access).await.is_ok(),
        "the cached answer (kept until the token expires)"
    );
    assert_eq!(
        uncached.introspect(access).await.unwrap_err(),
        Rejection::InvalidToken("the token is not active".into())
    );
}
