//! Authentication context classes (OpenID Connect Core §2 `acr`). The values are ours
//! (no registry exists); discovery lists them. Methods (`amr`) are RFC 8176 names.
//!
//! A level is an ordered value, parsed once from what a client sends: a higher level
//! satisfies a request for a lower one (#12).

use serde::{Deserialize, Serialize};

/// A password sign-in: one factor.
pub const PWD: &str = "urn:portcullis:acr:pwd";
/// A password and a second factor.
pub const MFA: &str = "urn:portcullis:acr:mfa";
/// OpenID Provider Authentication Policy Extension 1.0 §4: accepted on input as a
/// synonym of [`MFA`].
pub const PAPE_MULTI_FACTOR: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";

/// Every class this server can reach, for discovery's `acr_values_supported`.
pub const SUPPORTED: [&str; 2] = [PWD, MFA];

/// Assurance levels, weakest first: the derived order is the order of strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Pwd,
    Mfa,
}

impl Level {
    /// The level an `acr` value names, synonyms included; `None` for a value we do not
    /// know (a voluntary request for it is ignored, an essential one cannot be met).
    pub fn parse(value: &str) -> Option<Level> {
        match value {
            PWD => Some(Level::Pwd),
            MFA | PAPE_MULTI_FACTOR => Some(Level::Mfa),
            _ => None,
        }
    }

    /// The `acr` value tokens carry for this level.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Pwd => PWD,
            Level::Mfa => MFA,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered_and_parsed_with_the_pape_synonym() {
        assert!(Level::Mfa > Level::Pwd);
        assert_eq!(Level::parse(PWD), Some(Level::Pwd));
        assert_eq!(Level::parse(MFA), Some(Level::Mfa));
        assert_eq!(Level::parse(PAPE_MULTI_FACTOR), Some(Level::Mfa));
        assert_eq!(Level::parse("urn:example:other"), None);
        assert_eq!(Level::parse(Level::Mfa.as_str()), Some(Level::Mfa));
    }
}
