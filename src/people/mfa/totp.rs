//! Time-based one-time passwords (RFC 6238) with `totp-rs`: HMAC-SHA-1, six digits, 30-
//! second steps — what every authenticator app reads — and one step of clock skew either
//! way (§5.2). A code is accepted once: the step it matched is remembered per credential.

use totp_rs::{Algorithm, Builder, Totp};

use crate::crypto::{token, MasterKey};
use crate::store::totp_credentials::{self, TotpCredentialRow};
use crate::store::{DbConnection, StoreError};

/// RFC 6238 §5.2: 30 seconds, and at most one step of network delay or clock drift.
pub const STEP: u64 = 30;
const SKEW: u16 = 1;
/// RFC 4226 §4 asks for 128 bits at least and recommends 160.
const SECRET_BYTES: usize = 20;
/// The label of credentials enrolled on the account page.
pub const APP_LABEL: &str = "authenticator";

/// The generator for `secret`; `account` and `issuer` only name it in `otpauth://` URIs.
pub fn generator(secret: &[u8], account: &str, issuer: &str) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(SKEW)
        .with_step_duration(STEP)
        .with_secret(secret.to_vec())
        // The otpauth label is `issuer:account`: neither may hold a colon.
        .with_account_name(account.replace(':', "_"))
        .with_issuer((!issuer.is_empty()).then(|| issuer.replace(':', "_")))
        .build()
        .ok()
}

/// A secret being enrolled, as the enrolment page shows it.
pub struct Enrolment {
    pub credential_id: String,
    /// Base32 (RFC 4648), for typing into an app.
    pub secret_base32: String,
    pub otpauth_uri: String,
}

/// The credential waiting for its first code, created when there is none: the same
/// secret is shown until it is confirmed, so reloading the page does not invalidate
/// what the person already scanned.
pub fn pending_enrolment(
    conn: &mut DbConnection,
    master: &MasterKey,
    user_id: &str,
    account: &str,
    issuer: &str,
    now: i64,
) -> Result<Enrolment, StoreError> {
    let row = match totp_credentials::unconfirmed(conn, user_id)? {
        Some(row) => row,
        None => {
            let id = token::random_id();
            let secret = token::random_bytes::<SECRET_BYTES>();
            let row = TotpCredentialRow {
                secret: master.seal(id.as_bytes(), &secret),
                id,
                user_id: user_id.to_owned(),
                label: APP_LABEL.into(),
                last_used_step: None,
                confirmed_at: None,
                created_at: now,
            };
            totp_credentials::insert(conn, &row)?;
            row
        }
    };
    let secret = open(master, &row)?;
    let totp = generator(&secret, account, issuer)
        .ok_or_else(|| StoreError::Corrupt("a TOTP secret is too short".into()))?;
    Ok(Enrolment {
        credential_id: row.id,
        secret_base32: totp.secret().to_base32(),
        otpauth_uri: totp
            .to_url()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}

/// Whether the user has a confirmed credential.
pub fn enrolled(conn: &mut DbConnection, user_id: &str) -> Result<bool, StoreError> {
    Ok(!totp_credentials::confirmed(conn, user_id)?.is_empty())
}

/// Checks `code` against the user's confirmed credentials at `now` and, when it matches
/// a step not used before, remembers that step. Unconfirmed credentials only count in
/// [`confirm`].
pub fn check(
    conn: &mut DbConnection,
    master: &MasterKey,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<bool, StoreError> {
    for row in totp_credentials::confirmed(conn, user_id)? {
        if let Some(step) = matching_step(master, &row, code, now)? {
            // A match in a step already used is a replay: refused, and it still counts
            // as a failure with the throttle.
            return totp_credentials::use_step(conn, &row.id, step);
        }
    }
    Ok(false)
}

/// Completes an enrolment with the first code from the app: the credential becomes
/// usable, and the code's step is used up.
pub fn confirm(
    conn: &mut DbConnection,
    master: &MasterKey,
    user_id: &str,
    credential_id: &str,
    code: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(row) = totp_credentials::unconfirmed(conn, user_id)?.filter(|r| r.id == credential_id)
    else {
        return Ok(false);
    };
    let Some(step) = matching_step(master, &row, code, now)? else {
        return Ok(false);
    };
    totp_credentials::use_step(conn, &row.id, step)?;
    totp_credentials::confirm(conn, &row.id, now)?;
    Ok(true)
}

fn matching_step(
    master: &MasterKey,
    row: &TotpCredentialRow,
    code: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let secret = open(master, row)?;
    let Some(totp) = generator(&secret, "", "") else {
        return Ok(None);
    };
    let now = u64::try_from(now).unwrap_or(0);
    Ok(totp.check(code, now).and_then(|s| i64::try_from(s).ok()))
}

fn open(master: &MasterKey, row: &TotpCredentialRow) -> Result<Vec<u8>, StoreError> {
    master
        .open(row.id.as_bytes(), &row.secret)
        .map_err(|e| StoreError::Corrupt(format!("TOTP credential {}: {e}", row.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 (the 8-digit vectors, truncated to our six digits).
    #[test]
    fn codes_match_the_rfc_vectors() {
        let totp = generator(b"12345678901234567890", "a", "b").unwrap();
        assert_eq!(totp.generate(59).to_string(), "287082");
        assert_eq!(totp.generate(1_111_111_109).to_string(), "081804");
        assert_eq!(totp.generate(1_234_567_890).to_string(), "005924");
    }

    #[test]
    fn one_step_of_skew_either_way() {
        let totp = generator(b"12345678901234567890", "a", "b").unwrap();
        let now = 1_234_567_890;
        for (offset, accepted) in [
            (-60, false),
            (-30, true),
            (0, true),
            (30, true),
            (60, false),
        ] {
            let code = totp.generate((now + offset) as u64).to_string();
            assert_eq!(
                totp.check(&code, now as u64).is_some(),
                accepted,
                "{offset}"
            );
        }
    }
}
