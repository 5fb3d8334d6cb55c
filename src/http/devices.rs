//! `/account/devices`: the person's signed-in devices, "sign out this device" and "sign
//! out everywhere" (issue #4). Signed-in only; every form carries a CSRF token.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::account::end_and_forget;
use super::authorize::see_other;
use super::cookies::Cookies;
use super::{csrf, page, AppState};
use crate::error::AppError;
use crate::people::devices;

struct DeviceView {
    id: String,
    application: String,
    user_agent: String,
    ip: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage<'a> {
    csrf: &'a str,
    username: &'a str,
    devices: Vec<DeviceView>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DeviceForm {
    csrf: String,
    device: String,
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some(secret) = Cookies::read(&req, state.cookies.session_name()) else {
        return Ok(see_other("/login"));
    };
    let now = state.clock.now();
    let Some((user, list)) = state
        .db
        .run(move |conn| devices::list(conn, &secret, now))
        .await?
    else {
        return Ok(see_other("/login"));
    };
    let views = list
        .into_iter()
        .map(|d| DeviceView {
            id: d.id,
            application: d.application,
            user_agent: d.user_agent.chars().take(120).collect(),
            ip: d.ip,
            last_used: chrono::DateTime::from_timestamp(d.last_used_at, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default(),
        })
        .collect();
    Ok(csrf::form_page(&req, &state, |csrf| {
        page::render(
            StatusCode::OK,
            &DevicesPage {
                csrf,
                username: &user.username,
                devices: views,
            },
        )
    }))
}

pub async fn sign_out_device(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<DeviceForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&req, &state, &form.csrf)?;
    let Some(secret) = Cookies::read(&req, state.cookies.session_name()) else {
        return Ok(see_other("/login"));
    };
    let device = form.into_inner().device;
    let now = state.clock.now();
    state
        .db
        .run(move |conn| devices::sign_out_device(conn, &secret, &device, now))
        .await?;
    Ok(see_other("/account/devices"))
}

pub async fn sign_out_everywhere(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<DeviceForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&req, &state, &form.csrf)?;
    end_and_forget(&req, &state, devices::sign_out_everywhere).await
}
