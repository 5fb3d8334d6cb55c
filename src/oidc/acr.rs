//! Authentication context classes (OpenID Connect Core §2 `acr`). The values are ours
//! (no registry exists); discovery lists them. Methods (`amr`) are RFC 8176 names.
//!
//! A level is an ordered value, parsed once from what a client sends: a higher level
//! satisfies a request for a lower one (#12). The names clients and tokens see are
//! configurable (`[mfa.acr_names]`, [`Names`]); what is stored — sessions, codes,
//! refresh tokens — keeps the built-in names below, so a rename applies to the next
//! token without touching any row.

use serde::{Deserialize, Serialize};

/// A password sign-in: one factor.
pub const PWD: &str = "urn:portcullis:acr:pwd";
/// A password and a second factor.
pub const MFA: &str = "urn:portcullis:acr:mfa";
/// OpenID Provider Authentication Policy Extension 1.0 §4: accepted on input as a
/// synonym of [`MFA`].
pub const PAPE_MULTI_FACTOR: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";

/// Assurance levels, weakest first: the derived order is the order of strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Pwd,
    Mfa,
}

impl Level {
    /// The level a stored `acr` value (a built-in name) stands for, the PAPE synonym
    /// included. What clients send is read by [`Names::parse`].
    pub fn parse(value: &str) -> Option<Level> {
        match value {
            PWD => Some(Level::Pwd),
            MFA | PAPE_MULTI_FACTOR => Some(Level::Mfa),
            _ => None,
        }
    }

    /// The built-in name of this level, as it is stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Pwd => PWD,
            Level::Mfa => MFA,
        }
    }
}

/// The `acr` values this server speaks (`[mfa.acr_names]`; the built-in names by
/// default): what a client's `acr_values`, `claims` and `default_acr_values` are read
/// with, and what tokens, introspection and discovery say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pwd: String,
    mfa: String,
}

impl Default for Names {
    fn default() -> Self {
        Names::new(PWD, MFA)
    }
}

impl Names {
    pub fn new(pwd: &str, mfa: &str) -> Names {
        Names {
            pwd: pwd.to_owned(),
            mfa: mfa.to_owned(),
        }
    }

    /// The level a client's `acr` value names (the PAPE multi-factor policy is `mfa`
    /// whatever it is called here); `None` for a value we do not know (a voluntary
    /// request for it is ignored, an essential one cannot be met).
    pub fn parse(&self, value: &str) -> Option<Level> {
        if value == self.pwd {
            Some(Level::Pwd)
        } else if value == self.mfa || value == PAPE_MULTI_FACTOR {
            Some(Level::Mfa)
        } else {
            None
        }
    }

    /// What tokens say for `level`.
    pub fn name(&self, level: Level) -> &str {
        match level {
            Level::Pwd => &self.pwd,
            Level::Mfa => &self.mfa,
        }
    }

    /// A stored `acr` as tokens say it now (a value that is no level is passed on).
    pub fn public(&self, stored: &str) -> String {
        Level::parse(stored)
            .map_or(stored, |l| self.name(l))
            .to_owned()
    }

    /// Every class this server can reach, weakest first: `acr_values_supported`.
    pub fn supported(&self) -> Vec<String> {
        vec![self.pwd.clone(), self.mfa.clone()]
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

    #[test]
    fn configured_names_are_read_and_said_and_stored_values_translated() {
        let names = Names::new("urn:example:silver", "urn:example:gold");
        assert_eq!(names.parse("urn:example:gold"), Some(Level::Mfa));
        assert_eq!(names.parse(PAPE_MULTI_FACTOR), Some(Level::Mfa));
        assert_eq!(names.parse("urn:example:silver"), Some(Level::Pwd));
        assert_eq!(
            names.parse(MFA),
            None,
            "the built-in name is not ours any more"
        );
        assert_eq!(names.name(Level::Mfa), "urn:example:gold");
        assert_eq!(names.public(MFA), "urn:example:gold");
        assert_eq!(names.public(PWD), "urn:example:silver");
        assert_eq!(Names::default().public(MFA), MFA);
        assert_eq!(
            names.supported(),
            ["urn:example:silver", "urn:example:gold"]
        );
    }
}
