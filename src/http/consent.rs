//! `/consent`: the scopes an application asks for, in plain words, with Allow and Deny
//! (OpenID Connect Core §3.1.2.4). A real POST with a CSRF token is needed (RFC 6749
//! §10.12, checklist §1.20); the answer continues the pending request.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::authorize::{browser, is_request_id, request_id, respond};
use super::{csrf, page, AppState};
use crate::authorization;
use crate::error::AppError;

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    csrf: &'a str,
    request_id: &'a str,
    client_name: &'a str,
    scopes: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ConsentForm {
    csrf: String,
    request: String,
    decision: String,
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let id = request_id(&req).ok_or(AppError::BadRequest("The request could not be read."))?;
    let (browser, new_cookie) = browser(&req, &state);
    let now = state.clock.now();
    let view = state
        .db
        .run(move |conn| authorization::consent_view(conn, &id, &browser, now))
        .await?;
    let view = match view {
        Ok(view) => view,
        Err(outcome) => return respond(&state, outcome, new_cookie),
    };
    // Allow or Deny ends, through /authorize/resume, at the client.
    let csp = page::Csp::own_forms_then(Some(&view.redirect_uri));
    Ok(csrf::form_page(&req, &state, |csrf| {
        page::render_with(
            StatusCode::OK,
            &ConsentPage {
                csrf,
                request_id: &view.request_id,
                client_name: &view.client_name,
                scopes: view.scopes.iter().map(|s| describe(s)).collect(),
            },
            &csp,
        )
    }))
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ConsentForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&req, &state, &form.csrf)?;
    let ConsentForm {
        request, decision, ..
    } = form.into_inner();
    let allow = match decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => return Err(AppError::BadRequest("Choose Allow or Deny.")),
    };
    if !is_request_id(&request) {
        return Err(AppError::BadRequest("The request could not be read."));
    }
    let (browser, new_cookie) = browser(&req, &state);
    let flow = state.flow.clone();
    let now = state.clock.now();
    let outcome = state
        .db
        .run(move |conn| authorization::answer_consent(conn, &request, &browser, allow, &flow, now))
        .await?;
    respond(&state, outcome, new_cookie)
}

/// A scope in plain words (OpenID Connect Core §5.4, §11).
fn describe(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are when you sign in".into(),
        "profile" => "See your name and username".into(),
        "email" => "See your email address".into(),
        "offline_access" => "Keep access while you are not using it".into(),
        other => format!("Use the permission “{other}”"),
    }
}
