//! Signing keys: generation, JWKS, persistence, sharing between instances, rotation.

use std::collections::BTreeSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{ClientId, IssuerUrl, Nonce};
use serde_json::{json, Value};

use crate::common::{eventually, stdout, TestApp};
use portcullis::crypto::{jws, Alg};

fn kids(jwks: &Value) -> BTreeSet<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// RFC 7638 §3, computed here independently of the server's code.
fn thumbprint(key: &Value) -> String {
    let canonical = match key["kty"].as_str().unwrap() {
        "RSA" => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            key["e"].as_str().unwrap(),
            key["n"].as_str().unwrap()
        ),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            key["crv"].as_str().unwrap(),
            key["x"].as_str().unwrap(),
            key["y"].as_str().unwrap()
        ),
        other => panic!("unexpected kty {other}"),
    };
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    ))
}

#[tokio::test]
async fn jwks_publishes_an_es256_and_an_rs256_key_with_thumbprint_kids() {
    let app = TestApp::spawn().await;
    let response = app.get("/jwks").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let algs: BTreeSet<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert_eq!(algs, BTreeSet::from(["ES256", "RS256"]));
    for key in keys {
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kid"].as_str().unwrap(), thumbprint(key));
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "no private member {private}");
        }
        if key["kty"] == "RSA" {
            let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
            assert!(n.len() * 8 >= 2048, "RSA keys have at least 2048 bits");
        } else {
            assert_eq!(key["crv"], "P-256");
        }
    }
}

