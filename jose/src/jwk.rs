//! Public JSON Web Keys (RFC 7517 §4, RFC 7518 §6) and their thumbprints (RFC 7638),
//! which are our `kid`s.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::jws::{Alg, PublicKey};
use crate::{b64url, sha256};

/// The public half of a signing key, as published in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kty")]
pub enum PublicJwk {
    /// RFC 7518 §6.3.1: modulus and exponent, big-endian, no leading zeros.
    #[serde(rename = "RSA")]
    Rsa { n: String, e: String },
    /// RFC 7518 §6.2.1: P-256 affine coordinates, 32 bytes each.
    #[serde(rename = "EC")]
    Ec { crv: String, x: String, y: String },
}

impl PublicJwk {
    pub fn rsa(modulus: &[u8], exponent: &[u8]) -> Self {
        PublicJwk::Rsa {
            n: b64url(modulus),
            e: b64url(exponent),
        }
    }

    /// From an uncompressed SEC1 point (`0x04 ‖ x ‖ y`), as ring returns it.
    pub fn p256(uncompressed_point: &[u8]) -> Option<Self> {
        match uncompressed_point {
            [0x04, rest @ ..] if rest.len() == 64 => Some(PublicJwk::Ec {
                crv: "P-256".into(),
                x: b64url(&rest[..32]),
                y: b64url(&rest[32..]),
            }),
            _ => None,
        }
    }

    /// RFC 7638 §3.2: SHA-256 over the required members, sorted, no white space.
    pub fn thumbprint(&self) -> String {
        let members: BTreeMap<&str, &str> = match self {
            PublicJwk::Rsa { n, e } => {
                [("e", e.as_str()), ("kty", "RSA"), ("n", n.as_str())].into()
            }
            PublicJwk::Ec { crv, x, y } => [
                ("crv", crv.as_str()),
                ("kty", "EC"),
                ("x", x.as_str()),
                ("y", y.as_str()),
            ]
            .into(),
        };
        let canonical = serde_json::to_string(&members).expect("a map of strings serialises");
        b64url(&sha256(canonical.as_bytes()))
    }

    /// The JWKS entry: key members plus `kid`, `use` and `alg` (RFC 7517 §4.2–4.5).
    pub fn to_published(&self, kid: &str, alg: Alg) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("a JWK serialises");
        let object = value.as_object_mut().expect("a JWK is an object");
        object.insert("kid".into(), kid.into());
        object.insert("use".into(), "sig".into());
        object.insert("alg".into(), alg.as_str().into());
        value
    }
}

/// One entry of a JWK Set: the key members, plus what says whether we may use it.
#[derive(Deserialize)]
struct Entry {
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    #[serde(flatten)]
    key: serde_json::Value,
}

/// The signing keys of a JWK Set (RFC 7517 §5) that verify one of `allowed`, by `kid`.
/// Skipped, as §5 asks of what we do not understand: keys without a `kid`, for
/// encryption (`use` other than `sig`), naming another algorithm than their type's
/// (§4.4), of other types or curves, or not allowed.
pub fn signing_keys(jwks: &serde_json::Value, allowed: &[Alg]) -> Vec<(String, PublicKey)> {
    let Some(entries) = jwks.get("keys").and_then(|k| k.as_array()) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let entry: Entry = serde_json::from_value(entry.clone()).ok()?;
            if entry.use_.as_deref().is_some_and(|u| u != "sig") {
                return None;
            }
            let jwk: PublicJwk = serde_json::from_value(entry.key).ok()?;
            let key = PublicKey::from_jwk(&jwk).ok()?;
            if entry.alg.is_some_and(|alg| alg != key.alg().as_str())
                || !allowed.contains(&key.alg())
            {
                return None;
            }
            Some((entry.kid?, key))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of RFC 7638 §3.1.
    #[test]
    fn rfc7638_example_thumbprint() {
        let jwk = PublicJwk::Rsa {
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1\
                L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4\
                QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbO\
                pbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF\
                Cur-kEgU8awapJzKnqDKgw"
                .into(),
            e: "AQAB".into(),
        };
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn published_form_has_kid_use_alg() {
        let jwk = PublicJwk::p256(&[4u8; 65]).unwrap();
        let v = jwk.to_published("k1", Alg::ES256);
        assert_eq!(v["kty"], "EC");
        assert_eq!(v["crv"], "P-256");
        assert_eq!(v["kid"], "k1");
        assert_eq!(v["use"], "sig");
        assert_eq!(v["alg"], "ES256");
        assert!(PublicJwk::p256(&[4u8; 64]).is_none());
    }
}
