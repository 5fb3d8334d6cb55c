//! `totp_credentials`: RFC 6238 second factors. The secret is sealed with the instance
//! key; `last_used_step` lets a code be accepted once only (RFC 6238 §5.2).

use diesel::prelude::*;

use super::schema::totp_credentials;
use super::{DbConnection, StoreError};

#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = totp_credentials)]
pub struct TotpCredentialRow {
    pub id: String,
    pub user_id: String,
    /// Sealed with the instance key (AAD: the row id).
    pub secret: Vec<u8>,
    pub label: String,
    pub last_used_step: Option<i64>,
    pub confirmed_at: Option<i64>,
    pub created_at: i64,
}

pub fn by_label(
    conn: &mut DbConnection,
    user_id: &str,
    label: &str,
) -> Result<Option<TotpCredentialRow>, StoreError> {
    Ok(totp_credentials::table
        .filter(totp_credentials::user_id.eq(user_id))
        .filter(totp_credentials::label.eq(label))
        .select(TotpCredentialRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert(conn: &mut DbConnection, row: &TotpCredentialRow) -> Result<(), StoreError> {
    diesel::insert_into(totp_credentials::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, id: &str) -> Result<(), StoreError> {
    diesel::delete(totp_credentials::table.find(id)).execute(conn)?;
    Ok(())
}

/// The user's confirmed credentials (the ones a code is checked against).
pub fn confirmed(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<TotpCredentialRow>, StoreError> {
    Ok(totp_credentials::table
        .filter(totp_credentials::user_id.eq(user_id))
        .filter(totp_credentials::confirmed_at.is_not_null())
        .order(totp_credentials::created_at.asc())
        .select(TotpCredentialRow::as_select())
        .load(conn)?)
}

/// The user's credential waiting for its first code, if any.
pub fn unconfirmed(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Option<TotpCredentialRow>, StoreError> {
    Ok(totp_credentials::table
        .filter(totp_credentials::user_id.eq(user_id))
        .filter(totp_credentials::confirmed_at.is_null())
        .select(TotpCredentialRow::as_select())
        .first(conn)
        .optional()?)
}

/// Remembers that the code of `step` was used, unless this or a later step already was:
/// `false` means a replay (RFC 6238 §5.2). One conditional UPDATE, so two sessions
/// presenting the same code at once cannot both win.
pub fn use_step(conn: &mut DbConnection, id: &str, step: i64) -> Result<bool, StoreError> {
    let n = diesel::update(
        totp_credentials::table.find(id).filter(
            totp_credentials::last_used_step
                .is_null()
                .or(totp_credentials::last_used_step.lt(step)),
        ),
    )
    .set(totp_credentials::last_used_step.eq(step))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn confirm(conn: &mut DbConnection, id: &str, now: i64) -> Result<(), StoreError> {
    diesel::update(totp_credentials::table.find(id))
        .set(totp_credentials::confirmed_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Removes every credential of the user, confirmed or not.
pub fn delete_for_user(conn: &mut DbConnection, user_id: &str) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(totp_credentials::table.filter(totp_credentials::user_id.eq(user_id)))
            .execute(conn)?,
    )
}
