//! `revoked_access_tokens`: the `jti` of access tokens revoked one by one (RFC 7009), kept
//! until the token would have expired anyway.

use diesel::prelude::*;

use super::schema::revoked_access_tokens;
use super::{DbConnection, StoreError};

/// Adds `jti` to the deny-list; false when it was there already (revoking twice is fine).
pub fn insert(
    conn: &mut DbConnection,
    jti: &str,
    expires_at: i64,
    now: i64,
) -> Result<bool, StoreError> {
    super::try_insert(conn, |conn| {
        diesel::insert_into(revoked_access_tokens::table)
            .values((
                revoked_access_tokens::jti.eq(jti),
                revoked_access_tokens::expires_at.eq(expires_at),
                revoked_access_tokens::revoked_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })
}

pub fn is_revoked(conn: &mut DbConnection, jti: &str) -> Result<bool, StoreError> {
    let found: Option<String> = revoked_access_tokens::table
        .find(jti)
        .select(revoked_access_tokens::jti)
        .load(conn)?
        .into_iter()
        .next();
    Ok(found.is_some())
}

pub fn delete_stale(conn: &mut DbConnection, now: i64, batch: i64) -> Result<usize, StoreError> {
    let stale: Vec<String> = revoked_access_tokens::table
        .select(revoked_access_tokens::jti)
        .filter(revoked_access_tokens::expires_at.le(now))
        .limit(batch)
        .load(conn)?;
    Ok(diesel::delete(
        revoked_access_tokens::table.filter(revoked_access_tokens::jti.eq_any(&stale)),
    )
    .execute(conn)?)
}
