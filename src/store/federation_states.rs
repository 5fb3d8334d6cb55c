//! `federation_states`: a sign-in at an upstream provider in flight (#13). Found by the
//! SHA-256 of the `state` we sent (the value itself is never stored), bound to one
//! browser and taken once: a replayed or forged callback finds nothing.

use diesel::prelude::*;

use super::schema::federation_states;
use super::{DbConnection, StoreError};

#[derive(Debug, Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = federation_states)]
pub struct FederationStateRow {
    pub id: String,
    pub upstream: String,
    pub binding_hash: Vec<u8>,
    pub request_id: Option<String>,
    pub link_user_id: Option<String>,
    /// The nonce and the PKCE verifier, sealed under the instance key.
    pub sealed: Vec<u8>,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert(conn: &mut DbConnection, row: &FederationStateRow) -> Result<(), StoreError> {
    diesel::insert_into(federation_states::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Takes the live state with this id: it is deleted by this call, or by none (so of two
/// callbacks carrying it, one finds it). A state past its expiry is deleted and `None`.
pub fn take(
    conn: &mut DbConnection,
    id: &str,
    now: i64,
) -> Result<Option<FederationStateRow>, StoreError> {
    let Some(row) = federation_states::table
        .find(id)
        .select(FederationStateRow::as_select())
        .load(conn)?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let deleted = diesel::delete(federation_states::table.find(id)).execute(conn)?;
    Ok(Some(row).filter(|r| deleted == 1 && r.expires_at > now))
}

pub fn delete_stale(conn: &mut DbConnection, cutoff: i64, batch: i64) -> Result<usize, StoreError> {
    let stale: Vec<String> = federation_states::table
        .select(federation_states::id)
        .filter(federation_states::expires_at.le(cutoff))
        .limit(batch)
        .load(conn)?;
    Ok(
        diesel::delete(federation_states::table.filter(federation_states::id.eq_any(stale)))
            .execute(conn)?,
    )
}
