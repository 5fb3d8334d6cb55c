//! OpenID Connect on top of `oauth/`: the authentication request parameters, ID tokens,
//! UserInfo claims and the provider metadata.

pub mod acr;
pub mod assurance;
pub mod discovery;
pub mod id_token;
pub mod logout;
pub mod request;
pub mod userinfo;
