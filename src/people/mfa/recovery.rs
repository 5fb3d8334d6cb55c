//! Recovery codes: ten single-use codes shown once when a second factor is set up (or
//! the codes are renewed), each standing in for one code from a lost authenticator. 50
//! random bits each; only an HMAC under the instance key is stored, so a copy of the
//! database alone does not let anyone try them offline.

use crate::crypto::{token, MasterKey};
use crate::store::recovery_codes::{self, RecoveryCodeRow};
use crate::store::{DbConnection, StoreError};

pub const COUNT: usize = 10;
const PURPOSE: &str = "recovery-code";
/// Crockford's base32 alphabet: no I, L, O or U to misread.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const LEN: usize = 10;

/// Replaces the user's codes with [`COUNT`] new ones, returned for showing once.
pub fn renew(
    conn: &mut DbConnection,
    master: &MasterKey,
    user_id: &str,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let codes: Vec<String> = (0..COUNT).map(|_| new_code()).collect();
    let rows: Vec<RecoveryCodeRow> = codes
        .iter()
        .map(|code| RecoveryCodeRow {
            id: token::random_id(),
            user_id: user_id.to_owned(),
            code_hash: hash(master, &normalize(code)),
            used_at: None,
            created_at: now,
        })
        .collect();
    recovery_codes::delete_for_user(conn, user_id)?;
    recovery_codes::insert_all(conn, &rows)?;
    Ok(codes)
}

/// Uses up the user's code `typed`, if it is one of theirs and unused.
pub fn redeem(
    conn: &mut DbConnection,
    master: &MasterKey,
    user_id: &str,
    typed: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let code = normalize(typed);
    if code.len() != LEN {
        return Ok(false);
    }
    recovery_codes::use_code(conn, user_id, &hash(master, &code), now)
}

/// Whether `typed` has the shape of a recovery code (not of a six-digit TOTP code).
pub fn looks_like_one(typed: &str) -> bool {
    normalize(typed).len() == LEN
}

fn new_code() -> String {
    // 256 is a multiple of 32: each character is uniform.
    let bytes = token::random_bytes::<LEN>();
    let chars: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// Case, spaces and dashes do not matter; the letters Crockford leaves out read as the
/// digits they look like.
fn normalize(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_lowercase() {
            'i' | 'l' => '1',
            'o' => '0',
            c => c,
        })
        .take(64)
        .collect()
}

fn hash(master: &MasterKey, normalized: &str) -> Vec<u8> {
    master.mac(PURPOSE, normalized.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_ten_characters_in_two_groups_and_typing_is_forgiving() {
        let code = new_code();
        assert_eq!(code.len(), 11);
        assert_eq!(&code[5..6], "-");
        assert!(looks_like_one(&code));
        assert_eq!(normalize(&code.to_uppercase()), normalize(&code));
        assert_eq!(normalize("OIL23-45678"), "0112345678");
        assert!(!looks_like_one("123456"));
    }
}
