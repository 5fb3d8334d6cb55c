//! `[[upstreams]]` and `[federation]` (#13): the providers people may sign in with, and
//! how Portcullis calls them. Validation names the entry (`upstreams[0].issuer: …`).

use std::collections::HashSet;
use std::path::PathBuf;

use serde::Deserialize;

use super::{secret, Lifetime, Secret};

/// Which protocol an upstream speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    /// Any OpenID Connect provider, found by its `issuer` (Discovery 1.0).
    #[default]
    Oidc,
    /// Google: OpenID Connect at `https://accounts.google.com` (the default `issuer`);
    /// `hosted_domain` checked on the ID token's `hd`.
    Google,
    /// Facebook Login: OAuth 2.0 and the Graph API, not OpenID Connect.
    Facebook,
    /// Any OAuth 2.0 provider with a user-info URL: explicit endpoints, and `claims`
    /// naming where in the user-info JSON each claim is.
    Oauth2,
}

/// The Graph API version used when `graph_version` is not set.
pub const FACEBOOK_GRAPH_VERSION: &str = "v21.0";

/// Google's issuer identifier.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Part of the callback URL (`/federation/{id}/callback`) and of every linked
    /// identity: lowercase letters, digits and `-`; never change it once people use it.
    pub id: String,
    #[serde(default)]
    pub kind: UpstreamKind,
    /// The button's text: "Continue with {display_name}". Default: the id.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The provider's issuer identifier; discovery is read from it.
    #[serde(default)]
    pub issuer: Option<String>,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Default: `openid email profile`.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Link a first sign-in to the local account with the same email — only when the
    /// upstream asserts the email verified. Off by default: trust it only for a
    /// provider that owns the addresses it vouches for.
    #[serde(default)]
    pub trust_email: bool,
    /// Create a local account at a first sign-in (just-in-time provisioning).
    #[serde(default = "yes")]
    pub provision: bool,
    /// The level (`acr` value) a sign-in through this upstream reaches: `pwd` by default.
    #[serde(default)]
    pub level: Option<String>,
    /// Take the upstream's `amr` (RFC 8176 values only) into ours after `fed`; when it
    /// says `mfa`, the sign-in is at `mfa`. Off by default: trust it only for a provider
    /// whose second factors you trust.
    #[serde(default)]
    pub trust_amr: bool,
    /// Google: only accounts of this Workspace domain, as the ID token's `hd` says (the
    /// `hd` request parameter is sent too, but it is only a hint).
    #[serde(default)]
    pub hosted_domain: Option<String>,
    /// Facebook: the Graph API version, pinned (`v21.0` by default).
    #[serde(default)]
    pub graph_version: Option<String>,
    /// Overrides of the kind's own endpoints (tests and staging point them at loopback):
    /// Facebook's login dialog, its token endpoint, and the Graph API's base URL.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint: Option<String>,
    #[serde(default)]
    pub graph_url: Option<String>,
    /// `oauth2`: where the person's profile is read, with the access token.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// `oauth2`: where each claim is in the user-info JSON.
    #[serde(default)]
    pub claims: ClaimPaths,
}

/// Dot-separated paths into a JSON document (`account.emails.0.address`: members by
/// name, array items by index).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimPaths {
    pub sub: String,
    pub email: String,
    pub email_verified: String,
    pub name: String,
    pub preferred_username: String,
}

impl Default for ClaimPaths {
    fn default() -> Self {
        ClaimPaths {
            sub: "sub".into(),
            email: "email".into(),
            email_verified: "email_verified".into(),
            name: "name".into(),
            preferred_username: "preferred_username".into(),
        }
    }
}

fn yes() -> bool {
    true
}

impl UpstreamConfig {
    pub fn display_name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.id)
    }

    /// The issuer discovery is read from: the configured one, else the kind's own.
    pub fn issuer(&self) -> Option<&str> {
        match (self.kind, &self.issuer) {
            (_, Some(issuer)) => Some(issuer),
            (UpstreamKind::Google, None) => Some(GOOGLE_ISSUER),
            (UpstreamKind::Oidc | UpstreamKind::Facebook | UpstreamKind::Oauth2, None) => None,
        }
    }

    pub fn scopes(&self) -> Vec<String> {
        self.scopes.clone().unwrap_or_else(|| match self.kind {
            UpstreamKind::Facebook => vec!["email".into(), "public_profile".into()],
            UpstreamKind::Oauth2 => Vec::new(),
            _ => vec!["openid".into(), "email".into(), "profile".into()],
        })
    }

    pub fn graph_version(&self) -> &str {
        self.graph_version
            .as_deref()
            .unwrap_or(FACEBOOK_GRAPH_VERSION)
    }
}

