//! Registered clients (RFC 6749 §2): what a client may do, validated once when it is
//! registered (configuration or CLI), stored in `clients`.

use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::scope;
use crate::config::ClientConfig;
use crate::crypto::jws::PublicKey;
use crate::crypto::{Alg, MasterKey};
use crate::store::clients::{self, ClientRow};
use crate::store::{DbConnection, StoreError};

/// RFC 7591 §2 grant type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.into())).ok()
    }
}

/// RFC 7591 §2 `token_endpoint_auth_method` values we accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// RFC 7523 §2.2, OpenID Connect Core §9: a JWT signed with the client's key.
    PrivateKeyJwt,
    None,
}

impl AuthMethod {
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.into())).ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
        }
    }
}

/// Who owns a row: `config` rows are rewritten from the file at every start.
pub const MANAGED_BY_CONFIG: &str = "config";
pub const MANAGED_BY_CLI: &str = "cli";

const DEFAULT_GRANTS: [GrantType; 2] = [GrantType::AuthorizationCode, GrantType::RefreshToken];

/// Checks a client registration; the error names the field.
pub fn validate(c: &ClientConfig) -> Result<(), String> {
    validate_client_id(&c.client_id).map_err(|e| format!("client_id: {e}"))?;
    let method = auth_method(c)?;
    match (c.public, &c.client_secret, method) {
        (true, Some(_), _) => return Err("client_secret: a public client has no secret".into()),
        (false, Some(_), AuthMethod::PrivateKeyJwt) => {
            return Err("client_secret: a private_key_jwt client signs with its key instead".into())
        }
        (false, None, AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost) => {
            return Err(
                "client_secret: required for a confidential client (or set public = true)".into(),
            )
        }
        _ => {}
    }
    match (method, &c.jwks, &c.jwks_uri) {
        (AuthMethod::PrivateKeyJwt, None, None) => {
            return Err("jwks: private_key_jwt needs jwks or jwks_uri".into())
        }
        (_, Some(_), Some(_)) => return Err("jwks: give jwks or jwks_uri, not both".into()),
        (AuthMethod::PrivateKeyJwt, Some(jwks), None) => {
            if portcullis_jose::jwk::signing_keys(jwks, &Alg::ALL).is_empty() {
                return Err("jwks: no RS256 or ES256 signing key with a kid (RFC 7517 §5)".into());
            }
        }
        (AuthMethod::PrivateKeyJwt, None, Some(uri)) => {
            if !url::Url::parse(uri).is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http") {
                return Err(format!("jwks_uri: {uri:?} is not an http(s) URL"));
            }
        }
        (_, None, None) => {}
        _ => return Err("jwks: only for token_endpoint_auth_method = private_key_jwt".into()),
    }
    let grants = grant_types(c)?;
    if c.public && grants.contains(&GrantType::ClientCredentials) {
        return Err("grant_types: a public client cannot use client_credentials".into());
    }
    if grants.contains(&GrantType::AuthorizationCode) && c.redirect_uris.is_empty() {
        return Err("redirect_uris: at least one is required for authorization_code".into());
    }
    if grants.contains(&GrantType::RefreshToken) && !grants.contains(&GrantType::AuthorizationCode)
    {
        return Err("grant_types: refresh_token needs authorization_code".into());
    }
    for (i, uri) in c.redirect_uris.iter().enumerate() {
        validate_redirect_uri(uri).map_err(|e| format!("redirect_uris[{i}]: {e}"))?;
    }
    for (i, uri) in c.post_logout_redirect_uris.iter().enumerate() {
        validate_redirect_uri(uri).map_err(|e| format!("post_logout_redirect_uris[{i}]: {e}"))?;
    }
    for (i, r) in c.resources.iter().enumerate() {
        if !super::resource::is_resource_uri(r) {
            return Err(format!(
                "resources[{i}]: {r:?} is not an absolute URI without a fragment (RFC 8707 §2)"
            ));
        }
    }
    if let Some(d) = &c.default_resource {
        if !c.resources.contains(d) {
            return Err(format!("default_resource: {d:?} is not one of resources"));
        }
    }
    if c.require_acr && c.default_acr_values.is_empty() {
        return Err("require_acr: needs default_acr_values".into());
    }
    for (i, origin) in c.allowed_origins.iter().enumerate() {
        validate_origin(origin).map_err(|e| format!("allowed_origins[{i}]: {e}"))?;
    }
    for (i, s) in scopes(c).iter().enumerate() {
        if !scope::is_scope_token(s) {
            return Err(format!(
                "scopes[{i}]: {s:?} is not a valid scope (RFC 6749 §3.3)"
            ));
        }
    }
    let ttls = [
        ("access_token_ttl", c.access_token_ttl),
        ("refresh_token_idle_ttl", c.refresh_token_idle_ttl),
        ("refresh_token_absolute_ttl", c.refresh_token_absolute_ttl),
    ];
    for (key, ttl) in ttls {
        if ttl.is_some_and(|t| t.as_secs() < 1) {
            return Err(format!("{key}: must be at least one second"));
        }
    }
    Ok(())
}

