//! Federated sign-in (#13) against a fake upstream on loopback: Google's hosted domain,
//! UserInfo for an email the ID token lacks, a verified-email rule that holds against a
//! provider that says "unverified", and every way an upstream's answer can be wrong —
//! each a page, with nothing written.

use std::time::Duration;

use portcullis::config::{Lifetime, Secret, UpstreamConfig, UpstreamKind};
use portcullis::store::{federated_identities, users};

use crate::common::fake_facebook::{self, FakeFacebook};
use crate::common::fake_upstream::{Behaviour, FakeUpstream};

/// One way to get an answer wrong.
type Misbehave = fn(&mut Behaviour);
type FacebookMisbehave = fn(&mut fake_facebook::Behaviour);
use crate::common::oidc::{self, browser, location, press_continue};
use crate::common::TestApp;

async fn downstream(fake: &FakeUpstream, customize: impl FnOnce(&mut UpstreamConfig)) -> TestApp {
    let mut upstream = UpstreamConfig {
        id: "fake".into(),
        display_name: Some("Fake".into()),
        issuer: Some(fake.issuer.clone()),
        client_id: "portcullis".into(),
        provision: true,
        ..Default::default()
    };
    customize(&mut upstream);
    TestApp::spawn_with(move |c| {
        oidc::with_apps(c);
        c.federation.allow_private_addresses = true;
        c.federation.timeout = Lifetime::secs(1);
        c.metrics.listen = Some("127.0.0.1:0".into());
        c.upstreams = vec![upstream];
    })
    .await
}

/// "Continue with Fake" in a fresh browser: our answer to the fake's callback.
async fn continue_with_fake(down: &TestApp) -> reqwest::Response {
    let browser = browser();
    let started = press_continue(down, &browser, "fake", "Fake", None).await;
    assert_eq!(started.status(), 303);
    let approved = browser.get(location(&started)).send().await.unwrap();
    let callback = location(&approved);
    assert!(
        callback.starts_with(&down.url("/federation/fake/callback?")),
        "{callback}"
    );
    browser.get(&callback).send().await.unwrap()
}

/// Users and linked identities in `app`'s database.
fn counts(app: &TestApp) -> (usize, usize) {
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    core.db
        .run_blocking(|conn| {
            let all = users::list(conn)?;
            let mut identities = 0;
            for u in &all {
                identities += federated_identities::for_user(conn, &u.id)?.len();
            }
            Ok::<_, portcullis::store::StoreError>((all.len(), identities))
        })
        .unwrap()
}

