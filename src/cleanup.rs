//! Housekeeping: deletes rows nobody can use any more, in small batches so no statement
//! holds a lock for long. Every delete is idempotent, so every instance may run it.

use crate::config::SignInConfig;
use crate::store::{login_throttle, sessions, DbConnection, StoreError};

/// Rows per statement.
const BATCH: i64 = 500;
/// Statements per table per run: the rest waits for the next run.
const MAX_BATCHES: usize = 20;
/// Ended and expired sessions are kept this long (for the devices page and audits).
const SESSION_GRACE: i64 = 86_400;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub sessions: usize,
    pub login_throttle: usize,
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
