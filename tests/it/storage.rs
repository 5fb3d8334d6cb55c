//! The storage layer on the backend under test: the schema the code declares exists,
//! and rows round-trip.

use crate::common::TestApp;
use portcullis::store::{self, audit::AuditEventRow};

#[tokio::test]
async fn every_table_and_column_exists_on_this_backend() {
    let app = TestApp::spawn().await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    core.db.run_blocking(store::verify_schema).unwrap();
    let expected = if app.db.is_postgres() {
        store::Backend::Postgres
    } else {
        store::Backend::Sqlite
    };
    assert_eq!(core.db.backend(), expected);
}

#[tokio::test]
async fn audit_events_round_trip() {
    let app = TestApp::spawn().await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let row = AuditEventRow {
        id: "evt-1".into(),
        occurred_at: recently(),
        kind: "test.event".into(),
        user_id: None,
        client_id: Some("spa".into()),
        ip: Some("192.0.2.1".into()),
        detail: r#"{"note":"é ✓"}"#.into(),
    };
    core.db
        .run_blocking(|conn| store::audit::insert(conn, &row))
        .unwrap();
    let back = core
        .db
        .run_blocking(|conn| store::audit::recent(conn, 10))
        .unwrap();
    let found = back
        .iter()
        .find(|e| e.id == "evt-1")
        .expect("the event is stored");
    assert_eq!(found.detail, row.detail);
    assert_eq!(found.client_id, row.client_id);
    assert_eq!(found.user_id, None);
}

#[tokio::test]
async fn concurrent_async_queries_share_the_pool() {
    let app = TestApp::spawn().await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let db = core.db.clone();
        tasks.push(tokio::spawn(
            async move { db.run(store::clients::list).await },
        ));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
}

// `Db::write`: the hot write paths' transactions. On SQLite they share commits
// (`store::writer`), on PostgreSQL each has its own; the guarantees are the same.

/// Events are dated now: the server's own cleanup deletes audit events past
/// their retention (90 days) while a test runs.
fn recently() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn event(id: &str) -> AuditEventRow {
    AuditEventRow {
        id: id.into(),
        occurred_at: recently(),
        kind: "test.write".into(),
        user_id: None,
        client_id: None,
        ip: None,
        detail: "{}".into(),
    }
}

fn stored_ids(core: &portcullis::Core) -> Vec<String> {
    let mut ids: Vec<String> = core
        .db
        .run_blocking(|conn| store::audit::recent(conn, 1000))
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "test.write")
        .map(|e| e.id)
        .collect();
    ids.sort();
    ids
}

/// Writes 1..=n are submitted while write 0 holds the writer (SQLite: so that all of
/// them run in the batch after it, or in one batch with it); odd ones insert their row
/// and then fail. Returns each write's result.
async fn writes_behind_a_slow_one(
    core: &portcullis::Core,
    n: usize,
) -> Vec<Result<(), store::StoreError>> {
    use std::future::Future;
    use std::pin::Pin;
    type Write<'a> = Pin<Box<dyn Future<Output = Result<(), store::StoreError>> + Send + 'a>>;
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let mut writes: Vec<Write<'_>> = vec![Box::pin(core.db.write(move |conn| {
        // Waits until every other write has been submitted.
        wait.recv_timeout(std::time::Duration::from_secs(10)).ok();
        store::audit::insert(conn, &event("w00"))
    }))];
    for i in 1..=n {
        writes.push(Box::pin(core.db.write(move |conn| {
            store::audit::insert(conn, &event(&format!("w{i:02}")))?;
            if i % 2 == 1 {
                // A domain refusal after a write: that write must not survive.
                return Err(store::StoreError::Conflict("refused on purpose"));
            }
            Ok(())
        })));
    }
    // Polling once submits a write (and the first one then waits for `go`).
    for write in writes.iter_mut() {
        let pending =
            std::future::poll_fn(|cx| std::task::Poll::Ready(write.as_mut().poll(cx).is_pending()))
                .await;
        assert!(pending, "a write waits for its commit");
    }
    go.send(()).unwrap();
    futures_util::future::join_all(writes).await
}

