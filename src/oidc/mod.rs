//! OpenID Connect on top of `oauth/`. This slice holds the provider metadata.

pub mod discovery;
