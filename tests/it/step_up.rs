//! Step-up MFA (#12 "Done when"): a password session asked for `mfa` sees only the code
//! page; tokens say how the person authenticated; essential and voluntary requests; codes
//! computed from the secret with the injectable clock moved, never slept on — replay,
//! skew, lockout (also under a burst), recovery codes, enrolment, a scope that needs
//! `mfa`, and a level that lapses.

use std::collections::BTreeMap;

use portcullis::config::{Lifetime, Secret, UserConfig};
use portcullis::oidc::acr::{MFA, PAPE_MULTI_FACTOR, PWD};
use serde_json::Value;

use crate::common::mfa::{code_at, mid_step, type_code, ALICE_TOTP};
use crate::common::oidc::{
    self, account_with, authorize_url, browser, claims, csrf_of, drive, introspect, location, pkce,
    query_of, redeem, refresh, session_cookie, FIRST, FIRST_CALLBACK, PASSWORD, WEB, WEB_CALLBACK,
    WEB_SECRET,
};
use crate::common::TestApp;

/// Alice with a second factor, Bob without; `web` may ask for `payment`, which needs
/// `mfa` and lapses five minutes after it was proved.
async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

async fn spawn_with(customize: impl FnOnce(&mut portcullis::Config)) -> TestApp {
    let app = TestApp::spawn_with(|c| {
        oidc::with_apps(c);
        c.users[0].totp_secret = Some(Secret::new(ALICE_TOTP));
        c.users.push(UserConfig {
            username: "bob".into(),
            password: Some(Secret::new(PASSWORD)),
            ..Default::default()
        });
        c.clients[0].scopes = Some(vec![
            "openid".into(),
            "profile".into(),
            "email".into(),
            "offline_access".into(),
            "payment".into(),
        ]);
        c.mfa.scope_levels = BTreeMap::from([("payment".to_owned(), MFA.to_owned())]);
        c.tokens.scope_lifetimes = BTreeMap::from([("payment".to_owned(), Lifetime::secs(300))]);
        customize(c);
    })
    .await;
    mid_step(&app);
    app
}

/// A browser with a password session for `username`.
async fn signed_in(app: &TestApp, username: &str) -> reqwest::Client {
    let browser = browser();
    sign_in(app, &browser, username).await;
    browser
}

/// Signs `username` in with the password in `browser`; the answer to the form.
async fn sign_in(app: &TestApp, browser: &reqwest::Client, username: &str) -> reqwest::Response {
    let page = browser.get(app.url("/login")).send().await.unwrap();
    let csrf = csrf_of(&page.text().await.unwrap());
    let response = browser
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", username),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&response), "/account");
    response
}

/// Whether a code typed on `/login/otp` (no request waiting) was accepted.
async fn accepted(app: &TestApp, browser: &reqwest::Client, code: &str) -> bool {
    let response = type_code(app, browser, "/login/otp", code).await;
    match response.status().as_u16() {
        303 => true,
        200 => false,
        other => panic!("unexpected {other}"),
    }
}

fn amr(claims: &Value) -> Vec<String> {
    serde_json::from_value(claims["amr"].clone()).unwrap_or_default()
}

