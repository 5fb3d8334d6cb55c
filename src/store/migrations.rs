//! Embedded, mirrored migrations: the same folder names under `migrations/sqlite`
//! and `migrations/postgres` (checked by the test at the bottom).

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::{DbConnection, StoreError};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// An arbitrary constant: the advisory lock that serialises migrations when several
/// instances start at once against one PostgreSQL database.
const MIGRATION_LOCK: i64 = 0x706f_7274_6375_6c6c;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

pub(super) fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, StoreError> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
    match conn {
        // The write lock serialises instances that start together on one file.
        DbConnection::Sqlite(c) => c.immediate_transaction(|c| {
            c.run_pending_migrations(SQLITE)
                .map(|vs| vs.iter().map(|v| v.to_string()).collect())
                .map_err(failed)
        }),
        DbConnection::Postgres(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let result = c
                .run_pending_migrations(POSTGRES)
                .map(|vs| vs.iter().map(|v| v.to_string()).collect())
                .map_err(failed);
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
            result
        }
    }
}

/// The embedded migration names for one backend, in order.
pub fn migration_names(backend: Backend) -> Vec<String> {
    let names = match backend {
        Backend::Sqlite => MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE)
            .map(|ms| ms.iter().map(|m| m.name().to_string()).collect()),
        Backend::Postgres => MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES)
            .map(|ms| ms.iter().map(|m| m.name().to_string()).collect()),
    };
    names.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_migrations() {
        let sqlite = migration_names(Backend::Sqlite);
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, migration_names(Backend::Postgres));
    }
}
