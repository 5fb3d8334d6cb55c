//! `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §4) and
//! `/.well-known/oauth-authorization-server` (RFC 8414 §3): the same document.

use actix_web::{web, HttpResponse};

use super::AppState;

pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    metadata(&state)
}

pub async fn oauth_authorization_server(state: web::Data<AppState>) -> HttpResponse {
    metadata(&state)
}

fn metadata(state: &AppState) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("cache-control", "public, max-age=3600"))
        .body(state.discovery_json.clone())
}