/// Runs `url` in `browser` to the callback, exchanges the code as `web`; the tokens.
async fn tokens_for(app: &TestApp, browser: &reqwest::Client, url: &str, verifier: &str) -> Value {
    let to = location(&drive(app, browser, url).await);
    assert!(to.starts_with(WEB_CALLBACK), "sent to the client: {to}");
    let response = redeem(app, &query_of(&to)["code"], verifier).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_password_session_asked_for_mfa_types_only_a_code_and_its_tokens_say_so() {
    let app = spawn().await;
    let alice = signed_in(&app, "alice").await;
    let (verifier, challenge) = pkce();
    let plain = tokens_for(
        &app,
        &alice,
        &authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[]),
        &verifier,
    )
    .await;
    let before = claims(plain["id_token"].as_str().unwrap());
    assert_eq!(before["acr"], PWD);
    assert_eq!(amr(&before), ["pwd"]);

    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[("acr_values", MFA)]);
    let asked = drive(&app, &alice, &url).await;
    let step_up = location(&asked);
    assert!(step_up.starts_with("/login/otp?request="), "{step_up}");
    let page = alice.get(app.url(&step_up)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"autocomplete="one-time-code""#), "{html}");
    assert!(
        !html.contains(r#"type="password""#),
        "no password field: {html}"
    );
    assert!(html.contains("Web App"), "names the application");

    let typed = type_code(&app, &alice, &step_up, &code_at(&app, ALICE_TOTP, 0)).await;
    assert_eq!(typed.status(), 303);
    let resume = location(&typed);
    assert!(resume.starts_with("/authorize/resume?request="), "{resume}");
    let tokens = tokens_for(&app, &alice, &app.url(&resume), &verifier).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], MFA);
    let methods = amr(&id);
    for m in ["pwd", "otp", "mfa"] {
        assert!(methods.iter().any(|x| x == m), "amr {methods:?} has {m}");
    }
    assert_eq!(id["sub"], before["sub"], "the same person");
    assert_eq!(id["nonce"], "nonce-456");

    // RFC 9470 §3 in the access token, and the same from introspection (RFC 7662).
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["acr"], MFA);
    assert_eq!(access["amr"], id["amr"]);
    assert_eq!(access["auth_time"], id["auth_time"]);
    let seen = introspect(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["acr"], MFA);
    assert_eq!(seen["amr"], id["amr"]);
    assert_eq!(seen["auth_time"], id["auth_time"]);

    // The session is at mfa now: asking again needs no code, and the PAPE name is mfa.
    let (verifier, challenge) = pkce();
    let pape = authorize_url(
        &app,
        WEB,
        WEB_CALLBACK,
        &challenge,
        &[("acr_values", PAPE_MULTI_FACTOR)],
    );
    let again = tokens_for(&app, &alice, &pape, &verifier).await;
    assert_eq!(claims(again["id_token"].as_str().unwrap())["acr"], MFA);
}

#[tokio::test]
async fn an_essential_acr_that_cannot_be_met_is_refused_and_a_voluntary_one_gets_what_was_achieved()
{
    let app = spawn().await;
    let bob = signed_in(&app, "bob").await;
    let (verifier, challenge) = pkce();
    let essential = format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":["{MFA}"]}}}}}}"#);
    let url = authorize_url(
        &app,
        WEB,
        WEB_CALLBACK,
        &challenge,
        &[("claims", &essential)],
    );
    let refused = drive(&app, &bob, &url).await;
    let to = location(&refused);
    assert!(to.starts_with(WEB_CALLBACK), "{to}");
    let params = query_of(&to);
    assert_eq!(params["error"], "unmet_authentication_requirements");
    assert_eq!(params["state"], "state-123");
    assert_eq!(params["iss"], app.issuer);
    assert!(!params.contains_key("code"));

    // None of its values a level we know: it cannot be met, whoever asks.
    let alice = signed_in(&app, "alice").await;
    let unknown = r#"{"id_token":{"acr":{"essential":true,"values":["urn:example:gold"]}}}"#;
    let url = authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[("claims", unknown)]);
    let params = query_of(&location(&drive(&app, &alice, &url).await));
    assert_eq!(params["error"], "unmet_authentication_requirements");

    let url = authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[("acr_values", MFA)]);
    let tokens = tokens_for(&app, &bob, &url, &verifier).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], PWD, "the level achieved");
    assert_eq!(amr(&id), ["pwd"]);
}

