//! `/authorize` (RFC 6749 §3.1, OpenID Connect Core §3.1.2). The code flow with PKCE
//! lands with its own issue; until then every request gets a page that says so and
//! nothing is redirected (RFC 6749 §4.1.2.1: a request whose client and redirect URI
//! have not been validated must not redirect).

use crate::error::AppError;

pub async fn authorize() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::BadRequest(
        "This server does not accept sign-in requests yet: the authorization code flow is not enabled in this version.",
    ))
}
