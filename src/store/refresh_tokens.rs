//! `refresh_tokens`: stored as the SHA-256 of the token; `family_id` is the grant id, so
//! a whole sign-in's tokens can be revoked together (RFC 9700 §4.14.2).

use diesel::prelude::*;

use super::schema::{grants, refresh_tokens, users};
use super::{DbConnection, StoreError};

#[derive(Debug, Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: String,
    pub token_hash: Vec<u8>,
    pub family_id: String,
    pub parent_id: Option<String>,
    pub client_id: String,
    pub user_id: String,
    pub session_id: Option<String>,
    pub scope: String,
    pub acr: Option<String>,
    pub amr: Option<String>,
    pub auth_time: i64,
    pub created_at: i64,
    pub idle_expires_at: i64,
    pub absolute_expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_ip: Option<String>,
    pub created_user_agent: Option<String>,
    pub last_used_at: Option<i64>,
    pub last_ip: Option<String>,
    pub last_user_agent: Option<String>,
    /// With a reuse grace period: the sealed response of this token's rotation.
    pub grace_response: Option<Vec<u8>>,
    /// JSON array of the resources (RFC 8707) the grant was authorized for.
    pub resources: String,
}

pub fn insert(conn: &mut DbConnection, row: &RefreshTokenRow) -> Result<(), StoreError> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Revokes every token of a family; returns how many were still unrevoked.
pub fn revoke_family(
    conn: &mut DbConnection,
    family_id: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)?)
}

/// Revokes every live refresh token of a user.
pub fn revoke_all_of_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)?)
}

pub fn by_hash(
    conn: &mut DbConnection,
    hash: &[u8],
) -> Result<Option<RefreshTokenRow>, StoreError> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(RefreshTokenRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

/// [`by_hash`], if the token's grant is live (not revoked, its user not disabled): one
/// statement for the refresh grant's lookup.
pub fn live_by_hash(
    conn: &mut DbConnection,
    hash: &[u8],
) -> Result<Option<RefreshTokenRow>, StoreError> {
    Ok(refresh_tokens::table
        .inner_join(grants::table.on(grants::id.eq(refresh_tokens::family_id)))
        .inner_join(users::table.on(users::id.eq(grants::user_id)))
        .filter(refresh_tokens::token_hash.eq(hash))
        .filter(grants::revoked_at.is_null())
        .filter(users::disabled.eq(false))
        .select(RefreshTokenRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

/// The token that replaced `parent_id`, if any.
pub fn child_of(
    conn: &mut DbConnection,
    parent_id: &str,
) -> Result<Option<RefreshTokenRow>, StoreError> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::parent_id.eq(parent_id))
        .select(RefreshTokenRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

/// Where and when a token was used.
pub struct Use<'a> {
    pub at: i64,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// Marks the token rotated, in one statement: of any number of concurrent refreshes with
/// it, on any instance, exactly one sees `true` (GUIDE: never read-then-write here).
pub fn rotate(conn: &mut DbConnection, id: &str, used: &Use<'_>) -> Result<bool, StoreError> {
    Ok(diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::rotated_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set((
        refresh_tokens::rotated_at.eq(used.at),
        refresh_tokens::last_used_at.eq(used.at),
        refresh_tokens::last_ip.eq(used.ip),
        refresh_tokens::last_user_agent.eq(used.user_agent),
    ))
    .execute(conn)?
        > 0)
}

pub fn set_grace_response(
    conn: &mut DbConnection,
    id: &str,
    sealed: &[u8],
) -> Result<(), StoreError> {
    diesel::update(refresh_tokens::table.find(id))
        .set(refresh_tokens::grace_response.eq(sealed))
        .execute(conn)?;
    Ok(())
}

/// The usable tokens of a user — one per sign-in (family) — most recently used first,
/// optionally for one client only.
pub fn active_for_user(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: Option<&str>,
    now: i64,
) -> Result<Vec<RefreshTokenRow>, StoreError> {
    let mut query = refresh_tokens::table
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::rotated_at.is_null())
        .filter(refresh_tokens::revoked_at.is_null())
        .filter(refresh_tokens::idle_expires_at.gt(now))
        .filter(refresh_tokens::absolute_expires_at.gt(now))
        .into_boxed();
    if let Some(client_id) = client_id {
        query = query.filter(refresh_tokens::client_id.eq(client_id.to_owned()));
    }
    Ok(query
        .order(refresh_tokens::created_at.desc())
        .select(RefreshTokenRow::as_select())
        .load(conn)?)
}

/// Deletes up to `batch` tokens whose family can no longer be used: past the absolute
/// lifetime, or revoked before `cutoff`. Rotated tokens stay until then, so a replay is
/// still recognised as reuse.
pub fn delete_stale(
    conn: &mut DbConnection,
    now: i64,
    cutoff: i64,
    batch: i64,
) -> Result<usize, StoreError> {
    let stale: Vec<String> = refresh_tokens::table
        .select(refresh_tokens::id)
        .filter(
            refresh_tokens::absolute_expires_at
                .le(now)
                .or(refresh_tokens::revoked_at.le(cutoff)),
        )
        .limit(batch)
        .load(conn)?;
    Ok(
        diesel::delete(refresh_tokens::table.filter(refresh_tokens::id.eq_any(&stale)))
            .execute(conn)?,
    )
}
