//! `audit_events`: security-relevant events (sign-ins, reuse detection, key rotation,
//! administrative changes). `detail` is a JSON object and never holds a secret.

use diesel::prelude::*;

use super::schema::audit_events;
use super::{DbConnection, StoreError};

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = audit_events)]
pub struct AuditEventRow {
    pub id: String,
    pub occurred_at: i64,
    pub kind: String,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
}

pub fn insert(conn: &mut DbConnection, row: &AuditEventRow) -> Result<(), StoreError> {
    diesel::insert_into(audit_events::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The newest events first.
pub fn recent(conn: &mut DbConnection, limit: i64) -> Result<Vec<AuditEventRow>, StoreError> {
    Ok(audit_events::table
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(AuditEventRow::as_select())
        .load(conn)?)
}

/// Deletes up to `batch` events that occurred before `cutoff` (`maintenance.audit_retention`).
pub fn delete_older_than(
    conn: &mut DbConnection,
    cutoff: i64,
    batch: i64,
) -> Result<usize, StoreError> {
    let old: Vec<String> = audit_events::table
        .select(audit_events::id)
        .filter(audit_events::occurred_at.lt(cutoff))
        .limit(batch)
        .load(conn)?;
    Ok(diesel::delete(audit_events::table.filter(audit_events::id.eq_any(&old))).execute(conn)?)
}

/// Records an event now. `detail` must never hold a secret.
pub fn record(
    conn: &mut DbConnection,
    kind: &str,
    user_id: Option<&str>,
    client_id: Option<&str>,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    insert(
        conn,
        &AuditEventRow {
            id: crate::crypto::token::random_id(),
            occurred_at: crate::clock::now(),
            kind: kind.to_owned(),
            user_id: user_id.map(str::to_owned),
            client_id: client_id.map(str::to_owned),
            ip: None,
            detail: detail.to_string(),
        },
    )
}
