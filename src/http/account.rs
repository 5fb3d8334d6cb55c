//! `/account`: who is signed in, and local sign-out (devices: `http/devices.rs`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::authorize::see_other;
use super::cookies::Cookies;
use super::{csrf, page, AppState};
use crate::error::AppError;
use crate::people::sessions::{self, Session};
use crate::store::users::UserRow;
use crate::store::{users, DbConnection, StoreError};

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    username: &'a str,
    csrf: &'a str,
    has_providers: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignOutForm {
    csrf: String,
}

/// The live session behind the browser's cookie and its (enabled) person.
pub async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<(Session, UserRow)>, AppError> {
    let Some(secret) = Cookies::read(req, state.cookies.session_name()) else {
        return Ok(None);
    };
    let now = state.clock.now();
    let found = state
        .db
        .run(move |conn| match sessions::current(conn, &secret, now)? {
            Some(session) => Ok(users::get(conn, &session.user_id)?.map(|u| (session, u))),
            None => Ok::<_, StoreError>(None),
        })
        .await?;
    Ok(found.filter(|(_, u)| !u.disabled))
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some((_, user)) = signed_in(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    Ok(csrf::form_page(&req, &state, |csrf| {
        page::render(
            StatusCode::OK,
            &AccountPage {
                username: &user.username,
                csrf,
                has_providers: !state.federation.upstreams().is_empty(),
            },
        )
    }))
}

pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<SignOutForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&req, &state, &form.csrf)?;
    end_and_forget(&req, &state, sessions::end).await
}

/// Runs `end` with the browser's session secret (when it has one), then sends the
/// browser to the sign-in page without its session cookie.
pub async fn end_and_forget<F>(
    req: &HttpRequest,
    state: &AppState,
    end: F,
) -> Result<HttpResponse, AppError>
where
    F: FnOnce(&mut DbConnection, &str, i64) -> Result<(), StoreError> + Send + 'static,
{
    if let Some(secret) = Cookies::read(req, state.cookies.session_name()) {
        let now = state.clock.now();
        state.db.run(move |conn| end(conn, &secret, now)).await?;
    }
    let mut response = see_other("/login");
    let _ = response.add_cookie(&state.cookies.removal(state.cookies.session_name()));
    Ok(response)
}
