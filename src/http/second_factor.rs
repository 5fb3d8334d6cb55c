//! `/login/otp`: the step-up page (#12). A signed-in person whose application asked for
//! more than their session holds types a code from their authenticator app (or a
//! recovery code) — never the password again. POST checks CSRF, then
//! `mfa::step_up`, and answers 303 back to the waiting request.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::account::signed_in;
use super::authorize::{is_request_id, request_id, see_other};
use super::login::{set_session_cookie, waiting_for, HOME};
use super::mfa::{code_check, WRONG_CODE};
use super::{csrf, page, AppState};
use crate::authorization::Waiting;
use crate::error::AppError;
use crate::people::mfa::{self, Check};

#[derive(Template)]
#[template(path = "login_otp.html")]
struct CodePage<'a> {
    csrf: &'a str,
    error: Option<&'a str>,
    request_id: Option<&'a str>,
    client_name: Option<&'a str>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    code: String,
    request: String,
}

/// Without a session there is no first factor to add to: sign in first.
fn sign_in_first(request: Option<&str>) -> HttpResponse {
    match request {
        Some(id) => see_other(&format!("/login?request={id}")),
        None => see_other("/login"),
    }
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let request = request_id(&req);
    if signed_in(&req, &state).await?.is_none() {
        return Ok(sign_in_first(request.as_deref()));
    }
    let waiting = waiting_for(&req, &state, request.as_deref()).await?;
    Ok(render(
        &req,
        &state,
        None,
        request.as_deref(),
        waiting.as_ref(),
    ))
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&req, &state, &form.csrf)?;
    let CodeForm { code, request, .. } = form.into_inner();
    let request = Some(request).filter(|r| is_request_id(r));
    let Some((session, _)) = signed_in(&req, &state).await? else {
        return Ok(sign_in_first(request.as_deref()));
    };
    let (master, limit, now) = code_check(&state);
    let (check, cookie_secret) = state
        .db
        .run(move |conn| mfa::step_up(conn, &master, limit, &session, &code, now))
        .await?;
    match check {
        Check::Accepted(_) => {
            let mut response = see_other(&match &request {
                Some(id) => format!("/authorize/resume?request={id}"),
                None => HOME.to_owned(),
            });
            if let Some(secret) = cookie_secret {
                set_session_cookie(&state, &mut response, secret);
            }
            Ok(response)
        }
        Check::Rejected => {
            let waiting = waiting_for(&req, &state, request.as_deref()).await?;
            Ok(render(
                &req,
                &state,
                Some(WRONG_CODE),
                request.as_deref(),
                waiting.as_ref(),
            ))
        }
        Check::Locked { retry_after } => Err(AppError::TooManyAttempts { retry_after }),
    }
}

fn render(
    req: &HttpRequest,
    state: &AppState,
    error: Option<&str>,
    request_id: Option<&str>,
    waiting: Option<&Waiting>,
) -> HttpResponse {
    // Success ends, through /authorize/resume, at the client.
    let csp = page::Csp::own_forms_then(waiting.map(|w| w.redirect_uri.as_str()));
    csrf::form_page(req, state, |csrf| {
        page::render_with(
            StatusCode::OK,
            &CodePage {
                csrf,
                error,
                request_id,
                client_name: waiting.map(|w| w.client_name.as_str()),
            },
            &csp,
        )
    })
}
