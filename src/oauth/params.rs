//! Request parameters of `application/x-www-form-urlencoded` messages (RFC 6749
//! Appendix B), as sent in `/authorize` query strings and in form bodies.
//!
//! RFC 6749 §3.1 and §3.2: "Request and response parameters MUST NOT be included more
//! than once." Empty values count as absent (checklist §3.1); bytes that do not decode to
//! UTF-8 make the whole message malformed. The one exception is `resource`, which RFC
//! 8707 §2 lets a client send several times.

use std::collections::HashMap;

use percent_encoding::percent_decode;

/// The decoded parameters, each present at most once.
#[derive(Debug, Default, Clone)]
pub struct Params {
    values: HashMap<String, String>,
    duplicates: Vec<String>,
    /// Names whose values did not decode (lenient parsing only).
    malformed: Vec<String>,
    /// Every value of a [`REPEATABLE`] parameter, in order.
    repeated: Vec<(String, String)>,
}

/// Parameters that may be sent more than once: `resource` (RFC 8707 §2).
pub const REPEATABLE: &[&str] = &["resource"];

/// A message whose encoding is broken (invalid percent-encoding or UTF-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl Params {
    /// Strict: any broken encoding makes the whole message malformed.
    pub fn parse(raw: &[u8]) -> Result<Params, Malformed> {
        let params = Self::parse_lenient(raw)?;
        if params.malformed.is_empty() {
            Ok(params)
        } else {
            Err(Malformed)
        }
    }

    /// Lenient about values: a value that does not decode is left out and its name
    /// remembered, so that `/authorize` can still answer the client (checklist §3.1).
    /// A name that does not decode still makes the message malformed.
    pub fn parse_lenient(raw: &[u8]) -> Result<Params, Malformed> {
        let mut params = Params::default();
        for pair in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            let name = decode(name)?;
            let Ok(value) = decode(value) else {
                params.malformed.push(name);
                continue;
            };
            if value.is_empty() {
                continue;
            }
            if REPEATABLE.contains(&name.as_str()) {
                params.repeated.push((name.clone(), value.clone()));
                params.values.entry(name).or_insert(value);
                continue;
            }
            if params.values.contains_key(&name) {
                if !params.duplicates.contains(&name) {
                    params.duplicates.push(name);
                }
                continue;
            }
            params.values.insert(name, value);
        }
        Ok(params)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Every value of a [`REPEATABLE`] parameter, in the order sent.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.repeated
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// True when `name` was sent more than once.
    pub fn is_duplicate(&self, name: &str) -> bool {
        self.duplicates.iter().any(|d| d == name)
    }

    /// True when the value of `name` did not decode (lenient parsing).
    pub fn is_malformed(&self, name: &str) -> bool {
        self.malformed.iter().any(|m| m == name)
    }

    pub fn any_malformed(&self) -> bool {
        !self.malformed.is_empty()
    }

    /// The first parameter sent more than once, if any.
    pub fn first_duplicate(&self) -> Option<&str> {
        self.duplicates.first().map(String::as_str)
    }

    /// An `error_description` for the first duplicate, if any. Only names of our own
    /// vocabulary are echoed (RFC 6749 §4.1.2.1, §5.2 restrict its characters).
    pub fn duplicate_description(&self) -> Option<String> {
        let name = self.first_duplicate()?;
        let known = name.len() <= 32 && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        Some(format!(
            "{} was sent more than once",
            if known { name } else { "a parameter" }
        ))
    }
}

fn decode(raw: &[u8]) -> Result<String, Malformed> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    // A `%` not followed by two hex digits is not percent-encoding (RFC 3986 §2.1).
    for (i, b) in spaced.iter().enumerate() {
        if *b == b'%'
            && !(spaced.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && spaced.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(Malformed);
        }
    }
    percent_decode(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Malformed)
}

/// True when `value` holds control characters (NUL, CR, LF…), which no parameter of ours
/// may carry (checklist §3.1: no header injection, nothing echoed raw).
pub fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decodes_and_finds_duplicates() {
        let p = Params::parse(b"a=1&b=x+y%2B&c=&a=2&d").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("x y+"));
        assert_eq!(p.get("c"), None);
        assert_eq!(p.get("d"), None);
        assert!(p.is_duplicate("a"));
        assert!(!p.is_duplicate("b"));
        assert_eq!(p.first_duplicate(), Some("a"));
    }

    // RFC 8707 §2: `resource` may be sent several times; every value is kept.
    #[test]
    fn resource_may_repeat_and_keeps_every_value() {
        let p =
            Params::parse(b"resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb&scope=x").unwrap();
        assert_eq!(
            p.get_all("resource").collect::<Vec<_>>(),
            ["https://a", "https://b"]
        );
        assert!(!p.is_duplicate("resource"));
        assert_eq!(p.first_duplicate(), None);
        assert_eq!(
            p.get_all("scope").count(),
            0,
            "only repeatable names are listed"
        );
    }

    #[test]
    fn refuses_broken_encoding() {
        assert_eq!(Params::parse(b"a=%FF").unwrap_err(), Malformed);
        assert_eq!(Params::parse(b"a=%C0%AF").unwrap_err(), Malformed);
        assert_eq!(Params::parse(b"a=%4").unwrap_err(), Malformed);
        assert_eq!(Params::parse(b"a=%zz").unwrap_err(), Malformed);
        assert!(Params::parse(b"a=%E2%82%AC").is_ok());
        let lenient = Params::parse_lenient(b"a=%FF&b=1").unwrap();
        assert!(lenient.is_malformed("a") && lenient.any_malformed());
        assert_eq!(lenient.get("b"), Some("1"));
    }
}
