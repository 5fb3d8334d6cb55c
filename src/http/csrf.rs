//! CSRF protection for every form (RFC 6749 §10.12, checklist §1.20): a random cookie
//! binds the browser; the form carries HMAC(instance key, that cookie). A POST needs
//! both to match, and a foreign `Origin` is refused whatever the token.

use actix_web::HttpRequest;

use super::cookies::Cookies;
use super::AppState;
use crate::crypto::token;
use crate::error::AppError;

const PURPOSE: &str = "csrf";

/// The browser's binding cookie value: the existing one, or a new one the caller must set.
pub fn binding(req: &HttpRequest, cookies: Cookies) -> (String, bool) {
    match Cookies::read(req, cookies.csrf_name()) {
        Some(value) => (value, false),
        None => (token::random_secret(), true),
    }
}

/// The token to put in the form.
pub fn token_for(state: &AppState, binding: &str) -> String {
    token::b64url(&state.master.mac(PURPOSE, binding.as_bytes()))
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
