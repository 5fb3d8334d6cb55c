//! The assurance policy (#12), in one place: what level a request needs, whether falling
//! short of it is an error, what to ask of the person, and which scopes a level earns.
//! `authorization::decide` asks it after sign-in and before consent; the token grants
//! only copy what it decided into the tokens.
//!
//! - `acr_values` is a voluntary request (OpenID Connect Core §3.1.2.1): the first level
//!   we know is the target; when it cannot be met the tokens carry the level achieved.
//! - An essential `acr` claim (§5.5.1.1) must be met: its weakest listed level is the
//!   minimum (a higher level satisfies a lower one); when none of its values is a level
//!   we know, it cannot be met at all. Unmet: `unmet_authentication_requirements`
//!   (OpenID Connect Core Unmet Authentication Requirements 1.0 §2).
//! - A client's `default_acr_values` stand in when a request names no level; with
//!   `require_acr` the first of them is a minimum for every request.

use crate::config::MfaConfig;
use crate::oauth::client::Client;
use crate::oidc::acr::{Level, Names};
use crate::oidc::request::OidcParams;

/// The server's side of the policy, from `[mfa]`.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Seconds a second factor keeps a session at `mfa`.
    pub level_max_age: i64,
    pub enroll_on_step_up: bool,
    /// Scope → the level it needs.
    pub scope_levels: Vec<(String, Level)>,
    /// What clients call the levels (`[mfa.acr_names]`).
    pub names: Names,
}

impl Policy {
    pub fn new(config: &MfaConfig) -> Policy {
        let names = config.names();
        Policy {
            level_max_age: config.level_max_age.as_secs(),
            enroll_on_step_up: config.enroll_on_step_up,
            scope_levels: config
                .scope_levels
                .iter()
                .filter_map(|(scope, level)| Some((scope.clone(), names.parse(level)?)))
                .collect(),
            names,
        }
    }

    /// The scopes `level` earns: a scope that needs more is left out, silently (RFC 6749
    /// §3.3: the server may grant less than was asked, and says so in `scope`).
    pub fn scopes_at(&self, scope: &[String], level: Level) -> Vec<String> {
        scope
            .iter()
            .filter(|s| {
                self.scope_levels
                    .iter()
                    .all(|(name, needed)| name != *s || level >= *needed)
            })
            .cloned()
            .collect()
    }
}

/// What one request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Any level will do.
    None,
    /// Try to reach this level; tokens carry what was achieved.
    Wish(Level),
    /// At least this level, or the request fails.
    Minimum(Level),
    /// An essential `acr` no level of ours satisfies.
    Unmeetable,
}

impl Requirement {
    /// `names`: the server's names for its levels, which the request and the client's
    /// `default_acr_values` use.
    pub fn of(oidc: &OidcParams, client: &Client, names: &Names) -> Requirement {
        let asked = match oidc.claims.as_ref().and_then(|c| c.acr(names)) {
            Some(claim) if claim.essential => match claim.levels.iter().min() {
                Some(level) => Some(Requirement::Minimum(*level)),
                None if claim.unknown => return Requirement::Unmeetable,
                None => None,
            },
            Some(claim) => claim.levels.first().map(|l| Requirement::Wish(*l)),
            None => None,
        };
        let asked = asked.or_else(|| {
            oidc.acr_levels(names)
                .first()
                .map(|l| Requirement::Wish(*l))
        });
        let defaults: Vec<Level> = client
            .default_acr_values
            .iter()
            .filter_map(|v| names.parse(v))
            .collect();
        let client_minimum = defaults.first().filter(|_| client.require_acr).copied();
        let requirement = asked
            .or_else(|| defaults.first().map(|l| Requirement::Wish(*l)))
            .unwrap_or(Requirement::None);
        match (client_minimum, requirement) {
            (None, r) | (Some(_), r @ Requirement::Unmeetable) => r,
            (Some(min), Requirement::Minimum(l)) => Requirement::Minimum(l.max(min)),
            // A wish above the floor: the floor is below what is wished, and every
            // session reaches the lowest level, so with two levels it is already met.
            (Some(min), Requirement::Wish(l)) if l > min => Requirement::Wish(l),
            (Some(min), _) => Requirement::Minimum(min),
        }
    }
}

/// What to do about the person's level, given what the request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUp {
    /// Go on: the level is met, or a voluntary request is left at what was achieved.
    Go,
    /// Ask for a code from the second factor the person has.
    AskCode,
    /// Offer to set up a second factor (`enroll_on_step_up`).
    Enrol,
    /// Answer the client `unmet_authentication_requirements`.
    Unmet,
}

/// `achieved`: the session's level now; `enrolled`: whether its person has a second
/// factor; `enrol`: whether enrolment may be offered in the flow.
pub fn step_up(requirement: Requirement, achieved: Level, enrolled: bool, enrol: bool) -> StepUp {
    let (target, essential) = match requirement {
        Requirement::None => return StepUp::Go,
        Requirement::Unmeetable => return StepUp::Unmet,
        Requirement::Wish(l) => (l, false),
        Requirement::Minimum(l) => (l, true),
    };
    if achieved >= target {
        StepUp::Go
    } else if enrolled {
        StepUp::AskCode
    } else if enrol {
        StepUp::Enrol
    } else if essential {
        StepUp::Unmet
    } else {
        StepUp::Go
    }
}

