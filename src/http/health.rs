//! `/healthz`: the process answers. `/readyz`: the database answers and keys are
//! loaded; 503 otherwise, so a load balancer stops sending traffic.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::AppState;
use crate::crypto::Alg;

const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(json!({ "status": "ok" }))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = matches!(
        tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await,
        Ok(Ok(()))
    );
    let keys = state.keys.current();
    let now = state.clock.now();
    let signing = Alg::ALL
        .iter()
        .all(|alg| keys.signing_key(*alg, now).is_some());
    let body = json!({
        "status": if database && signing { "ready" } else { "unavailable" },
        "database": if database { "ok" } else { "unreachable" },
        "keys": if signing { "ok" } else { "missing" },
    });
    let mut response = if database && signing {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response
        .insert_header(("cache-control", "no-store"))
        .json(body)
}
