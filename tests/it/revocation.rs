//! One place revokes (#14 "shape first"): each revocation — whatever cut it off — is one
//! event in `revocation_events`, in commit order, with a cursor a resource server can
//! resume from; revoking what is already revoked writes none.

use portcullis::revocation::{self, Cause, Owner};
use portcullis::store::revocation_events::{self, EventRow};
use portcullis::store::{grants, users, StoreError};
use serde_json::Value;

use crate::common::oidc::{self, claims, offline_tokens, WEB, WEB_SECRET};
use crate::common::TestApp;

fn events(core: &portcullis::Core) -> Vec<EventRow> {
    core.db
        .run_blocking(|conn| revocation_events::since(conn, 0, 1_000))
        .unwrap()
}

async fn revoke(app: &TestApp, token: &str) {
    let response = app
        .http
        .post(app.url("/revoke"))
        .basic_auth(WEB, Some(WEB_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// An access token revoked by `jti`, a sign-in revoked by its refresh token, and a
/// disabled user: three events, cursors 1, 2, 3, each naming what it revokes and lasting
/// as long as a token it rejects could. The same revocations again add nothing.
#[tokio::test]
async fn each_revocation_is_one_event_with_the_next_cursor() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let first = offline_tokens(&app).await;
    let access = claims(first["access_token"].as_str().unwrap());
    let second = offline_tokens(&app).await;
    let grant_id = claims(second["access_token"].as_str().unwrap())["grant_id"]
        .as_str()
        .unwrap()
        .to_owned();

    for _ in 0..2 {
        revoke(&app, first["access_token"].as_str().unwrap()).await;
        revoke(&app, second["refresh_token"].as_str().unwrap()).await;
    }
    let alice = core
        .db
        .run_blocking(|conn| users::by_username(conn, "alice"))
        .unwrap()
        .unwrap();
    let now = portcullis::clock::now();
    for _ in 0..2 {
        core.db
            .run_blocking(|conn| {
                portcullis::people::accounts::set_disabled(conn, &alice.id, true, now)
            })
            .unwrap();
    }

    let got = events(&core);
    let shape: Vec<(i64, &str, &str)> = got
        .iter()
        .map(|e| (e.seq, e.kind.as_str(), e.subject.as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            (1, "jti", access["jti"].as_str().unwrap()),
            (2, "grant", grant_id.as_str()),
            (3, "user", alice.id.as_str()),
        ]
    );
    assert_eq!(got[0].expires_at, access["exp"].as_i64().unwrap());
    let grant = core
        .db
        .run_blocking(|conn| {
            use diesel::prelude::*;
            use portcullis::store::schema::grants::dsl;
            dsl::grants
                .find(&grant_id)
                .select(dsl::expires_at)
                .first::<i64>(conn)
                .map_err(StoreError::from)
        })
        .unwrap();
    assert_eq!(
        got[1].expires_at, grant,
        "as long as the grant's last token"
    );
    // The first sign-in's grant was live when Alice was disabled: her event lasts as long.
    assert!(got[2].expires_at >= got[0].expires_at);
    assert!(got.iter().all(|e| e.occurred_at >= now - 60));

    let after_two = core
        .db
        .run_blocking(|conn| revocation_events::since(conn, 2, 10))
        .unwrap();
    assert_eq!(after_two, got[2..], "a cursor resumes after itself");

    // The same revocations were audited where they happened.
    let audit = core
        .db
        .run_blocking(|conn| portcullis::store::audit::recent(conn, 100))
        .unwrap();
    let kinds: Vec<(&str, Value)> = audit
        .iter()
        .filter(|e| e.kind == "token.revoked" || e.kind == "user.tokens_revoked")
        .map(|e| (e.kind.as_str(), serde_json::from_str(&e.detail).unwrap()))
        .collect();
    assert!(kinds.contains(&("token.revoked", serde_json::json!({ "jti": access["jti"] }))));
    assert!(kinds.contains(&("token.revoked", serde_json::json!({ "grant_id": grant_id }))));
    assert!(kinds.contains(&(
        "user.tokens_revoked",
        serde_json::json!({ "cause": "user_disabled" })
    )));
}

/// Sixteen grants revoked at once from sixteen connections: cursors 1 to 16, none lost
/// or shared — on PostgreSQL the advisory lock orders appends that would otherwise read
/// the same `MAX(seq)`.
#[tokio::test]
async fn simultaneous_revocations_get_distinct_cursors() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let now = portcullis::clock::now();
    let user = portcullis::people::accounts::new_user("erin", None, false, None, None, "cli", now)
        .unwrap();
    let ids: Vec<String> = (0..16).map(|i| format!("grant-{i}")).collect();
    core.db
        .run_blocking(|conn| {
            users::insert(conn, &user)?;
            for id in &ids {
                grants::insert(
                    conn,
                    &grants::GrantRow {
                        id: id.clone(),
                        client_id: WEB.into(),
                        user_id: user.id.clone(),
                        session_id: None,
                        created_at: now,
                        expires_at: now + 3_600,
                        revoked_at: None,
                    },
                )?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let barrier = std::sync::Barrier::new(ids.len());
    std::thread::scope(|s| {
        for id in &ids {
            let (core, barrier) = (&core, &barrier);
            s.spawn(move || {
                barrier.wait();
                core.db
                    .run_blocking(|conn| {
                        revocation::grant(conn, id, Cause::Requested, Owner::default(), now)
                    })
                    .unwrap();
            });
        }
    });
    let got = events(&core);
    let seqs: Vec<i64> = got.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=16).collect::<Vec<i64>>());
    let mut subjects: Vec<&str> = got.iter().map(|e| e.subject.as_str()).collect();
    subjects.sort_unstable();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(subjects, expected);
}

/// The clean-up removes events that can no longer reject a live token, but keeps the
/// newest, so the next cursor follows on from it.
#[tokio::test]
async fn expired_events_go_but_the_cursor_never_goes_back() {
    let app = TestApp::spawn().await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let now = portcullis::clock::now();
    core.db
        .run_blocking(|conn| {
            portcullis::store::transaction(conn, |conn| {
                revocation_events::append(conn, "jti", "old-1", now - 7_200, now - 3_600)?;
                revocation_events::append(conn, "jti", "old-2", now - 7_200, now - 3_600)?;
                revocation_events::append(conn, "jti", "live", now, now + 3_600)?;
                revocation_events::append(conn, "jti", "old-3", now - 7_200, now - 3_600)
            })
        })
        .unwrap();
    let removed = core
        .db
        .run_blocking(|conn| portcullis::cleanup::run_once(conn, &core.config, now))
        .unwrap();
    assert_eq!(removed.revocation_events, 2);
    let left: Vec<(i64, String)> = events(&core)
        .into_iter()
        .map(|e| (e.seq, e.subject))
        .collect();
    assert_eq!(left, [(3, "live".into()), (4, "old-3".into())]);
    let next = core
        .db
        .run_blocking(|conn| {
            portcullis::store::transaction(conn, |conn| {
                revocation_events::append(conn, "jti", "next", now, now + 60)
            })
        })
        .unwrap();
    assert_eq!(next, 5);
}
