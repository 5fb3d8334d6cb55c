//! Provider metadata: OpenID Connect Discovery 1.0 §3 and RFC 8414 §2. Built once at
//! start from the issuer; it lists only values the server implements.

use serde::Serialize;

use crate::crypto::Alg;
use crate::oauth::scope;
use crate::oidc::acr;

#[derive(Debug, Serialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    /// RFC 8414 §2 (RFC 7662).
    pub introspection_endpoint: String,
    pub introspection_endpoint_auth_methods_supported: [&'static str; 3],
    pub introspection_endpoint_auth_signing_alg_values_supported: [&'static str; 2],
    /// RFC 8414 §2 (RFC 7009).
    pub revocation_endpoint: String,
    pub revocation_endpoint_auth_methods_supported: [&'static str; 4],
    pub revocation_endpoint_auth_signing_alg_values_supported: [&'static str; 2],
    /// Ours (RFC 8414 §2 allows more metadata): the revocation feed resource servers
    /// follow (`GET`, HTTP Basic, SSE or long poll).
    pub revocation_feed_endpoint: String,
    /// RP-Initiated Logout 1.0 §2.1.
    pub end_session_endpoint: String,
    pub jwks_uri: String,
    pub scopes_supported: Vec<&'static str>,
    /// Only the code flow: no implicit or hybrid (RFC 9700 §2.1.2).
    pub response_types_supported: [&'static str; 1],
    /// RFC 6749 query, and OAuth 2.0 Form Post Response Mode.
    pub response_modes_supported: [&'static str; 2],
    pub grant_types_supported: [&'static str; 3],
    pub subject_types_supported: [&'static str; 1],
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: [&'static str; 4],
    /// RFC 8414 §2: the algorithms of `private_key_jwt` assertions.
    pub token_endpoint_auth_signing_alg_values_supported: [&'static str; 2],
    /// RFC 7636 §4.2 via RFC 9700 §2.1.1: S256 only.
    pub code_challenge_methods_supported: [&'static str; 1],
    /// RFC 9207 §3.
    pub authorization_response_iss_parameter_supported: bool,
    pub claims_supported: [&'static str; 14],
    pub acr_values_supported: Vec<String>,
    /// Discovery §3: the `claims` request parameter (Core §5.5) is understood — for
    /// `acr` as an essential claim.
    pub claims_parameter_supported: bool,
    pub prompt_values_supported: [&'static str; 4],
    /// Discovery §3 defaults `request_uri_parameter_supported` to true: say no.
    pub request_parameter_supported: bool,
    pub request_uri_parameter_supported: bool,
}

impl ProviderMetadata {
    /// `acr_names`: the names the levels go by (`[mfa.acr_names]`).
    pub fn new(issuer: &str, acr_names: &acr::Names) -> Self {
        let at = |path: &str| format!("{issuer}{path}");
        ProviderMetadata {
            issuer: issuer.to_owned(),
            authorization_endpoint: at("/authorize"),
            token_endpoint: at("/token"),
            userinfo_endpoint: at("/userinfo"),
            introspection_endpoint: at("/introspect"),
            introspection_endpoint_auth_methods_supported: [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ],
            introspection_endpoint_auth_signing_alg_values_supported: ["RS256", "ES256"],
            revocation_endpoint: at("/revoke"),
            revocation_endpoint_auth_methods_supported: [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ],
            revocation_endpoint_auth_signing_alg_values_supported: ["RS256", "ES256"],
            revocation_feed_endpoint: at("/revocations"),
            end_session_endpoint: at("/logout"),
            jwks_uri: at("/jwks"),
            scopes_supported: scope::STANDARD.to_vec(),
            response_types_supported: ["code"],
            response_modes_supported: ["query", "form_post"],
            grant_types_supported: ["authorization_code", "refresh_token", "client_credentials"],
            subject_types_supported: ["public"],
            id_token_signing_alg_values_supported: Alg::ALL.iter().map(|a| a.as_str()).collect(),
            token_endpoint_auth_methods_supported: [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ],
            token_endpoint_auth_signing_alg_values_supported: ["RS256", "ES256"],
            code_challenge_methods_supported: ["S256"],
            authorization_response_iss_parameter_supported: true,
            claims_supported: [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "sid",
                "name",
                "preferred_username",
                "email",
                "email_verified",
            ],
            acr_values_supported: acr_names.supported(),
            claims_parameter_supported: true,
            prompt_values_supported: ["none", "login", "consent", "select_account"],
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("metadata serialises")
    }
}
