//! The relying-party side of the code flow, as a browser and an application would drive
//! it: registered test clients, a cookie-keeping browser, PKCE, and the sign-in and
//! consent forms submitted like a person would (CSRF token read from the HTML).

use portcullis::config::{ClientConfig, Secret, UserConfig};
use reqwest::header::LOCATION;
use url::Url;

use super::TestApp;

pub const PASSWORD: &str = "correct horse battery staple";
pub const WEB_SECRET: &str = "web-client-secret-0123456789abcdef";
/// Confidential, `client_secret_basic`, asks for consent.
pub const WEB: &str = "web";
pub const WEB_CALLBACK: &str = "https://web.test/callback";
pub const WEB_SIGNED_OUT: &str = "https://web.test/signed-out";
/// Public SPA with a loopback redirect (any port, RFC 8252 §7.3).
pub const SPA: &str = "spa";
pub const SPA_CALLBACK: &str = "http://127.0.0.1:53412/callback";
/// A resource server: confidential, introspects tokens.
pub const API: &str = "api";
pub const API_SECRET: &str = "api-secret-0123456789abcdef0123456789";
/// First-party, `client_secret_post`, no consent page.
pub const FIRST: &str = "first-party";
pub const FIRST_CALLBACK: &str = "https://first.test/cb";

/// The payload of a JWT, unverified (what the test issued, read back).
pub fn claims(jwt: &str) -> serde_json::Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Alice, and the three clients above.
pub fn with_apps(c: &mut portcullis::Config) {
    c.users = vec![UserConfig {
        username: "alice".into(),
        password: Some(Secret::new(PASSWORD)),
        email: Some("alice@example.test".into()),
        email_verified: true,
        name: Some("Alice Example".into()),
        ..Default::default()
    }];
    c.clients = vec![
        ClientConfig {
            client_id: WEB.into(),
            client_name: Some("Web App".into()),
            client_secret: Some(Secret::new(WEB_SECRET)),
            redirect_uris: vec![WEB_CALLBACK.into()],
            post_logout_redirect_uris: vec![WEB_SIGNED_OUT.into()],
            ..Default::default()
        },
        ClientConfig {
            client_id: SPA.into(),
            client_name: Some("Photo SPA".into()),
            public: true,
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            allowed_origins: vec!["https://spa.test".into()],
            ..Default::default()
        },
        ClientConfig {
            client_id: FIRST.into(),
            client_secret: Some(Secret::new(WEB_SECRET)),
            token_endpoint_auth_method: Some("client_secret_post".into()),
            redirect_uris: vec![FIRST_CALLBACK.into()],
            skip_consent: true,
            ..Default::default()
        },
        ClientConfig {
            client_id: API.into(),
            client_secret: Some(Secret::new(API_SECRET)),
            grant_types: Some(vec!["client_credentials".into()]),
            scopes: Some(vec!["images:read".into()]),
            // A resource server: it introspects the tokens of the other clients.
            introspection: portcullis::oauth::client::Introspection::Any,
            ..Default::default()
        },
    ];
}

/// A browser: its own cookie jar, no redirects followed.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The session cookie a response sets (the whole `Set-Cookie` value), if any.
pub fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("portcullis_session=") && !c.starts_with("portcullis_session=;"))
}

