//! Group commit for SQLite: one writer thread, one connection, and every write job
//! queued at the moment runs in one transaction — each job under its own savepoint —
//! with one COMMIT, so one WAL fsync, for all of them.
//!
//! A durable SQLite commit (`synchronous = FULL`) costs a WAL append and an fsync, and
//! commits to one database are serialised: one transaction per refresh rotation capped
//! the token endpoint near 1,800 rotations/s on the reference machine
//! (docs/PERFORMANCE.md). Here the fsync is paid once per batch; while one batch
//! commits, the next one queues.
//!
//! What a job sees and guarantees is unchanged: its reads and writes happen under the
//! write lock, in order after the jobs before it in the batch; its result is delivered
//! only after the COMMIT that made its writes durable, and a job that fails rolls back
//! to its savepoint without touching the others. If the COMMIT itself fails, every job
//! of the batch fails with [`StoreError::Unavailable`] and nothing of it was written.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};

use super::{DbConnection, StoreError};

/// Called once the batch's fate is known: `Ok` when committed.
pub(super) type Completion = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
/// Runs under a savepoint inside the batch's transaction and returns its completion.
pub(super) type Job = Box<dyn FnOnce(&mut DbConnection) -> Completion + Send>;

/// The most jobs one transaction carries: each of them waits for the whole batch.
const MAX_BATCH: usize = 64;

/// The most jobs waiting for the writer (16 batches, a fraction of a second of work):
/// beyond it a write is refused at once as unavailable (503) instead of queueing
/// without bound (#11 item 12).
pub const MAX_QUEUED: usize = 1024;

type Manager = <DbConnection as Connection>::TransactionManager;

/// Starts the writer thread; it ends when every sender is dropped.
pub(super) fn spawn(
    connect: impl Fn() -> Result<DbConnection, StoreError> + Send + 'static,
) -> Result<mpsc::SyncSender<Job>, StoreError> {
    let (sender, jobs) = mpsc::sync_channel::<Job>(MAX_QUEUED);
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || serve(connect, jobs))
        .map_err(|e| StoreError::Unavailable(format!("cannot start the writer thread: {e}")))?;
    Ok(sender)
}

fn serve(connect: impl Fn() -> Result<DbConnection, StoreError>, jobs: mpsc::Receiver<Job>) {
    let mut conn: Option<DbConnection> = None;
    while let Ok(first) = jobs.recv() {
        let conn_ref = match conn.as_mut() {
            Some(c) => c,
            None => match connect() {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    // Dropping the job drops its reply channel: the caller gets
                    // "unavailable" (as when the pool cannot connect).
                    tracing::error!(error = %e, "the database writer cannot connect");
                    drop(first);
                    continue;
                }
            },
        };
        // Writers on pooled connections of this process queue on the same mutex.
        let writer = super::SQLITE_WRITER.lock();
        let usable = run_batch(conn_ref, first, &jobs);
        // Handed straight to a pooled writer waiting for it, if any, so that a stream
        // of batches cannot starve the other write paths (sign-ins, codes).
        parking_lot::MutexGuard::unlock_fair(writer);
        if !usable {
            // Its transaction state is unknown (a job panicked, or rollback failed):
            // closing the connection rolls back whatever is open; the next batch
            // opens a new one.
            conn = None;
        }
    }
}

/// Runs `first` and whatever else is queued in one transaction, holding the process's
/// SQLite write mutex. Returns `false` when the connection must not be reused.
fn run_batch(conn: &mut DbConnection, first: Job, jobs: &mpsc::Receiver<Job>) -> bool {
    let DbConnection::Sqlite(sqlite) = &mut *conn else {
        unreachable!("the writer serves SQLite only")
    };
    if let Err(e) = AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE") {
        let e = StoreError::from(e);
        tracing::error!(error = %e, "the database writer cannot begin a transaction");
        return false;
    }
    let mut done: Vec<Completion> = Vec::new();
    let mut next = Some(first);
    while let Some(job) = next.take() {
        match catch_unwind(AssertUnwindSafe(|| job(conn))) {
            Ok(completion) => done.push(completion),
            Err(_) => {
                // The panic was reported by the hook; the jobs already run are lost
                // with the connection, the rest are dropped (their callers see
                // "unavailable").
                let failed = StoreError::Unavailable("a write job panicked".into());
                for completion in done {
                    completion(Err(&failed));
                }
                return false;
            }
        }
        // Jobs that arrived while this one ran join the batch.
        if done.len() < MAX_BATCH {
            next = jobs.try_recv().ok();
        }
    }
    match Manager::commit_transaction(conn) {
        Ok(()) => {
            for completion in done {
                completion(Ok(()));
            }
            true
        }
        Err(e) => {
            let failed = StoreError::from(e);
            tracing::error!(error = %failed, jobs = done.len(), "a group commit failed");
            let usable = Manager::rollback_transaction(conn).is_ok();
            for completion in done {
                completion(Err(&failed));
            }
            usable
        }
    }
}