#[tokio::test]
async fn jwks_answers_304_to_a_matching_etag() {
    let app = TestApp::spawn().await;
    let first = app.get("/jwks").await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .http
        .get(app.url("/jwks"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let other = app
        .http
        .get(app.url("/jwks"))
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn keys_survive_a_restart_and_are_shared_by_instances() {
    let first = TestApp::spawn().await;
    let before = first.get_json("/jwks").await;
    let second = first.spawn_sharing(|_| {}).await;
    assert_eq!(
        second.get_json("/jwks").await,
        before,
        "same database, same keys"
    );
    drop(first);
    let third = second.spawn_sharing(|_| {}).await;
    assert_eq!(third.get_json("/jwks").await, before, "after a restart");
}

#[tokio::test]
async fn a_rotation_on_one_instance_is_published_by_the_other_without_a_restart() {
    let fast_reload =
        |c: &mut portcullis::Config| c.keys.reload_interval = portcullis::config::Lifetime::secs(1);
    let a = TestApp::spawn_with(fast_reload).await;
    let b = a.spawn_sharing(fast_reload).await;
    let before = kids(&a.get_json("/jwks").await);
    assert_eq!(before, kids(&b.get_json("/jwks").await));

    let output = a.cli(&["keys", "rotate", "--alg", "ES256"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let grown = eventually(10, || async { kids(&b.get_json("/jwks").await).len() == 3 }).await;
    assert!(grown, "the other instance publishes the announced key");
    let after = kids(&b.get_json("/jwks").await);
    assert!(after.is_superset(&before), "old keys stay published");
    assert_eq!(after, kids(&a.get_json("/jwks").await));

    // The new key is announced, not yet signing (keys.announce defaults to a day).
    let list = stdout(&a.cli(&["keys", "list"]));
    assert_eq!(list.matches(" announced ").count(), 1, "{list}");
    assert_eq!(list.matches(" signing ").count(), 2, "{list}");
}

#[tokio::test]
async fn an_immediate_rotation_switches_signing_and_keeps_the_old_key_published() {
    let app = TestApp::spawn().await;
    let output = app.cli(&["keys", "rotate", "--alg", "RS256", "--now"]);
    assert!(output.status.success());
    let list = stdout(&app.cli(&["keys", "list"]));
    let rs256: Vec<&str> = list.lines().filter(|l| l.contains(" RS256 ")).collect();
    assert_eq!(rs256.len(), 2, "{list}");
    assert!(rs256.iter().any(|l| l.contains(" retired ")), "{list}");
    assert!(rs256.iter().any(|l| l.contains(" signing ")), "{list}");
}

/// What resource servers rely on: a token signed with our current key verifies against
/// our JWKS with an independent library (openidconnect), for both algorithms.
#[tokio::test]
async fn tokens_signed_with_our_keys_verify_against_the_jwks() {
    let app = TestApp::spawn().await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let ring = core.load_keys().unwrap();
    let keys = ring.current();
    let jwks: CoreJsonWebKeySet = app.get("/jwks").await.json().await.unwrap();
    let now = portcullis::clock::now();
    for (alg, expected) in [
        (Alg::RS256, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256),
        (Alg::ES256, CoreJwsSigningAlgorithm::EcdsaP256Sha256),
    ] {
        let key = keys.signing_key(alg, now).expect("a signing key");
        let claims = json!({
            "iss": app.issuer, "sub": "user-1", "aud": "rp", "iat": now, "exp": now + 300, "nonce": "n-0S6_WzA2Mj",
        });
        let jwt = jws::encode(&key.signer, &key.kid, "JWT", &claims);
        let verifier = CoreIdTokenVerifier::new_public_client(
            ClientId::new("rp".into()),
            IssuerUrl::new(app.issuer.clone()).unwrap(),
            jwks.clone(),
        )
        .set_allowed_algs(vec![expected]);
        let token: CoreIdToken = jwt.parse().unwrap();
        let verified = token
            .claims(&verifier, &Nonce::new("n-0S6_WzA2Mj".into()))
            .unwrap_or_else(|e| panic!("{alg} token verifies: {e}"));
        assert_eq!(verified.subject().as_str(), "user-1");
    }
}

#[tokio::test]
async fn scheduled_rotation_runs_by_itself_and_is_audited() {
    let app = TestApp::spawn_with(|c| {
        c.keys.reload_interval = portcullis::config::Lifetime::secs(1);
        c.keys.announce = portcullis::config::Lifetime::secs(0);
        c.keys.rotate_after = Some(portcullis::config::Lifetime::secs(2));
    })
    .await;
    let rotated = eventually(15, || async {
        app.get_json("/jwks").await["keys"]
            .as_array()
            .unwrap()
            .len()
            >= 4
    })
    .await;
    assert!(rotated, "both algorithms rotated on schedule");
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let events = core
        .db
        .run_blocking(|conn| portcullis::store::audit::recent(conn, 100))
        .unwrap();
    assert!(events.iter().any(|e| e.kind == "key.rotated"));
    assert_eq!(
        events.iter().filter(|e| e.kind == "key.generated").count(),
        2
    );
}

/// Instances decide a scheduled rotation on fresh rows: once one has rotated, nobody
/// rotates again until the new key is due (no double rotation from a stale cache).
#[tokio::test]
async fn a_scheduled_rotation_happens_once_per_period() {
    let app = TestApp::spawn().await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let policy = core.key_policy();
    let later = portcullis::clock::now() + 1_000;
    let rotate_if_due = |rotate_after: i64| {
        core.db
            .run_blocking(|conn| {
                portcullis::keys::rotate_if_due(
                    conn,
                    &core.master,
                    &policy,
                    Alg::ES256,
                    rotate_after,
                    later,
                )
            })
            .unwrap()
    };
    assert!(rotate_if_due(5_000).is_none(), "not due yet");
    assert!(rotate_if_due(500).is_some(), "due");
    assert!(
        rotate_if_due(500).is_none(),
        "a successor is announced: no second rotation"
    );
    let es256 = core
        .db
        .run_blocking(portcullis::store::signing_keys::list)
        .unwrap()
        .into_iter()
        .filter(|k| k.alg == "ES256")
        .count();
    assert_eq!(es256, 2);
}

/// Hardening #11 item 3: a key that has left the JWKS verifies nothing, and no token that
/// lives longer than anything we sign, or was issued in the future, is taken for ours —
/// what whoever holds an old key could mint.
#[tokio::test]
async fn keys_gone_from_the_jwks_and_implausible_tokens_verify_nothing() {
    use portcullis::oauth::issuer::{self, AccessTokenClaims, TokenSettings};
    use portcullis::oidc::id_token;
    let app = TestApp::spawn().await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let settings = TokenSettings::new(&app.config, &app.issuer);
    let now = portcullis::clock::now();
    let before = core.load_keys().unwrap().current();
    let key = before.signing_key(Alg::ES256, now).unwrap();
    let access = |iat: i64, exp: i64| {
        let claims = AccessTokenClaims {
            iss: app.issuer.clone(),
            sub: "user-1".into(),
            aud: settings.audience.clone(),
            exp,
            iat,
            jti: "jti-1".into(),
            client_id: "web".into(),
            scope: "openid".into(),
            auth_time: None,
            acr: None,
            amr: Vec::new(),
            sid: None,
            grant_id: None,
        };
        jws::encode(&key.signer, &key.kid, "at+jwt", &claims)
    };
    let verifies = |token: &str, at: i64| issuer::verify(token, &before, &settings, at).is_some();
    assert!(verifies(&access(now, now + 600), now));
    assert!(
        !verifies(&access(now, now + 100 * 365 * 86_400), now),
        "a 100-year token"
    );
    assert!(
        !verifies(&access(now + 3_600, now + 3_900), now),
        "issued in an hour"
    );

    // Rotated at once: the old key is retired (still verifies), then leaves the JWKS.
    assert!(app
        .cli(&["keys", "rotate", "--alg", "ES256", "--now"])
        .status
        .success());
    let after = core.load_keys().unwrap().current();
    let old = after.keys().iter().find(|k| k.kid == key.kid).unwrap();
    let gone = old.expires_at.expect("a retired key expires");
    let verifies = |token: &str, at: i64| issuer::verify(token, &after, &settings, at).is_some();
    assert!(
        verifies(&access(gone - 100, gone + 400), gone - 1),
        "retired, still published"
    );
    assert!(
        !verifies(&access(gone, gone + 500), gone),
        "no longer published"
    );
    let hint = jws::encode(
        &key.signer,
        &key.kid,
        "JWT",
        &json!({ "iss": app.issuer, "sub": "user-1", "aud": "web", "azp": "web",
                 "iat": gone - 10, "exp": gone + 100, "auth_time": gone - 10 }),
    );
    assert!(id_token::verify_hint(&hint, &after, &app.issuer, gone - 1).is_some());
    assert!(
        id_token::verify_hint(&hint, &after, &app.issuer, gone).is_none(),
        "an id_token_hint signed by a key gone from the JWKS signs nobody out"
    );
}

/// `keys revoke KID` (hardening #11 item 3): the key leaves the JWKS and stops verifying
/// on every instance within one reload — a token it signed, already introspected (and
/// so remembered), turns inactive — while a new key signs at once.
#[tokio::test]
async fn a_revoked_key_verifies_nothing_on_any_instance_and_a_new_one_signs() {
    use crate::common::oidc::{self, offline_tokens, refresh, API, API_SECRET};
    let setup = |c: &mut portcullis::Config| {
        oidc::with_apps(c);
        c.keys.reload_interval = portcullis::config::Lifetime::secs(1);
    };
    let a = TestApp::spawn_with(setup).await;
    // A second instance behind the same public URL, as behind a load balancer.
    let b = a
        .spawn_sharing(|c| {
            setup(c);
            c.issuer = Some(a.issuer.clone());
        })
        .await;
    let on = |app: &TestApp, path: &str| format!("http://127.0.0.1:{}{path}", app.port);
    let introspect = |app: &TestApp, token: &str| {
        let request = a
            .http
            .post(on(app, "/introspect"))
            .basic_auth(API, Some(API_SECRET))
            .form(&[("token", token)]);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let tokens = offline_tokens(&a).await;
    let access = tokens["access_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    let kid = header["kid"].as_str().unwrap().to_owned();
    for app in [&a, &b] {
        assert_eq!(introspect(app, access).await["active"], true);
    }

    let unknown = a.cli(&["keys", "revoke", "no-such-kid"]);
    assert!(!unknown.status.success());
    // A thumbprint may begin with '-' (base64url): it is a kid, not an option.
    let hyphen = a.cli(&["keys", "revoke", "-Hno-such-kid"]);
    assert!(!hyphen.status.success());
    assert!(
        String::from_utf8_lossy(&hyphen.stderr)
            .contains("no signing key has the kid -Hno-such-kid"),
        "{}",
        String::from_utf8_lossy(&hyphen.stderr)
    );
    let revoked = a.cli(&["keys", "revoke", &kid]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );

    for app in [&a, &b] {
        let gone = eventually(10, || async {
            let jwks: Value = a
                .http
                .get(on(app, "/jwks"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            !kids(&jwks).contains(&kid) && introspect(app, access).await["active"] == false
        })
        .await;
        assert!(gone, "the revoked key is out of the JWKS and verification");
        let userinfo = a
            .http
            .get(on(app, "/userinfo"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(userinfo.status(), 401);
    }
    // The grant lives on: a refresh is signed by the new key, which both verify.
    let renewed: Value = refresh(&a, tokens["refresh_token"].as_str().unwrap(), &[])
        .await
        .json()
        .await
        .unwrap();
    let fresh = renewed["access_token"]
        .as_str()
        .expect("a new access token");
    for app in [&a, &b] {
        assert!(
            eventually(10, || async {
                introspect(app, fresh).await["active"] == true
            })
            .await
        );
    }
    let list = stdout(&a.cli(&["keys", "list"]));
    assert!(
        list.lines()
            .any(|l| l.starts_with(&kid) && l.contains(" expired ")),
        "{list}"
    );
}

/// #15 item 3: an instance never signs with a key its own `/jwks` does not publish —
/// not even across `keys rotate --now` made by another process: every token, checked
/// against the JWKS this instance serves right after issuing it, names a published key,
/// before and after the switch.
#[tokio::test]
async fn an_instance_never_signs_with_a_key_its_own_jwks_does_not_publish() {
    let app = TestApp::spawn_with(|c| {
        crate::common::oidc::with_apps(c);
        c.keys.reload_interval = portcullis::config::Lifetime::secs(1);
    })
    .await;
    let mint = || async {
        let response = app
            .http
            .post(app.url("/token"))
            .basic_auth(
                crate::common::oidc::API,
                Some(crate::common::oidc::API_SECRET),
            )
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap().to_owned();
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        header["kid"].as_str().unwrap().to_owned()
    };
    let first = mint().await;
    let output = app.cli(&["keys", "rotate", "--alg", "ES256", "--now"]);
    assert!(output.status.success(), "{}", stdout(&output));
    let mut switched = false;
    for _ in 0..300 {
        let kid = mint().await;
        let published = kids(&app.get_json("/jwks").await);
        assert!(
            published.contains(&kid),
            "signed with {kid}, not in {published:?}"
        );
        if kid != first {
            switched = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(switched, "the instance switched to the new key");
}