#[tokio::test]
async fn a_second_factor_gives_the_session_a_new_cookie_and_the_old_one_opens_nothing() {
    let app = spawn().await;
    let alice = browser();
    let before = session_cookie(&sign_in(&app, &alice, "alice").await).expect("a session cookie");
    let typed = type_code(&app, &alice, "/login/otp", &code_at(&app, ALICE_TOTP, 0)).await;
    assert_eq!(typed.status(), 303);
    let after = session_cookie(&typed).expect("a new session cookie");
    assert_ne!(before, after);
    let value = |c: &str| c.split(';').next().unwrap().to_owned();
    let old = account_with(&app, &value(&before)).await;
    assert_eq!(old.status(), 303, "the cookie from before the step is over");
    assert_eq!(location(&old), "/login");
    let new = account_with(&app, &value(&after)).await;
    assert_eq!(
        new.status(),
        200,
        "the session goes on under its new cookie"
    );

    // The same session, now at mfa: a request for mfa needs no other code.
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[("acr_values", MFA)]);
    let tokens = tokens_for(&app, &alice, &url, &verifier).await;
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["acr"], MFA);
}

#[tokio::test]
async fn prompt_none_cannot_show_the_code_page() {
    let app = spawn().await;
    let alice = signed_in(&app, "alice").await;
    let (_, challenge) = pkce();
    let url = authorize_url(
        &app,
        WEB,
        WEB_CALLBACK,
        &challenge,
        &[("acr_values", MFA), ("prompt", "none")],
    );
    let to = location(&alice.get(url).send().await.unwrap());
    let params = query_of(&to);
    assert_eq!(params["error"], "interaction_required");
    assert_eq!(params["state"], "state-123");

    // Bob has no second factor: no interaction could meet an essential mfa.
    let bob = signed_in(&app, "bob").await;
    let essential = format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":["{MFA}"]}}}}}}"#);
    let url = authorize_url(
        &app,
        WEB,
        WEB_CALLBACK,
        &challenge,
        &[("claims", &essential), ("prompt", "none")],
    );
    let to = location(&bob.get(url).send().await.unwrap());
    assert_eq!(query_of(&to)["error"], "unmet_authentication_requirements");
}

#[tokio::test]
async fn a_code_is_accepted_once_even_from_another_session() {
    let app = spawn().await;
    let first = signed_in(&app, "alice").await;
    let second = signed_in(&app, "alice").await;
    let code = code_at(&app, ALICE_TOTP, 0);
    assert!(accepted(&app, &first, &code).await);
    assert!(
        !accepted(&app, &first, &code).await,
        "replay in the same session"
    );
    assert!(
        !accepted(&app, &second, &code).await,
        "replay from another session"
    );
    assert!(
        !accepted(&app, &second, &code_at(&app, ALICE_TOTP, -30)).await,
        "an earlier step after a later one was used"
    );
    app.clock.advance(30);
    assert!(
        accepted(&app, &second, &code_at(&app, ALICE_TOTP, 0)).await,
        "the next step"
    );
}

#[tokio::test]
async fn one_step_of_skew_either_way_is_accepted_two_are_not() {
    let app = spawn().await;
    let alice = signed_in(&app, "alice").await;
    assert!(
        !accepted(&app, &alice, &code_at(&app, ALICE_TOTP, -60)).await,
        "-2 steps"
    );
    assert!(
        accepted(&app, &alice, &code_at(&app, ALICE_TOTP, -30)).await,
        "-1 step"
    );
    assert!(
        accepted(&app, &alice, &code_at(&app, ALICE_TOTP, 30)).await,
        "+1 step"
    );
    assert!(
        !accepted(&app, &alice, &code_at(&app, ALICE_TOTP, 60)).await,
        "+2 steps"
    );
}

