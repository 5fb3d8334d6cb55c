//! `client_assertion_jtis`: the `jti` of every `private_key_jwt` assertion accepted, kept
//! until the assertion expires, so a replay is refused on every instance (RFC 7523 §3).

use diesel::prelude::*;

use super::schema::client_assertion_jtis;
use super::{DbConnection, StoreError};

/// Records `jti` for `client_id`; false when it was there already (a replay).
pub fn record(
    conn: &mut DbConnection,
    client_id: &str,
    jti: &str,
    expires_at: i64,
) -> Result<bool, StoreError> {
    super::try_insert(conn, |conn| {
        diesel::insert_into(client_assertion_jtis::table)
            .values((
                client_assertion_jtis::client_id.eq(client_id),
                client_assertion_jtis::jti.eq(jti),
                client_assertion_jtis::expires_at.eq(expires_at),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Deletes up to `batch` expired entries.
pub fn delete_stale(conn: &mut DbConnection, now: i64, batch: i64) -> Result<usize, StoreError> {
    let stale: Vec<(String, String)> = client_assertion_jtis::table
        .select((client_assertion_jtis::client_id, client_assertion_jtis::jti))
        .filter(client_assertion_jtis::expires_at.le(now))
        .limit(batch)
        .load(conn)?;
    let mut deleted = 0;
    for (client_id, jti) in stale {
        deleted +=
            diesel::delete(client_assertion_jtis::table.find((client_id, jti))).execute(conn)?;
    }
    Ok(deleted)
}
