//! `grants`: one per authorization. The code and every token issued from it carry the
//! grant id, so revoking the grant revokes them all (RFC 6749 §4.1.2, §10.5).

use diesel::prelude::*;

use super::schema::{grants, revoked_access_tokens, users};
use super::users::UserRow;
use super::{DbConnection, StoreError};

#[derive(Debug, Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = grants)]
pub struct GrantRow {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: Option<String>,
    pub created_at: i64,
    /// When the last token issued from it expires (for housekeeping).
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, row: &GrantRow) -> Result<(), StoreError> {
    diesel::insert_into(grants::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Marks the grant revoked. Returns when its last token expires, or `None` when it was
/// revoked already (or is unknown).
pub fn revoke(conn: &mut DbConnection, id: &str, now: i64) -> Result<Option<i64>, StoreError> {
    let revoked = diesel::update(grants::table.find(id).filter(grants::revoked_at.is_null()))
        .set(grants::revoked_at.eq(now))
        .execute(conn)?;
    if revoked == 0 {
        return Ok(None);
    }
    Ok(grants::table
        .find(id)
        .select(grants::expires_at)
        .load(conn)?
        .into_iter()
        .next())
}

/// Revokes every live grant of a user. Returns when the last token of those grants
/// expires, or `None` when there were none.
pub fn revoke_all_of_user(
    conn: &mut DbConnection,
    user_id: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let live = || {
        grants::table
            .filter(grants::user_id.eq(user_id))
            .filter(grants::revoked_at.is_null())
    };
    let last: Option<i64> = live()
        .select(diesel::dsl::max(grants::expires_at))
        .get_result(conn)?;
    diesel::update(live())
        .set(grants::revoked_at.eq(now))
        .execute(conn)?;
    Ok(last)
}

/// Keeps the row at least until `expires_at` (tokens issued from it live that long).
pub fn extend(conn: &mut DbConnection, id: &str, expires_at: i64) -> Result<(), StoreError> {
    diesel::update(
        grants::table
            .find(id)
            .filter(grants::expires_at.lt(expires_at)),
    )
    .set(grants::expires_at.eq(expires_at))
    .execute(conn)?;
    Ok(())
}

/// The user behind a live grant: the grant not revoked and the user not disabled. One
/// query, for the hot paths (introspection, userinfo).
pub fn live_user(conn: &mut DbConnection, id: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(grants::table
        .inner_join(users::table.on(users::id.eq(grants::user_id)))
        .filter(grants::id.eq(id))
        .filter(grants::revoked_at.is_null())
        .filter(users::disabled.eq(false))
        .select(UserRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

/// [`live_user`] for an access token: also `None` when its `jti` is on the deny-list.
/// One statement for the whole revocation check of introspection and userinfo.
pub fn live_user_for_token(
    conn: &mut DbConnection,
    id: &str,
    jti: &str,
) -> Result<Option<UserRow>, StoreError> {
    use diesel::dsl::{exists, not};
    Ok(grants::table
        .inner_join(users::table.on(users::id.eq(grants::user_id)))
        .filter(grants::id.eq(id))
        .filter(grants::revoked_at.is_null())
        .filter(users::disabled.eq(false))
        .filter(not(exists(revoked_access_tokens::table.find(jti))))
        .select(UserRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

/// Deletes up to `batch` grants whose tokens have all expired before `cutoff`.
pub fn delete_stale(conn: &mut DbConnection, cutoff: i64, batch: i64) -> Result<usize, StoreError> {
    let stale: Vec<String> = grants::table
        .select(grants::id)
        .filter(grants::expires_at.le(cutoff))
        .limit(batch)
        .load(conn)?;
    Ok(diesel::delete(grants::table.filter(grants::id.eq_any(&stale))).execute(conn)?)
}
