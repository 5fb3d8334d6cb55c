//! `clients`: registered OAuth clients. Lists are JSON arrays in TEXT columns.

use diesel::prelude::*;

use super::schema::{client_generation, clients};
use super::{DbConnection, StoreError};

#[derive(Queryable, Selectable, Insertable, AsChangeset, Clone)]
#[diesel(table_name = clients, treat_none_as_null = true)]
pub struct ClientRow {
    pub id: String,
    pub client_name: String,
    /// HMAC-SHA256 of the secret under the instance key; `None` for public clients.
    pub secret_hash: Option<Vec<u8>>,
    pub public: bool,
    pub token_endpoint_auth_method: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub allowed_origins: String,
    pub grant_types: String,
    pub scopes: String,
    pub skip_consent: bool,
    pub require_pkce: bool,
    pub id_token_signed_response_alg: String,
    pub access_token_signed_response_alg: String,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_idle_ttl: Option<i64>,
    pub refresh_token_absolute_ttl: Option<i64>,
    pub managed_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// `own` or `any`: the tokens this client may introspect (`oauth::client::Introspection`).
    pub introspection: String,
    /// JSON array of `acr` values asked for when a request names none.
    pub default_acr_values: String,
    /// The first of `default_acr_values` is a minimum: a lower level is refused.
    pub require_acr: bool,
    /// Offer enrolment of a second factor inside the flow (`None`: the server's setting).
    pub enroll_on_step_up: Option<bool>,
    /// JSON array of the resources (RFC 8707) the client may ask tokens for.
    pub resources: String,
    /// The `aud` of its access tokens when a request names no resource.
    pub default_resource: Option<String>,
    /// `private_key_jwt`: the client's JWK Set (JSON), or where it is published.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
}

impl std::fmt::Debug for ClientRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRow")
            .field("id", &self.id)
            .field("public", &self.public)
            .field("managed_by", &self.managed_by)
            .finish_non_exhaustive()
    }
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<ClientRow>, StoreError> {
    Ok(clients::table
        .find(id)
        .select(ClientRow::as_select())
        .load(conn)?
        .into_iter()
        .next())
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<ClientRow>, StoreError> {
    Ok(clients::table
        .order(clients::id.asc())
        .select(ClientRow::as_select())
        .load(conn)?)
}

pub fn insert(conn: &mut DbConnection, row: &ClientRow) -> Result<(), StoreError> {
    super::transaction(conn, |conn| {
        diesel::insert_into(clients::table)
            .values(row)
            .execute(conn)?;
        bump_generation(conn)
    })
}

/// The clients' generation: every change to `clients` bumps it in its own transaction,
/// so a copy of the clients loaded after reading generation `g` is current for as long
/// as this still returns `g` (`oauth::registry`).
pub fn generation(conn: &mut DbConnection) -> Result<i64, StoreError> {
    // `load`, not `first`: diesel binds `LIMIT ?`, which SQLite re-prepares every time.
    client_generation::table
        .find(1)
        .select(client_generation::generation)
        .load::<i64>(conn)?
        .into_iter()
        .next()
        .ok_or(StoreError::Corrupt("client_generation has no row".into()))
}

/// The generation, then the clients: rows read after the generation are at least as new
/// as it (the other order could pair old rows with a newer generation).
pub fn snapshot(conn: &mut DbConnection) -> Result<(i64, Vec<ClientRow>), StoreError> {
    let generation = generation(conn)?;
    Ok((generation, list(conn)?))
}

fn bump_generation(conn: &mut DbConnection) -> Result<(), StoreError> {
    diesel::update(client_generation::table.find(1))
        .set(client_generation::generation.eq(client_generation::generation + 1))
        .execute(conn)?;
    Ok(())
}

/// Inserts or replaces a client, keeping its `created_at`. Returns true when created.
/// Safe when several instances bootstrap the same client at once.
pub fn upsert(conn: &mut DbConnection, row: &ClientRow) -> Result<bool, StoreError> {
    super::transaction(conn, |conn| {
        if get(conn, &row.id)?.is_none() && super::try_insert(conn, |conn| insert(conn, row))? {
            return Ok(true);
        }
        let existing = get(conn, &row.id)?.ok_or(StoreError::Conflict(
            "the client was removed during its update",
        ))?;
        let mut row = row.clone();
        row.created_at = existing.created_at;
        diesel::update(clients::table.find(&row.id))
            .set(&row)
            .execute(conn)?;
        bump_generation(conn)?;
        Ok(false)
    })
}

/// Deletes a client and, by cascade, its codes, tokens and consents.
pub fn delete(conn: &mut DbConnection, id: &str) -> Result<bool, StoreError> {
    super::transaction(conn, |conn| {
        let deleted = diesel::delete(clients::table.find(id)).execute(conn)? > 0;
        if deleted {
            bump_generation(conn)?;
        }
        Ok(deleted)
    })
}
