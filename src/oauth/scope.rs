//! Scopes (RFC 6749 §3.3).

/// `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 §3.3).
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// The scopes Portcullis understands itself (OpenID Connect Core §5.4, §11).
pub const STANDARD: [&str; 4] = ["openid", "profile", "email", "offline_access"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_token_charset() {
        assert!(is_scope_token("openid"));
        assert!(is_scope_token("images:read"));
        assert!(!is_scope_token(""));
        assert!(!is_scope_token("a b"));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token("a\\b"));
        assert!(!is_scope_token("é"));
    }
}
