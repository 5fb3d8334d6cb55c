//! `/userinfo` (OpenID Connect Core §5.3) with RFC 6750 bearer tokens: from the
//! `Authorization` header, or a form body on POST (§2.2) — never the query (checklist
//! §1.25), never two at once. Errors are RFC 6750 §3 challenges.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::token::form_params;
use super::AppState;
use crate::oauth::introspect::Verifier;
use crate::oauth::OAuthError;
use crate::oidc::userinfo::{self, Answer};

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, OAuthError> {
    answer(&req, &state, None).await
}

pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let in_body = if body.is_empty() {
        None
    } else {
        form_params(&req, &body)?
            .get("access_token")
            .map(str::to_owned)
    };
    answer(&req, &state, in_body).await
}

async fn answer(
    req: &HttpRequest,
    state: &AppState,
    in_body: Option<String>,
) -> Result<HttpResponse, OAuthError> {
    if req.query_string().contains("access_token") {
        return Err(bearer_error(
            "invalid_request",
            StatusCode::BAD_REQUEST,
            "send the token in the Authorization header",
        ));
    }
    let in_header = match req.headers().get(header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(bearer(value.to_str().unwrap_or("")).ok_or_else(|| {
            bearer_error(
                "invalid_request",
                StatusCode::BAD_REQUEST,
                "the Authorization header is not a Bearer token",
            )
        })?),
    };
    let token = match (in_header, in_body) {
        (Some(_), Some(_)) => {
            // RFC 6750 §2: "MUST NOT use more than one method to transmit the token".
            return Err(bearer_error(
                "invalid_request",
                StatusCode::BAD_REQUEST,
                "send the token once",
            ));
        }
        (Some(t), None) | (None, Some(t)) => t,
        // RFC 6750 §3.1: no credentials, so no error code — just the challenge.
        (None, None) => {
            return Ok(HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, r#"Bearer realm="portcullis""#))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish())
        }
    };
    let keys = state.keys.current();
    let (settings, verified) = (state.tokens.clone(), state.verified.clone());
    let now = state.clock.now();
    let answer = state
        .db
        .run(move |conn| {
            let verifier = Verifier {
                keys: &keys,
                settings: &settings,
                verified: &verified,
            };
            userinfo::answer(conn, &token, &verifier, now)
        })
        .await?;
    match answer {
        Answer::Claims(claims) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(claims)),
        Answer::InvalidToken => Err(bearer_error(
            "invalid_token",
            StatusCode::UNAUTHORIZED,
            "the access token is not valid",
        )),
        Answer::InsufficientScope => Err(bearer_error(
            "insufficient_scope",
            StatusCode::FORBIDDEN,
            "the access token was not issued for the openid scope",
        )),
    }
}

/// `Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1).
fn bearer(value: &str) -> Option<String> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// RFC 6750 §3: the error in the `WWW-Authenticate` challenge and in the body.
fn bearer_error(error: &'static str, status: StatusCode, description: &str) -> OAuthError {
    let mut e = OAuthError::new(error, status).describe(description);
    e.challenge = Some(format!(
        r#"Bearer realm="portcullis", error="{error}", error_description="{description}""#
    ));
    e
}
