//! A generic OAuth 2.0 upstream (`kind = "oauth2"`), through the `oauth2` crate: the
//! authorization code grant with PKCE S256 and `state` (RFC 6749 §4.1, RFC 7636) at the
//! configured endpoints, then the user-info URL with the access token (RFC 6750 §2.1),
//! whose JSON `claims` maps onto a subject, an email, whether it is verified, a name.
//! Without an ID token there is no signature to check: the user-info answer, fetched
//! over TLS from the configured URL with a token just issued to us, is the assertion.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde_json::Value;

use super::outbound::Outbound;
use super::{Asserted, FederationError};
use crate::config::{ClaimPaths, UpstreamConfig};

type Oauth2Client =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

pub struct Provider {
    client: Oauth2Client,
    scopes: Vec<Scope>,
    userinfo: url::Url,
    claims: ClaimPaths,
}

pub struct Started {
    pub url: url::Url,
    pub state: String,
    pub pkce_verifier: String,
}

impl Provider {
    pub fn new(config: &UpstreamConfig, redirect_uri: &str) -> Result<Provider, String> {
        let get = |u: &Option<String>| u.clone().unwrap_or_default();
        let mut client = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(
                AuthUrl::new(get(&config.authorization_endpoint)).map_err(|e| e.to_string())?,
            )
            .set_token_uri(TokenUrl::new(get(&config.token_endpoint)).map_err(|e| e.to_string())?)
            .set_redirect_uri(
                RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| e.to_string())?,
            );
        if let Some(secret) = &config.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
        }
        Ok(Provider {
            client,
            scopes: config.scopes().into_iter().map(Scope::new).collect(),
            userinfo: url::Url::parse(&get(&config.userinfo_endpoint))
                .map_err(|e| e.to_string())?,
            claims: config.claims.clone(),
        })
    }

    pub fn authorization_origin(&self) -> String {
        self.client.auth_uri().url().origin().ascii_serialization()
    }

    pub fn start(&self) -> Started {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.scopes.iter().cloned())
            .set_pkce_challenge(challenge)
            .url();
        Started {
            url,
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        }
    }

    pub async fn finish(
        &self,
        outbound: &Outbound,
        code: String,
        pkce_verifier: String,
    ) -> Result<Asserted, FederationError> {
        let http = |request| outbound.send(request);
        let tokens = self
            .client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier))
            .request_async(&http)
            .await
            .map_err(super::oidc::token_error)?;
        let (status, profile) = outbound
            .get_json(&self.userinfo, Some(tokens.access_token().secret()))
            .await
            .map_err(|e| FederationError::Unreachable(format!("user info: {e}")))?;
        if status != 200 {
            return Err(FederationError::Rejected(format!(
                "user info: status {status}"
            )));
        }
        let c = &self.claims;
        let subject = text_at(&profile, &c.sub)
            .ok_or_else(|| FederationError::Rejected("user info: no subject".into()))?;
        Ok(Asserted {
            subject,
            email: text_at(&profile, &c.email),
            email_verified: match at(&profile, &c.email_verified) {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s == "true",
                _ => false,
            },
            name: text_at(&profile, &c.name),
            preferred_username: text_at(&profile, &c.preferred_username),
            amr: Vec::new(),
        })
    }
}

/// The value at a dot-separated `path` (members by name, array items by index).
fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return None;
    }
    path.split('.').try_fold(value, |v, step| match v {
        Value::Object(map) => map.get(step),
        Value::Array(items) => items.get(step.parse::<usize>().ok()?),
        _ => None,
    })
}

/// A string or number at `path`, as text.
fn text_at(value: &Value, path: &str) -> Option<String> {
    match at(value, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_reach_members_and_array_items() {
        let v = serde_json::json!({"id": 42, "account": {"emails": [{"address": "a@b.test"}]}});
        assert_eq!(text_at(&v, "id").as_deref(), Some("42"));
        assert_eq!(
            text_at(&v, "account.emails.0.address").as_deref(),
            Some("a@b.test")
        );
        assert_eq!(text_at(&v, "account.emails.1.address"), None);
        assert_eq!(text_at(&v, "account.missing"), None);
        assert_eq!(text_at(&v, ""), None);
    }
}
