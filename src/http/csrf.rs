//! CSRF protection for every form (RFC 6749 §10.12, checklist §1.20): a random cookie
//! binds the browser; the form carries HMAC(instance key, that cookie). A POST needs
//! both to match, and one that the browser says came from elsewhere — another origin,
//! another port of the same site, or an opaque `null` origin — is refused whatever the
//! token (the token alone cannot stop a page that planted its own binding cookie: cookies
//! are shared by every port of a host and, without `__Host-`, by sibling subdomains).

use actix_web::cookie::Cookie;
use actix_web::{HttpRequest, HttpResponse};

use super::cookies::Cookies;
use super::AppState;
use crate::crypto::token;
use crate::error::AppError;

const PURPOSE: &str = "csrf";

/// A page with a form: `render` gets the CSRF token to embed, and the binding cookie is
/// set when the browser has none yet.
pub fn form_page(
    req: &HttpRequest,
    state: &AppState,
    render: impl FnOnce(&str) -> HttpResponse,
) -> HttpResponse {
    let (binding, new_cookie) = binding(req, state);
    let csrf = token::b64url(&state.master.mac(PURPOSE, binding.as_bytes()));
    let mut response = render(&csrf);
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// The browser's binding value, and the cookie to set when it has none yet. Pending
/// authorization requests are bound to it too.
pub fn binding(req: &HttpRequest, state: &AppState) -> (String, Option<Cookie<'static>>) {
    match Cookies::read(req, state.cookies.csrf_name()) {
        Some(existing) => (existing, None),
        None => {
            let fresh = token::random_secret();
            let cookie = state
                .cookies
                .build(state.cookies.csrf_name(), fresh.clone());
            (fresh, Some(cookie))
        }
    }
}

/// Checks a form POST: from one of our pages (when the browser says), cookie present,
/// token valid.
pub fn verify(req: &HttpRequest, state: &AppState, form_token: &str) -> Result<(), AppError> {
    let refused = AppError::Forbidden("This form has expired or did not come from this site. Go back, reload the page and try again.");
    if !from_our_pages(req, &state.issuer_origin) {
        return Err(refused);
    }
    let binding = Cookies::read(req, state.cookies.csrf_name()).ok_or_else(|| refused.clone())?;
    let presented = base64_decode(form_token).ok_or_else(|| refused.clone())?;
    if state
        .master
        .verify_mac(PURPOSE, binding.as_bytes(), &presented)
    {
        Ok(())
    } else {
        Err(refused)
    }
}

/// What the browser says of where a POST comes from, when it says anything.
///
/// - `Sec-Fetch-Site` (Fetch Metadata) must be `same-origin`: `same-site` is another port
///   or subdomain of our site, `cross-site` anyone, `none` no page at all.
/// - `Origin` must be the issuer's origin exactly. Browsers send `null` from sandboxed
///   frames, `data:` documents, after a cross-origin redirect, and from pages whose
///   referrer policy is `no-referrer` — ours is `same-origin` (`http/page.rs`), so our own
///   forms send the real origin and `null` is never ours.
///
/// Without either header the caller is not a browser (or one too old to send them), and
/// the token alone decides.
fn from_our_pages(req: &HttpRequest, issuer_origin: &str) -> bool {
    let says = |name: &str, expected: &str| {
        req.headers()
            .get(name)
            .is_none_or(|value| value.as_bytes() == expected.as_bytes())
    };
    says("sec-fetch-site", "same-origin") && says("origin", issuer_origin)
}

fn base64_decode(value: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .ok()
}
