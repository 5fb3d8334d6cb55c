//! The OpenID Connect parameters of an authentication request (OpenID Connect Core
//! §3.1.2.1), which OAuth 2.0 does not know: `nonce`, `prompt`, `max_age`,
//! `id_token_hint`, `login_hint`, `acr_values`, `claims`, `display`, `ui_locales`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::oauth::params::{has_control, Params};
use crate::oidc::acr::{Level, Names};

/// Checklist §3 limits.
const MAX_NONCE: usize = 512;
const MAX_HINT: usize = 256;
/// The `claims` parameter and `acr_values` are stored with a pending request, which
/// anyone can make: a few KiB each bound what one unauthenticated request can store
/// (hardening #11 item 8).
const MAX_CLAIMS: usize = 4096;
const MAX_ACR_VALUES: usize = 1024;

/// `prompt` (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// No page may be shown: fail with `login_required`/`consent_required` instead.
    pub none: bool,
    /// Sign in again even with a live session (also `select_account`: one account per
    /// browser session here, so choosing one means signing in).
    pub login: bool,
    /// Ask for consent again even if it was given before.
    pub consent: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OidcParams {
    pub nonce: Option<String>,
    #[serde(default)]
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub id_token_hint: Option<String>,
    pub login_hint: Option<String>,
    #[serde(default)]
    pub acr_values: Vec<String>,
    /// The `claims` request parameter (§5.5), parsed once.
    #[serde(default, deserialize_with = "stored_claims")]
    pub claims: Option<ClaimsRequest>,
}

/// The `claims` request parameter (OpenID Connect Core §5.5): which claims the client
/// wants in the ID token and from UserInfo, and how. Other top-level members are
/// ignored (§5.5: "MAY be present … MUST be ignored" when not understood).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClaimsRequest {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub userinfo: BTreeMap<String, Option<ClaimRequest>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub id_token: BTreeMap<String, Option<ClaimRequest>>,
}

/// One requested claim (§5.5.1): `null`, or an object with `essential`, `value`,
/// `values`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClaimRequest {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub essential: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<serde_json::Value>>,
}

/// What a client asked of the `acr` claim (§5.5.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcrClaim {
    /// The asked values we know, in the client's order; empty: any value will do.
    pub levels: Vec<Level>,
    /// Some asked values were unknown to us.
    pub unknown: bool,
    pub essential: bool,
}

impl ClaimsRequest {
    /// The request for `acr`, in the ID token (or else from UserInfo), read with the
    /// server's level names.
    pub fn acr(&self, names: &Names) -> Option<AcrClaim> {
        let asked = self
            .id_token
            .get("acr")
            .or_else(|| self.userinfo.get("acr"))?;
        let Some(asked) = asked else {
            return Some(AcrClaim {
                levels: Vec::new(),
                unknown: false,
                essential: false,
            });
        };
        let values: Vec<&serde_json::Value> = asked
            .value
            .iter()
            .chain(asked.values.iter().flatten())
            .collect();
        let levels: Vec<Level> = values
            .iter()
            .filter_map(|v| v.as_str().and_then(|v| names.parse(v)))
            .collect();
        Some(AcrClaim {
            unknown: levels.len() < values.len(),
            levels,
            essential: asked.essential,
        })
    }
}

impl OidcParams {
    /// The `acr_values` we know, in the client's order of preference (§3.1.2.1: a
    /// voluntary request).
    pub fn acr_levels(&self, names: &Names) -> Vec<Level> {
        self.acr_values
            .iter()
            .filter_map(|v| names.parse(v))
            .collect()
    }
}

