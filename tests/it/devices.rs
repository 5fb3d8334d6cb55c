//! A person's devices page (issue #4): the sign-ins holding refresh tokens, with the
//! application, browser and address; signing out of one, or everywhere.

use serde_json::Value;

use crate::common::oidc::{
    self, drive, location, pkce, query_of, redeem, refresh, WEB, WEB_CALLBACK,
};
use crate::common::TestApp;

/// Signs in through `web` with offline_access in `browser` (with its user agent).
async fn sign_in(app: &TestApp, browser: &reqwest::Client) -> Value {
    let (verifier, challenge) = pkce();
    let url = oidc::authorize_url(
        app,
        WEB,
        WEB_CALLBACK,
        &challenge,
        &[("scope", "openid offline_access")],
    );
    let to = location(&drive(app, browser, &url).await);
    redeem(app, &query_of(&to)["code"], &verifier)
        .await
        .json()
        .await
        .unwrap()
}

fn browser_named(agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .user_agent(agent)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn devices_are_listed_and_can_be_signed_out_one_by_one_or_all_at_once() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let laptop = browser_named("Laptop Firefox");
    let phone = browser_named("Phone Safari");
    let on_laptop = sign_in(&app, &laptop).await;
    let on_phone = sign_in(&app, &phone).await;

    let page = laptop
        .get(app.url("/account/devices"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Web App")
            && html.contains("Laptop Firefox")
            && html.contains("Phone Safari"),
        "{html}"
    );
    assert!(html.contains("127.0.0.1"));

    // Sign out the phone from the laptop.
    let phone_grant = {
        let start = html.find("Phone Safari").unwrap();
        let from = start
            + html[start..].find(r#"name="device" value=""#).unwrap()
            + r#"name="device" value=""#.len();
        html[from..from + html[from..].find('"').unwrap()].to_owned()
    };
    let csrf = oidc::csrf_of(&html);
    let forged = laptop
        .post(app.url("/account/devices/sign-out"))
        .form(&[("device", phone_grant.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let done = laptop
        .post(app.url("/account/devices/sign-out"))
        .form(&[("csrf", csrf.as_str()), ("device", phone_grant.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&done), "/account/devices");
    let rt = |t: &Value| t["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        refresh(&app, &rt(&on_phone), &[]).await.status(),
        400,
        "the phone is signed out"
    );
    assert_eq!(
        refresh(&app, &rt(&on_laptop), &[]).await.status(),
        200,
        "the laptop is not"
    );

    // Everywhere: the laptop's tokens and its session end too.
    let html = laptop
        .get(app.url("/account/devices"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("Phone Safari"));
    let csrf = oidc::csrf_of(&html);
    let everywhere = laptop
        .post(app.url("/account/devices/sign-out-everywhere"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&everywhere), "/login");
    let gone = laptop
        .get(app.url("/account/devices"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&gone), "/login");
    let (_, challenge) = pkce();
    let again = laptop
        .get(oidc::authorize_url(
            &app,
            WEB,
            WEB_CALLBACK,
            &challenge,
            &[("prompt", "none")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(query_of(&location(&again))["error"], "login_required");
}
