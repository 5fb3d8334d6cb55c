//! `authorization_requests`: an authorization request waiting for the person (sign-in,
//! consent). Found by a random id in the URL and bound to one browser by the hash of its
//! binding cookie, so the id alone is worth nothing (checklist §3.6, §3.7).

use diesel::prelude::*;

use super::schema::authorization_requests;
use super::{DbConnection, StoreError};

#[derive(Debug, Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = authorization_requests)]
pub struct AuthorizationRequestRow {
    pub id: String,
    pub binding_hash: Vec<u8>,
    pub client_id: String,
    /// The validated request, as JSON.
    pub request: String,
    pub consented_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert(conn: &mut DbConnection, row: &AuthorizationRequestRow) -> Result<(), StoreError> {
    diesel::insert_into(authorization_requests::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn get_live(
    conn: &mut DbConnection,
    id: &str,
    now: i64,
) -> Result<Option<AuthorizationRequestRow>, StoreError> {
    Ok(authorization_requests::table
        .find(id)
        .filter(authorization_requests::expires_at.gt(now))
        .select(AuthorizationRequestRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

pub fn mark_consented(conn: &mut DbConnection, id: &str, now: i64) -> Result<(), StoreError> {
    diesel::update(authorization_requests::table.find(id))
        .set(authorization_requests::consented_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Removes the request; true when this call removed it (so it completes only once).
pub fn delete(conn: &mut DbConnection, id: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(authorization_requests::table.find(id)).execute(conn)? > 0)
}

pub fn delete_stale(conn: &mut DbConnection, cutoff: i64, batch: i64) -> Result<usize, StoreError> {
    let stale: Vec<String> = authorization_requests::table
        .select(authorization_requests::id)
        .filter(authorization_requests::expires_at.le(cutoff))
        .limit(batch)
        .load(conn)?;
    Ok(diesel::delete(
        authorization_requests::table.filter(authorization_requests::id.eq_any(&stale)),
    )
    .execute(conn)?)
}
