//! `/token` (RFC 6749 §3.2). Grants land with their own issues; until then every
//! request is answered `unsupported_grant_type` (RFC 6749 §5.2), never cached.

use crate::oauth::OAuthError;

pub async fn token() -> Result<actix_web::HttpResponse, OAuthError> {
    Err(OAuthError::unsupported_grant_type())
}
