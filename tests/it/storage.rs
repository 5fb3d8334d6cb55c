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
        occurred_at: 1_700_000_000,
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
