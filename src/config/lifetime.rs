//! Durations in the configuration: a number of seconds (`600`) or a human-readable
//! string (`"10m"`, `"14d"`), so that environment variables work for both.

use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lifetime(pub Duration);

impl Lifetime {
    pub const fn secs(s: u64) -> Self {
        Lifetime(Duration::from_secs(s))
    }

    /// Whole seconds, as stored in BIGINT columns.
    pub fn as_secs(self) -> i64 {
        i64::try_from(self.0.as_secs()).unwrap_or(i64::MAX)
    }
}

impl<'de> Deserialize<'de> for Lifetime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Lifetime;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number of seconds or a duration such as \"10m\" or \"14d\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lifetime, E> {
                Ok(Lifetime::secs(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lifetime, E> {
                u64::try_from(v)
                    .map(Lifetime::secs)
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Lifetime, E> {
                if let Ok(n) = v.trim().parse::<u64>() {
                    return Ok(Lifetime::secs(n));
                }
                humantime::parse_duration(v.trim())
                    .map(Lifetime)
                    .map_err(|e| E::custom(format!("invalid duration {v:?}: {e}")))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_strings() {
        let parse = |s: &str| serde_json::from_str::<Lifetime>(s).map(|l| l.as_secs());
        assert_eq!(parse("600").unwrap(), 600);
        assert_eq!(parse("\"600\"").unwrap(), 600);
        assert_eq!(parse("\"10m\"").unwrap(), 600);
        assert_eq!(parse("\"14d\"").unwrap(), 14 * 86400);
        assert!(parse("\"soon\"").is_err());
        assert!(parse("-1").is_err());
    }
}
