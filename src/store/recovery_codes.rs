//! `recovery_codes`: single-use codes that stand in for a lost authenticator. Only an
//! HMAC of each (under the instance key) is stored.

use diesel::prelude::*;

use super::schema::recovery_codes;
use super::{DbConnection, StoreError};

#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = recovery_codes)]
pub struct RecoveryCodeRow {
    pub id: String,
    pub user_id: String,
    pub code_hash: Vec<u8>,
    pub used_at: Option<i64>,
    pub created_at: i64,
}

pub fn insert_all(conn: &mut DbConnection, rows: &[RecoveryCodeRow]) -> Result<(), StoreError> {
    // One statement per row: a batch INSERT has no form common to both backends.
    for row in rows {
        diesel::insert_into(recovery_codes::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

pub fn delete_for_user(conn: &mut DbConnection, user_id: &str) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
            .execute(conn)?,
    )
}

/// Marks the user's unused code with this hash as used: `false` when there is none (a
/// wrong code, or one used before). A conditional UPDATE: used once, even at once.
pub fn use_code(
    conn: &mut DbConnection,
    user_id: &str,
    code_hash: &[u8],
    now: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(code_hash))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)?;
    Ok(n >= 1)
}

/// How many of the user's codes are left.
pub fn unused(conn: &mut DbConnection, user_id: &str) -> Result<i64, StoreError> {
    Ok(recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}