/// `/account` from a client that presents only `cookie` (`name=value`).
pub async fn account_with(app: &TestApp, cookie: &str) -> reqwest::Response {
    app.http
        .get(app.url("/account"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// Presses "Continue with {name}" on the sign-in page (for the waiting `request`, if
/// any): our answer to the form, a 303 to the upstream when all is well.
pub async fn press_continue(
    app: &TestApp,
    browser: &reqwest::Client,
    upstream: &str,
    name: &str,
    request: Option<&str>,
) -> reqwest::Response {
    let path = match request {
        Some(id) => format!("/login?request={id}"),
        None => "/login".to_owned(),
    };
    let html = browser
        .get(app.url(&path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("Continue with {name}")), "{html}");
    browser
        .post(app.url(&format!("/federation/{upstream}/start")))
        .form(&[
            ("csrf", csrf_of(&html).as_str()),
            ("request", request.unwrap_or_default()),
        ])
        .send()
        .await
        .unwrap()
}

pub fn csrf_of(html: &str) -> String {
    let start =
        html.find(r#"name="csrf" value=""#).expect("a CSRF field") + r#"name="csrf" value=""#.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// A PKCE pair: (verifier, S256 challenge), RFC 7636 §4.1–4.2.
pub fn pkce() -> (String, String) {
    use portcullis::crypto::token;
    let verifier = token::random_secret();
    let challenge = token::b64url(&token::sha256(verifier.as_bytes()));
    (verifier, challenge)
}

/// An authorization request URL for `client`, with PKCE S256; `extra` are added or,
/// with an empty value, removed.
pub fn authorize_url(
    app: &TestApp,
    client: &str,
    redirect_uri: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut params: Vec<(String, String)> = vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", redirect_uri),
        ("scope", "openid profile email"),
        ("state", "state-123"),
        ("nonce", "nonce-456"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        if !v.is_empty() {
            params.push((k.to_string(), v.to_string()));
        }
    }
    let mut url = Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(&params);
    url.into()
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("a Location header on a {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The query parameters of a URL, as a map.
pub fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Follows our own redirects (sign-in, consent, resume) until the browser is sent to
/// the client or shown a page; signs in as alice and allows consent on the way. Stops
/// at the step-up page (`/login/otp`): the caller types the code. Returns the last
/// response.
pub async fn drive(app: &TestApp, browser: &reqwest::Client, start: &str) -> reqwest::Response {
    let mut response = browser.get(start).send().await.unwrap();
    for _ in 0..8 {
        if response.status() != 303 {
            return response;
        }
        let next = location(&response);
        if !next.starts_with('/') || next.starts_with("/login/otp") {
            return response;
        }
        response = if next.starts_with("/login") {
            let page = browser.get(app.url(&next)).send().await.unwrap();
            let request = query_of(&app.url(&next))
                .remove("request")
                .unwrap_or_default();
            let csrf = csrf_of(&page.text().await.unwrap());
            sign_in_for(app, browser, &csrf, &request).await
        } else if next.starts_with("/consent") {
            answer_consent(app, browser, &next, "allow").await
        } else {
            browser.get(app.url(&next)).send().await.unwrap()
        };
    }
    panic!("too many redirects");
}

/// Posts the sign-in form as alice, for the pending request `request`.
pub async fn sign_in_for(
    app: &TestApp,
    browser: &reqwest::Client,
    csrf: &str,
    request: &str,
) -> reqwest::Response {
    browser
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf),
            ("username", "alice"),
            ("password", PASSWORD),
            ("request", request),
        ])
        .send()
        .await
        .unwrap()
}

/// Opens the consent page at `path` and answers it.
pub async fn answer_consent(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    decision: &str,
) -> reqwest::Response {
    let page = browser.get(app.url(path)).send().await.unwrap();
    assert_eq!(page.status(), 200, "the consent page");
    let request = query_of(&app.url(path)).remove("request").unwrap();
    let csrf = csrf_of(&page.text().await.unwrap());
    browser
        .post(app.url("/consent"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("request", &request),
            ("decision", decision),
        ])
        .send()
        .await
        .unwrap()
}

/// Runs the whole browser part and returns the code sent to the client's callback.
pub async fn code_for(
    app: &TestApp,
    browser: &reqwest::Client,
    client: &str,
    redirect_uri: &str,
    challenge: &str,
) -> String {
    let response = drive(
        app,
        browser,
        &authorize_url(app, client, redirect_uri, challenge, &[]),
    )
    .await;
    assert_eq!(response.status(), 303);
    let to = location(&response);
    assert!(to.starts_with(redirect_uri), "sent to the client: {to}");
    query_of(&to).remove("code").expect("a code")
}

/// `POST /token` for a code of the `web` client (client_secret_basic).
pub async fn redeem(app: &TestApp, code: &str, verifier: &str) -> reqwest::Response {
    app.http
        .post(app.url("/token"))
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", WEB_CALLBACK),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

/// Tokens for `web` with `offline_access` (so with a refresh token), through the whole
/// browser flow.
pub async fn offline_tokens(app: &TestApp) -> serde_json::Value {
    let (verifier, challenge) = pkce();
    let url = authorize_url(
        app,
        WEB,
        WEB_CALLBACK,
        &challenge,
        &[("scope", "openid profile offline_access")],
    );
    let to = location(&drive(app, &browser(), &url).await);
    let code = query_of(&to).remove("code").expect("a code");
    let response = redeem(app, &code, &verifier).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `POST /token` with `grant_type=refresh_token` as `web`.
pub async fn refresh(
    app: &TestApp,
    refresh_token: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    form.extend_from_slice(extra);
    app.http
        .post(app.url("/token"))
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// `POST /introspect` as the resource server; the JSON answer.
pub async fn introspect(app: &TestApp, token: &str) -> serde_json::Value {
    let response = app
        .http
        .post(app.url("/introspect"))
        .basic_auth(API, Some(API_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

/// `POST /revoke` as `client` (HTTP Basic) with `form`.
pub async fn revoke_as(
    app: &TestApp,
    client: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.http
        .post(app.url("/revoke"))
        .basic_auth(client, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap()
}