async fn page_of(response: reqwest::Response) -> (u16, String) {
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn google_accounts_of_the_hosted_domain_only() {
    let fake = FakeUpstream::start().await;
    let down = downstream(&fake, |u| {
        u.kind = UpstreamKind::Google;
        u.hosted_domain = Some("example.com".into());
    })
    .await;
    let before = counts(&down);
    for hd in [None, Some("other.com")] {
        fake.behave(|b| b.person.hd = hd.map(str::to_owned));
        let (status, html) = page_of(continue_with_fake(&down).await).await;
        assert_eq!(status, 403, "{hd:?}");
        assert!(html.contains("may not sign in here"), "{html}");
        assert_eq!(counts(&down), before, "nothing written for {hd:?}");
    }
    fake.behave(|b| b.person.hd = Some("example.com".into()));
    let signed_in = continue_with_fake(&down).await;
    assert_eq!(location(&signed_in), "/account");
    assert_eq!(counts(&down), (before.0 + 1, 1));
    let asked = fake.authorize_queries.lock().unwrap().clone();
    assert!(
        asked
            .iter()
            .all(|q| q.get("hd").map(String::as_str) == Some("example.com")),
        "hd is sent as a hint: {asked:?}"
    );
}

#[tokio::test]
async fn an_email_only_in_userinfo_is_read_from_there() {
    let fake = FakeUpstream::start().await;
    fake.behave(|b| b.person.email_only_in_userinfo = true);
    let down = downstream(&fake, |_| {}).await;
    assert_eq!(location(&continue_with_fake(&down).await), "/account");
    let core = portcullis::Core::open(down.config.clone()).unwrap();
    let made = core
        .db
        .run_blocking(|conn| users::by_username(conn, "faye"))
        .unwrap()
        .expect("provisioned under the email's local part");
    assert_eq!(made.email.as_deref(), Some("faye@fake.test"));
}

#[tokio::test]
async fn an_unverified_email_never_links_even_from_a_trusted_upstream() {
    let fake = FakeUpstream::start().await;
    // Our alice has alice@example.test, verified.
    fake.behave(|b| {
        b.person.email = Some("alice@example.test".into());
        b.person.email_verified = false;
    });
    let down = downstream(&fake, |u| u.trust_email = true).await;
    let before = counts(&down);
    let (status, html) = page_of(continue_with_fake(&down).await).await;
    assert_eq!(status, 403);
    assert!(html.contains("already exists"), "{html}");
    assert_eq!(counts(&down), before);
}

#[tokio::test]
async fn every_wrong_answer_gets_a_page_and_writes_nothing() {
    let fake = FakeUpstream::start().await;
    let down = downstream(&fake, |_| {}).await;
    let before = counts(&down);
    let cases: [(&str, Misbehave); 5] = [
        ("another issuer", |b| {
            b.iss = Some("https://evil.test".into())
        }),
        ("another audience", |b| b.aud = Some("someone-else".into())),
        ("another nonce", |b| b.nonce = Some("not-the-nonce".into())),
        ("a key never published", |b| b.sign_with_second_key = true),
        ("an expired ID token", |b| b.expired_by = Some(600)),
    ];
    for (case, misbehave) in cases {
        fake.behave(|b| {
            *b = Default::default();
            misbehave(b);
        });
        let (status, html) = page_of(continue_with_fake(&down).await).await;
        assert_eq!(status, 502, "{case}");
        assert!(html.contains("could not be verified"), "{case}: {html}");
        assert_eq!(counts(&down), before, "{case}: nothing written");
    }
    // …but the audit log, which has each failure and its reason.
    let core = portcullis::Core::open(down.config.clone()).unwrap();
    let events = core
        .db
        .run_blocking(|conn| portcullis::store::audit::recent(conn, 100))
        .unwrap();
    let rejected = events
        .iter()
        .filter(|e| e.kind == "federation.failed" && e.detail.contains(r#""reason":"rejected""#))
        .count();
    assert_eq!(rejected, cases.len(), "{events:?}");

    fake.behave(|b| {
        *b = Default::default();
        b.token_delay = Some(Duration::from_secs(3));
    });
    let (status, html) = page_of(continue_with_fake(&down).await).await;
    assert_eq!(status, 502, "a slow upstream");
    assert!(html.contains("cannot be reached"), "{html}");
    assert_eq!(counts(&down), before);

    // Operators see it: each step timed by upstream and outcome.
    let metrics = reqwest::get(format!(
        "http://127.0.0.1:{}/metrics",
        down.metrics_port.unwrap()
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let count = |step: &str, outcome: &str| {
        let series = format!(
            r#"portcullis_upstream_call_duration_seconds_count{{outcome="{outcome}",step="{step}",upstream="fake"}}"#
        );
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&series))
            .map(|n| n.trim().to_owned())
    };
    assert_eq!(count("start", "ok").as_deref(), Some("6"), "{metrics}");
    assert_eq!(count("finish", "rejected").as_deref(), Some("5"));
    assert_eq!(count("finish", "unreachable").as_deref(), Some("1"));
}

#[tokio::test]
async fn a_key_rotated_in_upstream_is_fetched_once_it_signs() {
    let fake = FakeUpstream::start().await;
    let down = downstream(&fake, |_| {}).await;
    assert_eq!(location(&continue_with_fake(&down).await), "/account");
    let fetched = fake.jwks_fetches.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(fetched, 1, "discovery once, keys once");

    fake.behave(|b| {
        b.rotated = true;
        b.sign_with_second_key = true;
    });
    // Within a minute of the last fetch the keys are not fetched again for a `kid`…
    let (status, _) = page_of(continue_with_fake(&down).await).await;
    assert_eq!(status, 502);
    assert_eq!(
        fake.jwks_fetches.load(std::sync::atomic::Ordering::SeqCst),
        fetched
    );
    // …after it, once.
    down.clock.advance(61);
    assert_eq!(location(&continue_with_fake(&down).await), "/account");
    assert_eq!(
        fake.jwks_fetches.load(std::sync::atomic::Ordering::SeqCst),
        fetched + 1
    );
}

async fn with_facebook(fb: &FakeFacebook) -> TestApp {
    let base = fb.base.clone();
    TestApp::spawn_with(move |c| {
        oidc::with_apps(c);
        c.federation.allow_private_addresses = true;
        c.upstreams = vec![UpstreamConfig {
            id: "facebook".into(),
            kind: UpstreamKind::Facebook,
            display_name: Some("Facebook".into()),
            client_id: fake_facebook::APP_ID.into(),
            client_secret: Some(Secret::new(fake_facebook::APP_SECRET)),
            authorization_endpoint: Some(format!("{base}/v21.0/dialog/oauth")),
            graph_url: Some(base),
            provision: true,
            ..Default::default()
        }];
    })
    .await
}

/// "Continue with Facebook" in a fresh browser: our answer to its callback.
async fn continue_with_facebook(down: &TestApp) -> reqwest::Response {
    let browser = browser();
    let started = press_continue(down, &browser, "facebook", "Facebook", None).await;
    assert_eq!(started.status(), 303);
    let dialog = location(&started);
    assert!(dialog.contains("/v21.0/dialog/oauth?"), "{dialog}");
    let approved = browser.get(&dialog).send().await.unwrap();
    let callback = location(&approved);
    assert!(
        callback.starts_with(&down.url("/federation/facebook/callback?")),
        "{callback}"
    );
    browser.get(&callback).send().await.unwrap()
}

#[tokio::test]
async fn facebook_signs_in_by_its_app_scoped_id_and_its_email_is_never_verified() {
    let fb = FakeFacebook::start().await;
    let down = with_facebook(&fb).await;
    let before = counts(&down);
    assert_eq!(location(&continue_with_facebook(&down).await), "/account");
    assert_eq!(counts(&down), (before.0 + 1, 1));
    let core = portcullis::Core::open(down.config.clone()).unwrap();
    let made = core
        .db
        .run_blocking(|conn| users::by_username(conn, "fiona"))
        .unwrap()
        .expect("provisioned under the email's local part");
    assert!(!made.email_verified);
    let identities = core
        .db
        .run_blocking(|conn| federated_identities::for_user(conn, &made.id))
        .unwrap();
    assert_eq!(identities[0].subject, "10150000000000001");

    // Someone without an email: an account all the same, under a name of our making.
    fb.behave(|b| {
        b.id = "10150000000000002".into();
        b.email = None;
    });
    assert_eq!(location(&continue_with_facebook(&down).await), "/account");
    assert_eq!(counts(&down), (before.0 + 2, 2));
}

#[tokio::test]
async fn a_facebook_token_for_another_app_or_a_refused_proof_signs_nobody_in() {
    let fb = FakeFacebook::start().await;
    let down = with_facebook(&fb).await;
    let before = counts(&down);
    let cases: [(&str, FacebookMisbehave); 3] = [
        ("a token of another app", |b| b.app_id = "999".into()),
        ("a token that is not valid", |b| b.is_valid = false),
        // The fake checks appsecret_proof with another secret: it refuses ours.
        ("a refused appsecret_proof", |b| {
            b.proof_secret = "other".into()
        }),
    ];
    for (case, misbehave) in cases {
        fb.behave(|b| {
            *b = Default::default();
            misbehave(b);
        });
        let (status, html) = page_of(continue_with_facebook(&down).await).await;
        assert_eq!(status, 502, "{case}");
        assert!(html.contains("could not be verified"), "{case}: {html}");
        assert_eq!(counts(&down), before, "{case}: nothing written");
    }
}

#[tokio::test]
async fn a_generic_oauth2_provider_is_read_through_its_claim_paths() {
    let fake = FakeUpstream::start().await;
    let i = fake.issuer.clone();
    let down = downstream(&fake, |u| {
        u.kind = UpstreamKind::Oauth2;
        u.issuer = None;
        u.authorization_endpoint = Some(format!("{i}/authorize"));
        u.token_endpoint = Some(format!("{i}/token"));
        u.userinfo_endpoint = Some(format!("{i}/userinfo"));
        u.scopes = Some(vec!["profile".into()]);
        u.claims.sub = "account.id".into();
        u.claims.email = "account.emails.0.address".into();
        u.claims.email_verified = "account.emails.0.verified".into();
        u.trust_email = true;
    })
    .await;
    assert_eq!(location(&continue_with_fake(&down).await), "/account");
    let core = portcullis::Core::open(down.config.clone()).unwrap();
    let made = core
        .db
        .run_blocking(|conn| users::by_username(conn, "faye"))
        .unwrap()
        .expect("provisioned");
    assert_eq!(made.email.as_deref(), Some("faye@fake.test"));
    assert!(made.email_verified, "verified, by a trusted upstream");
    let identities = core
        .db
        .run_blocking(|conn| federated_identities::for_user(conn, &made.id))
        .unwrap();
    assert_eq!(identities[0].subject, "fake-subject-1");
    let asked = fake.authorize_queries.lock().unwrap().clone();
    assert_eq!(
        asked[0].get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
}

/// The `web` client signs in through "Continue with Fake": the claims of its ID token.
async fn web_claims_via_fake(down: &TestApp) -> serde_json::Value {
    use base64::Engine;
    let browser = browser();
    let (verifier, challenge) = oidc::pkce();
    let url = oidc::authorize_url(down, oidc::WEB, oidc::WEB_CALLBACK, &challenge, &[]);
    let to_login = location(&browser.get(&url).send().await.unwrap());
    let request = oidc::query_of(&down.url(&to_login))["request"].clone();
    let started = press_continue(down, &browser, "fake", "Fake", Some(&request)).await;
    let approved = browser.get(location(&started)).send().await.unwrap();
    let resumed = browser.get(location(&approved)).send().await.unwrap();
    let to_client = location(&oidc::drive(down, &browser, &down.url(&location(&resumed))).await);
    assert!(to_client.starts_with(oidc::WEB_CALLBACK), "{to_client}");
    let tokens: serde_json::Value =
        oidc::redeem(down, &oidc::query_of(&to_client)["code"], &verifier)
            .await
            .json()
            .await
            .unwrap();
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn an_upstream_amr_counts_only_when_trusted_and_a_level_can_be_configured() {
    use portcullis::oidc::acr::{MFA, PWD};
    let fake = FakeUpstream::start().await;
    fake.behave(|b| {
        b.amr = Some(vec![
            "pwd".into(),
            "otp".into(),
            "mfa".into(),
            "magic".into(),
        ])
    });

    let untrusted = downstream(&fake, |_| {}).await;
    let id = web_claims_via_fake(&untrusted).await;
    assert_eq!(id["amr"], serde_json::json!(["fed"]));
    assert_eq!(id["acr"], PWD);

    let trusted = downstream(&fake, |u| u.trust_amr = true).await;
    let id = web_claims_via_fake(&trusted).await;
    assert_eq!(
        id["amr"],
        serde_json::json!(["fed", "pwd", "otp", "mfa"]),
        "RFC 8176 values only"
    );
    assert_eq!(id["acr"], MFA, "what actually happened");

    let configured = downstream(&fake, |u| u.level = Some(MFA.into())).await;
    let id = web_claims_via_fake(&configured).await;
    assert_eq!(id["amr"], serde_json::json!(["fed"]));
    assert_eq!(id["acr"], MFA);
}

#[tokio::test]
async fn a_google_id_token_naming_the_issuer_without_its_scheme_is_verified_all_the_same() {
    let fake = FakeUpstream::start().await;
    let google = |u: &mut UpstreamConfig| {
        u.kind = UpstreamKind::Google;
        u.hosted_domain = Some("example.com".into());
    };
    let down = downstream(&fake, google).await;
    let before = counts(&down);
    let schemeless = |b: &mut Behaviour| {
        *b = Default::default();
        b.iss_without_scheme = true;
        b.person.hd = Some("example.com".into());
    };
    let cases: [(&str, Misbehave, u16); 4] = [
        (
            "another nonce",
            |b| b.nonce = Some("not-the-nonce".into()),
            502,
        ),
        (
            "another audience",
            |b| b.aud = Some("someone-else".into()),
            502,
        ),
        (
            "a key never published",
            |b| b.sign_with_second_key = true,
            502,
        ),
        (
            "another domain",
            |b| b.person.hd = Some("other.com".into()),
            403,
        ),
    ];
    for (case, misbehave, status) in cases {
        fake.behave(|b| {
            schemeless(b);
            misbehave(b);
        });
        let (got, _) = page_of(continue_with_fake(&down).await).await;
        assert_eq!(got, status, "{case}");
        assert_eq!(counts(&down), before, "{case}: nothing written");
    }
    fake.behave(schemeless);
    assert_eq!(location(&continue_with_fake(&down).await), "/account");
    assert_eq!(counts(&down), (before.0 + 1, 1));

    // Any other kind takes the issuer only as it is.
    let oidc = downstream(&fake, |_| {}).await;
    let (status, html) = page_of(continue_with_fake(&oidc).await).await;
    assert_eq!(status, 502);
    assert!(html.contains("could not be verified"));
}

#[tokio::test]
async fn without_provisioning_a_stranger_gets_a_page_and_no_account() {
    let fake = FakeUpstream::start().await;
    let down = downstream(&fake, |u| u.provision = false).await;
    let before = counts(&down);
    let (status, html) = page_of(continue_with_fake(&down).await).await;
    assert_eq!(status, 403);
    assert!(html.contains("no account here for you"), "{html}");
    assert_eq!(counts(&down), before);
}

#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_is_not_called_unless_allowed() {
    // `localhost` is a name, not an address: the resolver's answer is what is judged.
    let fake = FakeUpstream::start_at("127.0.0.1", "localhost").await;
    let issuer = fake.issuer.clone();
    let with = |allow: bool| {
        let issuer = issuer.clone();
        TestApp::spawn_with(move |c| {
            oidc::with_apps(c);
            c.federation.allow_private_addresses = allow;
            c.upstreams = vec![UpstreamConfig {
                id: "fake".into(),
                display_name: Some("Fake".into()),
                issuer: Some(issuer),
                client_id: "portcullis".into(),
                provision: true,
                ..Default::default()
            }];
        })
    };
    let refused = with(false).await;
    let answer = press_continue(&refused, &browser(), "fake", "Fake", None).await;
    assert_eq!(answer.status(), 502);
    assert!(answer.text().await.unwrap().contains("cannot be reached"));
    let allowed = with(true).await;
    let answer = press_continue(&allowed, &browser(), "fake", "Fake", None).await;
    assert_eq!(answer.status(), 303, "the same upstream, allowed");
}
