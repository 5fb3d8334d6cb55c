//! `login_throttle`: sign-in attempts per account and per client address, shared by every
//! instance (RFC 6819 §4.4.1.3, OWASP ASVS 2.2.1, checklist §3.6). An attempt takes a
//! slot before its password is hashed and keeps it when it fails; `max_failures` slots
//! per window, then the key is locked for `lockout` (accounts) or paced by a growing
//! delay (addresses, which people behind one proxy or NAT share).

use diesel::prelude::*;

use super::schema::login_throttle;
use super::{DbConnection, StoreError};

/// How many failures within `window` seconds lock a key for `lockout` seconds — or,
/// with `pace`, slow it down instead: past `max_failures`, each further attempt must
/// wait a delay that doubles with every one, up to `pace` seconds (#11 item 2).
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max_failures: i64,
    pub window: i64,
    pub lockout: i64,
    pub pace: Option<i64>,
}

impl Limit {
    /// The wait after the `attempts`-th counted attempt of a paced key: none before
    /// the allowance is used up, then 1, 2, 4 … seconds, at most `max_delay`.
    pub fn delay_after(&self, attempts: i64, max_delay: i64) -> i64 {
        let excess = attempts - self.max_failures;
        if excess < 0 {
            return 0;
        }
        (1i64 << excess.min(30)).min(max_delay)
    }
}

/// Takes one attempt's slot for `key` before the password is checked: `Ok(None)` when
/// the attempt may go on (it is already counted as a failure; `release` gives it
/// back on success), `Ok(Some(seconds))` when the key is locked or its slots are all
/// taken (then it is locked now). Each step is one conditional statement, so a burst on
/// any number of instances takes at most `max_failures` slots (hardening #11 item 1).
pub fn take_slot(
    conn: &mut DbConnection,
    key: &str,
    limit: Limit,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    if let Some(max_delay) = limit.pace {
        return take_paced_slot(conn, key, limit, max_delay, now);
    }
    let unlocked = || {
        login_throttle::locked_until
            .is_null()
            .or(login_throttle::locked_until.le(now))
    };
    super::transaction(conn, |conn| {
        for _ in 0..2 {
            // A free slot in the current window.
            let taken = diesel::update(
                login_throttle::table
                    .find(key)
                    .filter(unlocked())
                    .filter(login_throttle::window_started_at.gt(now - limit.window))
                    .filter(login_throttle::failures.lt(limit.max_failures)),
            )
            .set(login_throttle::failures.eq(login_throttle::failures + 1))
            .execute(conn)?;
            // Or the window has passed: a new one starts with this attempt.
            let restarted = taken > 0
                || diesel::update(
                    login_throttle::table
                        .find(key)
                        .filter(unlocked())
                        .filter(login_throttle::window_started_at.le(now - limit.window)),
                )
                .set((
                    login_throttle::failures.eq(1),
                    login_throttle::window_started_at.eq(now),
                ))
                .execute(conn)?
                    > 0;
            if restarted {
                return Ok(None);
            }
            let exists = login_throttle::table
                .find(key)
                .select(login_throttle::key)
                .load::<String>(conn)?
                .into_iter()
                .next()
                .is_some();
            if exists {
                // Locked, or every slot is held: lock now if not yet.
                lock_if_full(conn, key, limit, now)?;
                return Ok(Some(locked_for(conn, key, now)?.unwrap_or(limit.lockout)));
            }
            // The first attempt: a concurrent one may insert first (then count again).
            if first_attempt(conn, key, now) {
                return Ok(None);
            }
        }
        Err(StoreError::Unavailable(
            "the sign-in counter could not be taken".into(),
        ))
    })
}

