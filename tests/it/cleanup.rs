//! Housekeeping: expired sessions, stale sign-in counters, codes, pending requests and
//! grants are deleted, live ones are kept, a second pass finds nothing, and the background job runs by itself.

use crate::common::{eventually, TestApp};
use portcullis::cleanup::{self, Removed};
use portcullis::config::Lifetime;
use portcullis::people::sessions::{self, Client};
use portcullis::store::login_throttle::{self, Limit};
use portcullis::store::{users, StoreError};

fn session_count(core: &portcullis::Core) -> usize {
    core.db
        .run_blocking(portcullis::store::sessions::count)
        .unwrap()
}

#[tokio::test]
async fn stale_rows_go_and_live_rows_stay() {
    let app = TestApp::spawn().await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let now = portcullis::clock::now();
    let limit = |max_failures| Limit {
        max_failures,
        window: 900,
        lockout: 100_000,
        pace: None,
    };
    core.db
        .run_blocking(|conn| {
            let user = portcullis::people::accounts::new_user(
                "carol", None, false, None, None, "cli", now,
            )
            .unwrap();
            users::insert(conn, &user)?;
            let client = Client::default();
            sessions::start(
                conn,
                &password(&user.id, now - 200_000),
                &client,
                100,
                100,
                now - 200_000,
            )?; // expired long ago
            sessions::start(conn, &password(&user.id, now), &client, 3_600, 3_600, now)?; // live
            let ended = sessions::start(
                conn,
                &password(&user.id, now - 100_000),
                &client,
                1_000_000,
                1_000_000,
                now - 100_000,
            )?;
            sessions::end(conn, &ended.cookie_secret, now - 90_000)?; // ended long ago
            fail(conn, "user:stale", limit(10), now - 10_000)?;
            fail(conn, "user:fresh", limit(10), now)?;
            fail(conn, "user:locked", limit(1), now - 10_000)?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert_eq!(session_count(&core), 3);

    let removed = core
        .db
        .run_blocking(|conn| cleanup::run_once(conn, &core.config, now))
        .unwrap();
    assert_eq!(
        removed,
        Removed {
            sessions: 2,
            login_throttle: 1,
            ..Removed::default()
        }
    );
    assert_eq!(session_count(&core), 1);
    let locked = core
        .db
        .run_blocking(|conn| login_throttle::locked_for(conn, "user:locked", now))
        .unwrap();
    assert!(locked.is_some(), "a lock in force is kept");

    let again = core
        .db
        .run_blocking(|conn| cleanup::run_once(conn, &core.config, now))
        .unwrap();
    assert_eq!(again, Removed::default(), "idempotent");
}

#[tokio::test]
async fn the_clean_up_runs_in_the_background() {
    let app = TestApp::spawn_with(|c| c.maintenance.cleanup_interval = Lifetime::secs(1)).await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let now = portcullis::clock::now();
    core.db
        .run_blocking(|conn| {
            let user =
                portcullis::people::accounts::new_user("dan", None, false, None, None, "cli", now)
                    .unwrap();
            users::insert(conn, &user)?;
            sessions::start(
                conn,
                &password(&user.id, now - 200_000),
                &Client::default(),
                1,
                1,
                now - 200_000,
            )?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert!(eventually(10, || async { session_count(&core) == 0 }).await);
}

#[tokio::test]
async fn expired_codes_pending_requests_and_grants_go_too() {
    use crate::common::oidc::{self, browser, code_for, pkce, WEB, WEB_CALLBACK};
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let (_, challenge) = pkce();
    code_for(&app, &browser(), WEB, WEB_CALLBACK, &challenge).await;
    let waiting = browser()
        .get(oidc::authorize_url(
            &app,
            WEB,
            WEB_CALLBACK,
            &challenge,
            &[],
        ))
        .send()
        .await
        .unwrap();
    assert!(oidc::location(&waiting).starts_with("/login?request="));

    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let later = portcullis::clock::now() + 200_000;
    let removed = core
        .db
        .run_blocking(|conn| cleanup::run_once(conn, &core.config, later))
        .unwrap();
    assert_eq!(
        removed,
        Removed {
            sessions: 1,
            // The address's count of stored requests.
            login_throttle: 1,
            authorization_requests: 1,
            authorization_codes: 1,
            grants: 1,
            ..Removed::default()
        }
    );
}

/// A failed sign-in as `signin` counts it: a slot taken, then the lock if it was the last.
fn fail(
    conn: &mut portcullis::store::DbConnection,
    key: &str,
    limit: login_throttle::Limit,
    at: i64,
) -> Result<(), StoreError> {
    assert_eq!(login_throttle::take_slot(conn, key, limit, at)?, None);
    login_throttle::lock_if_full(conn, key, limit, at)
}

/// Hardening #11 item 8: one run catches up however many rows have piled up (here more
/// than the 10,000 a run used to stop at), and audit events go after
/// `maintenance.audit_retention`.
#[tokio::test]
async fn a_run_catches_up_and_audit_events_have_a_retention() {
    use portcullis::store::{audit, revoked_access_tokens, transaction};
    let app = TestApp::spawn_with(|c| c.maintenance.audit_retention = Lifetime::secs(86_400)).await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let now = portcullis::clock::now();
    let piled = 10_600;
    core.db
        .run_blocking(|conn| {
            transaction(conn, |conn| {
                for i in 0..piled {
                    revoked_access_tokens::insert(conn, &format!("jti-{i}"), now - 10, now - 700)?;
                }
                for (id, at) in [("old", now - 2 * 86_400), ("recent", now - 60)] {
                    audit::insert(
                        conn,
                        &audit::AuditEventRow {
                            id: id.into(),
                            occurred_at: at,
                            kind: "signin.failed".into(),
                            user_id: None,
                            client_id: None,
                            ip: None,
                            detail: "{}".into(),
                        },
                    )?;
                }
                Ok::<_, StoreError>(())
            })
        })
        .unwrap();
    let removed = core
        .db
        .run_blocking(|conn| cleanup::run_once(conn, &core.config, now))
        .unwrap();
    assert_eq!(removed.revoked_access_tokens, piled);
    assert_eq!(removed.audit_events, 1);
    let left = core
        .db
        .run_blocking(|conn| audit::recent(conn, 100))
        .unwrap();
    assert!(left.iter().any(|e| e.id == "recent") && !left.iter().any(|e| e.id == "old"));
}

/// What a password sign-in at `at` proves.
fn password(user_id: &str, at: i64) -> sessions::Authenticated {
    sessions::Authenticated {
        user_id: user_id.to_owned(),
        amr: vec!["pwd"],
        level: portcullis::oidc::acr::Level::Pwd,
        auth_time: at,
    }
}
