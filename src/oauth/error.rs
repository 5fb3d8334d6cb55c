//! `OAuthError`: protocol errors of RFC 6749 §5.2 (token endpoint), RFC 6750 §3
//! (protected resources) and RFC 7662/7009, rendered as JSON with `Cache-Control:
//! no-store`. Authorization-endpoint errors are redirected (`oauth::authorize`).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::store::StoreError;

#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{error}")]
pub struct OAuthError {
    /// The RFC error code, e.g. `invalid_request`.
    pub error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    #[serde(skip)]
    pub status: StatusCode,
    /// The `WWW-Authenticate` challenge, when the error is about authentication.
    #[serde(skip)]
    pub challenge: Option<String>,
}

impl OAuthError {
    pub fn new(error: &'static str, status: StatusCode) -> Self {
        OAuthError {
            error,
            error_description: None,
            status,
            challenge: None,
        }
    }

    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.error_description = Some(description.into());
        self
    }

    pub fn invalid_request(description: &str) -> Self {
        Self::new("invalid_request", StatusCode::BAD_REQUEST).describe(description)
    }

    pub fn invalid_grant(description: &str) -> Self {
        Self::new("invalid_grant", StatusCode::BAD_REQUEST).describe(description)
    }

    /// RFC 8707 §2: the resource is malformed, unknown, or not this client's to ask for.
    pub fn invalid_target(description: &str) -> Self {
        Self::new("invalid_target", StatusCode::BAD_REQUEST).describe(description)
    }

    /// RFC 6749 §5.2: 401, and `WWW-Authenticate` naming the scheme the client used.
    pub fn invalid_client(used_basic: bool) -> Self {
        let mut e = Self::new("invalid_client", StatusCode::UNAUTHORIZED)
            .describe("client authentication failed");
        if used_basic {
            e.challenge = Some(r#"Basic realm="portcullis""#.into());
        }
        e
    }

    /// RFC 6749 §5.2.
    pub fn unsupported_grant_type() -> Self {
        Self::new("unsupported_grant_type", StatusCode::BAD_REQUEST)
    }

    /// Our failure, not the client's: the cause is logged, never sent.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new("server_error", StatusCode::SERVICE_UNAVAILABLE)
            .describe("the server cannot answer right now; try again")
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        OAuthError::unavailable(&e)
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        // RFC 6749 §5.1: token responses, errors included, are not cached.
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if let Some(challenge) = &self.challenge {
            response.insert_header((header::WWW_AUTHENTICATE, challenge.as_str()));
        }
        response.json(self)
    }
}
