//! Federated sign-in (#13) with a real OpenID Connect provider on loopback: a second
//! Portcullis, on 127.0.0.2 so that the two servers' cookies stay apart (cookies ignore
//! ports), with this one registered there as a confidential client. From our sign-in
//! page, through the upstream's, back to our callback: accounts provisioned, reused,
//! linked by a trusted verified email only; and every failure a page with nothing written.

use portcullis::config::{ClientConfig, Secret, UpstreamConfig, UserConfig};
use portcullis::store::{federated_identities, users};
use serde_json::Value;

use crate::common::oidc::{
    self, answer_consent, authorize_url, browser, claims, csrf_of, drive, location, pkce,
    press_continue, query_of, redeem, WEB, WEB_CALLBACK,
};
use crate::common::TestApp;

const DOWNSTREAM: &str = "portcullis-downstream";
const DOWNSTREAM_SECRET: &str = "downstream-secret-0123456789abcdef0123";

/// The upstream provider: alice (a verified email, the same as our local alice's), and
/// this server as a client that needs no consent.
async fn upstream() -> TestApp {
    TestApp::spawn_with(|c| {
        oidc::with_apps(c);
        c.listen = "127.0.0.2:0".into();
        c.users.push(UserConfig {
            username: "newcomer".into(),
            password: Some(Secret::new(oidc::PASSWORD)),
            email: Some("newcomer@example.test".into()),
            email_verified: true,
            name: Some("New Comer".into()),
            ..Default::default()
        });
        c.clients.push(ClientConfig {
            client_id: DOWNSTREAM.into(),
            client_name: Some("Downstream".into()),
            client_secret: Some(Secret::new(DOWNSTREAM_SECRET)),
            // RFC 8252 §7.3: any port of a loopback IP.
            redirect_uris: vec!["http://127.0.0.1/federation/corp/callback".into()],
            skip_consent: true,
            ..Default::default()
        });
    })
    .await
}

/// This server, with `corp` as an upstream (loopback allowed, as in tests and staging).
async fn downstream(up: &TestApp, customize: impl FnOnce(&mut UpstreamConfig)) -> TestApp {
    let mut corp = corp(&up.issuer);
    customize(&mut corp);
    TestApp::spawn_with(move |c| {
        oidc::with_apps(c);
        c.federation.allow_private_addresses = true;
        c.upstreams = vec![corp];
    })
    .await
}

/// "Corp" at `issuer`, as this server's upstream.
fn corp(issuer: &str) -> UpstreamConfig {
    UpstreamConfig {
        id: "corp".into(),
        display_name: Some("Corp".into()),
        issuer: Some(issuer.to_owned()),
        client_id: DOWNSTREAM.into(),
        client_secret: Some(Secret::new(DOWNSTREAM_SECRET)),
        provision: true,
        ..Default::default()
    }
}

/// Presses "Continue with Corp" on our sign-in page (for `request`, if any), signs in
/// at the upstream as `username`; the upstream's redirect back to us.
async fn at_upstream(
    down: &TestApp,
    up: &TestApp,
    browser: &reqwest::Client,
    username: &str,
    request: Option<&str>,
) -> String {
    let started = press_continue(down, browser, "corp", "Corp", request).await;
    through_upstream(down, up, browser, &started, username).await
}