/// Whether a request might need a second factor: only then is the person's enrolment
/// looked up.
pub fn may_step_up(requirement: Requirement, achieved: Level) -> bool {
    match requirement {
        Requirement::Wish(l) | Requirement::Minimum(l) => achieved < l,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::acr::{MFA, PAPE_MULTI_FACTOR, PWD};

    fn client(defaults: &[&str], require: bool) -> Client {
        use crate::oauth::client::{AuthMethod, Introspection};
        Client {
            id: "c".into(),
            client_name: "c".into(),
            secret_hash: None,
            public: true,
            token_endpoint_auth_method: AuthMethod::None,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            allowed_origins: vec![],
            grant_types: vec![],
            scopes: vec![],
            skip_consent: true,
            require_pkce: true,
            id_token_signed_response_alg: crate::crypto::Alg::RS256,
            access_token_signed_response_alg: crate::crypto::Alg::ES256,
            access_token_ttl: None,
            refresh_token_idle_ttl: None,
            refresh_token_absolute_ttl: None,
            managed_by: "test".into(),
            introspection: Introspection::Own,
            default_acr_values: defaults.iter().map(|d| d.to_string()).collect(),
            require_acr: require,
            enroll_on_step_up: None,
            resources: Vec::new(),
            default_resource: None,
            jwks: None,
            jwks_uri: None,
        }
    }

    fn params(acr_values: &[&str], claims: Option<&str>) -> OidcParams {
        OidcParams {
            acr_values: acr_values.iter().map(|s| s.to_string()).collect(),
            claims: claims.map(|c| serde_json::from_str(c).unwrap()),
            ..OidcParams::default()
        }
    }

    #[test]
    fn what_a_request_needs() {
        let plain = client(&[], false);
        let of =
            |a: &[&str], c: Option<&str>| Requirement::of(&params(a, c), &plain, &Names::default());
        assert_eq!(of(&[], None), Requirement::None);
        assert_eq!(of(&[MFA], None), Requirement::Wish(Level::Mfa));
        assert_eq!(
            of(&["urn:x", PAPE_MULTI_FACTOR], None),
            Requirement::Wish(Level::Mfa)
        );
        assert_eq!(of(&["urn:x"], None), Requirement::None);
        let essential =
            format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":["{MFA}"]}}}}}}"#);
        assert_eq!(of(&[], Some(&essential)), Requirement::Minimum(Level::Mfa));
        let either =
            format!(r#"{{"id_token":{{"acr":{{"essential":true,"values":["{MFA}","{PWD}"]}}}}}}"#);
        assert_eq!(of(&[], Some(&either)), Requirement::Minimum(Level::Pwd));
        let unknown = r#"{"id_token":{"acr":{"essential":true,"values":["urn:x"]}}}"#;
        assert_eq!(of(&[MFA], Some(unknown)), Requirement::Unmeetable);
        let voluntary = format!(r#"{{"id_token":{{"acr":{{"values":["{MFA}"]}}}}}}"#);
        assert_eq!(of(&[], Some(&voluntary)), Requirement::Wish(Level::Mfa));
    }

    #[test]
    fn a_client_can_ask_by_default_or_require() {
        let wishes = client(&[MFA], false);
        assert_eq!(
            Requirement::of(&params(&[], None), &wishes, &Names::default()),
            Requirement::Wish(Level::Mfa)
        );
        assert_eq!(
            Requirement::of(&params(&[PWD], None), &wishes, &Names::default()),
            Requirement::Wish(Level::Pwd),
            "the request's own level wins over the default"
        );
        let requires = client(&[MFA], true);
        assert_eq!(
            Requirement::of(&params(&[PWD], None), &requires, &Names::default()),
            Requirement::Minimum(Level::Mfa)
        );
        assert_eq!(
            Requirement::of(&params(&[], None), &requires, &Names::default()),
            Requirement::Minimum(Level::Mfa)
        );
        let floor = client(&[PWD], true);
        assert_eq!(
            Requirement::of(&params(&[MFA], None), &floor, &Names::default()),
            Requirement::Wish(Level::Mfa),
            "a wish above the floor stays a wish"
        );
    }

    #[test]
    fn what_to_ask_of_the_person() {
        use Level::*;
        let wish = Requirement::Wish(Mfa);
        let must = Requirement::Minimum(Mfa);
        assert_eq!(step_up(wish, Mfa, true, false), StepUp::Go);
        assert_eq!(step_up(wish, Pwd, true, false), StepUp::AskCode);
        assert_eq!(step_up(wish, Pwd, false, false), StepUp::Go);
        assert_eq!(step_up(must, Pwd, false, false), StepUp::Unmet);
        assert_eq!(step_up(must, Pwd, false, true), StepUp::Enrol);
        assert_eq!(step_up(wish, Pwd, false, true), StepUp::Enrol);
        assert_eq!(
            step_up(Requirement::Unmeetable, Mfa, true, true),
            StepUp::Unmet
        );
        assert_eq!(
            step_up(Requirement::Minimum(Pwd), Pwd, false, false),
            StepUp::Go
        );
    }

    #[test]
    fn a_scope_needs_its_level() {
        let policy = Policy {
            level_max_age: 900,
            enroll_on_step_up: false,
            scope_levels: vec![("payment".into(), Level::Mfa)],
            names: Names::default(),
        };
        let scope = vec!["openid".to_string(), "payment".to_string()];
        assert_eq!(
            policy.scopes_at(&scope, Level::Pwd),
            vec!["openid".to_string()]
        );
        assert_eq!(policy.scopes_at(&scope, Level::Mfa), scope);
    }
}