/// Client ids are ours to keep simple: 1–128 of `A–Z a–z 0–9 . _ ~ -`.
pub fn validate_client_id(id: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{id:?} must be 1-128 characters of A-Z a-z 0-9 . _ ~ -"
        ))
    }
}

/// RFC 6749 §3.1.2 and RFC 9700 §2.6 (checklist §1.3): absolute, no fragment, no
/// credentials; https, or http on a loopback IP literal (RFC 8252 §7.3), or a
/// private-use scheme in reverse-domain form (RFC 8252 §7.1).
pub fn validate_redirect_uri(uri: &str) -> Result<(), String> {
    let url = url::Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URI: {e}"))?;
    if uri.contains('#') {
        return Err(format!(
            "{uri:?} must not contain a fragment (RFC 6749 §3.1.2)"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{uri:?} must not contain credentials"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_ip(&url) => Ok(()),
        "http" => Err(format!(
            "{uri:?}: http is allowed only on 127.0.0.1 or [::1] (RFC 8252 §7.3)"
        )),
        scheme if scheme.contains('.') && url.host().is_none() => Ok(()),
        scheme => Err(format!("{uri:?}: the {scheme}: scheme is not allowed")),
    }
}

/// A CORS origin: `scheme://host[:port]` exactly as browsers serialise it.
pub fn validate_origin(origin: &str) -> Result<(), String> {
    let url = url::Url::parse(origin).map_err(|e| format!("{origin:?} is not an origin: {e}"))?;
    let serialized = url.origin().ascii_serialization();
    if serialized != origin {
        return Err(format!(
            "{origin:?} is not an origin (expected the form {serialized:?})"
        ));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(&url) => Ok(()),
        _ => Err(format!(
            "{origin:?}: only https origins (or http on loopback) are allowed"
        )),
    }
}

fn is_loopback_ip(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        _ => false,
    }
}

/// Loopback IP literals and `localhost`.
pub fn is_loopback_host(url: &url::Url) -> bool {
    is_loopback_ip(url) || url.host_str() == Some("localhost")
}

fn auth_method(c: &ClientConfig) -> Result<AuthMethod, String> {
    let method = match c.token_endpoint_auth_method.as_deref() {
        None if c.public => AuthMethod::None,
        None => AuthMethod::ClientSecretBasic,
        Some(m) => AuthMethod::parse(m).ok_or_else(|| {
            format!("token_endpoint_auth_method: {m:?} is not one of client_secret_basic, client_secret_post, private_key_jwt, none")
        })?,
    };
    match (c.public, method) {
        (true, AuthMethod::None)
        | (
            false,
            AuthMethod::ClientSecretBasic
            | AuthMethod::ClientSecretPost
            | AuthMethod::PrivateKeyJwt,
        ) => Ok(method),
        (true, _) => Err("token_endpoint_auth_method: a public client uses none".into()),
        (false, _) => {
            Err("token_endpoint_auth_method: a confidential client cannot use none".into())
        }
    }
}

fn grant_types(c: &ClientConfig) -> Result<Vec<GrantType>, String> {
    match &c.grant_types {
        None => Ok(DEFAULT_GRANTS.to_vec()),
        Some(list) if list.is_empty() => Err("grant_types: must not be empty".into()),
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, g)| {
                GrantType::parse(g).ok_or_else(|| {
                    format!(
                        "grant_types[{i}]: {g:?} is not one of authorization_code, refresh_token, client_credentials"
                    )
                })
            })
            .collect(),
    }
}

fn scopes(c: &ClientConfig) -> Vec<String> {
    c.scopes
        .clone()
        .unwrap_or_else(|| scope::STANDARD.iter().map(|s| s.to_string()).collect())
}

fn json_list<T: Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).expect("a list serialises")
}

/// The tokens a client may introspect (RFC 7662 §4: the server decides what a caller may
/// learn, and §2.2 answers `active: false` for the rest). Like Keycloak and Hydra, not
/// every client may read every person's token and `username`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Introspection {
    /// Tokens issued to this client.
    #[default]
    Own,
    /// Any token: for resource servers.
    Any,
}

impl Introspection {
    pub fn as_str(self) -> &'static str {
        match self {
            Introspection::Own => "own",
            Introspection::Any => "any",
        }
    }

    /// Reads the stored column; anything unknown is the narrower `own`.
    fn of(stored: &str) -> Self {
        match stored {
            "any" => Introspection::Any,
            _ => Introspection::Own,
        }
    }
}

