//! Why a request was refused, and how to say so: RFC 6750 §3 (`invalid_request`,
//! `invalid_token`, `insufficient_scope`) and RFC 9470 §3
//! (`insufficient_user_authentication`), each with its status and `WWW-Authenticate`.

use std::fmt;

/// A refused request. [`Rejection::status`] and [`Rejection::www_authenticate`] make the
/// response; with the `actix` feature it is an actix-web error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No bearer token: `401` with a bare challenge (RFC 6750 §3.1: no error code).
    Missing,
    /// `400 invalid_request`: the request is malformed.
    InvalidRequest(String),
    /// `401 invalid_token`: forged, expired, revoked, or not for us.
    InvalidToken(String),
    /// `403 insufficient_scope`, naming the scopes needed.
    InsufficientScope { scope: String },
    /// `401 insufficient_user_authentication` (RFC 9470 §3): the person must sign in
    /// again at a higher level (`acr_values`) or more recently (`max_age`).
    InsufficientUserAuthentication {
        description: String,
        acr_values: Option<String>,
        max_age: Option<u64>,
    },
    /// `503`: we cannot tell (the feed is down and we fail closed, or introspection
    /// failed); the token may be fine, so this is not `invalid_token`.
    Unavailable(String),
}

impl Rejection {
    pub(crate) fn invalid_request(description: &str) -> Self {
        Rejection::InvalidRequest(description.into())
    }

    pub(crate) fn invalid_token(description: &str) -> Self {
        Rejection::InvalidToken(description.into())
    }

    pub(crate) fn unavailable(description: &str) -> Self {
        Rejection::Unavailable(description.into())
    }

    /// The OAuth error code, if the refusal has one.
    pub fn error(&self) -> Option<&'static str> {
        match self {
            Rejection::Missing => None,
            Rejection::InvalidRequest(_) => Some("invalid_request"),
            Rejection::InvalidToken(_) => Some("invalid_token"),
            Rejection::InsufficientScope { .. } => Some("insufficient_scope"),
            Rejection::InsufficientUserAuthentication { .. } => {
                Some("insufficient_user_authentication")
            }
            Rejection::Unavailable(_) => Some("temporarily_unavailable"),
        }
    }

    /// A sentence for the developer reading the response.
    pub fn description(&self) -> Option<&str> {
        match self {
            Rejection::Missing => None,
            Rejection::InvalidRequest(d)
            | Rejection::InvalidToken(d)
            | Rejection::Unavailable(d)
            | Rejection::InsufficientUserAuthentication { description: d, .. } => Some(d),
            Rejection::InsufficientScope { .. } => {
                Some("the token does not grant the scope this request needs")
            }
        }
    }

    /// The HTTP status (RFC 6750 §3.1, RFC 9470 §3).
    pub fn status(&self) -> u16 {
        match self {
            Rejection::Missing
            | Rejection::InvalidToken(_)
            | Rejection::InsufficientUserAuthentication { .. } => 401,
            Rejection::InvalidRequest(_) => 400,
            Rejection::InsufficientScope { .. } => 403,
            Rejection::Unavailable(_) => 503,
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3), e.g.
    /// `Bearer realm="api", error="insufficient_scope", scope="images:read"`.
    /// `None` for `503`, which is not an authentication challenge.
    pub fn www_authenticate(&self, realm: Option<&str>) -> Option<String> {
        if matches!(self, Rejection::Unavailable(_)) {
            return None;
        }
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(realm) = realm {
            params.push(("realm", realm.to_owned()));
        }
        if let Some(error) = self.error() {
            params.push(("error", error.to_owned()));
        }
        if let Some(description) = self.description() {
            params.push(("error_description", description.to_owned()));
        }
        match self {
            Rejection::InsufficientScope { scope } => params.push(("scope", scope.clone())),
            Rejection::InsufficientUserAuthentication {
                acr_values,
                max_age,
                ..
            } => {
                if let Some(acr_values) = acr_values {
                    params.push(("acr_values", acr_values.clone()));
                }
                if let Some(max_age) = max_age {
                    params.push(("max_age", max_age.to_string()));
                }
            }
            _ => {}
        }
        if params.is_empty() {
            return Some("Bearer".into());
        }
        let rendered: Vec<String> = params
            .into_iter()
            .map(|(name, value)| format!("{name}=\"{}\"", quoted(&value)))
            .collect();
        Some(format!("Bearer {}", rendered.join(", ")))
    }

    /// The JSON body sent with the challenge: `{"error": …, "error_description": …}`.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        if let Some(error) = self.error() {
            body.insert("error".into(), error.into());
        }
        if let Some(description) = self.description() {
            body.insert("error_description".into(), description.into());
        }
        body.into()
    }
}

/// RFC 6750 §3: attribute values are quoted strings of %x20-21 / %x23-5B / %x5D-7E; any
/// other character is dropped (descriptions are ours, realms the operator's).
fn quoted(value: &str) -> String {
    value
        .chars()
        .filter(|&c| matches!(c, ' '..='~') && c != '"' && c != '\\')
        .collect()
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.error(), self.description()) {
            (Some(error), Some(description)) => write!(f, "{error}: {description}"),
            (Some(error), None) => f.write_str(error),
            _ => f.write_str("no bearer token"),
        }
    }
}

impl std::error::Error for Rejection {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_token_gets_a_bare_challenge() {
        assert_eq!(Rejection::Missing.status(), 401);
        assert_eq!(Rejection::Missing.www_authenticate(None).unwrap(), "Bearer");
        assert_eq!(
            Rejection::Missing.www_authenticate(Some("api")).unwrap(),
            "Bearer realm=\"api\""
        );
    }

    #[test]
    fn insufficient_scope_names_the_scope() {
        let r = Rejection::InsufficientScope {
            scope: "images:read".into(),
        };
        assert_eq!(r.status(), 403);
        assert_eq!(
            r.www_authenticate(None).unwrap(),
            "Bearer error=\"insufficient_scope\", error_description=\"the token does not \
             grant the scope this request needs\", scope=\"images:read\""
        );
    }

    // RFC 9470 §3's example: error, error_description, acr_values, max_age.
    #[test]
    fn step_up_carries_acr_values_and_max_age() {
        let r = Rejection::InsufficientUserAuthentication {
            description: "A different authentication level is required".into(),
            acr_values: Some("urn:portcullis:acr:mfa".into()),
            max_age: Some(300),
        };
        assert_eq!(r.status(), 401);
        assert_eq!(
            r.www_authenticate(None).unwrap(),
            "Bearer error=\"insufficient_user_authentication\", error_description=\"A \
             different authentication level is required\", acr_values=\"urn:portcullis:acr:mfa\", \
             max_age=\"300\""
        );
    }

    #[test]
    fn quotes_and_backslashes_never_reach_the_header() {
        let r = Rejection::InvalidToken("a \"b\" \\ c\n".into());
        assert_eq!(
            r.www_authenticate(Some("x\"y")).unwrap(),
            "Bearer realm=\"xy\", error=\"invalid_token\", error_description=\"a b  c\""
        );
    }
}