/// [`take_slot`] for a paced key: each attempt is counted by a statement conditional on
/// the count it read, and one that goes past the allowance sets the key's wait in that
/// same statement — so of a burst, one attempt goes ahead per delay and the others are
/// refused (with the seconds left) before anything is hashed.
fn take_paced_slot(
    conn: &mut DbConnection,
    key: &str,
    limit: Limit,
    max_delay: i64,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    super::transaction(conn, |conn| {
        // Each pass loses only to an attempt that counted: a burst of n passes n times.
        for _ in 0..64 {
            let row: Option<(i64, i64, Option<i64>)> = login_throttle::table
                .find(key)
                .select((
                    login_throttle::failures,
                    login_throttle::window_started_at,
                    login_throttle::locked_until,
                ))
                .load(conn)?
                .into_iter()
                .next();
            let Some((failures, started, locked_until)) = row else {
                if first_attempt(conn, key, now) {
                    return Ok(None);
                }
                continue;
            };
            if let Some(until) = locked_until.filter(|t| *t > now) {
                return Ok(Some(until - now));
            }
            let (count, window_started_at) = if started <= now - limit.window {
                (1, now)
            } else {
                (failures + 1, started)
            };
            let wait = limit.delay_after(count, max_delay);
            let taken = diesel::update(
                login_throttle::table
                    .find(key)
                    .filter(login_throttle::failures.eq(failures))
                    .filter(login_throttle::window_started_at.eq(started))
                    .filter(
                        login_throttle::locked_until
                            .is_null()
                            .or(login_throttle::locked_until.le(now)),
                    ),
            )
            .set((
                login_throttle::failures.eq(count),
                login_throttle::window_started_at.eq(window_started_at),
                login_throttle::locked_until.eq((wait > 0).then_some(now + wait)),
            ))
            .execute(conn)?;
            if taken > 0 {
                return Ok(None);
            }
            // Another attempt counted first: read again.
        }
        // Contended past reason: refused for a second, as the burst it belongs to.
        Ok(Some(1))
    })
}

/// Counts the first attempt of `key`: false when a concurrent attempt inserted its row
/// first (then the caller counts again).
fn first_attempt(conn: &mut DbConnection, key: &str, now: i64) -> bool {
    super::transaction(conn, |conn| {
        diesel::insert_into(login_throttle::table)
            .values((
                login_throttle::key.eq(key),
                login_throttle::failures.eq(1),
                login_throttle::window_started_at.eq(now),
            ))
            .execute(conn)
            .map_err(StoreError::from)
    })
    .is_ok()
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

/// After a failure (its slot stays counted): locks the key when its count has reached
/// the limit, and starts counting afresh for when the lock ends. A paced key has set
/// its wait as the slot was taken.
pub fn lock_if_full(
    conn: &mut DbConnection,
    key: &str,
    limit: Limit,
    now: i64,
) -> Result<(), StoreError> {
    if limit.pace.is_some() {
        return Ok(());
    }
    diesel::update(
        login_throttle::table
            .find(key)
            .filter(login_throttle::failures.ge(limit.max_failures))
            .filter(
                login_throttle::locked_until
                    .is_null()
                    .or(login_throttle::locked_until.le(now)),
            ),
    )
    .set((
        login_throttle::locked_until.eq(now + limit.lockout),
        login_throttle::failures.eq(0),
        login_throttle::window_started_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// Gives back the slot of an attempt that succeeded — only its own: the failures
/// counted beside it stay until their window ends, so a success in the middle of a
/// burst cannot give the rest of the burst fresh slots (hardening #11 item 1).
pub fn release(conn: &mut DbConnection, key: &str) -> Result<(), StoreError> {
    diesel::update(
        login_throttle::table
            .find(key)
            .filter(login_throttle::failures.gt(0)),
    )
    .set(login_throttle::failures.eq(login_throttle::failures - 1))
    .execute(conn)?;
    // An empty, unlocked counter says nothing: it goes rather than wait for the clean-up.
    diesel::delete(
        login_throttle::table
            .find(key)
            .filter(login_throttle::failures.eq(0))
            .filter(login_throttle::locked_until.is_null()),
    )
    .execute(conn)?;
    Ok(())
}

/// Forgets the failures of `key` (after a right one-time code).
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

#[cfg(test)]
mod tests {
    use super::Limit;

    #[test]
    fn a_paced_key_waits_twice_as_long_each_time_up_to_its_cap() {
        let limit = Limit {
            max_failures: 3,
            window: 900,
            lockout: 900,
            pace: Some(60),
        };
        let waits: Vec<i64> = (1..=12).map(|n| limit.delay_after(n, 60)).collect();
        assert_eq!(waits, [0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        assert_eq!(limit.delay_after(i64::MAX / 2, 60), 60, "no overflow");
    }
}
