//! `AppError`: errors shown to a person as a page. The internal cause is logged with the
//! request id and never shown. Protocol endpoints use `OAuthError` instead (RFC 6749 §5.2).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::http::page;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// Shown to the person as is: it must not echo raw input.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// Shown as is; for refused forms (CSRF, foreign origin).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("too many attempts")]
    TooManyAttempts { retry_after: i64 },
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        AppError::Unavailable(e.to_string())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, message) = match self {
            AppError::NotFound => ("Page not found", "There is nothing at this address."),
            AppError::BadRequest(m) => ("This request cannot be processed", *m),
            AppError::Forbidden(m) => ("This form cannot be accepted", *m),
            AppError::TooManyAttempts { .. } => (
                "Too many attempts",
                "Sign-in is paused after repeated failures. Please wait a few minutes and try again.",
            ),
            AppError::Unavailable(_) => (
                "Temporarily unavailable",
                "The service cannot answer right now. Please try again in a moment.",
            ),
            AppError::Internal(_) => ("Something went wrong", "The problem has been logged."),
        };
        if matches!(self, AppError::Unavailable(_) | AppError::Internal(_)) {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = page::render(self.status_code(), &ErrorPage { title, message });
        if let AppError::TooManyAttempts { retry_after } = self {
            // RFC 9110 §10.2.3: seconds to wait.
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(*retry_after),
            );
        }
        response
    }
}
