//! `/account`: who is signed in, and local sign-out. (Devices and sessions arrive with
//! the token-lifecycle issue.)

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::cookies::Cookies;
use super::{csrf, page, AppState};
use crate::error::AppError;
use crate::store::users;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    username: &'a str,
    csrf: &'a str,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignOutForm {
    csrf: String,
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some(secret) = Cookies::read(&req, state.cookies.session_name()) else {
        return Ok(to_login());
    };
    let now = crate::clock::now();
    let user = state
        .db
        .run(
            move |conn| match crate::sessions::current(conn, &secret, now)? {
                Some(session) => users::get(conn, &session.user_id),
                None => Ok(None),
            },
        )
        .await?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        return Ok(to_login());
    };
    Ok(csrf::form_page(&req, &state, |csrf| {
        page::render(
            StatusCode::OK,
            &AccountPage {
                username: &user.username,
                csrf,
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
    if let Some(secret) = Cookies::read(&req, state.cookies.session_name()) {
        let now = crate::clock::now();
        state
            .db
            .run(move |conn| crate::sessions::end(conn, &secret, now))
            .await?;
    }
    let mut response = to_login();
    let _ = response.add_cookie(&state.cookies.removal(state.cookies.session_name()));
    Ok(response)
}

fn to_login() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
