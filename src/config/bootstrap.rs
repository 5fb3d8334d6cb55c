//! `[[clients]]` and `[[users]]`: a whole deployment, or a test, described in one file.
//! Validation names the entry (`clients[1].redirect_uris[0]: …`).

use std::collections::HashSet;
use std::path::PathBuf;

use serde::Deserialize;

use super::{secret, Lifetime, Secret};
use crate::crypto::Alg;
use crate::oauth::client;
use crate::people::accounts;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    #[serde(default)]
    pub client_name: Option<String>,
    /// A public client (SPA, native app) has no secret and must use PKCE.
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Browser origins allowed by CORS on the token, userinfo and revocation endpoints.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Default: `authorization_code` and `refresh_token`.
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// The scopes this client may request. Default: `openid profile email offline_access`.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// For first-party clients: no consent page.
    #[serde(default)]
    pub skip_consent: bool,
    /// `client_secret_basic` (default) or `client_secret_post`; `none` for public clients.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    pub id_token_signed_response_alg: Option<Alg>,
    #[serde(default)]
    pub access_token_signed_response_alg: Option<Alg>,
    #[serde(default)]
    pub access_token_ttl: Option<Lifetime>,
    #[serde(default)]
    pub refresh_token_idle_ttl: Option<Lifetime>,
    #[serde(default)]
    pub refresh_token_absolute_ttl: Option<Lifetime>,
    /// The tokens this client may introspect: `own` (default) or `any` (a resource server).
    #[serde(default)]
    pub introspection: client::Introspection,
    /// Levels (`acr` values) asked for when a request names none (OpenID Connect
    /// Dynamic Client Registration §2); voluntary unless `require_acr`.
    #[serde(default)]
    pub default_acr_values: Vec<String>,
    /// The first of `default_acr_values` is a minimum every request must meet.
    #[serde(default)]
    pub require_acr: bool,
    /// Overrides `[mfa] enroll_on_step_up` for this client.
    #[serde(default)]
    pub enroll_on_step_up: Option<bool>,
    /// The resources (RFC 8707: absolute URIs) this client may ask tokens for.
    #[serde(default)]
    pub resources: Vec<String>,
    /// The `aud` of its access tokens when a request names no resource (default:
    /// `tokens.audience`); one of `resources`.
    #[serde(default)]
    pub default_resource: Option<String>,
    /// `private_key_jwt`: the client's public keys, a JWK Set (RFC 7517 §5) …
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// … or the URL it is published at (fetched, cached, refetched for a new `kid`).
    #[serde(default)]
    pub jwks_uri: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub username: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default)]
    pub name: Option<String>,
    /// Hashed with argon2id on import.
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// A pre-enrolled TOTP secret (base32), for migrations and tests.
    #[serde(default)]
    pub totp_secret: Option<Secret>,
    #[serde(default)]
    pub totp_secret_file: Option<PathBuf>,
    /// Set only if the file is to manage it: then every start applies it. Absent, the
    /// CLI's `user disable`/`user enable` decide.
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// Validates every entry, resolves `*_file` secrets, normalises usernames.
pub(super) fn validate_all(
    clients: &mut [ClientConfig],
    users: &mut [UserConfig],
    acr_names: &crate::oidc::acr::Names,
) -> Result<(), String> {
    let mut ids = HashSet::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let at = format!("clients[{i}]");
        c.client_secret = secret::resolve(
            &format!("{at}.client_secret"),
            &c.client_secret,
            &c.client_secret_file,
        )?;
        c.client_secret_file = None;
        client::validate(c).map_err(|e| format!("{at}.{e}"))?;
        // Levels by the names this server gives them (`[mfa.acr_names]`).
        for (j, acr) in c.default_acr_values.iter().enumerate() {
            if acr_names.parse(acr).is_none() {
                return Err(format!(
                    "{at}.default_acr_values[{j}]: {acr:?} is not a level this server knows"
                ));
            }
        }
        if !ids.insert(c.client_id.clone()) {
            return Err(format!("{at}.client_id: {:?} is listed twice", c.client_id));
        }
    }
    let mut names = HashSet::new();
    for (i, u) in users.iter_mut().enumerate() {
        let at = format!("users[{i}]");
        u.password = secret::resolve(&format!("{at}.password"), &u.password, &u.password_file)?;
        u.password_file = None;
        u.totp_secret = secret::resolve(
            &format!("{at}.totp_secret"),
            &u.totp_secret,
            &u.totp_secret_file,
        )?;
        u.totp_secret_file = None;
        u.username =
            accounts::normalize_username(&u.username).map_err(|e| format!("{at}.username: {e}"))?;
        accounts::validate(u).map_err(|e| format!("{at}.{e}"))?;
        if !names.insert(u.username.clone()) {
            return Err(format!("{at}.username: {:?} is listed twice", u.username));
        }
    }
    Ok(())
}
