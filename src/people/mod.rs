//! The person's side: accounts, how a person proves who they are (the sign-in pipeline
//! in `signin`, second factors in `mfa`), the sessions that remember it, and the
//! devices a person sees on the account page. `oauth/` and `oidc/` only read what these
//! decided.

pub mod accounts;
pub mod devices;
pub mod federated;
pub mod mfa;
pub mod sessions;
pub mod signin;
