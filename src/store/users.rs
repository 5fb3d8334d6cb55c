//! `users`: people who sign in. `id` is the stable public `sub`; `username` is stored
//! normalised (trimmed, lower-case) so that case and spacing cannot split an account.

use diesel::prelude::*;

use super::schema::users;
use super::{DbConnection, StoreError};

#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// argon2id PHC string; `None` for accounts that only sign in through federation.
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub managed_by: String,
    pub password_changed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// HMAC of the password `[[users]]` last set (`accounts::upsert_from_config`).
    pub config_password_mac: Option<Vec<u8>>,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// The profile fields an administrator or the configuration sets.
#[derive(AsChangeset, Debug, Clone)]
#[diesel(table_name = users, treat_none_as_null = true)]
pub struct ProfileChange {
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub managed_by: String,
    pub updated_at: i64,
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(users::table
        .find(id)
        .select(UserRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

pub fn by_username(conn: &mut DbConnection, username: &str) -> Result<Option<UserRow>, StoreError> {
    Ok(users::table
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

/// The accounts with this email (emails are not unique: an administrator may repeat one).
pub fn by_email(conn: &mut DbConnection, email: &str) -> Result<Vec<UserRow>, StoreError> {
    Ok(users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .load(conn)?)
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<UserRow>, StoreError> {
    Ok(users::table
        .order(users::username.asc())
        .select(UserRow::as_select())
        .load(conn)?)
}

pub fn insert(conn: &mut DbConnection, row: &UserRow) -> Result<(), StoreError> {
    diesel::insert_into(users::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn update_profile(
    conn: &mut DbConnection,
    id: &str,
    change: &ProfileChange,
) -> Result<(), StoreError> {
    diesel::update(users::table.find(id))
        .set(change)
        .execute(conn)?;
    Ok(())
}

/// Sets a new password hash. What the old password opened is revoked by the caller
/// (`people::accounts::set_password`, through `crate::revocation`).
pub fn set_password(
    conn: &mut DbConnection,
    id: &str,
    phc: &str,
    now: i64,
) -> Result<(), StoreError> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(phc),
            users::password_changed_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Remembers which configured password the account last took from the file.
pub fn set_config_password_mac(
    conn: &mut DbConnection,
    id: &str,
    mac: &[u8],
) -> Result<(), StoreError> {
    diesel::update(users::table.find(id))
        .set(users::config_password_mac.eq(mac))
        .execute(conn)?;
    Ok(())
}

/// Disables or enables a user; false when it already was. Revoking what a disabled user
/// holds is the caller's (`people::accounts::set_disabled`, through `crate::revocation`).
pub fn set_disabled(
    conn: &mut DbConnection,
    id: &str,
    disabled: bool,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(
        diesel::update(users::table.find(id).filter(users::disabled.ne(disabled)))
            .set((users::disabled.eq(disabled), users::updated_at.eq(now)))
            .execute(conn)?
            > 0,
    )
}
