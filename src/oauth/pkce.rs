//! PKCE (RFC 7636) with S256 only (RFC 9700 §2.1.1, checklist §1.4–1.7).

use subtle::ConstantTimeEq;

use crate::crypto::token;

/// The only method accepted: `plain` would send the verifier in the clear (RFC 7636 §7.2).
pub const S256: &str = "S256";

/// Checks `code_challenge` and `code_challenge_method` at the authorization endpoint.
/// Returns the challenge; the error is the `error_description` of `invalid_request`.
pub fn challenge(
    challenge: Option<&str>,
    method: Option<&str>,
    required: bool,
) -> Result<Option<String>, &'static str> {
    match (challenge, method) {
        (None, None) if !required => Ok(None),
        (None, None) => Err("code_challenge is required (PKCE with S256)"),
        (None, Some(_)) => Err("code_challenge_method without code_challenge"),
        // RFC 7636 §4.3: a missing method means `plain`, which is refused here rather than
        // at the token endpoint.
        (Some(_), None) => Err("code_challenge_method must be S256"),
        (Some(_), Some(m)) if m != S256 => Err("code_challenge_method must be S256"),
        // RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters.
        (Some(c), Some(_)) if c.len() != 43 || !c.bytes().all(is_base64url) => {
            Err("code_challenge must be 43 base64url characters")
        }
        (Some(c), Some(_)) => Ok(Some(c.to_owned())),
    }
}

/// RFC 7636 §4.6: the verifier matches the stored S256 challenge. A verifier of the wrong
/// length or alphabet (§4.1: 43–128 of `[A-Za-z0-9-._~]`) never matches.
pub fn verify(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = token::b64url(&token::sha256(verifier.as_bytes()));
    well_formed && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn appendix_b_example() {
        assert!(verify(VERIFIER, CHALLENGE));
        assert!(!verify(CHALLENGE, CHALLENGE));
        assert!(!verify(&VERIFIER[..42], CHALLENGE));
    }

    #[test]
    fn only_s256_challenges() {
        assert_eq!(
            challenge(Some(CHALLENGE), Some("S256"), true).unwrap(),
            Some(CHALLENGE.to_owned())
        );
        assert!(challenge(Some(CHALLENGE), Some("plain"), true).is_err());
        assert!(challenge(Some(CHALLENGE), None, true).is_err());
        assert!(challenge(None, None, true).is_err());
        assert!(challenge(Some("short"), Some("S256"), true).is_err());
        assert_eq!(challenge(None, None, false).unwrap(), None);
    }
}
