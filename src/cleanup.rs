//! Housekeeping: deletes rows nobody can use any more, in small batches so no statement
//! holds a lock for long. Every delete is idempotent, so every instance may run it.

use crate::config::SignInConfig;
use crate::store::{
    authorization_codes, authorization_requests, grants, login_throttle, refresh_tokens,
    revoked_access_tokens, sessions, DbConnection, StoreError,
};

/// Rows per statement.
const BATCH: i64 = 500;
/// Statements per table per run: the rest waits for the next run.
const MAX_BATCHES: usize = 20;
/// Ended and expired sessions and grants are kept this long (for the devices page and
/// audits).
const SESSION_GRACE: i64 = 86_400;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub sessions: usize,
    pub login_throttle: usize,
    pub authorization_requests: usize,
    pub authorization_codes: usize,
    pub grants: usize,
    pub refresh_tokens: usize,
    pub revoked_access_tokens: usize,
}

/// One pass over every table.
pub fn run_once(
    conn: &mut DbConnection,
    sign_in: &SignInConfig,
    now: i64,
) -> Result<Removed, StoreError> {
    let window_cutoff = now - sign_in.failure_window.as_secs();
    Ok(Removed {
        sessions: in_batches(|| sessions::delete_stale(conn, now - SESSION_GRACE, BATCH))?,
        login_throttle: in_batches(|| {
            login_throttle::delete_stale(conn, window_cutoff, now, BATCH)
        })?,
        authorization_requests: in_batches(|| {
            authorization_requests::delete_stale(conn, now, BATCH)
        })?,
        authorization_codes: in_batches(|| authorization_codes::delete_stale(conn, now, BATCH))?,
        // A grant outlives every token issued from it (`grants::extend`), plus a day.
        grants: in_batches(|| grants::delete_stale(conn, now - SESSION_GRACE, BATCH))?,
        // Rotated tokens stay until their family expires (reuse must still be seen).
        refresh_tokens: in_batches(|| {
            refresh_tokens::delete_stale(conn, now, now - SESSION_GRACE, BATCH)
        })?,
        revoked_access_tokens: in_batches(|| {
            revoked_access_tokens::delete_stale(conn, now, BATCH)
        })?,
    })
}

fn in_batches(mut delete: impl FnMut() -> Result<usize, StoreError>) -> Result<usize, StoreError> {
    let mut total = 0;
    for _ in 0..MAX_BATCHES {
        let removed = delete()?;
        total += removed;
        if removed < BATCH as usize {
            break;
        }
    }
    Ok(total)
}
