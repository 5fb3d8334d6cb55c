//! `/account/mfa`: setting up two-step verification (#12). GET shows the secret being
//! enrolled — a QR code rendered here as SVG (no script, no outside service) and the key
//! as text — or, once it is on, forms to renew the recovery codes or turn it off; each of
//! those needs a fresh code. Recovery codes are shown once, in the answer to the POST
//! that made them. `?request=` continues a waiting authorization request afterwards
//! (`[mfa] enroll_on_step_up`).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use qrcode::render::svg;
use qrcode::QrCode;
use serde::Deserialize;

use super::account::signed_in;
use super::authorize::{is_request_id, request_id, see_other};
use super::login::set_session_cookie;
use super::{csrf, page, AppState};
use crate::crypto::MasterKey;
use crate::error::AppError;
use crate::people::mfa::{self, Change, Check, Status};
use crate::store::login_throttle::Limit;

struct EnrolmentView {
    credential_id: String,
    secret: String,
    qr_svg: String,
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage<'a> {
    csrf: &'a str,
    error: Option<&'a str>,
    enrolment: Option<EnrolmentView>,
    recovery_left: i64,
    request_id: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage<'a> {
    codes: &'a [String],
    next: &'a str,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ConfirmForm {
    csrf: String,
    credential: String,
    code: String,
    request: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

/// What a person is told of a code that does not count (wrong, replayed or used up).
pub(super) const WRONG_CODE: &str =
    "That code is not right, or was used already. Wait for the next one and try again.";

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let request = request_id(&req);
    page_for(&req, &state, None, request.as_deref()).await
}

/// The page as it stands for the signed-in person, with `error` above it.
async fn page_for(
    req: &HttpRequest,
    state: &AppState,
    error: Option<&str>,
    request: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let Some((_, user)) = signed_in(req, state).await? else {
        return Ok(see_other("/login"));
    };
    let (master, label, now) = (
        state.master.clone(),
        state.mfa_label.clone(),
        state.clock.now(),
    );
    let status = state
        .db
        .run(move |conn| mfa::status(conn, &master, &user.id, &user.username, &label, now))
        .await?;
    let (enrolment, recovery_left) = match status {
        Status::Enrolled {
            recovery_codes_left,
        } => (None, recovery_codes_left),
        Status::Enrolling(e) => (
            Some(EnrolmentView {
                qr_svg: qr_svg(&e.otpauth_uri),
                credential_id: e.credential_id,
                secret: e.secret_base32,
            }),
            0,
        ),
    };
    Ok(csrf::form_page(req, state, |csrf| {
        page::render(
            StatusCode::OK,
            &MfaPage {
                csrf,
                error,
                enrolment,
                recovery_left,
                request_id: request,
            },
        )
    }))
}

/// What checking a typed code needs: the key that opens secrets, the lockout limits,
/// the time.
pub(super) fn code_check(state: &AppState) -> (Arc<MasterKey>, Limit, i64) {
    (
        state.master.clone(),
        mfa::limit(&state.sign_in),
        state.clock.now(),
    )
}

/// The `otpauth://` URI as an inline SVG QR code (no XML prolog: it sits inside HTML).
fn qr_svg(uri: &str) -> String {
    match QrCode::new(uri.as_bytes()) {
        Ok(code) => {
            let image = code
                .render::<svg::Color<'_>>()
                .min_dimensions(192, 192)
                .quiet_zone(true)
                .build();
            match image.find("<svg") {
                Some(at) => image[at..].to_owned(),
                None => image,
            }
        }
        Err(_) => String::new(),
    }
}

pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&req, &state, &form.csrf)?;
    let ConfirmForm {
        credential,
        code,
        request,
        ..
    } = form.into_inner();
    let request = Some(request).filter(|r| is_request_id(r));
    let Some((session, _)) = signed_in(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    let (master, limit, now) = code_check(&state);
    let (check, enrolled) = state
        .db
        .run(move |conn| {
            mfa::complete_enrolment(conn, &master, limit, &session, &credential, &code, now)
        })
        .await?;
    let next = match &request {
        Some(id) => format!("/authorize/resume?request={id}"),
        None => "/account/mfa".to_owned(),
    };
    let Some(enrolled) = enrolled else {
        return answer(&req, &state, check, &[], &next, request.as_deref()).await;
    };
    let mut response = answer(
        &req,
        &state,
        check,
        &enrolled.recovery_codes,
        &next,
        request.as_deref(),
    )
    .await?;
    set_session_cookie(&state, &mut response, enrolled.cookie_secret);
    Ok(response)
}

pub async fn renew_recovery_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    changed(req, state, form, Change::RenewRecoveryCodes).await
}

pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    changed(req, state, form, Change::Remove).await
}

async fn changed(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<CodeForm>,
    change: Change,
) -> Result<HttpResponse, AppError> {
    csrf::verify(&req, &state, &form.csrf)?;
    let code = form.into_inner().code;
    let Some((session, _)) = signed_in(&req, &state).await? else {
        return Ok(see_other("/login"));
    };
    let (master, limit, now) = code_check(&state);
    let (check, codes) = state
        .db
        .run(move |conn| mfa::change(conn, &master, limit, &session, change, &code, now))
        .await?;
    if change == Change::Remove && matches!(check, Check::Accepted(_)) {
        return Ok(see_other("/account/mfa"));
    }
    answer(&req, &state, check, &codes, "/account/mfa", None).await
}

/// New recovery codes (shown once), the page again with an error, or the lock.
async fn answer(
    req: &HttpRequest,
    state: &AppState,
    check: Check,
    codes: &[String],
    next: &str,
    request: Option<&str>,
) -> Result<HttpResponse, AppError> {
    match check {
        Check::Accepted(_) => {
            // `next` may continue an authorization request, which ends at the client.
            Ok(page::render(
                StatusCode::OK,
                &RecoveryCodesPage { codes, next },
            ))
        }
        Check::Rejected => page_for(req, state, Some(WRONG_CODE), request).await,
        Check::Locked { retry_after } => Err(AppError::TooManyAttempts { retry_after }),
    }
}
