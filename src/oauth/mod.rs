//! OAuth 2.0 core (RFC 6749) around oxide-auth's sans-IO grant machines: the client model,
//! request parameters, client authentication, the authorization request, PKCE, redirect
//! matching, access tokens and the grants.

pub mod authorize;
pub mod client;
pub mod client_assertion;
pub mod client_auth;
pub mod error;
pub mod grants;
pub mod introspect;
pub mod issuer;
pub mod params;
pub mod pkce;
pub mod redirect;
pub mod registry;
pub mod resource;
pub mod revoke;
pub mod scope;

pub use error::OAuthError;
