//! `revocation_events`: every revocation in commit order, for the feed resource servers
//! follow (#14). Appended only by `crate::revocation`; read from a cursor.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::schema::revocation_events;
use super::{DbConnection, StoreError};

/// The PostgreSQL advisory lock that orders appends (see [`append`]).
const APPEND_LOCK: i64 = 0x7265_766f_6b65; // "revoke"

#[derive(Debug, Queryable, Selectable, Insertable, Clone, PartialEq, Eq)]
#[diesel(table_name = revocation_events)]
pub struct EventRow {
    pub seq: i64,
    /// `grant`, `jti` or `user`.
    pub kind: String,
    pub subject: String,
    pub occurred_at: i64,
    pub expires_at: i64,
}

/// Takes the lock that orders appends, until the transaction ends (PostgreSQL; on
/// SQLite the write lock already is it). A revocation takes it *before* its row locks,
/// so no transaction holding it ever waits for rows held by one that wants it.
pub fn lock_for_append(conn: &mut DbConnection) -> Result<(), StoreError> {
    if let DbConnection::Postgres(pg) = conn {
        pg.batch_execute(&format!("SELECT pg_advisory_xact_lock({APPEND_LOCK})"))?;
    }
    Ok(())
}

/// Appends an event with the next cursor value; returns it. Must run inside a
/// transaction: the cursor is `MAX + 1` under a lock held until commit (SQLite's write
/// lock, or an advisory lock on PostgreSQL), so events commit in cursor order and a
/// follower that has read up to `n` never later finds an event below `n`.
pub fn append(
    conn: &mut DbConnection,
    kind: &str,
    subject: &str,
    occurred_at: i64,
    expires_at: i64,
) -> Result<i64, StoreError> {
    lock_for_append(conn)?;
    let last: Option<i64> = revocation_events::table
        .select(diesel::dsl::max(revocation_events::seq))
        .get_result(conn)?;
    let seq = last.unwrap_or(0) + 1;
    diesel::insert_into(revocation_events::table)
        .values(&EventRow {
            seq,
            kind: kind.to_owned(),
            subject: subject.to_owned(),
            occurred_at,
            expires_at,
        })
        .execute(conn)?;
    Ok(seq)
}

/// The newest cursor, `0` when nothing was ever revoked.
pub fn newest(conn: &mut DbConnection) -> Result<i64, StoreError> {
    let newest: Option<i64> = revocation_events::table
        .select(diesel::dsl::max(revocation_events::seq))
        .get_result(conn)?;
    Ok(newest.unwrap_or(0))
}

/// Up to `limit` events after `cursor`, oldest first.
pub fn since(
    conn: &mut DbConnection,
    cursor: i64,
    limit: i64,
) -> Result<Vec<EventRow>, StoreError> {
    Ok(revocation_events::table
        .filter(revocation_events::seq.gt(cursor))
        .order(revocation_events::seq.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)?)
}

/// Deletes up to `batch` events that no longer reject any live token — never the newest,
/// which carries the cursor forward.
pub fn delete_stale(conn: &mut DbConnection, now: i64, batch: i64) -> Result<usize, StoreError> {
    let newest: Option<i64> = revocation_events::table
        .select(diesel::dsl::max(revocation_events::seq))
        .get_result(conn)?;
    let Some(newest) = newest else {
        return Ok(0);
    };
    let stale: Vec<i64> = revocation_events::table
        .select(revocation_events::seq)
        .filter(revocation_events::expires_at.le(now))
        .filter(revocation_events::seq.lt(newest))
        .limit(batch)
        .load(conn)?;
    Ok(
        diesel::delete(revocation_events::table.filter(revocation_events::seq.eq_any(&stale)))
            .execute(conn)?,
    )
}
