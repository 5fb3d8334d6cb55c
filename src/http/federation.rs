//! `/federation/{upstream}/start` and `/federation/{upstream}/callback` (#13): "Continue
//! with …" on the sign-in page posts (CSRF-checked) to `start`, which stores the state
//! and sends the browser to the upstream with 303; the upstream sends it back to
//! `callback`, which finishes there (`federation::Federation::finish`), signs the person
//! in (`people::federated::sign_in`) and answers 303 to the waiting request. Whatever
//! fails, the person gets a page that names the provider and offers to try again, and
//! the audit log a reason; nothing is written but that.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use super::account::signed_in;
use super::authorize::{is_request_id, see_other};
use super::cookies::Cookies;
use super::login::{set_session_cookie, HOME};
use super::providers;
use super::{csrf, page, AppState};
use crate::error::AppError;
use crate::federation::{Callback, FederationError, Purpose, Upstream};
use crate::people::federated::{self, Refusal, SessionTerms};
use crate::store::audit;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StartForm {
    csrf: String,
    request: String,
}

#[derive(Template)]
#[template(path = "federation_error.html")]
struct FailedPage<'a> {
    provider: &'a str,
    message: &'a str,
    retry: &'a str,
}

pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    upstream: web::Path<String>,
    form: web::Form<StartForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&req, &state, &form.csrf)?;
    let request = Some(form.into_inner().request).filter(|r| is_request_id(r));
    let Some(up) = state.federation.get(&upstream) else {
        return Err(AppError::NotFound);
    };
    let (binding, _) = csrf::binding(&req, &state);
    let begun = state
        .federation
        .begin(
            &state.db,
            &state.master,
            &up.config.id,
            &binding,
            Purpose::SignIn {
                request_id: request.clone(),
            },
            state.clock.now(),
        )
        .await;
    match begun {
        Ok(url) => Ok(see_other(url.as_str())),
        Err(e) => failed(&state, &up, request.as_deref(), e).await,
    }
}

/// A callback whose query cannot be read (a parameter twice, say) gets our page.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|_, _| {
        AppError::BadRequest("This answer from the provider could not be read.").into()
    })
}

pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    upstream: web::Path<String>,
    query: web::Query<Callback>,
) -> Result<HttpResponse, AppError> {
    let Some(up) = state.federation.get(&upstream) else {
        return Err(AppError::NotFound);
    };
    let name = up.config.display_name();
    let (binding, _) = csrf::binding(&req, &state);
    let now = state.clock.now();
    let finished = match state
        .federation
        .finish(
            &state.db,
            &state.master,
            &up.config.id,
            &binding,
            query.into_inner(),
            now,
        )
        .await
    {
        Ok(finished) => finished,
        Err(f) => return failed(&state, &up, f.request_id.as_deref(), f.error).await,
    };
    let request = match &finished.purpose {
        Purpose::Link { user_id } => {
            let user_id = user_id.clone();
            return linked(&req, &state, user_id, finished, now).await;
        }
        Purpose::SignIn { request_id } => request_id.clone(),
    };
    let client = state.proxies.client_of(&req);
    let previous = Cookies::read(&req, state.cookies.session_name());
    let (lifetime, idle) = (
        state.sign_in.session_lifetime.as_secs(),
        state.sign_in.session_idle_timeout.as_secs(),
    );
    let signed_in = state
        .db
        .run(move |conn| {
            let terms = SessionTerms {
                client: &client,
                previous: previous.as_deref(),
                lifetime,
                idle,
            };
            federated::sign_in(conn, &finished.upstream, &finished.asserted, &terms, now)
        })
        .await?;
    match signed_in {
        Ok(started) => {
            let next = match &request {
                Some(id) => format!("/authorize/resume?request={id}"),
                None => HOME.to_owned(),
            };
            let mut response = see_other(&next);
            set_session_cookie(&state, &mut response, started.cookie_secret);
            tracing::info!(session = %started.session.id, upstream = %up.config.id, "signed in");
            Ok(response)
        }
        Err(refusal) => Ok(refused(name, request.as_deref(), refusal)),
    }
}

/// Finishes linking the provider to the signed-in person who started it.
async fn linked(
    req: &HttpRequest,
    state: &AppState,
    user_id: String,
    finished: crate::federation::Finished,
    now: i64,
) -> Result<HttpResponse, AppError> {
    let still_them = signed_in(req, state)
        .await?
        .is_some_and(|(_, user)| user.id == user_id);
    if !still_them {
        let signed_out = FederationError::BadState("linking: no longer signed in as who started");
        return failed(state, &finished.upstream, None, signed_out).await;
    }
    let done = state
        .db
        .run(move |conn| {
            federated::link_signed_in(
                conn,
                &user_id,
                &finished.upstream.config,
                &finished.asserted,
                now,
            )
        })
        .await?;
    match done {
        Ok(()) => Ok(see_other(providers::PAGE)),
        Err(refusal) => {
            providers::page_for(
                req,
                state,
                StatusCode::CONFLICT,
                Some(providers::message(refusal)),
            )
            .await
        }
    }
}

/// The page for a sign-in that failed before a person was known; the audit records why.
async fn failed(
    state: &AppState,
    up: &Upstream,
    request: Option<&str>,
    error: FederationError,
) -> Result<HttpResponse, AppError> {
    let provider = up.config.display_name();
    tracing::warn!(upstream = %up.config.id, error = %error, "federated sign-in failed");
    let reason = error.reason();
    let upstream = up.config.id.clone();
    state
        .db
        .run(move |conn| {
            audit::record(
                conn,
                "federation.failed",
                None,
                None,
                json!({ "upstream": upstream, "reason": reason }),
            )
        })
        .await?;
    let (status, message) = match error {
        FederationError::Unknown => return Err(AppError::NotFound),
        FederationError::BadState(_) => (
            StatusCode::BAD_REQUEST,
            "This sign-in has expired or was started in another browser.",
        ),
        FederationError::Denied(_) => (
            StatusCode::FORBIDDEN,
            "The sign-in was cancelled or refused there.",
        ),
        FederationError::Unreachable(_) => {
            (StatusCode::BAD_GATEWAY, "It cannot be reached right now.")
        }
        FederationError::Rejected(_) => {
            (StatusCode::BAD_GATEWAY, "Its answer could not be verified.")
        }
        FederationError::NotAllowed(_) => {
            (StatusCode::FORBIDDEN, "This account may not sign in here.")
        }
        FederationError::Store(e) => return Err(e.into()),
    };
    Ok(page_for(status, provider, message, request))
}

fn refused(provider: &str, request: Option<&str>, refusal: Refusal) -> HttpResponse {
    let message = match refusal {
        Refusal::Disabled => "This account is disabled.",
        Refusal::NotProvisioned => "There is no account here for you yet. Ask an administrator.",
        Refusal::EmailTaken => {
            "An account with this email address already exists. Sign in with your password, then link this provider from your account page."
        }
    };
    page_for(StatusCode::FORBIDDEN, provider, message, request)
}

fn page_for(
    status: StatusCode,
    provider: &str,
    message: &str,
    request: Option<&str>,
) -> HttpResponse {
    let retry = match request {
        Some(id) => format!("/login?request={id}"),
        None => "/login".to_owned(),
    };
    page::render(
        status,
        &FailedPage {
            provider,
            message,
            retry: &retry,
        },
    )
}
