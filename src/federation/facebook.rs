//! A Facebook upstream (`kind = "facebook"`). Facebook Login is OAuth 2.0 plus the Graph
//! API, not OpenID Connect, so there is no ID token to verify; instead, with the Graph
//! version pinned in config (`graph_version`):
//! 1. the login dialog, with `state` and PKCE S256 (RFC 7636);
//! 2. `oauth/access_token`: the code (and verifier) for a user access token;
//! 3. `debug_token` with the app token: the user token must be valid and issued to *our*
//!    app (`app_id`), or a token minted for another app could sign someone in here;
//! 4. `/me?fields=id,name,email` with `appsecret_proof` — HMAC-SHA256 of the user token
//!    keyed by the app secret (Graph API "Securing requests") — and its `id` must be the
//!    `user_id` `debug_token` named.
//!
//! Accounts are keyed on the app-scoped `id`. An email from Facebook is never treated as
//! verified: Facebook does not say whether it is.

use ring::hmac;
use serde_json::Value;

use super::outbound::Outbound;
use super::{Asserted, FederationError};
use crate::config::UpstreamConfig;
use crate::crypto::token;

pub struct Provider {
    app_id: String,
    app_secret: String,
    scopes: Vec<String>,
    dialog: url::Url,
    token: url::Url,
    /// `{graph}/{version}/`
    graph: url::Url,
}

/// What the browser is sent to, and what must be kept to finish.
pub struct Started {
    pub url: url::Url,
    pub state: String,
    pub pkce_verifier: String,
}

impl Provider {
    pub fn new(config: &UpstreamConfig) -> Result<Provider, String> {
        let v = config.graph_version();
        let parse = |u: String| url::Url::parse(&u).map_err(|e| format!("{u}: {e}"));
        let graph_base = config
            .graph_url
            .clone()
            .unwrap_or_else(|| "https://graph.facebook.com".into());
        let graph = parse(format!("{}/{v}/", graph_base.trim_end_matches('/')))?;
        Ok(Provider {
            app_id: config.client_id.clone(),
            app_secret: config
                .client_secret
                .as_ref()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default(),
            scopes: config.scopes(),
            dialog: parse(
                config
                    .authorization_endpoint
                    .clone()
                    .unwrap_or_else(|| format!("https://www.facebook.com/{v}/dialog/oauth")),
            )?,
            token: match &config.token_endpoint {
                Some(t) => parse(t.clone())?,
                None => graph
                    .join("oauth/access_token")
                    .map_err(|e| e.to_string())?,
            },
            graph,
        })
    }

    pub fn authorization_origin(&self) -> String {
        self.dialog.origin().ascii_serialization()
    }

    pub fn start(&self, redirect_uri: &str) -> Started {
        let state = token::random_secret();
        let verifier = token::random_secret();
        let challenge = token::b64url(&token::sha256(verifier.as_bytes()));
        let mut url = self.dialog.clone();
        url.query_pairs_mut()
            .append_pair("client_id", &self.app_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", &state)
            .append_pair("response_type", "code")
            .append_pair("scope", &self.scopes.join(","))
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Started {
            url,
            state,
            pkce_verifier: verifier,
        }
    }

    pub async fn finish(
        &self,
        outbound: &Outbound,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<Asserted, FederationError> {
        let mut exchange = self.token.clone();
        exchange
            .query_pairs_mut()
            .append_pair("client_id", &self.app_id)
            .append_pair("client_secret", &self.app_secret)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code", code)
            .append_pair("code_verifier", pkce_verifier);
        let tokens = call(outbound, &exchange, "token endpoint").await?;
        let user_token = text(&tokens, "access_token")
            .ok_or_else(|| FederationError::Rejected("token endpoint: no access_token".into()))?;

        let mut debug = self.graph.join("debug_token").map_err(bad_url)?;
        debug
            .query_pairs_mut()
            .append_pair("input_token", &user_token)
            .append_pair(
                "access_token",
                &format!("{}|{}", self.app_id, self.app_secret),
            );
        let inspected = call(outbound, &debug, "debug_token").await?;
        let data = &inspected["data"];
        if data["is_valid"] != Value::Bool(true) {
            return Err(FederationError::Rejected("debug_token: not valid".into()));
        }
        if text(data, "app_id").as_deref() != Some(self.app_id.as_str()) {
            return Err(FederationError::Rejected(
                "debug_token: another app's token".into(),
            ));
        }
        let user_id = text(data, "user_id")
            .ok_or_else(|| FederationError::Rejected("debug_token: no user_id".into()))?;

        let mut me = self.graph.join("me").map_err(bad_url)?;
        me.query_pairs_mut()
            .append_pair("fields", "id,name,email")
            .append_pair("access_token", &user_token)
            .append_pair(
                "appsecret_proof",
                &appsecret_proof(&self.app_secret, &user_token),
            );
        let profile = call(outbound, &me, "/me").await?;
        let id =
            text(&profile, "id").ok_or_else(|| FederationError::Rejected("/me: no id".into()))?;
        if id != user_id {
            return Err(FederationError::Rejected(
                "/me: another user than the token's".into(),
            ));
        }
        Ok(Asserted {
            subject: id,
            email: text(&profile, "email"),
            email_verified: false,
            name: text(&profile, "name"),
            preferred_username: None,
            amr: Vec::new(),
        })
    }
}

/// Graph API "Securing requests": HMAC-SHA256 of the access token, keyed by the app
/// secret, in lowercase hex.
pub fn appsecret_proof(app_secret: &str, access_token: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, app_secret.as_bytes());
    hmac::sign(&key, access_token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One Graph call: its JSON when it answered 200, else what went wrong (never the
/// answer's text, which may echo a token).
async fn call(outbound: &Outbound, url: &url::Url, what: &str) -> Result<Value, FederationError> {
    let (status, body) = outbound
        .get_json(url, None)
        .await
        .map_err(|e| FederationError::Unreachable(format!("{what}: {}", without_query(&e))))?;
    if status != 200 {
        return Err(FederationError::Rejected(format!(
            "{what}: status {status}"
        )));
    }
    Ok(body)
}

/// An error's text with any URL query cut off: these URLs carry tokens and secrets.
fn without_query(e: &impl std::fmt::Display) -> String {
    let text = e.to_string();
    match text.find('?') {
        Some(at) => format!("{}…", &text[..at]),
        None => text,
    }
}

fn text(value: &Value, key: &str) -> Option<String> {
    match &value[key] {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn bad_url(e: url::ParseError) -> FederationError {
    FederationError::Rejected(format!("graph URL: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn appsecret_proof_is_the_hex_hmac_sha256_of_the_token() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
        assert_eq!(
            super::appsecret_proof("key", "The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
