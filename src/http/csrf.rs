//! CSRF protection for every form (RFC 6749 §10.12, checklist §1.20): a random cookie
//! binds the browser; the form carries HMAC(instance key, that cookie). A POST needs
//! both to match, and a foreign `Origin` is refused whatever the token.

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

/// Checks a form POST: same-origin (when the browser says), cookie present, token valid.
pub fn verify(req: &HttpRequest, state: &AppState, form_token: &str) -> Result<(), AppError> {
    let refused = AppError::Forbidden("This form has expired or did not come from this site. Go back, reload the page and try again.");
    if let Some(origin) = req.headers().get("origin") {
        if origin.to_str().ok() != Some(state.issuer_origin.as_str()) {
            return Err(refused);
        }
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

fn base64_decode(value: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .ok()
}
