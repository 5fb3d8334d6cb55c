//! `OAuthError`: protocol errors of RFC 6749 §5.2 (token endpoint) and §4.1.2.1
//! (authorization endpoint), rendered as JSON with `Cache-Control: no-store`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{error}")]
pub struct OAuthError {
    /// The RFC error code, e.g. `invalid_request`.
    pub error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    #[serde(skip)]
    pub status: StatusCode,
}

impl OAuthError {
    pub fn new(error: &'static str, status: StatusCode) -> Self {
        OAuthError {
            error,
            error_description: None,
            status,
        }
    }

    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.error_description = Some(description.into());
        self
    }

    /// RFC 6749 §5.2.
    pub fn unsupported_grant_type() -> Self {
        Self::new("unsupported_grant_type", StatusCode::BAD_REQUEST)
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            // RFC 6749 §5.1: token responses, errors included, are not cached.
            .insert_header(("cache-control", "no-store"))
            .insert_header(("pragma", "no-cache"))
            .json(self)
    }
}
