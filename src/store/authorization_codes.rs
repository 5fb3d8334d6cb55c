//! `authorization_codes`: stored as the SHA-256 of the code (RFC 6819 §5.1.4.1.3), with
//! what the authorization step learned for the token step (OpenID Connect Core §3.1.3).

use diesel::prelude::*;

use super::schema::authorization_codes;
use super::{DbConnection, StoreError};

#[derive(Debug, Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = authorization_codes)]
pub struct CodeRow {
    pub code_hash: Vec<u8>,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: Option<String>,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub auth_time: i64,
    pub acr: Option<String>,
    /// JSON array of RFC 8176 method names.
    pub amr: Option<String>,
    pub claims: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    /// JSON array of the resources (RFC 8707) the authorization request named.
    pub resources: String,
}

pub fn insert(conn: &mut DbConnection, row: &CodeRow) -> Result<(), StoreError> {
    diesel::insert_into(authorization_codes::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Marks the code used, in one statement: of any number of concurrent redemptions,
/// exactly one sees `true` (RFC 6749 §4.1.2: a code is used once).
pub fn consume(conn: &mut DbConnection, code_hash: &[u8], now: i64) -> Result<bool, StoreError> {
    Ok(diesel::update(
        authorization_codes::table
            .find(code_hash)
            .filter(authorization_codes::consumed_at.is_null()),
    )
    .set(authorization_codes::consumed_at.eq(now))
    .execute(conn)?
        > 0)
}

pub fn get(conn: &mut DbConnection, code_hash: &[u8]) -> Result<Option<CodeRow>, StoreError> {
    Ok(authorization_codes::table
        .find(code_hash)
        .select(CodeRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

/// Deletes up to `batch` codes that expired before `cutoff`. A used code is kept until
/// then, so a replay is still recognised (and revokes its grant) while it could matter.
pub fn delete_stale(conn: &mut DbConnection, cutoff: i64, batch: i64) -> Result<usize, StoreError> {
    let stale: Vec<Vec<u8>> = authorization_codes::table
        .select(authorization_codes::code_hash)
        .filter(authorization_codes::expires_at.le(cutoff))
        .limit(batch)
        .load(conn)?;
    Ok(diesel::delete(
        authorization_codes::table.filter(authorization_codes::code_hash.eq_any(&stale)),
    )
    .execute(conn)?)
}
