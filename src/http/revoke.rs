//! `/revoke` (RFC 7009): the client authenticates (a public client names itself), and
//! revokes one of its own tokens. 200 with an empty body, also for unknown tokens (§2.2).
//! CORS for registered browser origins (§2.3 is JSONP, which is not offered).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::token::about_a_token;
use super::AppState;
use crate::oauth::client_auth;
use crate::oauth::revoke;
use crate::oauth::OAuthError;

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let (params, token, presented) = about_a_token(&req, &body)?;
    let presented = state.settle(presented).await?;
    let hint = params.get("token_type_hint").map(str::to_owned);
    let (keys, settings, master) = (
        state.keys.current(),
        state.tokens.clone(),
        state.master.clone(),
    );
    let registry = state.registry.clone();
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            let caller = client_auth::authenticate(conn, &registry, &master, &presented)?;
            revoke::revoke(
                conn,
                &keys,
                &settings,
                &caller,
                &token,
                hint.as_deref(),
                now,
            )
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