/// A registered client as every request uses it: parsed once from its row (lists and
/// algorithms typed), held by `oauth::registry` and shared, never re-read per request.
#[derive(Clone)]
pub struct Client {
    pub id: String,
    pub client_name: String,
    /// HMAC-SHA256 of the secret under the instance key; `None` for public clients.
    pub secret_hash: Option<Vec<u8>>,
    pub public: bool,
    pub token_endpoint_auth_method: AuthMethod,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub skip_consent: bool,
    pub require_pkce: bool,
    pub id_token_signed_response_alg: Alg,
    pub access_token_signed_response_alg: Alg,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_idle_ttl: Option<i64>,
    pub refresh_token_absolute_ttl: Option<i64>,
    pub managed_by: String,
    pub introspection: Introspection,
    /// `acr` values asked for when a request names none.
    pub default_acr_values: Vec<String>,
    /// The first of `default_acr_values` is a minimum: a lower level is refused.
    pub require_acr: bool,
    /// Offer enrolment of a second factor inside the flow (`None`: the server's setting).
    pub enroll_on_step_up: Option<bool>,
    /// The resources (RFC 8707) it may ask tokens for, and the `aud` when it names none.
    pub resources: Vec<String>,
    pub default_resource: Option<String>,
    /// `private_key_jwt`: the registered keys, by `kid` (or where to fetch them).
    pub jwks: Option<Arc<Vec<(String, PublicKey)>>>,
    pub jwks_uri: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("public", &self.public)
            .field("managed_by", &self.managed_by)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Parses a stored row; a row this server could not have written is `Corrupt`.
    pub fn from_row(row: ClientRow) -> Result<Client, StoreError> {
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!("client {}: {what}: {e}", row.id))
        };
        let list = |what: &str, json: &str| -> Result<Vec<String>, StoreError> {
            serde_json::from_str(json).map_err(|e| corrupt(what, &e))
        };
        let alg = |what: &str, name: &str| -> Result<Alg, StoreError> {
            name.parse().map_err(|e: String| corrupt(what, &e))
        };
        Ok(Client {
            token_endpoint_auth_method: AuthMethod::parse(&row.token_endpoint_auth_method)
                .ok_or_else(|| {
                    corrupt(
                        "token_endpoint_auth_method",
                        &row.token_endpoint_auth_method,
                    )
                })?,
            redirect_uris: list("redirect_uris", &row.redirect_uris)?,
            post_logout_redirect_uris: list(
                "post_logout_redirect_uris",
                &row.post_logout_redirect_uris,
            )?,
            allowed_origins: list("allowed_origins", &row.allowed_origins)?,
            grant_types: serde_json::from_str(&row.grant_types)
                .map_err(|e| corrupt("grant_types", &e))?,
            scopes: list("scopes", &row.scopes)?,
            id_token_signed_response_alg: alg(
                "id_token_signed_response_alg",
                &row.id_token_signed_response_alg,
            )?,
            access_token_signed_response_alg: alg(
                "access_token_signed_response_alg",
                &row.access_token_signed_response_alg,
            )?,
            introspection: Introspection::of(&row.introspection),
            default_acr_values: list("default_acr_values", &row.default_acr_values)?,
            resources: list("resources", &row.resources)?,
            default_resource: row.default_resource,
            jwks: row
                .jwks
                .as_deref()
                .map(|j| {
                    serde_json::from_str::<serde_json::Value>(j)
                        .map(|v| Arc::new(portcullis_jose::jwk::signing_keys(&v, &Alg::ALL)))
                        .map_err(|e| corrupt("jwks", &e))
                })
                .transpose()?,
            jwks_uri: row.jwks_uri,
            id: row.id,
            client_name: row.client_name,
            secret_hash: row.secret_hash,
            public: row.public,
            skip_consent: row.skip_consent,
            require_pkce: row.require_pkce,
            access_token_ttl: row.access_token_ttl,
            refresh_token_idle_ttl: row.refresh_token_idle_ttl,
            refresh_token_absolute_ttl: row.refresh_token_absolute_ttl,
            managed_by: row.managed_by,
            require_acr: row.require_acr,
            enroll_on_step_up: row.enroll_on_step_up,
        })
    }

    /// True when the client may ask for tokens for `resource` (RFC 8707).
    pub fn may_ask_for(&self, resource: &str) -> bool {
        self.resources.iter().any(|r| r == resource)
    }

    /// True when the client is registered for `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// The client `id` from the database, parsed.
pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<Arc<Client>>, StoreError> {
    Ok(clients::get(conn, id)?
        .map(Client::from_row)
        .transpose()?
        .map(Arc::new))
}

