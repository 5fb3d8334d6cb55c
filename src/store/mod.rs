//! Storage: the only module that names diesel.
//!
//! One [`DbConnection`] enum covers SQLite and PostgreSQL (`diesel::MultiConnection`);
//! the backend is chosen from the URL scheme, queries are written once in the common
//! type set (TEXT ids made in Rust, BIGINT unix seconds, BOOLEAN, BLOB/BYTEA), and a
//! backend-specific statement is an explicit two-arm `match`.
//!
//! Every call from the web server goes through [`Db::run`], which checks a connection
//! out and runs the closure on tokio's blocking pool: actix workers never block on I/O.

use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, Pool, R2D2Connection};

pub mod audit;
pub mod authorization_codes;
pub mod authorization_requests;
pub mod client_assertion_jtis;
pub mod clients;
pub mod consents;
pub mod federated_identities;
pub mod federation_states;
pub mod grants;
pub mod login_throttle;
mod migrations;
pub mod recovery_codes;
pub mod refresh_tokens;
pub mod revocation_events;
pub mod revoked_access_tokens;
pub mod schema;
pub mod sessions;
pub mod signing_keys;
pub mod totp_credentials;
pub mod users;
mod writer;

pub use migrations::{migration_names, Backend};
pub use writer::MAX_QUEUED as MAX_QUEUED_WRITES;

/// A connection to either backend; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

/// Where the data lives, parsed from `database_url`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH` (relative paths are relative to the working directory).
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, handed to libpq unchanged.
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() || path == ":memory:" {
                // A pool of `:memory:` connections would be a pool of separate databases.
                return Err(
                    "a sqlite:// URL needs a file path (in-memory databases are not supported)"
                        .into(),
                );
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        Err("must start with sqlite:// or postgres://".into())
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL with any password replaced, for messages and logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => match url::Url::parse(url) {
                Ok(mut parsed) if parsed.password().is_some() => {
                    let _ = parsed.set_password(Some("***"));
                    parsed.to_string()
                }
                Ok(parsed) => parsed.to_string(),
                Err(_) => "postgres://(unparsable URL)".into(),
            },
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

// Lookups by primary or unique key read `.load(conn)?.into_iter().next()` rather than
// `.first(conn)`: diesel binds `LIMIT ?`, and SQLite re-prepares a statement whose LIMIT
// is a bound parameter every time it is rebound (the planner specialises on its value) —
// a full SQL parse per query on the hot paths, seen at ~5 % of the server's CPU.

/// Errors from the storage layer. Callers map them to protocol or page errors;
/// the underlying cause is only ever logged.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StoreError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

impl From<r2d2::PoolError> for StoreError {
    fn from(e: r2d2::PoolError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// Pool tuning, from `[database]` in the configuration.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_connections: u32,
    pub connect_timeout: Duration,
    /// SQLite only: how long a writer waits for the lock.
    pub busy_timeout: Duration,
}

/// Opens connections for r2d2, picking the backend from the URL (never by trial:
/// a failed PostgreSQL connection must not fall through to creating a SQLite file).
#[derive(Clone)]
struct Manager {
    url: DatabaseUrl,
    busy_timeout_ms: u128,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(r2d2::Error::ConnectionError)?;
                // busy_timeout first, so switching to WAL waits for other writers.
                // temp_store = MEMORY: the sub-journals of savepoints (one per job of a
                // group commit) stay in memory instead of spilling to files in /var/tmp.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA temp_store = MEMORY;",
                    self.busy_timeout_ms
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => diesel::PgConnection::establish(url)
                .map(DbConnection::Postgres)
                .map_err(r2d2::Error::ConnectionError),
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

/// A handle on the connection pool; cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    backend: Backend,
    /// SQLite: the group-commit writer of [`Db::write`], started on first use.
    writer: Option<Arc<Writer>>,
}

struct Writer {
    manager: Manager,
    /// The queue of the writer thread, started on first use and again if it has ended.
    jobs: Mutex<Option<mpsc::SyncSender<writer::Job>>>,
}

impl Writer {
    fn submit(&self, job: writer::Job) -> Result<(), StoreError> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let job = match jobs.as_ref() {
            Some(queue) => match queue.try_send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::TrySendError::Full(_)) => {
                    return Err(StoreError::Unavailable(format!(
                        "{} writes are already waiting for the database writer",
                        writer::MAX_QUEUED
                    )))
                }
                // The thread has ended (it only does on a bug): start another.
                Err(mpsc::TrySendError::Disconnected(job)) => job,
            },
            None => job,
        };
        let manager = self.manager.clone();
        let queue = writer::spawn(move || {
            r2d2::ManageConnection::connect(&manager)
                .map_err(|e| StoreError::Unavailable(e.to_string()))
        })?;
        queue
            .try_send(job)
            .map_err(|_| StoreError::Unavailable("the database writer stopped".into()))?;
        *jobs = Some(queue);
        Ok(())
    }
}

