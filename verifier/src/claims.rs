//! The claims of a verified access token (RFC 9068 §2.2, RFC 9470 §3 `acr`/`auth_time`)
//! and the checks every token must pass, whatever the handler needs.

use serde::{Deserialize, Deserializer, Serialize};

use crate::Rejection;

/// A verified access token: what a handler may rely on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessToken {
    pub iss: String,
    /// The person, or the client itself for `client_credentials` tokens.
    pub sub: String,
    /// RFC 7519 §4.1.3: one string or an array; always a list here.
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub jti: String,
    pub client_id: String,
    /// RFC 9068 §2.2.3: space-separated scopes.
    #[serde(default)]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The grant the token came from; the revocation feed revokes by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// Any other claim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

impl AccessToken {
    /// The granted scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_ascii_whitespace()
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// RFC 9068 §4: the issuer is ours exactly, the audience names this resource server,
    /// and the token is within its lifetime (RFC 7519 §4.1.4–4.1.6), give or take
    /// `leeway` seconds of clock skew.
    pub(crate) fn check(
        &self,
        issuer: &str,
        audiences: &[String],
        now: i64,
        leeway: i64,
    ) -> Result<(), Rejection> {
        if self.iss != issuer {
            return Err(Rejection::invalid_token("the token is from another issuer"));
        }
        if !self.aud.iter().any(|a| audiences.contains(a)) {
            return Err(Rejection::invalid_token(
                "the token is not meant for this resource server (aud)",
            ));
        }
        if now >= self.exp.saturating_add(leeway) {
            return Err(Rejection::invalid_token("the token has expired"));
        }
        if self.nbf.is_some_and(|nbf| now < nbf.saturating_sub(leeway)) {
            return Err(Rejection::invalid_token("the token is not valid yet (nbf)"));
        }
        if self.iat > now.saturating_add(leeway) {
            return Err(Rejection::invalid_token(
                "the token was issued in the future (iat)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(aud: serde_json::Value) -> AccessToken {
        serde_json::from_value(serde_json::json!({
            "iss": "https://id.example", "sub": "u", "aud": aud, "exp": 1000, "iat": 900,
            "jti": "j", "client_id": "c", "scope": "openid images:read", "x": 1
        }))
        .unwrap()
    }

    #[test]
    fn aud_is_one_or_many_and_unknown_claims_are_kept() {
        assert_eq!(token("api".into()).aud, ["api"]);
        assert_eq!(token(serde_json::json!(["a", "b"])).aud, ["a", "b"]);
        assert_eq!(token("api".into()).extra["x"], 1);
        assert!(token("api".into()).has_scope("images:read"));
        assert!(!token("api".into()).has_scope("images"));
    }

    #[test]
    fn lifetime_checks_allow_the_leeway_and_no_more() {
        let t = token("api".into());
        let aud = ["api".to_owned()];
        let check = |now| t.check("https://id.example", &aud, now, 30);
        assert!(check(1029).is_ok());
        assert_eq!(
            check(1030).unwrap_err(),
            Rejection::invalid_token("the token has expired")
        );
        assert!(check(871).is_ok());
        assert!(check(869).unwrap_err().to_string().contains("iat"));
        assert!(t.check("https://other", &aud, 950, 30).is_err());
        assert!(t
            .check("https://id.example", &["img".to_owned()], 950, 30)
            .is_err());
    }
}