/// How Portcullis calls upstreams: one outbound HTTP client for all of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    pub connect_timeout: Lifetime,
    /// For a whole call, connection included.
    pub timeout: Lifetime,
    /// Call upstreams on loopback, private and link-local addresses (tests, staging).
    /// Off by default: a configured URL must not reach into the network we run in.
    pub allow_private_addresses: bool,
    /// How long an upstream's discovery document and keys are kept.
    pub discovery_max_age: Lifetime,
    /// How long a person has at the upstream before the callback is refused.
    pub state_ttl: Lifetime,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            connect_timeout: Lifetime::secs(5),
            timeout: Lifetime::secs(10),
            allow_private_addresses: false,
            discovery_max_age: Lifetime::secs(3600),
            state_ttl: Lifetime::secs(600),
        }
    }
}

/// Validates every entry and resolves `client_secret_file`.
pub(super) fn validate_all(
    upstreams: &mut [UpstreamConfig],
    acr_names: &crate::oidc::acr::Names,
) -> Result<(), String> {
    let mut ids = HashSet::new();
    for (i, u) in upstreams.iter_mut().enumerate() {
        let at = format!("upstreams[{i}]");
        let valid_id = !u.id.is_empty()
            && u.id.len() <= 32
            && u.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid_id {
            return Err(format!(
                "{at}.id: {:?} must be 1-32 lowercase letters, digits or '-'",
                u.id
            ));
        }
        if !ids.insert(u.id.clone()) {
            return Err(format!("{at}.id: {:?} is listed twice", u.id));
        }
        if u.client_id.is_empty() {
            return Err(format!("{at}.client_id: must be set"));
        }
        u.client_secret = secret::resolve(
            &format!("{at}.client_secret"),
            &u.client_secret,
            &u.client_secret_file,
        )?;
        u.client_secret_file = None;
        if let Some(level) = &u.level {
            if acr_names.parse(level).is_none() {
                return Err(format!(
                    "{at}.level: {level:?} is not a level this server knows"
                ));
            }
        }
        if u.hosted_domain.is_some() && u.kind != UpstreamKind::Google {
            return Err(format!("{at}.hosted_domain: only for kind = \"google\""));
        }
        for (key, url) in [
            ("authorization_endpoint", &u.authorization_endpoint),
            ("token_endpoint", &u.token_endpoint),
            ("graph_url", &u.graph_url),
            ("userinfo_endpoint", &u.userinfo_endpoint),
        ] {
            if let Some(url) = url {
                super::validate_issuer(url).map_err(|e| format!("{at}.{key}: {e}"))?;
            }
        }
        if u.kind == UpstreamKind::Oauth2 {
            for (key, url) in [
                ("authorization_endpoint", &u.authorization_endpoint),
                ("token_endpoint", &u.token_endpoint),
                ("userinfo_endpoint", &u.userinfo_endpoint),
            ] {
                if url.is_none() {
                    return Err(format!("{at}.{key}: an oauth2 upstream needs it"));
                }
            }
            if u.claims.sub.is_empty() {
                return Err(format!("{at}.claims.sub: must name where the subject is"));
            }
            continue;
        }
        if u.kind == UpstreamKind::Facebook {
            if u.client_secret.is_none() {
                return Err(format!("{at}.client_secret: Facebook needs the app secret"));
            }
            let v = u.graph_version();
            let valid = v.starts_with('v')
                && v.len() <= 8
                && v[1..].bytes().all(|b| b.is_ascii_digit() || b == b'.');
            if !valid {
                return Err(format!("{at}.graph_version: {v:?} is not like \"v21.0\""));
            }
            continue;
        }
        let Some(issuer) = u.issuer() else {
            return Err(format!("{at}.issuer: an oidc upstream needs its issuer"));
        };
        super::validate_issuer(issuer).map_err(|e| format!("{at}.issuer: {e}"))?;
        if !u.scopes().iter().any(|s| s == "openid") {
            return Err(format!("{at}.scopes: must include openid"));
        }
    }
    Ok(())
}
