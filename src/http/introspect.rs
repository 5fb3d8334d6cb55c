//! `/introspect` (RFC 7662): the caller authenticates as a confidential client (§2.1:
//! stops token scanning); the answer is never cached. No CORS: resource servers call it.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::token::about_a_token;
use super::AppState;
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::introspect::{self, Verifier};
use crate::oauth::OAuthError;

pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let (_, token, presented) = about_a_token(&req, &body)?;
    let presented = state.settle(presented).await?;
    if matches!(presented, Presented::Public { .. }) {
        return Err(presented
            .refused()
            .describe("introspection needs client credentials"));
    }
    let (keys, settings, master) = (
        state.keys.current(),
        state.tokens.clone(),
        state.master.clone(),
    );
    let (registry, verified) = (state.registry.clone(), state.verified.clone());
    let now = state.clock.now();
    let answer = state
        .db
        .run(move |conn| {
            let caller = client_auth::authenticate(conn, &registry, &master, &presented)?;
            let verifier = Verifier {
                keys: &keys,
                settings: &settings,
                verified: &verified,
            };
            Ok::<_, OAuthError>(introspect::introspect(
                conn, &verifier, &caller, &token, now,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(answer))
}
