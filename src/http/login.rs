//! `/login`: the password sign-in page (checklist §3.6). GET shows the form, naming the
//! application when an authorization request is waiting (`?request=…`, an internal id —
//! never a URL to go to); POST checks CSRF, then signs in through `signin::with_password`
//! and answers 303 (never 307/308, RFC 9700 §4.12) with a new session cookie, back to
//! the waiting request or to the account page.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::authorize::{browser, is_request_id, request_id, see_other};
use super::cookies::Cookies;
use super::{csrf, page, AppState};
use crate::authorization::{self, Waiting};
use crate::error::AppError;
use crate::people::signin::{self, Attempt, Outcome};

/// Where a signed-in person lands when no application is waiting.
pub const HOME: &str = "/account";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    request_id: Option<&'a str>,
    client_name: Option<&'a str>,
    providers: &'a [Provider],
}

/// A "Continue with …" button: an upstream's id and name.
pub(super) struct Provider {
    id: String,
    name: String,
}

/// The sign-in page's providers, and the origins their forms end at (CSP
/// `form-action`: Chromium checks every hop of the redirect after a form).
pub(super) async fn providers(state: &AppState) -> (Vec<Provider>, Vec<String>) {
    let list = state
        .federation
        .upstreams()
        .iter()
        .map(|u| Provider {
            id: u.config.id.clone(),
            name: u.config.display_name().to_owned(),
        })
        .collect();
    (list, state.federation.form_action_origins().await)
}

/// Missing fields are empty, so that a form without a token is refused as such (403).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    csrf: String,
    username: String,
    password: String,
    request: String,
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let request = request_id(&req);
    let waiting = waiting_for(&req, &state, request.as_deref()).await?;
    let upstreams = providers(&state).await;
    let hint = waiting
        .as_ref()
        .and_then(|w| w.login_hint.clone())
        .unwrap_or_default();
    Ok(render(
        &req,
        &state,
        &hint,
        None,
        request.as_deref(),
        waiting.as_ref(),
        &upstreams,
    ))
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&req, &state, &form.csrf)?;
    let LoginForm {
        username,
        password,
        request,
        ..
    } = form.into_inner();
    let request = Some(request).filter(|r| is_request_id(r));
    let attempt = Attempt {
        username: username.clone(),
        password,
        client: state.proxies.client_of(&req),
        previous_session: Cookies::read(&req, state.cookies.session_name()),
    };
    match signin::with_password(
        &state.db,
        &state.hasher,
        &state.sign_in,
        attempt,
        state.clock.now(),
    )
    .await?
    {
        Outcome::SignedIn(started) => {
            let next = match &request {
                Some(id) => format!("/authorize/resume?request={id}"),
                None => HOME.to_owned(),
            };
            let mut response = see_other(&next);
            set_session_cookie(&state, &mut response, started.cookie_secret);
            Ok(response)
        }
        Outcome::Rejected => {
            let waiting = waiting_for(&req, &state, request.as_deref()).await?;
            let upstreams = providers(&state).await;
            Ok(render(
                &req,
                &state,
                &username,
                Some("Incorrect username or password."),
                request.as_deref(),
                waiting.as_ref(),
                &upstreams,
            ))
        }
        Outcome::Locked { retry_after } => Err(AppError::TooManyAttempts { retry_after }),
    }
}

/// The authorization request this browser started: its application, `login_hint` and
/// redirect URI.
pub(super) async fn waiting_for(
    req: &HttpRequest,
    state: &AppState,
    request: Option<&str>,
) -> Result<Option<Waiting>, AppError> {
    let Some(id) = request.map(str::to_owned) else {
        return Ok(None);
    };
    let (browser, _) = browser(req, state);
    let now = state.clock.now();
    Ok(state
        .db
        .run(move |conn| authorization::waiting(conn, &id, &browser, now))
        .await?)
}

#[allow(clippy::too_many_arguments)]
fn render(
    req: &HttpRequest,
    state: &AppState,
    username: &str,
    error: Option<&str>,
    request_id: Option<&str>,
    waiting: Option<&Waiting>,
    (providers, origins): &(Vec<Provider>, Vec<String>),
) -> HttpResponse {
    let shown: String = username.chars().take(64).collect();
    // A successful sign-in ends, through /authorize/resume, at the client; a provider's
    // button, at the provider.
    let csp = page::Csp::own_forms_then(waiting.map(|w| w.redirect_uri.as_str())).also(origins);
    csrf::form_page(req, state, |csrf| {
        page::render_with(
            StatusCode::OK,
            &LoginPage {
                csrf,
                username: &shown,
                error,
                request_id,
                client_name: waiting.map(|w| w.client_name.as_str()),
                providers,
            },
            &csp,
        )
    })
}

/// Forms are small: anything larger is refused before it is parsed (or hashed).
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(8 * 1024)
        .error_handler(|_, _| AppError::BadRequest("The form could not be read.").into())
}

/// Gives the browser the session's cookie: a new session, or one whose secret changed
/// (a second factor added).
pub(super) fn set_session_cookie(state: &AppState, response: &mut HttpResponse, secret: String) {
    let _ = response.add_cookie(&state.cookies.build(state.cookies.session_name(), secret));
}