#[tokio::test]
async fn a_failing_write_rolls_back_only_its_own_changes() {
    let app = TestApp::spawn().await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let results = writes_behind_a_slow_one(&core, 12).await;
    for (i, result) in results.iter().enumerate() {
        match (i % 2, result) {
            (0, Ok(())) => {}
            (1, Err(store::StoreError::Conflict(_))) => {}
            _ => panic!("write {i}: {result:?}"),
        }
    }
    let expected: Vec<String> = (0..=12)
        .filter(|i| i % 2 == 0)
        .map(|i| format!("w{i:02}"))
        .collect();
    assert_eq!(stored_ids(&core), expected);
}

#[tokio::test]
async fn a_write_has_committed_when_it_returns() {
    let app = TestApp::spawn().await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let mut tasks = Vec::new();
    for i in 0..24 {
        let (db, reader) = (core.db.clone(), core.db.clone());
        tasks.push(tokio::spawn(async move {
            let id = format!("c{i:02}");
            let mine = id.clone();
            db.write(move |conn| store::audit::insert(conn, &event(&mine)))
                .await
                .unwrap();
            // Another connection sees it at once.
            reader
                .run(move |conn| store::audit::recent(conn, 1000))
                .await
                .unwrap()
                .iter()
                .any(|e| e.id == id)
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap(), "visible to other connections");
    }
}

#[tokio::test]
async fn a_write_that_panics_fails_and_later_writes_work() {
    let app = TestApp::spawn().await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let panicked = core
        .db
        .write(|_conn| -> Result<(), store::StoreError> { panic!("a bug in a write job") })
        .await;
    assert!(
        matches!(panicked, Err(store::StoreError::Unavailable(_))),
        "{panicked:?}"
    );
    core.db
        .write(|conn| store::audit::insert(conn, &event("after")))
        .await
        .unwrap();
    assert_eq!(stored_ids(&core), vec!["after".to_owned()]);
}

/// #11 item 12: the SQLite writer's queue is bounded. Behind a write that holds the
/// writer, `MAX_QUEUED_WRITES` more wait; the next ones are refused at once as
/// unavailable (a 503 for the client), and the queued ones all commit.
#[tokio::test]
async fn the_writer_queue_is_bounded_and_refuses_at_once_when_full() {
    use std::task::Poll;
    let app = TestApp::spawn().await;
    if app.db.is_postgres() {
        return; // PostgreSQL writes run on the pool: no writer thread, no queue.
    }
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let (started, has_started) = std::sync::mpsc::channel::<()>();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let mut holder: Write<'_> = Box::pin(core.db.write(move |conn| {
        started.send(()).ok();
        wait.recv_timeout(std::time::Duration::from_secs(20)).ok();
        store::audit::insert(conn, &event("holder"))
    }));
    assert!(submit(&mut holder).await.is_pending());
    has_started
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the writer runs the first write");

    let over = 10;
    let mut queued = Vec::new();
    let mut refused = 0;
    for i in 0..store::MAX_QUEUED_WRITES + over {
        let mut write: Write<'_> = Box::pin(
            core.db
                .write(move |conn| store::audit::insert(conn, &event(&format!("q{i:04}")))),
        );
        match submit(&mut write).await {
            Poll::Pending => queued.push(write),
            Poll::Ready(Err(store::StoreError::Unavailable(_))) => refused += 1,
            Poll::Ready(other) => panic!("write {i}: {other:?}"),
        }
    }
    assert_eq!(queued.len(), store::MAX_QUEUED_WRITES);
    assert_eq!(refused, over);
    go.send(()).unwrap();
    holder.await.unwrap();
    for result in futures_util::future::join_all(queued).await {
        result.unwrap();
    }
}

type Write<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), store::StoreError>> + Send + 'a>>;

/// Polls a write once: that submits it. Ready when it was refused (or already done).
async fn submit(write: &mut Write<'_>) -> std::task::Poll<Result<(), store::StoreError>> {
    std::future::poll_fn(|cx| std::task::Poll::Ready(write.as_mut().poll(cx))).await
}
