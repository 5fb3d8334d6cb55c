//! CORS (checklist §1.29, RFC 9700 §2.6): only origins a client registered in
//! `allowed_origins` get `Access-Control-Allow-Origin`, never with credentials. Other
//! origins get no CORS headers. Never applied to `/authorize` (a top-level navigation).
//! Registered origins are shared by every client (a per-client check would need the
//! client before the preflight, which carries no credentials).

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use actix_cors::Cors;

/// The registered origins, shared by every worker and refreshed in the background.
#[derive(Clone, Default)]
pub struct AllowedOrigins(Arc<RwLock<HashSet<String>>>);

impl AllowedOrigins {
    pub fn replace(&self, origins: HashSet<String>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = origins;
    }

    pub fn contains(&self, origin: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(origin)
    }
}

/// For public documents read by browsers (discovery, JWKS): GET only.
pub fn public_reads(origins: &AllowedOrigins) -> Cors {
    let origins = origins.clone();
    Cors::default()
        .allowed_origin_fn(move |origin, _| origin.to_str().is_ok_and(|o| origins.contains(o)))
        .allowed_methods(["GET"])
        .max_age(3600)
}

/// For protocol endpoints called by browser apps (`/token`, `/userinfo`): the methods
/// given, the `Authorization` and `Content-Type` headers, never credentials (cookies).
pub fn protocol(origins: &AllowedOrigins, methods: &[&'static str]) -> Cors {
    let origins = origins.clone();
    Cors::default()
        .allowed_origin_fn(move |origin, _| origin.to_str().is_ok_and(|o| origins.contains(o)))
        .allowed_methods(methods.iter().copied())
        .allowed_headers(["authorization", "content-type"])
        .max_age(3600)
}
