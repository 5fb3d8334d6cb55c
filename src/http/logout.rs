//! `/logout`, the `end_session_endpoint` (RP-Initiated Logout 1.0 §2–3), GET or POST;
//! `/logout/confirm`, the CSRF-protected form of the confirmation page. The decisions
//! are `oidc::logout`'s; a bad request gets a page and never a redirect.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::authorize::{is_form, see_other};
use super::cookies::Cookies;
use super::{csrf, page, AppState};
use crate::error::AppError;
use crate::oauth::params::Params;
use crate::oidc::logout::{self, Decision};

#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage<'a> {
    csrf: &'a str,
    client_name: Option<&'a str>,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a str>,
    state: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "logged_out.html")]
struct LoggedOut;

pub async fn end_session_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let raw = req.query_string().as_bytes().to_vec();
    end_session(&req, &state, &raw).await
}

pub async fn end_session_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    if !body.is_empty() && !is_form(&req) {
        return Err(AppError::BadRequest(
            "The sign-out request could not be read.",
        ));
    }
    end_session(&req, &state, &body).await
}

async fn end_session(
    req: &HttpRequest,
    state: &AppState,
    raw: &[u8],
) -> Result<HttpResponse, AppError> {
    let params = Params::parse(raw)
        .map_err(|_| AppError::BadRequest("The sign-out request could not be read."))?;
    let secret = Cookies::read(req, state.cookies.session_name());
    let keys = state.keys.current();
    let issuer = state.tokens.issuer.clone();
    let now = state.clock.now();
    let decision = state
        .db
        .run(move |conn| logout::request(conn, &params, secret.as_deref(), &keys, &issuer, now))
        .await?;
    finish(req, state, decision)
}

pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let params =
        Params::parse(&body).map_err(|_| AppError::BadRequest("The form could not be read."))?;
    csrf::verify(&req, &state, params.get("csrf").unwrap_or(""))?;
    let secret = Cookies::read(&req, state.cookies.session_name());
    let now = state.clock.now();
    let decision = state
        .db
        .run(move |conn| logout::confirm(conn, &params, secret.as_deref(), now))
        .await?;
    finish(&req, &state, decision)
}

fn finish(
    req: &HttpRequest,
    state: &AppState,
    decision: Decision,
) -> Result<HttpResponse, AppError> {
    match decision {
        Decision::Invalid(message) => Err(AppError::BadRequest(message)),
        Decision::Confirm { client_name, to } => Ok(csrf::form_page(req, state, |csrf| {
            // Signing out ends at the client's registered post-logout URI.
            let csp =
                page::Csp::own_forms_then(to.as_ref().map(|t| t.post_logout_redirect_uri.as_str()));
            page::render_with(
                StatusCode::OK,
                &ConfirmPage {
                    csrf,
                    client_name: client_name.as_deref(),
                    client_id: to.as_ref().map(|t| t.client_id.as_str()),
                    post_logout_redirect_uri: to
                        .as_ref()
                        .map(|t| t.post_logout_redirect_uri.as_str()),
                    state: to.as_ref().and_then(|t| t.state.as_deref()),
                },
                &csp,
            )
        })),
        Decision::Done(to) => {
            let mut response = match to {
                Some(to) => see_other(&to.location()),
                None => page::render(StatusCode::OK, &LoggedOut),
            };
            let _ = response.add_cookie(&state.cookies.removal(state.cookies.session_name()));
            Ok(response)
        }
    }
}
