//! `/jwks`: the published signing keys (RFC 7517 §5), served from memory with caching
//! headers; `If-None-Match` gets a 304.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::AppState;

pub async fn jwks(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let keys = state.keys.current();
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == keys.etag()));
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, state.jwks_cache_control.clone()))
        .insert_header((header::ETAG, keys.etag().to_owned()));
    if not_modified {
        return response.finish();
    }
    response
        .content_type("application/json")
        .body(keys.jwks_json())
}
