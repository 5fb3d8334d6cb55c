//! Portcullis: an OAuth 2.0 and OpenID Connect authorization server.
//!
//! `docs/ARCHITECTURE.md` maps the modules and the path of a request.

pub mod app;
pub mod authorization;
pub mod cleanup;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod error;
pub mod federation;
pub mod files;
pub mod http;
pub mod keys;
pub mod oauth;
pub mod oidc;
pub mod people;
pub mod revocation;
pub mod store;
pub mod telemetry;

pub use app::{Application, Core};
pub use config::Config;
