//! Housekeeping: deletes rows nobody can use any more, in small batches so no statement
//! holds a lock for long. Every delete is idempotent, so every instance may run it. A
//! run goes on until every table has caught up, within a time budget, so a steady flood
//! of rows cannot outgrow it (hardening #11 item 8).

use std::time::{Duration, Instant};

use crate::config::Config;
use crate::store::{
    audit, authorization_codes, authorization_requests, client_assertion_jtis, federation_states,
    grants, login_throttle, refresh_tokens, revocation_events, revoked_access_tokens, sessions,
    DbConnection, StoreError,
};

/// Rows per statement.
const BATCH: i64 = 500;
/// How long one run may delete for; what is left waits for the next run.
const BUDGET: Duration = Duration::from_secs(20);
/// Ended and expired sessions and grants are kept this long (for the devices page and
/// audits).
const SESSION_GRACE: i64 = 86_400;
/// Revocation events outlive the last token they reject by this much: a resource
/// server's clock may run behind ours (by at most its leeway on `exp`).
const EVENT_GRACE: i64 = 300;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub sessions: usize,
    pub login_throttle: usize,
    pub authorization_requests: usize,
    pub authorization_codes: usize,
    pub grants: usize,
    pub refresh_tokens: usize,
    pub revoked_access_tokens: usize,
    pub revocation_events: usize,
    pub federation_states: usize,
    pub client_assertion_jtis: usize,
    pub audit_events: usize,
}

/// One pass over every table.
pub fn run_once(conn: &mut DbConnection, config: &Config, now: i64) -> Result<Removed, StoreError> {
    let window_cutoff = now - config.sign_in.failure_window.as_secs();
    let audit_cutoff = now - config.maintenance.audit_retention.as_secs();
    let deadline = Instant::now() + BUDGET;
    Ok(Removed {
        sessions: in_batches(deadline, || {
            sessions::delete_stale(conn, now - SESSION_GRACE, BATCH)
        })?,
        login_throttle: in_batches(deadline, || {
            login_throttle::delete_stale(conn, window_cutoff, now, BATCH)
        })?,
        authorization_requests: in_batches(deadline, || {
            authorization_requests::delete_stale(conn, now, BATCH)
        })?,
        authorization_codes: in_batches(deadline, || {
            authorization_codes::delete_stale(conn, now, BATCH)
        })?,
        // A grant outlives every token issued from it (`grants::extend`), plus a day.
        grants: in_batches(deadline, || {
            grants::delete_stale(conn, now - SESSION_GRACE, BATCH)
        })?,
        // Rotated tokens stay until their family expires (reuse must still be seen).
        refresh_tokens: in_batches(deadline, || {
            refresh_tokens::delete_stale(conn, now, now - SESSION_GRACE, BATCH)
        })?,
        revoked_access_tokens: in_batches(deadline, || {
            revoked_access_tokens::delete_stale(conn, now, BATCH)
        })?,
        revocation_events: in_batches(deadline, || {
            revocation_events::delete_stale(conn, now - EVENT_GRACE, BATCH)
        })?,
        federation_states: in_batches(deadline, || {
            federation_states::delete_stale(conn, now, BATCH)
        })?,
        client_assertion_jtis: in_batches(deadline, || {
            client_assertion_jtis::delete_stale(conn, now, BATCH)
        })?,
        audit_events: in_batches(deadline, || {
            audit::delete_older_than(conn, audit_cutoff, BATCH)
        })?,
    })
}

/// Deletes batch after batch until one comes back short (caught up) or `deadline` passes.
fn in_batches(
    deadline: Instant,
    mut delete: impl FnMut() -> Result<usize, StoreError>,
) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let removed = delete()?;
        total += removed;
        if removed < BATCH as usize || Instant::now() >= deadline {
            return Ok(total);
        }
    }
}
