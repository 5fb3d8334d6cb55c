//! Second factors (#12): TOTP (`totp`) and recovery codes (`recovery`). Every code a
//! person types — at step-up, to confirm an enrolment, to renew codes or remove the
//! factor — goes through [`check_code`]: the attempt is counted in the shared throttle
//! before the code is looked at, so a burst cannot outrun the limit, and wrong codes
//! lock like wrong passwords. Nothing about a secret or a code is logged.

use serde_json::json;

use crate::config::SignInConfig;
use crate::crypto::MasterKey;
use crate::people::sessions::{self, Session};
use crate::store::login_throttle::{self, Limit};
use crate::store::{self, audit, totp_credentials, DbConnection, StoreError};

pub mod recovery;
pub mod totp;

/// What became of a typed code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Accepted(Method),
    Rejected,
    Locked { retry_after: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Totp,
    Recovery,
}

/// Wrong codes lock the account's second factor like wrong passwords lock its password
/// (`sign_in.max_failures_per_account`, `failure_window`, `lockout`).
pub fn limit(policy: &SignInConfig) -> Limit {
    Limit {
        max_failures: policy.max_failures_per_account,
        window: policy.failure_window.as_secs(),
        lockout: policy.lockout.as_secs(),
        pace: None,
    }
}

fn throttle_key(user_id: &str) -> String {
    format!("otp:user:{user_id}")
}

/// A code the person typed, and what it may be.
pub struct Attempt<'a> {
    pub user_id: &'a str,
    pub code: &'a str,
    /// Whether a recovery code is accepted in place of a code from the app.
    pub recovery: bool,
    pub now: i64,
}

/// Checks a code from the person: with `recovery` a recovery code is accepted too (and
/// used up). `verify` decides what a TOTP code means here (a step-up checks confirmed
/// credentials; an enrolment, the one being confirmed).
pub fn check_code(
    conn: &mut DbConnection,
    master: &MasterKey,
    limit: Limit,
    attempt: Attempt<'_>,
    verify: impl FnOnce(&mut DbConnection, &str) -> Result<bool, StoreError>,
) -> Result<Check, StoreError> {
    let Attempt {
        user_id,
        code,
        recovery,
        now,
    } = attempt;
    let key = throttle_key(user_id);
    if let Some(retry_after) = login_throttle::take_slot(conn, &key, limit, now)? {
        return Ok(Check::Locked { retry_after });
    }
    let accepted = store::transaction(conn, |conn| {
        let method = if recovery && recovery::looks_like_one(code) {
            recovery::redeem(conn, master, user_id, code, now)?.then_some(Method::Recovery)
        } else {
            verify(conn, code)?.then_some(Method::Totp)
        };
        if let Some(method) = method {
            // A right code forgives the typed codes before it (passwords only give back
            // their own slot; one-time codes are single-use and step-bound already).
            login_throttle::clear(conn, &key)?;
            if method == Method::Recovery {
                audit::record(
                    conn,
                    "mfa.recovery_code_used",
                    Some(user_id),
                    None,
                    json!({}),
                )?;
            }
        }
        Ok::<_, StoreError>(method)
    })?;
    match accepted {
        Some(method) => Ok(Check::Accepted(method)),
        None => {
            store::transaction(conn, |conn| {
                login_throttle::lock_if_full(conn, &key, limit, now)?;
                audit::record(conn, "mfa.failed", Some(user_id), None, json!({}))
            })?;
            tracing::info!("second factor refused");
            Ok(Check::Rejected)
        }
    }
}

