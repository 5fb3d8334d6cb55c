//! `/token` (RFC 6749 §3.2): POST with a form body only, one parameter of each name,
//! client authentication (`oauth::client_auth`), then the grant. Every answer, success
//! or error, is `Cache-Control: no-store` (§5.1, checklist §1.23).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::authorize::is_form;
use super::AppState;
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::grants::authorization_code::{self, CodeRequest};
use crate::oauth::grants::client_credentials::{self, ClientCredentialsRequest};
use crate::oauth::grants::refresh_token;
use crate::oauth::grants::{TokenContext, TokenResponse};
use crate::oauth::params::Params;
use crate::oauth::OAuthError;

/// Checklist §3: bodies over 64 KiB are refused (413) before they are read.
pub const BODY_LIMIT: usize = 64 * 1024;

pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, OAuthError> {
    let params = protocol_form(&req, &body)?;
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let grant = match grant_type {
        "authorization_code" => Grant::AuthorizationCode,
        "refresh_token" => Grant::RefreshToken,
        "client_credentials" => Grant::ClientCredentials,
        _ => return Err(OAuthError::unsupported_grant_type()),
    };
    let presented = state
        .settle(client_auth::presented(&params, authorization(&req))?)
        .await?;
    let ctx = TokenContext {
        settings: state.tokens.clone(),
        keys: state.keys.current(),
        master: state.master.clone(),
        registry: state.registry.clone(),
        origin: state.proxies.client_of(&req),
    };
    let now = state.clock.now();
    let response = match grant {
        Grant::AuthorizationCode => code(&state, ctx, params, presented, now).await,
        Grant::RefreshToken => refresh_token::run(&state.db, ctx, params, presented, now).await,
        Grant::ClientCredentials => client_credentials(&state, ctx, params, presented, now).await,
    }?;
    state.metrics.token_issued(grant.name());
    Ok(success(response))
}

// The database work and any RSA signature run on the blocking pool, never on a worker.

async fn code(
    state: &AppState,
    ctx: TokenContext,
    params: Params,
    presented: Presented,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    state
        .db
        .run(move |conn| {
            let request = CodeRequest {
                params: &params,
                presented: &presented,
            };
            authorization_code::exchange(conn, &ctx, &request, now)
        })
        .await
}

/// ES256 clients of the in-memory registry are answered here (an HMAC and an ES256
/// signature) once a shared read of the clients' generation finds it current; the
/// others from the database.
async fn client_credentials(
    state: &AppState,
    ctx: TokenContext,
    params: Params,
    presented: Presented,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let request = ClientCredentialsRequest {
        params: &params,
        presented: &presented,
    };
    let cached = state
        .registry
        .get_current(&state.db, presented.client_id())
        .await;
    if let Some(response) =
        cached.and_then(|client| client_credentials::from_registry(client, &ctx, &request, now))
    {
        return response;
    }
    state
        .db
        .run(move |conn| {
            let request = ClientCredentialsRequest {
                params: &params,
                presented: &presented,
            };
            client_credentials::exchange_stored(conn, &ctx, &request, now)
        })
        .await
}

fn success(response: TokenResponse) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(response)
}

/// The grants this endpoint offers (discovery's `grant_types_supported`).
#[derive(Clone, Copy)]
enum Grant {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl Grant {
    fn name(self) -> &'static str {
        match self {
            Grant::AuthorizationCode => "authorization_code",
            Grant::RefreshToken => "refresh_token",
            Grant::ClientCredentials => "client_credentials",
        }
    }
}

/// The parameters of a POST to a protocol endpoint: a form body, nothing in the URL
/// (RFC 6749 §2.3.1, checklist §1.25), each parameter once (§3.2).
pub fn protocol_form(req: &HttpRequest, body: &[u8]) -> Result<Params, OAuthError> {
    let params = form_params(req, body)?;
    if !req.query_string().is_empty() {
        return Err(OAuthError::invalid_request(
            "parameters must be sent in the request body",
        ));
    }
    if let Some(description) = params.duplicate_description() {
        return Err(OAuthError::invalid_request(&description));
    }
    Ok(params)
}

/// A token-management request (`/introspect`, `/revoke`): its parameters, the `token`
/// it is about, and the client credentials it carries.
pub fn about_a_token(
    req: &HttpRequest,
    body: &[u8],
) -> Result<(Params, String, Presented), OAuthError> {
    let params = protocol_form(req, body)?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?
        .to_owned();
    let presented = client_auth::presented(&params, authorization(req))?;
    Ok((params, token, presented))
}

/// The `Authorization` header, if any (an unreadable one counts as empty).
pub fn authorization(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""))
}

/// The parameters of a form body (RFC 6749 Appendix B); anything else is `invalid_request`.
pub fn form_params(req: &HttpRequest, body: &[u8]) -> Result<Params, OAuthError> {
    if !is_form(req) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Params::parse(body)
        .map_err(|_| OAuthError::invalid_request("the body is not valid form encoding"))
}

/// Payload limit for the protocol endpoints: over it, actix answers 413.
pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::new(BODY_LIMIT)
}
