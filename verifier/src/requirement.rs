//! What one handler needs beyond a valid token: scopes (RFC 6750 §3.1), an
//! authentication level or freshness (RFC 9470 §3), or the token's live state (RFC 7662).

use std::time::Duration;

use crate::{AccessToken, Rejection};

/// A handler's needs. `Requirement::default()` needs only a valid token.
#[derive(Debug, Clone, Default)]
pub struct Requirement {
    scopes: Vec<String>,
    acr_values: Vec<String>,
    max_age: Option<Duration>,
    live: bool,
}

impl Requirement {
    pub fn new() -> Self {
        Self::default()
    }

    /// The token must grant `scope` (each call adds one; all are needed).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// The token's `acr` must be one of `values` (the issuer's names, e.g.
    /// `urn:portcullis:acr:mfa`); otherwise the client is told to come back with them.
    pub fn acr<I, S>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.acr_values.extend(values.into_iter().map(Into::into));
        self
    }

    /// The person must have authenticated at most `max_age` ago (`auth_time`).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Ask the issuer about the token (introspection) instead of trusting it locally.
    pub fn live(mut self) -> Self {
        self.live = true;
        self
    }

    pub(crate) fn is_live(&self) -> bool {
        self.live
    }

    /// Scopes first (a client without them cannot fix it by signing the person in
    /// again), then the level and freshness together, so one challenge names both.
    pub(crate) fn check(&self, token: &AccessToken, now: i64) -> Result<(), Rejection> {
        let missing: Vec<&str> = self
            .scopes
            .iter()
            .map(String::as_str)
            .filter(|s| !token.has_scope(s))
            .collect();
        if !missing.is_empty() {
            return Err(Rejection::InsufficientScope {
                scope: self.scopes.join(" "),
            });
        }
        let level_ok = self.acr_values.is_empty()
            || token
                .acr
                .as_ref()
                .is_some_and(|acr| self.acr_values.contains(acr));
        let fresh = match self.max_age {
            None => true,
            Some(max_age) => token
                .auth_time
                .is_some_and(|t| now.saturating_sub(t) <= max_age.as_secs() as i64),
        };
        if level_ok && fresh {
            return Ok(());
        }
        let description = match (level_ok, fresh) {
            (false, true) => "a different authentication level is required",
            (true, false) => "a more recent authentication is required",
            _ => "a different and more recent authentication is required",
        };
        Err(Rejection::InsufficientUserAuthentication {
            description: description.into(),
            acr_values: (!level_ok).then(|| self.acr_values.join(" ")),
            max_age: (!fresh).then(|| self.max_age.map_or(0, |d| d.as_secs())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(acr: Option<&str>, auth_time: Option<i64>) -> AccessToken {
        serde_json::from_value(serde_json::json!({
            "iss": "i", "sub": "u", "aud": "api", "exp": 2000, "iat": 900, "jti": "j",
            "client_id": "c", "scope": "pay", "acr": acr, "auth_time": auth_time
        }))
        .unwrap()
    }

    const MFA: &str = "urn:portcullis:acr:mfa";

    #[test]
    fn a_missing_scope_is_insufficient_scope_naming_what_is_needed() {
        let need = Requirement::new().scope("pay").scope("images:read");
        assert_eq!(
            need.check(&token(None, None), 1000).unwrap_err(),
            Rejection::InsufficientScope {
                scope: "pay images:read".into()
            }
        );
    }

    #[test]
    fn a_lower_level_is_asked_to_step_up_with_acr_values() {
        let need = Requirement::new().acr([MFA]);
        let e = need
            .check(&token(Some("urn:portcullis:acr:pwd"), Some(990)), 1000)
            .unwrap_err();
        assert_eq!(e.error(), Some("insufficient_user_authentication"));
        assert!(matches!(
            e,
            Rejection::InsufficientUserAuthentication { acr_values: Some(ref v), max_age: None, .. } if v == MFA
        ));
        assert!(need.check(&token(Some(MFA), Some(990)), 1000).is_ok());
        assert!(need.check(&token(None, Some(990)), 1000).is_err());
    }

    #[test]
    fn an_old_authentication_is_asked_for_with_max_age() {
        let need = Requirement::new().max_age(Duration::from_secs(300));
        assert!(need.check(&token(None, Some(700)), 1000).is_ok());
        let e = need.check(&token(None, Some(699)), 1000).unwrap_err();
        assert!(matches!(
            e,
            Rejection::InsufficientUserAuthentication {
                acr_values: None,
                max_age: Some(300),
                ..
            }
        ));
        // No auth_time: freshness cannot be shown.
        assert!(need.check(&token(None, None), 1000).is_err());
    }
}