/// A pending request stored before the `claims` parameter was typed kept it as the
/// JSON text the client sent: both read back.
fn stored_claims<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ClaimsRequest>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Text(String),
        Typed(ClaimsRequest),
    }
    match Option::<Stored>::deserialize(d)? {
        None => Ok(None),
        Some(Stored::Typed(c)) => Ok(Some(c)),
        Some(Stored::Text(t)) => serde_json::from_str(&t)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Parses the OpenID parameters; the error is an `invalid_request` description.
pub fn parse(params: &Params) -> Result<OidcParams, &'static str> {
    let text = |name: &str, max: usize| -> Result<Option<String>, &'static str> {
        match params.get(name) {
            Some(v) if v.len() > max || has_control(v) => {
                Err("a parameter is too long or malformed")
            }
            v => Ok(v.map(str::to_owned)),
        }
    };
    let nonce = text("nonce", MAX_NONCE)?;
    let login_hint = text("login_hint", MAX_HINT)?;
    let id_token_hint = text("id_token_hint", 4096)?;
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(
            v.parse::<u32>()
                .map(i64::from)
                .map_err(|_| "max_age must be a non-negative number of seconds")?,
        ),
    };
    let claims = match params.get("claims") {
        None => None,
        Some(v) if v.len() > MAX_CLAIMS => return Err("claims is too long"),
        // An object only: serde would also read a struct from a JSON array.
        Some(v) => match serde_json::from_str::<serde_json::Value>(v) {
            Ok(object @ serde_json::Value::Object(_)) => Some(
                serde_json::from_value::<ClaimsRequest>(object)
                    .map_err(|_| "claims must be a JSON object of claim requests")?,
            ),
            _ => return Err("claims must be a JSON object"),
        },
    };
    if let Some(display) = params.get("display") {
        if !matches!(display, "page" | "popup" | "touch" | "wap") {
            return Err("display must be page, popup, touch or wap");
        }
    }
    Ok(OidcParams {
        nonce,
        prompt: prompt(params.get("prompt"))?,
        max_age,
        id_token_hint,
        login_hint,
        acr_values: text("acr_values", MAX_ACR_VALUES)?
            .as_deref()
            .map(|v| {
                v.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        claims,
    })
}

fn prompt(value: Option<&str>) -> Result<Prompt, &'static str> {
    let mut prompt = Prompt::default();
    let Some(value) = value else {
        return Ok(prompt);
    };
    let mut count = 0;
    for v in value.split(' ').filter(|s| !s.is_empty()) {
        count += 1;
        match v {
            "none" => prompt.none = true,
            "login" | "select_account" => prompt.login = true,
            "consent" => prompt.consent = true,
            _ => return Err("prompt must be none, login, consent or select_account"),
        }
    }
    // §3.1.2.1: "If this parameter contains none with any other value, an error is returned."
    if prompt.none && count > 1 {
        return Err("prompt=none cannot be combined with other values");
    }
    Ok(prompt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_acr_claim_and_acr_values_are_parsed_into_levels() {
        let essential = serde_json::json!({"id_token": {"acr": {"essential": true,
            "values": [crate::oidc::acr::PAPE_MULTI_FACTOR, "urn:example:x"]}}, "other": 1});
        let claims: ClaimsRequest = serde_json::from_value(essential).unwrap();
        assert_eq!(
            claims.acr(&Names::default()),
            Some(AcrClaim {
                levels: vec![Level::Mfa],
                unknown: true,
                essential: true
            })
        );
        let any: ClaimsRequest = serde_json::from_str(r#"{"id_token":{"acr":null}}"#).unwrap();
        assert_eq!(
            any.acr(&Names::default())
                .map(|a| (a.levels.len(), a.essential)),
            Some((0, false))
        );
        let p = Params::parse(b"acr_values=urn:example:x+urn:portcullis:acr:mfa").unwrap();
        assert_eq!(
            parse(&p).unwrap().acr_levels(&Names::default()),
            vec![Level::Mfa]
        );
    }

    #[test]
    fn a_request_stored_with_claims_as_text_reads_back() {
        let old = r#"{"prompt":{"none":false,"login":false,"consent":false},"claims":"{\"id_token\":{\"acr\":null}}"}"#;
        let params: OidcParams = serde_json::from_str(old).unwrap();
        assert!(params.claims.unwrap().id_token.contains_key("acr"));
    }

    #[test]
    fn prompt_values() {
        assert_eq!(prompt(None).unwrap(), Prompt::default());
        assert!(prompt(Some("none")).unwrap().none);
        let p = prompt(Some("login consent")).unwrap();
        assert!(p.login && p.consent && !p.none);
        assert!(prompt(Some("select_account")).unwrap().login);
        assert!(prompt(Some("none login")).is_err());
        assert!(prompt(Some("bogus")).is_err());
    }

    #[test]
    fn max_age_and_claims() {
        let p = Params::parse(b"max_age=0&claims=%7B%7D").unwrap();
        let o = parse(&p).unwrap();
        assert_eq!(o.max_age, Some(0));
        assert_eq!(o.claims, Some(ClaimsRequest::default()));
        assert!(parse(&Params::parse(b"max_age=-1").unwrap()).is_err());
        assert!(parse(&Params::parse(b"claims=%5B%5D").unwrap()).is_err());
        let bad = Params::parse(br#"claims={"id_token":{"acr":{"essential":"yes"}}}"#).unwrap();
        assert!(parse(&bad).is_err(), "essential is a boolean");
        let padded = format!(r#"{{"x":"{}"}}"#, "a".repeat(MAX_CLAIMS));
        let long = Params::parse(format!("claims={padded}").as_bytes()).unwrap();
        assert!(parse(&long).is_err(), "claims is capped");
        let acr = Params::parse(format!("acr_values={}", "a".repeat(2000)).as_bytes()).unwrap();
        assert!(parse(&acr).is_err(), "acr_values is capped");
    }
}
