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
