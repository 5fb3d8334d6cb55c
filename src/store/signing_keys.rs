//! `signing_keys`: one row per key, private half encrypted. A key's state is derived
//! from its times, so every instance agrees without coordination:
//! announced (`now < activates_at`) → signing → retired (`retires_at <= now`) →
//! dropped from the JWKS (`expires_at <= now`).

use diesel::prelude::*;

use super::schema::signing_keys;
use super::{DbConnection, StoreError};

#[derive(Queryable, Selectable, Insertable, Clone)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    /// 1, 2, 3… per algorithm; `UNIQUE (alg, generation)` lets one instance win a race.
    pub generation: i64,
    pub public_jwk: String,
    /// AES-256-GCM sealed PKCS#8 (see `crypto::MasterKey`), never printed.
    pub private_key: Vec<u8>,
    pub created_at: i64,
    pub activates_at: i64,
    pub retires_at: Option<i64>,
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("generation", &self.generation)
            .field("activates_at", &self.activates_at)
            .field("retires_at", &self.retires_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Every key, oldest first within each algorithm.
pub fn list(conn: &mut DbConnection) -> Result<Vec<SigningKeyRow>, StoreError> {
    Ok(signing_keys::table
        .order((signing_keys::alg.asc(), signing_keys::generation.asc()))
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

/// The newest key of `alg`, if any.
pub fn latest(conn: &mut DbConnection, alg: &str) -> Result<Option<SigningKeyRow>, StoreError> {
    Ok(signing_keys::table
        .filter(signing_keys::alg.eq(alg))
        .order(signing_keys::generation.desc())
        .select(SigningKeyRow::as_select())
        .first(conn)
        .optional()?)
}

/// The key `kid`, if any.
pub fn get(conn: &mut DbConnection, kid: &str) -> Result<Option<SigningKeyRow>, StoreError> {
    Ok(signing_keys::table
        .find(kid)
        .select(SigningKeyRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

/// Takes `kid` out of signing and out of the JWKS from `now` on (`keys revoke`).
pub fn revoke(conn: &mut DbConnection, kid: &str, now: i64) -> Result<(), StoreError> {
    diesel::update(signing_keys::table.find(kid))
        .set((
            signing_keys::retires_at.eq(now),
            signing_keys::expires_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Inserts a key; a unique violation means another instance inserted that generation first.
pub fn insert(conn: &mut DbConnection, row: &SigningKeyRow) -> Result<(), StoreError> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Adds `next` and schedules every older key of its algorithm that has no retirement
/// yet to retire when `next` starts signing, staying published until `expires_at`.
/// One transaction: a concurrent rotation fails on `UNIQUE (alg, generation)`.
pub fn rotate(
    conn: &mut DbConnection,
    next: &SigningKeyRow,
    expires_at: i64,
) -> Result<(), StoreError> {
    conn.transaction(|conn| {
        insert(conn, next)?;
        diesel::update(
            signing_keys::table
                .filter(signing_keys::alg.eq(&next.alg))
                .filter(signing_keys::generation.lt(next.generation))
                .filter(signing_keys::retires_at.is_null()),
        )
        .set((
            signing_keys::retires_at.eq(next.activates_at),
            signing_keys::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
        Ok(())
    })
}
