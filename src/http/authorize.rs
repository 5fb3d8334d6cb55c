//! `/authorize` (RFC 6749 §3.1, OpenID Connect Core §3.1.2): GET and POST (§3.1.2.1), and
//! `/authorize/resume`, where the browser comes back after signing in or consenting.
//! The domain work is `authorization::{begin, resume}`; this file maps its outcome to a
//! page, a redirect to sign-in or consent, or the response to the client — with `iss`
//! on every one (RFC 9207 §2), as a query (RFC 6749 §4.1.2) or a form post.

use actix_web::cookie::Cookie;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::cookies::Cookies;
use super::{csrf, page, AppState};
use crate::authorization::{self, Browser, ClientResponse, Outcome};
use crate::error::AppError;
use crate::oauth::authorize::ResponseMode;
use crate::oauth::params::Params;
use crate::oauth::redirect;
use crate::store::login_throttle::Limit;

pub async fn authorize_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    begin(&req, &state, req.query_string().as_bytes().to_vec()).await
}

/// §3.1.2.1: "Authorization Servers MUST support the use of the HTTP GET and POST methods".
pub async fn authorize_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    if !is_form(&req) {
        return Err(AppError::BadRequest("The request could not be read."));
    }
    begin(&req, &state, body.to_vec()).await
}

async fn begin(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    raw: Vec<u8>,
) -> Result<HttpResponse, AppError> {
    let params = Params::parse_lenient(&raw)
        .map_err(|_| AppError::BadRequest("The request could not be read."))?;
    let (browser, new_cookie) = browser(req, state);
    let keys = state.keys.current();
    let settings = state.tokens.clone();
    let flow = state.flow.clone();
    let window = state.sign_in.failure_window.as_secs();
    let pending = Limit {
        max_failures: state.sign_in.max_pending_per_address,
        window,
        lockout: window,
        pace: None,
    };
    let now = state.clock.now();
    let outcome = state
        .db
        .run(move |conn| {
            authorization::begin(
                conn,
                &params,
                &browser,
                &keys,
                &settings.issuer,
                &flow,
                pending,
                now,
            )
        })
        .await?;
    respond(state, outcome, new_cookie)
}

pub async fn resume(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = request_id(&req).ok_or(AppError::BadRequest("The request could not be read."))?;
    let (browser, new_cookie) = browser(&req, &state);
    let flow = state.flow.clone();
    let now = state.clock.now();
    let outcome = state
        .db
        .run(move |conn| authorization::resume(conn, &id, &browser, &flow, now))
        .await?;
    respond(&state, outcome, new_cookie)
}

/// The `request` query parameter: the id of a pending authorization request (random
/// base64url; anything else is never looked up, and never used as a place to go).
pub fn request_id(req: &HttpRequest) -> Option<String> {
    let params = Params::parse(req.query_string().as_bytes()).ok()?;
    params
        .get("request")
        .filter(|id| is_request_id(id))
        .map(str::to_owned)
}

pub fn is_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The browser's cookies, and the binding cookie to set when it has none.
pub fn browser(req: &HttpRequest, state: &AppState) -> (Browser, Option<Cookie<'static>>) {
    let (binding, new_cookie) = csrf::binding(req, state);
    (
        Browser {
            session_secret: Cookies::read(req, state.cookies.session_name()),
            binding,
            address: state.proxies.client_of(req).ip,
        },
        new_cookie,
    )
}

/// Maps an outcome of the flow to the response the browser gets.
pub fn respond(
    state: &AppState,
    outcome: Outcome,
    new_cookie: Option<Cookie<'static>>,
) -> Result<HttpResponse, AppError> {
    let mut response = match outcome {
        Outcome::Page(message) => return Err(AppError::BadRequest(message)),
        Outcome::SignIn { request_id } => see_other(&format!("/login?request={request_id}")),
        Outcome::Consent { request_id } => see_other(&format!("/consent?request={request_id}")),
        Outcome::SecondFactor { request_id } => {
            see_other(&format!("/login/otp?request={request_id}"))
        }
        Outcome::Enrol { request_id } => see_other(&format!("/account/mfa?request={request_id}")),
        Outcome::TooMany { retry_after } => return Err(AppError::TooManyAttempts { retry_after }),
        Outcome::Respond(to_client) => to_client_response(&state.tokens.issuer, to_client),
    };
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    Ok(response)
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPost<'a> {
    action: &'a str,
    fields: &'a [(&'a str, String)],
}

fn to_client_response(issuer: &str, mut to: ClientResponse) -> HttpResponse {
    // RFC 9207 §2: every authorization response, errors included, names the issuer.
    to.params.push(("iss", issuer.to_owned()));
    match to.response_mode {
        ResponseMode::Query => {
            let pairs: Vec<(&str, &str)> =
                to.params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            see_other(&redirect::with_query(&to.redirect_uri, &pairs))
        }
        ResponseMode::FormPost => page::render_with(
            StatusCode::OK,
            &FormPost {
                action: &to.redirect_uri,
                fields: &to.params,
            },
            &page::Csp::form_post_to(&to.redirect_uri),
        ),
    }
}

/// `application/x-www-form-urlencoded`, in any case, with or without parameters.
pub fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}
