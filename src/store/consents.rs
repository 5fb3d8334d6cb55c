//! `consents`: the scopes a person has allowed a client, remembered per user and client.

use diesel::prelude::*;

use super::schema::consents;
use super::{DbConnection, StoreError};

/// The scopes already allowed (a JSON array), if any.
pub fn get(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
) -> Result<Option<Vec<String>>, StoreError> {
    let scope: Option<String> = consents::table
        .find((user_id, client_id))
        .select(consents::scope)
        .load(conn)?
        .into_iter()
        .next();
    scope
        .map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

/// Records `scopes` as allowed, replacing what was there. Safe when two tabs race.
pub fn put(
    conn: &mut DbConnection,
    user_id: &str,
    client_id: &str,
    scopes: &[String],
    now: i64,
) -> Result<(), StoreError> {
    let scope = serde_json::to_string(scopes).expect("a list serialises");
    super::transaction(conn, |conn| {
        let inserted = super::try_insert(conn, |conn| {
            diesel::insert_into(consents::table)
                .values((
                    consents::user_id.eq(user_id),
                    consents::client_id.eq(client_id),
                    consents::scope.eq(&scope),
                    consents::created_at.eq(now),
                    consents::updated_at.eq(now),
                ))
                .execute(conn)?;
            Ok(())
        })?;
        if !inserted {
            diesel::update(consents::table.find((user_id, client_id)))
                .set((consents::scope.eq(&scope), consents::updated_at.eq(now)))
                .execute(conn)?;
        }
        Ok(())
    })
}
