//! Random values and hashes for everything Portcullis generates: ids, codes, tokens,
//! client secrets. RFC 6749 §10.10: at least 128 bits of entropy; we use 128 for
//! identifiers and 256 for credentials, base64url without padding (RFC 6749 App. A charset).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};

/// Fills `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .expect("the operating system random source failed");
    out
}

/// A 128-bit random identifier (22 base64url characters): row ids, `sub`, `jti`.
pub fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<16>())
}

/// A 256-bit random credential (43 base64url characters): codes, tokens, secrets.
pub fn random_secret() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// Whether `s` has the shape of [`random_secret`]'s output (43 base64url characters):
/// what is not is refused before any lookup.
pub fn looks_like_secret(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// SHA-256, for storing high-entropy credentials (codes, tokens) at rest.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    // Checklist §1.11: sample 1,000, no collisions, ≥22 chars, App. A charset.
    #[test]
    fn ids_and_secrets_are_long_unique_and_url_safe() {
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let id = random_id();
            let secret = random_secret();
            assert_eq!(id.len(), 22);
            assert_eq!(secret.len(), 43);
            for v in [&id, &secret] {
                assert!(v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            }
            assert!(seen.insert(id));
            assert!(seen.insert(secret));
        }
    }
}