#[tokio::test]
async fn wrong_codes_lock_the_second_factor_even_under_a_burst() {
    let app = spawn_with(|c| c.sign_in.max_failures_per_account = 5).await;
    let alice = signed_in(&app, "alice").await;
    let page = alice.get(app.url("/login/otp")).send().await.unwrap();
    let csrf = csrf_of(&page.text().await.unwrap());
    let right = code_at(&app, ALICE_TOTP, 0);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let burst = (0..20).map(|_| {
        alice
            .post(app.url("/login/otp"))
            .form(&[("csrf", csrf.as_str()), ("code", wrong), ("request", "")])
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(burst)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let judged = statuses.iter().filter(|s| **s == 200).count();
    let locked = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(judged + locked, 20, "{statuses:?}");
    assert!(judged <= 5, "at most the limit is judged: {statuses:?}");
    let response = alice
        .post(app.url("/login/otp"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", right.as_str()),
            ("request", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429, "locked: even the right code waits");
    assert!(response.headers().contains_key("retry-after"));

    app.clock.advance(app.config.sign_in.lockout.as_secs() + 1);
    assert!(
        accepted(&app, &alice, &code_at(&app, ALICE_TOTP, 0)).await,
        "after the lockout"
    );
}

/// Renews Alice's recovery codes from the account page (a fresh code needed).
async fn recovery_codes(app: &TestApp, browser: &reqwest::Client) -> Vec<String> {
    let page = browser.get(app.url("/account/mfa")).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("is <strong>on</strong>"), "{html}");
    let response = browser
        .post(app.url("/account/mfa/recovery-codes"))
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("code", &code_at(app, ALICE_TOTP, 0)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    codes_on(&response.text().await.unwrap())
}

/// The attribute value that follows `marker` (which ends with its opening quote).
fn quoted_after(html: &str, marker: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"))
        + marker.len();
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

fn codes_on(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .map(|rest| rest[..rest.find('<').unwrap()].to_owned())
        .collect()
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let app = spawn().await;
    let alice = signed_in(&app, "alice").await;
    let codes = recovery_codes(&app, &alice).await;
    assert_eq!(codes.len(), 10);
    assert_eq!(
        codes
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        10,
        "all different"
    );
    let other = signed_in(&app, "alice").await;
    assert!(
        accepted(&app, &other, &codes[3].to_uppercase()).await,
        "typed in capitals"
    );
    let third = signed_in(&app, "alice").await;
    assert!(!accepted(&app, &third, &codes[3]).await, "used up");
    let page = alice.get(app.url("/account/mfa")).send().await.unwrap();
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("9 recovery codes are left"));
}

#[tokio::test]
async fn a_person_enrols_with_a_code_and_gets_recovery_codes_once() {
    let app = spawn().await;
    let bob = signed_in(&app, "bob").await;
    let page = bob.get(app.url("/account/mfa")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<svg"), "a QR code drawn on the server");
    let secret = quoted_after(&html, r#"data-otp-secret=""#);
    let again = bob.get(app.url("/account/mfa")).send().await.unwrap();
    assert!(
        again.text().await.unwrap().contains(&secret),
        "the same secret until it is confirmed"
    );
    let credential = quoted_after(&html, r#"name="credential" value=""#);
    let confirm = |code: String| {
        let (bob, csrf, credential) = (&bob, csrf_of(&html), credential.clone());
        let url = app.url("/account/mfa");
        async move {
            bob.post(url)
                .form(&[("csrf", csrf), ("credential", credential), ("code", code)])
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = confirm("123456".into()).await;
    assert_eq!(wrong.status(), 200);
    assert!(wrong.text().await.unwrap().contains("not right"));
    let done = confirm(code_at(&app, &secret, 0)).await;
    assert_eq!(done.status(), 200);
    assert_eq!(codes_on(&done.text().await.unwrap()).len(), 10);

    // On now: a request for mfa asks Bob for a code (his session proved one already).
    let status = bob.get(app.url("/account/mfa")).send().await.unwrap();
    assert!(status
        .text()
        .await
        .unwrap()
        .contains("10 recovery codes are left"));
    let fresh = signed_in(&app, "bob").await;
    let (_, challenge) = pkce();
    let url = authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[("acr_values", MFA)]);
    assert!(location(&drive(&app, &fresh, &url).await).starts_with("/login/otp"));
}

#[tokio::test]
async fn with_enroll_on_step_up_a_person_without_a_factor_sets_one_up_inside_the_flow() {
    let app = spawn_with(|c| {
        c.mfa.enroll_on_step_up = true;
        // A client's own setting wins over [mfa].
        c.clients[2].enroll_on_step_up = Some(false);
    })
    .await;
    let bob = signed_in(&app, "bob").await;
    let essential = format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":["{MFA}"]}}}}}}"#);

    // The client that turned it off: unmet, as without the setting.
    let (_, challenge) = pkce();
    let url = authorize_url(
        &app,
        FIRST,
        FIRST_CALLBACK,
        &challenge,
        &[("claims", &essential)],
    );
    let refused = location(&bob.get(&url).send().await.unwrap());
    assert!(refused.starts_with(FIRST_CALLBACK), "{refused}");
    assert_eq!(
        query_of(&refused)["error"],
        "unmet_authentication_requirements"
    );

    let (verifier, challenge) = pkce();
    let url = authorize_url(
        &app,
        WEB,
        WEB_CALLBACK,
        &challenge,
        &[("claims", &essential)],
    );
    let enrol = location(&bob.get(&url).send().await.unwrap());
    assert!(enrol.starts_with("/account/mfa?request="), "{enrol}");
    let request = query_of(&app.url(&enrol)).remove("request").unwrap();
    let html = bob
        .get(app.url(&enrol))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(quoted_after(&html, r#"name="request" value=""#), request);
    let secret = quoted_after(&html, r#"data-otp-secret=""#);
    let done = bob
        .post(app.url("/account/mfa"))
        .form(&[
            ("csrf", csrf_of(&html)),
            (
                "credential",
                quoted_after(&html, r#"name="credential" value=""#),
            ),
            ("code", code_at(&app, &secret, 0)),
            ("request", request.clone()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let html = done.text().await.unwrap();
    assert_eq!(codes_on(&html).len(), 10, "the recovery codes, shown once");
    let next = quoted_after(&html, r#"id="continue" href=""#);
    assert_eq!(next, format!("/authorize/resume?request={request}"));
    let tokens = tokens_for(&app, &bob, &app.url(&next), &verifier).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], MFA, "enrolling proved the second factor");
}

#[tokio::test]
async fn removing_the_factor_needs_a_fresh_code() {
    let app = spawn().await;
    let alice = signed_in(&app, "alice").await;
    let html = alice
        .get(app.url("/account/mfa"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let remove = |code: String| {
        alice
            .post(app.url("/account/mfa/remove"))
            .form(&[("csrf", csrf_of(&html)), ("code", code)])
            .send()
    };
    let refused = remove("000000".into()).await.unwrap();
    assert_eq!(refused.status(), 200);
    let removed = remove(code_at(&app, ALICE_TOTP, 0)).await.unwrap();
    assert_eq!(location(&removed), "/account/mfa");
    let page = alice.get(app.url("/account/mfa")).send().await.unwrap();
    assert!(
        page.text().await.unwrap().contains("data-otp-secret"),
        "enrol again"
    );
}

#[tokio::test]
async fn the_payment_scope_needs_mfa_and_lapses_on_refresh() {
    let app = spawn().await;
    let alice = signed_in(&app, "alice").await;
    let scope = [("scope", "openid offline_access payment")];
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &scope);
    let plain = tokens_for(&app, &alice, &url, &verifier).await;
    assert_eq!(plain["scope"], "openid offline_access", "dropped below mfa");

    let (verifier, challenge) = pkce();
    let mut extra = scope.to_vec();
    extra.push(("acr_values", MFA));
    let url = authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &extra);
    let step_up = location(&drive(&app, &alice, &url).await);
    let resume = location(&type_code(&app, &alice, &step_up, &code_at(&app, ALICE_TOTP, 0)).await);
    let tokens = tokens_for(&app, &alice, &app.url(&resume), &verifier).await;
    assert_eq!(tokens["scope"], "openid offline_access payment");

    let rt = tokens["refresh_token"].as_str().unwrap();
    let soon = refresh(&app, rt, &[]).await.json::<Value>().await.unwrap();
    assert_eq!(soon["scope"], "openid offline_access payment");
    assert_eq!(
        claims(soon["id_token"].as_str().unwrap())["acr"],
        MFA,
        "the level kept"
    );
    app.clock.advance(301);
    let later = refresh(&app, soon["refresh_token"].as_str().unwrap(), &[])
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(later["scope"], "openid offline_access", "lapsed");
    // The older grant keeps its own level.
    let old = refresh(&app, plain["refresh_token"].as_str().unwrap(), &[])
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(claims(old["id_token"].as_str().unwrap())["acr"], PWD);
}

#[tokio::test]
async fn the_mfa_level_lapses_after_level_max_age_and_a_code_is_asked_again() {
    let app = spawn_with(|c| c.mfa.level_max_age = Lifetime::secs(600)).await;
    let alice = signed_in(&app, "alice").await;
    assert!(accepted(&app, &alice, &code_at(&app, ALICE_TOTP, 0)).await);
    let ask = || {
        let (_, challenge) = pkce();
        authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[("acr_values", MFA)])
    };
    let within = location(&drive(&app, &alice, &ask()).await);
    assert!(within.starts_with(WEB_CALLBACK), "still at mfa: {within}");
    app.clock.advance(599);
    let just = location(&drive(&app, &alice, &ask()).await);
    assert!(just.starts_with(WEB_CALLBACK), "still at mfa: {just}");
    app.clock.advance(2);
    let after = location(&drive(&app, &alice, &ask()).await);
    assert!(
        after.starts_with("/login/otp?request="),
        "asked again: {after}"
    );
}

#[tokio::test]
async fn discovery_lists_both_levels_and_the_claims_parameter() {
    let app = TestApp::spawn().await;
    let metadata = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        metadata["acr_values_supported"],
        serde_json::json!([PWD, MFA])
    );
    assert_eq!(metadata["claims_parameter_supported"], true);
}

#[tokio::test]
async fn renamed_levels_are_what_clients_send_and_tokens_say() {
    const SILVER: &str = "urn:example:silver";
    const GOLD: &str = "urn:example:gold";
    let app = spawn_with(|c| {
        c.mfa.acr_names.pwd = SILVER.into();
        c.mfa.acr_names.mfa = GOLD.into();
        c.mfa.scope_levels = BTreeMap::from([("payment".to_owned(), GOLD.to_owned())]);
    })
    .await;
    let metadata = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        metadata["acr_values_supported"],
        serde_json::json!([SILVER, GOLD])
    );

    let alice = signed_in(&app, "alice").await;
    // The built-in name is not one of ours any more.
    let (_, challenge) = pkce();
    let builtin = format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":["{MFA}"]}}}}}}"#);
    let url = authorize_url(&app, WEB, WEB_CALLBACK, &challenge, &[("claims", &builtin)]);
    let refused = query_of(&location(&alice.get(&url).send().await.unwrap()));
    assert_eq!(refused["error"], "unmet_authentication_requirements");

    let (verifier, challenge) = pkce();
    let url = authorize_url(
        &app,
        WEB,
        WEB_CALLBACK,
        &challenge,
        &[("acr_values", GOLD), ("scope", "openid offline_access")],
    );
    let step_up = location(&drive(&app, &alice, &url).await);
    assert!(step_up.starts_with("/login/otp?request="), "{step_up}");
    let typed = type_code(&app, &alice, &step_up, &code_at(&app, ALICE_TOTP, 0)).await;
    let tokens = tokens_for(&app, &alice, &app.url(&location(&typed)), &verifier).await;
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["acr"], GOLD);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["acr"], GOLD);
    assert_eq!(introspect(&app, access).await["acr"], GOLD);
    // A refresh token's row keeps the built-in name; introspection says ours.
    let seen: Value = app
        .http
        .post(app.url("/introspect"))
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[("token", tokens["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["active"], true);
    assert_eq!(seen["acr"], GOLD);
}