impl Db {
    /// Opens the pool, failing within `connect_timeout` when the database is unreachable.
    pub fn connect(url: &DatabaseUrl, options: &PoolOptions) -> Result<Db, StoreError> {
        if let DatabaseUrl::Sqlite(path) = url {
            // Created here, before SQLite would create it with the umask's mode.
            crate::files::warn_if_shared(path, "the SQLite database");
            crate::files::create_private_file(path).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", path.display()))
            })?;
        }
        let manager = Manager {
            url: url.clone(),
            busy_timeout_ms: options.busy_timeout.as_millis(),
        };
        let pool = Pool::builder()
            .max_size(options.max_connections)
            // Connections are opened on demand. Keeping a minimum would make r2d2 open
            // connections in the background, and a process that exits while libpq is
            // connecting on another thread can crash in libpq's exit handlers.
            .min_idle(Some(0))
            // A round trip per checkout is too dear on the hot paths; broken
            // connections are detected by `has_broken` and errors are handled.
            .test_on_check_out(false)
            .connection_timeout(options.connect_timeout)
            .error_handler(Box::new(r2d2::LoggingErrorHandler))
            .build(manager)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let writer = matches!(url, DatabaseUrl::Sqlite(_)).then(|| {
            Arc::new(Writer {
                manager: Manager {
                    url: url.clone(),
                    busy_timeout_ms: options.busy_timeout.as_millis(),
                },
                jobs: Mutex::new(None),
            })
        });
        Ok(Db {
            pool,
            backend: url.backend(),
            writer,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations; returns the names of those applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        self.run_blocking(migrations::run_pending)
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<F, R, E>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(StoreError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}")))?
    }

    /// Runs `f` in one write transaction, for the hot write paths (refresh rotation).
    ///
    /// SQLite: on the group-commit writer (`store::writer`), with the jobs queued beside
    /// it, each under a savepoint, one durable commit for all; the result arrives after
    /// that commit. PostgreSQL: a pooled connection and a transaction of its own, so
    /// transactions run in parallel and the server groups their WAL flushes itself.
    pub async fn write<F, R, E>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let Some(writer) = &self.writer else {
            return self.run(move |conn| transaction(conn, f)).await;
        };
        let (reply, result) = tokio::sync::oneshot::channel();
        writer.submit(Box::new(move |conn| {
            // Nested inside the batch's transaction: a savepoint.
            let outcome = transaction(conn, f);
            Box::new(move |committed: Result<(), &StoreError>| {
                let _ = reply.send(match committed {
                    Ok(()) => outcome,
                    Err(e) => Err(E::from(StoreError::Unavailable(format!(
                        "the write was not committed: {e}"
                    )))),
                });
            })
        }))?;
        result
            .await
            .map_err(|_| E::from(StoreError::Unavailable("the write job was dropped".into())))?
    }

    /// Runs `f` on the calling thread: for the CLI and start-up, never for handlers.
    pub fn run_blocking<F, R, E>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<R, E>,
        E: From<StoreError>,
    {
        let mut conn = self.pool.get().map_err(StoreError::from)?;
        f(&mut conn)
    }

    /// `SELECT 1` through the pool: what `/readyz` asks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(|conn| conn.ping().map_err(StoreError::from)).await
    }
}

/// One SQLite write transaction at a time per process.
/// (parking_lot's, for its fair unlock: see `store::writer`.)
static SQLITE_WRITER: parking_lot::Mutex<()> = parking_lot::const_mutex(());

/// Runs `f` in one transaction (nested calls become savepoints): all or nothing, for
/// domain functions that write several tables.
///
/// On SQLite the outermost transaction is `BEGIN IMMEDIATE`: it takes the write lock up
/// front, waiting up to the busy timeout. A deferred transaction that reads and then
/// writes fails at once with "database is locked" when another connection wrote in
/// between, because SQLite cannot upgrade its snapshot.
pub fn transaction<R, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<R, E>,
) -> Result<R, E>
where
    E: From<StoreError>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <DbConnection as Connection>::TransactionManager;
    let outermost = Manager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .map_err(StoreError::from)?
        .is_none();
    if let (true, DbConnection::Sqlite(sqlite)) = (outermost, &mut *conn) {
        // Writers of this process queue here instead of in SQLite's busy handler, which
        // sleeps in steps of up to 100 ms (a 1 s tail under load); other processes on
        // the same file still meet the busy timeout.
        let _writer = SQLITE_WRITER.lock();
        AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")
            .map_err(StoreError::from)?;
        return match f(conn) {
            Ok(value) => {
                Manager::commit_transaction(conn).map_err(StoreError::from)?;
                Ok(value)
            }
            Err(e) => {
                if let Err(rollback) = Manager::rollback_transaction(conn) {
                    tracing::error!(error = %rollback, "rollback failed");
                }
                Err(e)
            }
        };
    }
    nested_or_postgres(conn, f)
}

fn nested_or_postgres<R, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<R, E>,
) -> Result<R, E>
where
    E: From<StoreError>,
{
    enum Failed<E> {
        Database(diesel::result::Error),
        Domain(E),
    }
    impl<E> From<diesel::result::Error> for Failed<E> {
        fn from(e: diesel::result::Error) -> Self {
            Failed::Database(e)
        }
    }
    conn.transaction(|conn| f(conn).map_err(Failed::Domain))
        .map_err(|e| match e {
            Failed::Database(e) => E::from(StoreError::from(e)),
            Failed::Domain(e) => e,
        })
}

/// Runs an insert under a savepoint: `Ok(false)` when the row already exists (another
/// instance inserted it first), leaving any surrounding transaction usable.
pub fn try_insert(
    conn: &mut DbConnection,
    insert: impl FnOnce(&mut DbConnection) -> Result<(), StoreError>,
) -> Result<bool, StoreError> {
    match transaction(conn, insert) {
        Ok(()) => Ok(true),
        Err(e) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e),
    }
}

impl DbConnection {
    fn ping(&mut self) -> QueryResult<()> {
        self.batch_execute("SELECT 1")
    }
}

/// Selects every column of every table as the schema declares it: proves that the
/// migrations of this backend produced what the code expects. `migrate` runs it.
pub fn verify_schema(conn: &mut DbConnection) -> Result<(), StoreError> {
    use schema::*;
    macro_rules! check {
        ($($table:ident),*) => {$(
            $table::table.select($table::all_columns).limit(0).execute(conn)?;
        )*};
    }
    schema::with_all_tables!(check);
    Ok(())
}