/// From our redirect to the upstream (`started`), signs in there as `username`; the
/// upstream's redirect back to our callback.
async fn through_upstream(
    down: &TestApp,
    up: &TestApp,
    browser: &reqwest::Client,
    started: &reqwest::Response,
    username: &str,
) -> String {
    assert_eq!(started.status(), 303, "to the upstream");
    let to_upstream = location(started);
    assert!(to_upstream.starts_with(&up.issuer), "{to_upstream}");
    // Not `drive`: it would sign in as alice; this person types their own name.
    let login = browser.get(&to_upstream).send().await.unwrap();
    let login_page = location(&login);
    if login_page.starts_with(&down.url("/federation/corp/callback?")) {
        return login_page; // still signed in at the upstream
    }
    assert!(login_page.starts_with("/login?request="), "{login_page}");
    let form = browser.get(up.url(&login_page)).send().await.unwrap();
    let csrf = csrf_of(&form.text().await.unwrap());
    let signed_in = browser
        .post(up.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", username),
            ("password", oidc::PASSWORD),
            ("request", &query_of(&up.url(&login_page))["request"]),
        ])
        .send()
        .await
        .unwrap();
    let back = location(&drive(up, browser, &up.url(&location(&signed_in))).await);
    assert!(
        back.starts_with(&down.url("/federation/corp/callback?")),
        "back to our callback: {back}"
    );
    back
}

/// The whole flow for the `web` client: the ID token it gets.
async fn web_signs_in(down: &TestApp, up: &TestApp, username: &str) -> Value {
    let browser = browser();
    let (verifier, challenge) = pkce();
    let url = authorize_url(down, WEB, WEB_CALLBACK, &challenge, &[]);
    let to_login = location(&browser.get(&url).send().await.unwrap());
    let request = query_of(&down.url(&to_login))["request"].clone();
    let callback = at_upstream(down, up, &browser, username, Some(&request)).await;
    let answered = browser.get(&callback).send().await.unwrap();
    assert_eq!(answered.status(), 303, "signed in");
    let resume = location(&answered);
    assert_eq!(resume, format!("/authorize/resume?request={request}"));
    let mut to_client = location(&browser.get(down.url(&resume)).send().await.unwrap());
    if to_client.starts_with("/consent") {
        to_client = location(&answer_consent(down, &browser, &to_client, "allow").await);
    }
    assert!(to_client.starts_with(WEB_CALLBACK), "{to_client}");
    let tokens: Value = redeem(down, &query_of(&to_client)["code"], &verifier)
        .await
        .json()
        .await
        .unwrap();
    claims(tokens["id_token"].as_str().unwrap())
}

/// Users, and identities linked to them, in `app`'s database.
fn accounts(
    app: &TestApp,
) -> (
    Vec<users::UserRow>,
    Vec<federated_identities::FederatedIdentityRow>,
) {
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    core.db
        .run_blocking(|conn| {
            let all = users::list(conn)?;
            let mut identities = Vec::new();
            for u in &all {
                identities.extend(federated_identities::for_user(conn, &u.id)?);
            }
            Ok::<_, portcullis::store::StoreError>((all, identities))
        })
        .unwrap()
}

#[tokio::test]
async fn a_first_sign_in_through_an_upstream_provisions_an_account_and_the_next_reuses_it() {
    let up = upstream().await;
    let down = downstream(&up, |_| {}).await;
    let (before, _) = accounts(&down);

    let first = web_signs_in(&down, &up, "newcomer").await;
    assert_eq!(first["iss"], down.issuer, "our own ID token");
    assert_eq!(first["amr"], serde_json::json!(["fed"]));
    assert_eq!(first["acr"], portcullis::oidc::acr::PWD);
    let (after, identities) = accounts(&down);
    assert_eq!(after.len(), before.len() + 1, "one account provisioned");
    let made = after
        .iter()
        .find(|u| u.id == first["sub"])
        .expect("the new account");
    assert_eq!(made.username, "newcomer");
    assert_eq!(made.email.as_deref(), Some("newcomer@example.test"));
    assert!(
        !made.email_verified,
        "an untrusted upstream's word is not ours"
    );
    assert!(made.password_hash.is_none());
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0].provider, "corp");
    assert_ne!(
        identities[0].subject, made.id,
        "the upstream's subject, not ours"
    );

    let again = web_signs_in(&down, &up, "newcomer").await;
    assert_eq!(again["sub"], first["sub"], "the same local account");
    assert_eq!(accounts(&down).0.len(), after.len(), "none created");
}

