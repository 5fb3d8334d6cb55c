//! OAuth 2.0 core (RFC 6749). This slice holds the client model; the grants, the
//! registrar/authorizer/issuer around oxide-auth arrive with the
//! authorization-code issue.

pub mod client;
pub mod error;
pub mod scope;

pub use error::OAuthError;
