//! A person's second factor as the tests drive it: the pre-enrolled secret, the code an
//! authenticator app would show (from the injectable clock), and the code page.

use super::oidc::{csrf_of, query_of};
use super::TestApp;

/// Alice's authenticator secret (base32), pre-enrolled from the configuration.
pub const ALICE_TOTP: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// Moves the server's clock to ten seconds into a 30-second step, so that a code
/// computed now is judged in the same step however slow the machine.
pub fn mid_step(app: &TestApp) {
    let into = app.clock.now().rem_euclid(30);
    app.clock.advance((40 - into) % 30);
}

/// The code an authenticator app with `secret` shows `offset` seconds from the server's now.
pub fn code_at(app: &TestApp, secret: &str, offset: i64) -> String {
    let bytes = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new()
        .with_secret(bytes.as_bytes().to_vec())
        .build()
        .unwrap();
    totp.generate(u64::try_from(app.clock.now() + offset).unwrap())
        .to_string()
}

/// Posts `code` on the step-up page at `path` (`/login/otp?request=…`, or `/login/otp`).
pub async fn type_code(
    app: &TestApp,
    browser: &reqwest::Client,
    path: &str,
    code: &str,
) -> reqwest::Response {
    let page = browser.get(app.url(path)).send().await.unwrap();
    assert_eq!(page.status(), 200, "the code page");
    let csrf = csrf_of(&page.text().await.unwrap());
    let request = query_of(&app.url(path))
        .remove("request")
        .unwrap_or_default();
    browser
        .post(app.url("/login/otp"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", code),
            ("request", &request),
        ])
        .send()
        .await
        .unwrap()
}
