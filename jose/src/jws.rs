//! Compact JWS signing (RFC 7515 §7.1) with `ring`, for the algorithms of RFC 7518 §3.3
//! (RS256) and §3.4 (ES256). The algorithm enum has no `none` and no HMAC variant.

use std::fmt;
use std::str::FromStr;

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, RsaPublicKeyComponents};
use serde::{Deserialize, Serialize};

use crate::b64url;
use crate::jwk::PublicJwk;

/// A JWS signing algorithm Portcullis signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Alg {
    RS256,
    ES256,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::RS256, Alg::ES256];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Alg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "RS256" => Ok(Alg::RS256),
            "ES256" => Ok(Alg::ES256),
            other => Err(format!(
                "unsupported signing algorithm {other:?} (use RS256 or ES256)"
            )),
        }
    }
}

/// A parsed private key, ready to sign. Parsing happens once, when keys are loaded.
pub enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

impl Signer {
    /// Parses a PKCS#8 v1 document (as `rsa` and `p256` encode them).
    pub fn from_pkcs8(alg: Alg, der: &[u8]) -> Result<Self, String> {
        match alg {
            Alg::RS256 => RsaKeyPair::from_pkcs8(der)
                .map(Signer::Rsa)
                .map_err(|e| format!("invalid RSA private key: {e}")),
            Alg::ES256 => EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                der,
                &SystemRandom::new(),
            )
            .map(Signer::Ec)
            .map_err(|e| format!("invalid P-256 private key: {e}")),
        }
    }

    pub fn alg(&self) -> Alg {
        match self {
            Signer::Rsa(_) => Alg::RS256,
            Signer::Ec(_) => Alg::ES256,
        }
    }

    pub fn public_jwk(&self) -> PublicJwk {
        match self {
            Signer::Rsa(k) => {
                let parts: RsaPublicKeyComponents<Vec<u8>> = k.public().into();
                PublicJwk::rsa(&parts.n, &parts.e)
            }
            Signer::Ec(k) => PublicJwk::p256(k.public_key().as_ref())
                .expect("ring returns uncompressed P-256 points"),
        }
    }

    /// This key's public half, for verification.
    pub fn public_key(&self) -> PublicKey {
        match self {
            Signer::Rsa(k) => PublicKey::Rsa(k.public().into()),
            Signer::Ec(k) => PublicKey::Ec(k.public_key().as_ref().to_vec()),
        }
    }

    /// RS256: RSASSA-PKCS1-v1_5 with SHA-256; ES256: ECDSA P-256 SHA-256, r‖s (RFC 7518 §3.4).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Signer::Rsa(k) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .expect("RSA signing with a valid key cannot fail");
                sig
            }
            Signer::Ec(k) => k
                .sign(&rng, message)
                .expect("ECDSA signing with a valid key cannot fail")
                .as_ref()
                .to_vec(),
        }
    }
}

/// A public key that verifies one algorithm: ours (from a [`Signer`]) or anyone's (from
/// a JWK). Verification needs nothing else, so a resource server shares this code
/// without holding a private key.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// RS256: modulus and exponent; ring checks 2048 to 8192 bits.
    Rsa(RsaPublicKeyComponents<Vec<u8>>),
    /// ES256: the uncompressed P-256 point.
    Ec(Vec<u8>),
}

impl PublicKey {
    /// The key of a JWK (RFC 7517 §4, RFC 7518 §6): RSA, or EC on P-256 (ES256).
    pub fn from_jwk(jwk: &PublicJwk) -> Result<Self, String> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let bytes = |name: &str, value: &str| {
            b64.decode(value)
                .map_err(|_| format!("the JWK's {name} is not base64url"))
        };
        match jwk {
            PublicJwk::Rsa { n, e } => Ok(PublicKey::Rsa(RsaPublicKeyComponents {
                n: bytes("n", n)?,
                e: bytes("e", e)?,
            })),
            PublicJwk::Ec { crv, x, y } if crv == "P-256" => {
                let (x, y) = (bytes("x", x)?, bytes("y", y)?);
                if x.len() != 32 || y.len() != 32 {
                    return Err("a P-256 coordinate is 32 bytes".into());
                }
                Ok(PublicKey::Ec([&[0x04][..], &x, &y].concat()))
            }
            PublicJwk::Ec { crv, .. } => Err(format!("unsupported curve {crv:?}")),
        }
    }

    /// The one algorithm this key verifies.
    pub fn alg(&self) -> Alg {
        match self {
            PublicKey::Rsa(_) => Alg::RS256,
            PublicKey::Ec(_) => Alg::ES256,
        }
    }

    /// Verifies `signature` over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Rsa(parts) => parts
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            PublicKey::Ec(point) => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
        }
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: Alg,
    kid: &'a str,
    typ: &'a str,
}

/// Signs `claims` into a compact JWS: `b64(header).b64(claims).b64(signature)`.
/// `typ` is `JWT` for ID tokens and `at+jwt` for access tokens (RFC 9068 §2.1).
pub fn encode<T: Serialize>(signer: &Signer, kid: &str, typ: &str, claims: &T) -> String {
    let header = serde_json::to_vec(&Header {
        alg: signer.alg(),
        kid,
        typ,
    })
    .expect("header serialises");
    let payload = serde_json::to_vec(claims).expect("claims serialise");
    let mut token = format!("{}.{}", b64url(&header), b64url(&payload));
    let signature = signer.sign(token.as_bytes());
    token.push('.');
    token.push_str(&b64url(&signature));
    token
}

/// The protected header of a JWS we are asked to trust.
#[derive(Deserialize)]
struct ReceivedHeader {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    crit: Option<serde_json::Value>,
}

/// A JWS whose signature verified.
#[derive(Debug)]
pub struct Verified {
    /// The `kid` of the key that verified it.
    pub kid: String,
    pub typ: Option<String>,
    pub payload: Vec<u8>,
}

/// Verifies a compact JWS with the key `key_for` finds by its `kid` (an opaque lookup;
/// checklist §3.9). The algorithm is the key's own — the header must agree, so `none`,
/// HMAC and algorithm confusion never verify, and a key in the header (`jwk`, `x5c`) is
/// never looked at. `crit` is refused (RFC 7515 §4.1.11: we understand no extensions).
pub fn verify<'k>(
    token: &str,
    key_for: impl FnOnce(&str) -> Option<&'k PublicKey>,
) -> Option<Verified> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let (header, payload, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let parsed: ReceivedHeader = serde_json::from_slice(&b64.decode(header).ok()?).ok()?;
    if parsed.crit.is_some() {
        return None;
    }
    let kid = parsed.kid?;
    let key = key_for(&kid)?;
    if key.alg().as_str() != parsed.alg {
        return None;
    }
    let signature = b64.decode(sig).ok()?;
    let signed = &token[..header.len() + 1 + payload.len()];
    if !key.verify(signed.as_bytes(), &signature) {
        return None;
    }
    Some(Verified {
        kid,
        typ: parsed.typ,
        payload: b64.decode(payload).ok()?,
    })
}