/// Parses every row; a row that cannot be parsed is left out (and logged), so one damaged
/// client never takes the others with it — asked for, it is looked up and refused alone.
pub fn parse_all(rows: Vec<ClientRow>) -> Vec<Client> {
    rows.into_iter()
        .filter_map(|row| {
            Client::from_row(row)
                .inspect_err(|e| tracing::error!(error = %e, "a stored client cannot be read"))
                .ok()
        })
        .collect()
}

/// Every origin any client registered, for CORS.
pub fn allowed_origins<'a>(
    clients: impl IntoIterator<Item = &'a Client>,
) -> std::collections::HashSet<String> {
    clients
        .into_iter()
        .flat_map(|c| c.allowed_origins.iter().cloned())
        .collect()
}

/// The row for a validated registration; the secret is stored as an HMAC only.
pub fn to_row(
    c: &ClientConfig,
    master: &MasterKey,
    managed_by: &str,
    now: i64,
) -> Result<ClientRow, String> {
    validate(c)?;
    Ok(ClientRow {
        id: c.client_id.clone(),
        client_name: c.client_name.clone().unwrap_or_else(|| c.client_id.clone()),
        secret_hash: c
            .client_secret
            .as_ref()
            .map(|s| master.hash_client_secret(s.expose())),
        public: c.public,
        token_endpoint_auth_method: auth_method(c)?.as_str().into(),
        redirect_uris: json_list(&c.redirect_uris),
        post_logout_redirect_uris: json_list(&c.post_logout_redirect_uris),
        allowed_origins: json_list(&c.allowed_origins),
        grant_types: json_list(&grant_types(c)?),
        scopes: json_list(&scopes(c)),
        skip_consent: c.skip_consent,
        // Checklist §1.4: PKCE is required of every client.
        require_pkce: true,
        id_token_signed_response_alg: c
            .id_token_signed_response_alg
            .unwrap_or(Alg::RS256)
            .as_str()
            .into(),
        access_token_signed_response_alg: c
            .access_token_signed_response_alg
            .unwrap_or(Alg::ES256)
            .as_str()
            .into(),
        access_token_ttl: c.access_token_ttl.map(|t| t.as_secs()),
        refresh_token_idle_ttl: c.refresh_token_idle_ttl.map(|t| t.as_secs()),
        refresh_token_absolute_ttl: c.refresh_token_absolute_ttl.map(|t| t.as_secs()),
        managed_by: managed_by.into(),
        created_at: now,
        updated_at: now,
        introspection: c.introspection.as_str().into(),
        default_acr_values: json_list(&c.default_acr_values),
        require_acr: c.require_acr,
        enroll_on_step_up: c.enroll_on_step_up,
        resources: json_list(&c.resources),
        default_resource: c.default_resource.clone(),
        jwks: c.jwks.as_ref().map(|j| j.to_string()),
        jwks_uri: c.jwks_uri.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_rules() {
        for ok in [
            "https://app.test/cb",
            "https://app.test/cb?x=1",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5173/callback",
            "http://[::1]:8000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(validate_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/cb",
            "https://app.test/cb#f",
            "http://app.test/cb",
            "http://localhost/cb",
            "javascript:alert(1)",
            "data:text/html,x",
            "https://user:pw@app.test/cb",
            "//evil.test/cb",
        ] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origin_rules() {
        assert!(validate_origin("https://spa.test").is_ok());
        assert!(validate_origin("http://127.0.0.1:5173").is_ok());
        assert!(validate_origin("https://spa.test/").is_err());
        assert!(validate_origin("https://spa.test/app").is_err());
        assert!(validate_origin("http://spa.test").is_err());
    }

    #[test]
    fn client_shapes() {
        let public = ClientConfig {
            client_id: "spa".into(),
            public: true,
            redirect_uris: vec!["https://spa.test/cb".into()],
            ..Default::default()
        };
        assert!(validate(&public).is_ok());
        let mut with_secret = public.clone();
        with_secret.client_secret = Some(crate::config::Secret::new("s"));
        assert!(validate(&with_secret)
            .unwrap_err()
            .starts_with("client_secret"));
        let mut cc = public.clone();
        cc.grant_types = Some(vec!["client_credentials".into()]);
        assert!(validate(&cc).unwrap_err().starts_with("grant_types"));
        let mut password = public.clone();
        password.grant_types = Some(vec!["password".into()]);
        assert!(validate(&password)
            .unwrap_err()
            .starts_with("grant_types[0]"));
        let service = ClientConfig {
            client_id: "api-server".into(),
            client_secret: Some(crate::config::Secret::new("change-me")),
            grant_types: Some(vec!["client_credentials".into()]),
            scopes: Some(vec!["images:read".into()]),
            ..Default::default()
        };
        assert!(validate(&service).is_ok());
        let mut bad_id = service.clone();
        bad_id.client_id = "a b".into();
        assert!(validate(&bad_id).unwrap_err().starts_with("client_id"));
    }
}