#[tokio::test]
async fn an_email_links_only_when_verified_and_the_upstream_is_trusted() {
    let up = upstream().await;
    // Our alice has alice@example.test, verified; so does the upstream's alice.
    let untrusted = downstream(&up, |_| {}).await;
    let (before, _) = accounts(&untrusted);
    let browser = browser();
    let callback = at_upstream(&untrusted, &up, &browser, "alice", None).await;
    let refused = browser.get(&callback).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    let html = refused.text().await.unwrap();
    assert!(html.contains("already exists"), "{html}");
    let (after, identities) = accounts(&untrusted);
    assert_eq!(after.len(), before.len(), "no second alice");
    assert!(identities.is_empty(), "nothing linked");

    let trusted = downstream(&up, |u| u.trust_email = true).await;
    let local = accounts(&trusted)
        .0
        .into_iter()
        .find(|u| u.username == "alice")
        .unwrap();
    let id = web_signs_in(&trusted, &up, "alice").await;
    assert_eq!(id["sub"], local.id.as_str(), "linked to our alice");
    let (_, identities) = accounts(&trusted);
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0].user_id, local.id);
}

#[tokio::test]
async fn a_replayed_foreign_or_denied_callback_gets_a_page_and_writes_nothing() {
    let up = upstream().await;
    let down = downstream(&up, |_| {}).await;
    let (users_before, _) = accounts(&down);

    // Another browser brings the callback: the state is bound to the one that started.
    let starter = browser();
    let callback = at_upstream(&down, &up, &starter, "newcomer", None).await;
    let thief = browser();
    let stolen = thief.get(&callback).send().await.unwrap();
    assert_eq!(stolen.status(), 400);
    assert!(stolen.text().await.unwrap().contains("another browser"));
    // Taken once, even by the wrong browser: the starter's own try now finds nothing.
    let replay = starter.get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), 400);

    // A fresh one works once, then is used up.
    let callback = at_upstream(&down, &up, &starter, "newcomer", None).await;
    assert_eq!(starter.get(&callback).send().await.unwrap().status(), 303);
    let again = starter.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), 400, "a callback is taken once");
    let html = again.text().await.unwrap();
    assert!(html.contains("Signing in with Corp did not work"), "{html}");
    assert!(
        html.contains(r#"href="/login""#),
        "offers to try again: {html}"
    );

    // The upstream's error answer, and a callback without state.
    let denied = {
        let callback = at_upstream(&down, &up, &starter, "newcomer", None).await;
        let state = query_of(&callback)["state"].clone();
        let url = down.url(&format!(
            "/federation/corp/callback?error=access_denied&state={state}"
        ));
        starter.get(&url).send().await.unwrap()
    };
    assert_eq!(denied.status(), 403);
    assert!(denied
        .text()
        .await
        .unwrap()
        .contains("cancelled or refused"));
    let bare = starter
        .get(down.url("/federation/corp/callback?code=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 400);
    let doubled = starter
        .get(down.url("/federation/corp/callback?state=a&state=b"))
        .send()
        .await
        .unwrap();
    assert_eq!(doubled.status(), 400);
    assert!(doubled.text().await.unwrap().contains("could not be read"));
    let unknown = starter
        .get(down.url("/federation/nobody/callback?code=x&state=y"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // A callback naming another issuer (RFC 9207 mix-up), and one too late.
    let callback = at_upstream(&down, &up, &starter, "newcomer", None).await;
    let mixed = callback.replace("iss=http", "iss=https");
    let refused = starter.get(&mixed).send().await.unwrap();
    assert_eq!(refused.status(), 502);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("could not be verified"));
    let callback = at_upstream(&down, &up, &starter, "newcomer", None).await;
    down.clock
        .advance(down.config.federation.state_ttl.as_secs() + 1);
    let late = starter.get(&callback).send().await.unwrap();
    assert_eq!(late.status(), 400);
    assert!(late.text().await.unwrap().contains("expired"));

    let (users_after, identities) = accounts(&down);
    assert_eq!(
        users_after.len(),
        users_before.len() + 1,
        "only the one good sign-in made an account"
    );
    assert_eq!(identities.len(), 1);
}

#[tokio::test]
async fn an_upstream_on_a_private_address_is_not_called_unless_allowed() {
    let up = upstream().await;
    let issuer = up.issuer.clone();
    let down = TestApp::spawn_with(move |c| {
        oidc::with_apps(c);
        c.upstreams = vec![corp(&issuer)];
    })
    .await;
    let refused = press_continue(&down, &browser(), "corp", "Corp", None).await;
    assert_eq!(refused.status(), 502);
    assert!(refused.text().await.unwrap().contains("cannot be reached"));
}

#[tokio::test]
async fn an_unreachable_upstream_gets_a_page() {
    let closed = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
    let issuer = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = TestApp::spawn_with(move |c| {
        oidc::with_apps(c);
        c.federation.allow_private_addresses = true;
        c.upstreams = vec![corp(&issuer)];
    })
    .await;
    let answer = press_continue(&down, &browser(), "corp", "Corp", None).await;
    assert_eq!(answer.status(), 502);
    assert!(answer.text().await.unwrap().contains("cannot be reached"));
}

#[tokio::test]
async fn a_disabled_account_signs_in_through_no_provider() {
    let up = upstream().await;
    let down = downstream(&up, |_| {}).await;
    let first = web_signs_in(&down, &up, "newcomer").await;
    let sub = first["sub"].as_str().unwrap().to_owned();
    let (users, _) = accounts(&down);
    let name = users.iter().find(|u| u.id == sub).unwrap().username.clone();
    assert!(down.cli(&["user", "disable", &name]).status.success());
    let browser = browser();
    let callback = at_upstream(&down, &up, &browser, "newcomer", None).await;
    let refused = browser.get(&callback).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("disabled"));
}

#[tokio::test]
async fn a_sign_in_nobody_came_back_from_is_cleaned_up() {
    let up = upstream().await;
    let down = downstream(&up, |_| {}).await;
    let started = press_continue(&down, &browser(), "corp", "Corp", None).await;
    assert_eq!(started.status(), 303);
    let core = portcullis::Core::open(down.config.clone()).unwrap();
    let now = down.clock.now();
    let clean = |at: i64| {
        core.db
            .run_blocking(|conn| portcullis::cleanup::run_once(conn, &core.config, at))
            .unwrap()
            .federation_states
    };
    assert_eq!(clean(now), 0, "still in time");
    assert_eq!(clean(now + down.config.federation.state_ttl.as_secs()), 1);
}

/// A browser with a password session at `down` for our local alice.
async fn alice_at(down: &TestApp) -> reqwest::Client {
    let browser = browser();
    let page = browser.get(down.url("/login")).send().await.unwrap();
    let csrf = csrf_of(&page.text().await.unwrap());
    let signed_in = browser
        .post(down.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", oidc::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&signed_in), "/account");
    browser
}

/// Presses "Link Corp" on the sign-in methods page and signs in at the upstream as
/// `username`; our answer to the callback.
async fn link_corp(
    down: &TestApp,
    up: &TestApp,
    browser: &reqwest::Client,
    username: &str,
) -> reqwest::Response {
    let page = browser
        .get(down.url("/account/providers"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Link Corp"), "{html}");
    let started = browser
        .post(down.url("/account/providers/corp/link"))
        .form(&[("csrf", csrf_of(&html))])
        .send()
        .await
        .unwrap();
    let callback = through_upstream(down, up, browser, &started, username).await;
    browser.get(&callback).send().await.unwrap()
}

/// Unlinks `identity` on the sign-in methods page.
async fn unlink(down: &TestApp, browser: &reqwest::Client, identity: &str) -> reqwest::Response {
    let html = browser
        .get(down.url("/account/providers"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    browser
        .post(down.url("/account/providers/unlink"))
        .form(&[("csrf", csrf_of(&html).as_str()), ("identity", identity)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_signed_in_person_links_a_provider_and_signs_in_with_it_then_unlinks_it() {
    let up = upstream().await;
    let down = downstream(&up, |_| {}).await;
    let alice = alice_at(&down).await;
    let local = accounts(&down)
        .0
        .into_iter()
        .find(|u| u.username == "alice")
        .unwrap();

    let linked = link_corp(&down, &up, &alice, "newcomer").await;
    assert_eq!(location(&linked), "/account/providers");
    let html = alice
        .get(down.url("/account/providers"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Linked as newcomer@example.test"), "{html}");
    let (_, identities) = accounts(&down);
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0].user_id, local.id, "linked to alice");

    // Now "Continue with Corp" as newcomer is alice.
    let id = web_signs_in(&down, &up, "newcomer").await;
    assert_eq!(id["sub"], local.id.as_str());

    // Alice has a password: the provider can go.
    let gone = unlink(&down, &alice, &identities[0].id).await;
    assert_eq!(location(&gone), "/account/providers");
    assert!(accounts(&down).1.is_empty());
}

#[tokio::test]
async fn the_last_way_to_sign_in_stays_and_one_upstream_account_links_to_one_local_account() {
    let up = upstream().await;
    let down = downstream(&up, |_| {}).await;
    // newcomer is provisioned: Corp is their only way in.
    let browser = browser();
    let callback = at_upstream(&down, &up, &browser, "newcomer", None).await;
    assert_eq!(browser.get(&callback).send().await.unwrap().status(), 303);
    let (_, identities) = accounts(&down);
    assert_eq!(identities.len(), 1);
    let kept = unlink(&down, &browser, &identities[0].id).await;
    assert_eq!(kept.status(), 409);
    assert!(kept.text().await.unwrap().contains("only way to sign in"));
    assert_eq!(accounts(&down).1.len(), 1, "still linked");

    // Alice cannot take newcomer's Corp account for hers.
    let alice = alice_at(&down).await;
    let refused = link_corp(&down, &up, &alice, "newcomer").await;
    assert_eq!(refused.status(), 409);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("linked to another account"));
    let (_, after) = accounts(&down);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].user_id, identities[0].user_id, "unchanged");
}

#[tokio::test]
async fn a_refusal_at_the_upstream_offers_to_try_again_for_the_waiting_application() {
    let up = upstream().await;
    let down = downstream(&up, |_| {}).await;
    let browser = browser();
    let (_, challenge) = pkce();
    let url = authorize_url(&down, WEB, WEB_CALLBACK, &challenge, &[]);
    let to_login = location(&browser.get(&url).send().await.unwrap());
    let request = query_of(&down.url(&to_login))["request"].clone();
    let started = press_continue(&down, &browser, "corp", "Corp", Some(&request)).await;
    let state = query_of(&location(&started))["state"].clone();
    let denied = browser
        .get(down.url(&format!(
            "/federation/corp/callback?error=access_denied&state={state}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let html = denied.text().await.unwrap();
    assert!(
        html.contains(&format!(r#"href="/login?request={request}""#)),
        "back to the sign-in for the waiting application: {html}"
    );
    let again = browser
        .get(down.url(&format!("/login?request={request}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(again.contains("Web App"), "{again}");
}

#[tokio::test]
async fn the_federation_forms_need_their_csrf_token() {
    let up = upstream().await;
    let down = downstream(&up, |_| {}).await;
    let alice = alice_at(&down).await;
    for (path, form) in [
        ("/federation/corp/start", vec![("request", "")]),
        ("/account/providers/corp/link", vec![]),
        ("/account/providers/unlink", vec![("identity", "x")]),
    ] {
        let mut fields = form.clone();
        fields.push(("csrf", "forged"));
        let refused = alice
            .post(down.url(path))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{path}");
    }
    assert!(accounts(&down).1.is_empty(), "nothing linked");
}
