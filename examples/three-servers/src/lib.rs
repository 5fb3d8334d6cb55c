//! The three-server example (#14 item 5): Portcullis signs people in and issues tokens;
//! two resource servers verify them on their own with `portcullis-verifier`.
//!
//! - [`images`] serves images to callers whose token is for it (`aud` its resource) and
//!   grants `images:read` — the API server, with a `client_credentials` token of its own.
//! - [`api`] serves the person's SPA: `/me`, `/photos/{id}` (fetched from the image
//!   server with the API's own token), and `/payments`, which needs a token at the `mfa`
//!   level and answers the RFC 9470 challenge otherwise. It follows the revocation feed,
//!   so a disabled user's unexpired token is refused within about a second.
//!
//! Each has a binary (`cargo run -p three-servers --bin api-server`), configured from the
//! environment; `tests/it/three_servers.rs` runs all three on loopback.

pub mod api;
pub mod images;

/// An environment variable, or `default`.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}
