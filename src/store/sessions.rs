//! `sessions`: server-side browser sessions. The cookie holds a 256-bit secret; only its
//! SHA-256 is stored. `id` is the public session id (the `sid` claim).

use diesel::prelude::*;

use super::schema::sessions;
use super::{DbConnection, StoreError};

#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub id: String,
    pub secret_hash: Vec<u8>,
    pub user_id: Option<String>,
    pub auth_time: Option<i64>,
    pub acr: Option<String>,
    /// JSON array of RFC 8176 method names.
    pub amr: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    /// Ends the session unless it is used before: the idle timeout after `last_seen_at`,
    /// never after `expires_at`.
    pub idle_expires_at: i64,
    /// When a second factor was last proved in this session.
    pub mfa_at: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, row: &SessionRow) -> Result<(), StoreError> {
    diesel::insert_into(sessions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The live session whose cookie secret hashes to `secret_hash`.
pub fn active_by_secret(
    conn: &mut DbConnection,
    secret_hash: &[u8],
    now: i64,
) -> Result<Option<SessionRow>, StoreError> {
    Ok(sessions::table
        .filter(sessions::secret_hash.eq(secret_hash))
        .filter(sessions::ended_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::idle_expires_at.gt(now))
        .select(SessionRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

/// Records a use of the session at `now`: it now ends idle at `idle_expires_at`.
pub fn touch(
    conn: &mut DbConnection,
    id: &str,
    now: i64,
    idle_expires_at: i64,
) -> Result<(), StoreError> {
    // In a transaction of ours: on SQLite it queues on the process's writer mutex, not in
    // SQLite's busy handler.
    super::transaction(conn, |conn| {
        diesel::update(sessions::table.find(id))
            .set((
                sessions::last_seen_at.eq(now),
                sessions::idle_expires_at.eq(idle_expires_at),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Records a second factor at `at` and replaces the session's secret (its cookie).
pub fn set_mfa_at(
    conn: &mut DbConnection,
    id: &str,
    at: i64,
    secret_hash: &[u8],
) -> Result<(), StoreError> {
    diesel::update(sessions::table.find(id))
        .set((
            sessions::mfa_at.eq(at),
            sessions::secret_hash.eq(secret_hash),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<SessionRow>, StoreError> {
    Ok(sessions::table
        .find(id)
        .select(SessionRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

pub fn end(conn: &mut DbConnection, id: &str, now: i64) -> Result<(), StoreError> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// Ends every live session of a user.
pub fn end_all_of_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(now))
    .execute(conn)?)
}

/// Deletes up to `batch` sessions that expired, went idle, or ended, before `cutoff`.
/// Idempotent, so several instances may run it at once.
pub fn delete_stale(conn: &mut DbConnection, cutoff: i64, batch: i64) -> Result<usize, StoreError> {
    let stale: Vec<String> = sessions::table
        .select(sessions::id)
        .filter(
            sessions::expires_at
                .le(cutoff)
                .or(sessions::idle_expires_at.le(cutoff))
                .or(sessions::ended_at.le(cutoff)),
        )
        .limit(batch)
        .load(conn)?;
    Ok(diesel::delete(sessions::table.filter(sessions::id.eq_any(&stale))).execute(conn)?)
}

/// Every session row, live or not (for housekeeping checks).
pub fn count(conn: &mut DbConnection) -> Result<usize, StoreError> {
    let n: i64 = sessions::table.count().get_result(conn)?;
    Ok(usize::try_from(n).unwrap_or(0))
}
