//! `login_throttle`: failed sign-ins per account and per client address, shared by every
//! instance (RFC 6819 §4.4.1.3, OWASP ASVS 2.2.1, checklist §3.6).

use diesel::prelude::*;

use super::schema::login_throttle;
use super::{DbConnection, StoreError};

/// How many failures within `window` seconds lock a key for `lockout` seconds.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max_failures: i64,
    pub window: i64,
    pub lockout: i64,
}

/// Seconds left before `key` may try again, when it is locked.
pub fn locked_for(conn: &mut DbConnection, key: &str, now: i64) -> Result<Option<i64>, StoreError> {
    let until: Option<Option<i64>> = login_throttle::table
        .find(key)
        .select(login_throttle::locked_until)
        .load(conn)?
        .into_iter()
        .next();
    Ok(until.flatten().filter(|t| *t > now).map(|t| t - now))
}

/// Counts one failure, starting a new window when the last one has passed, and locks the
/// key when the count reaches the limit. Increments are single statements, so
/// concurrent failures from several instances are all counted.
pub fn record_failure(
    conn: &mut DbConnection,
    key: &str,
    limit: Limit,
    now: i64,
) -> Result<(), StoreError> {
    super::transaction(conn, |conn| {
        let restarted = diesel::update(
            login_throttle::table
                .find(key)
                .filter(login_throttle::window_started_at.le(now - limit.window)),
        )
        .set((
            login_throttle::failures.eq(1),
            login_throttle::window_started_at.eq(now),
        ))
        .execute(conn)?;
        if restarted == 0 {
            let counted = diesel::update(login_throttle::table.find(key))
                .set(login_throttle::failures.eq(login_throttle::failures + 1))
                .execute(conn)?;
            if counted == 0 {
                diesel::insert_into(login_throttle::table)
                    .values((
                        login_throttle::key.eq(key),
                        login_throttle::failures.eq(1),
                        login_throttle::window_started_at.eq(now),
                    ))
                    .execute(conn)?;
            }
        }
        // Lock, and start counting afresh for when the lock ends.
        diesel::update(
            login_throttle::table
                .find(key)
                .filter(login_throttle::failures.ge(limit.max_failures)),
        )
        .set((
            login_throttle::locked_until.eq(now + limit.lockout),
            login_throttle::failures.eq(0),
            login_throttle::window_started_at.eq(now),
        ))
        .execute(conn)?;
        Ok(())
    })
}

/// Forgets the failures of `key` (after a successful sign-in).
pub fn clear(conn: &mut DbConnection, key: &str) -> Result<(), StoreError> {
    diesel::delete(login_throttle::table.find(key)).execute(conn)?;
    Ok(())
}

/// Deletes up to `batch` counters whose window started before `window_cutoff` and that
/// are not locked at `now`. Idempotent, so several instances may run it at once.
pub fn delete_stale(
    conn: &mut DbConnection,
    window_cutoff: i64,
    now: i64,
    batch: i64,
) -> Result<usize, StoreError> {
    let stale = login_throttle::table
        .select(login_throttle::key)
        .filter(login_throttle::window_started_at.le(window_cutoff))
        .filter(
            login_throttle::locked_until
                .is_null()
                .or(login_throttle::locked_until.le(now)),
        )
        .limit(batch)
        .load::<String>(conn)?;
    Ok(
        diesel::delete(login_throttle::table.filter(login_throttle::key.eq_any(&stale)))
            .execute(conn)?,
    )
}
