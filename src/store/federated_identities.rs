//! `federated_identities`: an account at an upstream provider, linked to a local user.
//! Keyed by (provider, subject) — the upstream's stable id — never by email.

use diesel::prelude::*;

use super::schema::federated_identities;
use super::{DbConnection, StoreError};

#[derive(Debug, Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = federated_identities)]
pub struct FederatedIdentityRow {
    pub id: String,
    pub user_id: String,
    /// The upstream's configured id.
    pub provider: String,
    pub subject: String,
    /// The email the upstream gave when the identity was last used, if any.
    pub email: Option<String>,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, row: &FederatedIdentityRow) -> Result<(), StoreError> {
    diesel::insert_into(federated_identities::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn by_subject(
    conn: &mut DbConnection,
    provider: &str,
    subject: &str,
) -> Result<Option<FederatedIdentityRow>, StoreError> {
    Ok(federated_identities::table
        .filter(federated_identities::provider.eq(provider))
        .filter(federated_identities::subject.eq(subject))
        .select(FederatedIdentityRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

pub fn for_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<FederatedIdentityRow>, StoreError> {
    Ok(federated_identities::table
        .filter(federated_identities::user_id.eq(user_id))
        .order(federated_identities::created_at.asc())
        .select(FederatedIdentityRow::as_select())
        .load(conn)?)
}

/// Records a sign-in through the identity, with the email the upstream gave this time.
pub fn touch(
    conn: &mut DbConnection,
    id: &str,
    email: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    diesel::update(federated_identities::table.find(id))
        .set((
            federated_identities::last_login_at.eq(now),
            federated_identities::email.eq(email),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete(conn: &mut DbConnection, id: &str) -> Result<bool, StoreError> {
    Ok(diesel::delete(federated_identities::table.find(id)).execute(conn)? > 0)
}