/// A code from the person's enrolled app, or one of their recovery codes.
fn check_enrolled(
    conn: &mut DbConnection,
    master: &MasterKey,
    limit: Limit,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<Check, StoreError> {
    let attempt = Attempt {
        user_id,
        code,
        recovery: true,
        now,
    };
    check_code(conn, master, limit, attempt, |conn, code| {
        totp::check(conn, master, user_id, code, now)
    })
}

/// Step-up: a code from the person behind `session` raises it to the `mfa` level; the
/// session's new cookie secret comes back with an accepted code.
pub fn step_up(
    conn: &mut DbConnection,
    master: &MasterKey,
    limit: Limit,
    session: &Session,
    code: &str,
    now: i64,
) -> Result<(Check, Option<String>), StoreError> {
    let user_id = session.user_id.clone();
    let check = check_enrolled(conn, master, limit, &user_id, code, now)?;
    let Check::Accepted(method) = check else {
        return Ok((check, None));
    };
    let cookie_secret = store::transaction(conn, |conn| {
        let secret = sessions::add_second_factor(conn, &session.id, now)?;
        audit::record(
            conn,
            "mfa.succeeded",
            Some(&user_id),
            None,
            json!({ "method": method_name(method), "session": session.id }),
        )?;
        Ok::<_, StoreError>(secret)
    })?;
    Ok((check, Some(cookie_secret)))
}

/// A factor just set up: the recovery codes (shown once) and the session's new cookie
/// secret (the enrolling code proved the second factor).
pub struct Enrolled {
    pub recovery_codes: Vec<String>,
    pub cookie_secret: String,
}

/// Completes an enrolment with the first code from the app; the session that proved it
/// is at `mfa` from now.
pub fn complete_enrolment(
    conn: &mut DbConnection,
    master: &MasterKey,
    limit: Limit,
    session: &Session,
    credential_id: &str,
    code: &str,
    now: i64,
) -> Result<(Check, Option<Enrolled>), StoreError> {
    let user_id = session.user_id.clone();
    let attempt = Attempt {
        user_id: &user_id,
        code,
        recovery: false,
        now,
    };
    let check = check_code(conn, master, limit, attempt, |conn, code| {
        totp::confirm(conn, master, &user_id, credential_id, code, now)
    })?;
    if !matches!(check, Check::Accepted(_)) {
        return Ok((check, None));
    }
    let enrolled = store::transaction(conn, |conn| {
        let cookie_secret = sessions::add_second_factor(conn, &session.id, now)?;
        audit::record(conn, "mfa.enrolled", Some(&user_id), None, json!({}))?;
        let recovery_codes = recovery::renew(conn, master, &user_id, now)?;
        Ok::<_, StoreError>(Enrolled {
            recovery_codes,
            cookie_secret,
        })
    })?;
    Ok((check, Some(enrolled)))
}

/// What a person asks of an enrolled factor; each needs a fresh code (or recovery code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    RenewRecoveryCodes,
    Remove,
}

/// Renews the recovery codes or removes the second factor, after a fresh code.
pub fn change(
    conn: &mut DbConnection,
    master: &MasterKey,
    limit: Limit,
    session: &Session,
    change: Change,
    code: &str,
    now: i64,
) -> Result<(Check, Vec<String>), StoreError> {
    let user_id = session.user_id.clone();
    let check = check_enrolled(conn, master, limit, &user_id, code, now)?;
    if !matches!(check, Check::Accepted(_)) {
        return Ok((check, Vec::new()));
    }
    let codes = store::transaction(conn, |conn| match change {
        Change::RenewRecoveryCodes => {
            audit::record(
                conn,
                "mfa.recovery_codes_renewed",
                Some(&user_id),
                None,
                json!({}),
            )?;
            recovery::renew(conn, master, &user_id, now)
        }
        Change::Remove => {
            totp_credentials::delete_for_user(conn, &user_id)?;
            store::recovery_codes::delete_for_user(conn, &user_id)?;
            audit::record(conn, "mfa.removed", Some(&user_id), None, json!({}))?;
            Ok(Vec::new())
        }
    })?;
    Ok((check, codes))
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Totp => "otp",
        Method::Recovery => "recovery_code",
    }
}

/// Where a person stands with their second factor, for the account page.
pub enum Status {
    Enrolled {
        recovery_codes_left: i64,
    },
    /// Not set up: the secret being enrolled (kept until confirmed).
    Enrolling(totp::Enrolment),
}

pub fn status(
    conn: &mut DbConnection,
    master: &MasterKey,
    user_id: &str,
    account: &str,
    issuer_label: &str,
    now: i64,
) -> Result<Status, StoreError> {
    if totp::enrolled(conn, user_id)? {
        return Ok(Status::Enrolled {
            recovery_codes_left: store::recovery_codes::unused(conn, user_id)?,
        });
    }
    store::transaction(conn, |conn| {
        totp::pending_enrolment(conn, master, user_id, account, issuer_label, now)
            .map(Status::Enrolling)
    })
}
