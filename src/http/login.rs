//! `/login`: the password sign-in page (checklist §3.6). GET shows the form; POST checks
//! CSRF, then signs in through `signin::with_password` and answers 303 (never 307/308,
//! RFC 9700 §4.12) with a new session cookie.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::cookies::Cookies;
use super::{csrf, page, AppState};
use crate::error::AppError;
use crate::sessions::Client;
use crate::signin::{self, Attempt, Outcome};

/// Where a signed-in person lands when no application is waiting.
pub const HOME: &str = "/account";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    username: &'a str,
    error: Option<&'a str>,
}

/// Missing fields are empty, so that a form without a token is refused as such (403).
#[derive(Deserialize)]
#[serde(default)]
#[derive(Default)]
pub struct LoginForm {
    csrf: String,
    username: String,
    password: String,
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    render(&req, &state, StatusCode::OK, "", None)
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&req, &state, &form.csrf)?;
    let LoginForm {
        username, password, ..
    } = form.into_inner();
    let attempt = Attempt {
        username: username.clone(),
        password,
        client: Client {
            // The TCP peer only: forwarding headers are not trusted (checklist §1.30).
            ip: req.peer_addr().map(|a| a.ip().to_string()),
            user_agent: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        },
        previous_session: Cookies::read(&req, state.cookies.session_name()),
    };
    match signin::with_password(&state.db, &state.hasher, &state.sign_in, attempt).await? {
        Outcome::SignedIn(started) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, HOME))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .cookie(
                state
                    .cookies
                    .build(state.cookies.session_name(), started.cookie_secret),
            )
            .finish()),
        Outcome::Rejected => Ok(render(
            &req,
            &state,
            StatusCode::OK,
            &username,
            Some("Incorrect username or password."),
        )),
        Outcome::Locked { retry_after } => Err(AppError::TooManyAttempts { retry_after }),
    }
}

fn render(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    let shown: String = username.chars().take(64).collect();
    csrf::form_page(req, state, |csrf| {
        page::render(
            status,
            &LoginPage {
                csrf,
                username: &shown,
                error,
            },
        )
    })
}

/// Forms are small: anything larger is refused before it is parsed (or hashed).
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(8 * 1024)
        .error_handler(|_, _| AppError::BadRequest("The form could not be read.").into())
}
