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

/// Disables Alice as `user disable` does; her row.
fn disable_alice(core: &portcullis::Core, now: i64) -> users::UserRow {
    core.db
        .run_blocking(|conn| {
            let alice = users::by_username(conn, "alice")?.expect("alice is configured");
            portcullis::people::accounts::set_disabled(conn, &alice.id, true, now)?;
            Ok::<_, StoreError>(alice)
        })
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
    let now = portcullis::clock::now();
    let alice = disable_alice(&core, now);
    assert_eq!(disable_alice(&core, now).id, alice.id);

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

/// `GET /revocations` as `client`, HTTP Basic.
async fn follow(
    app: &TestApp,
    client: Option<(&str, &str)>,
    query: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app.http.get(app.url(&format!("/revocations{query}")));
    if let Some((id, secret)) = client {
        request = request.basic_auth(id, Some(secret));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

const RESOURCE_SERVER: Option<(&str, &str)> = Some((oidc::API, oidc::API_SECRET));

async fn error_of(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    body["error"].as_str().unwrap().to_owned()
}

/// #14 item 2: the feed is for resource servers (clients that may introspect any
/// token), authenticated with HTTP Basic; what it is asked is checked like any protocol
/// request.
#[tokio::test]
async fn only_resource_servers_follow_the_feed() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let anonymous = follow(&app, None, "", &[]).await;
    assert_eq!(error_of(anonymous, 401).await, "invalid_client");
    let wrong = follow(&app, Some((oidc::API, "wrong")), "", &[]).await;
    assert!(wrong.headers().contains_key("www-authenticate"));
    assert_eq!(error_of(wrong, 401).await, "invalid_client");
    let not_a_resource_server = follow(&app, Some((WEB, WEB_SECRET)), "", &[]).await;
    assert_eq!(
        error_of(not_a_resource_server, 403).await,
        "unauthorized_client"
    );
    for bad in ["?after=x", "?after=-1", "?after=1&after=2", "?wait=soon"] {
        let refused = follow(&app, RESOURCE_SERVER, bad, &[]).await;
        assert_eq!(error_of(refused, 400).await, "invalid_request", "{bad}");
    }
    let empty = follow(&app, RESOURCE_SERVER, "", &[]).await;
    assert_eq!(empty.status(), 200);
    assert_eq!(empty.headers()["cache-control"], "no-store");
    assert_eq!(
        empty.json::<Value>().await.unwrap(),
        serde_json::json!({ "events": [], "cursor": 0 })
    );
}

/// A follower reads what was revoked after its cursor, named by the claim its tokens
/// carry; a long poll on another instance is answered by the next revocation committed
/// on the first (without it, the poll would come back empty after its wait).
#[tokio::test]
async fn followers_read_after_their_cursor_and_a_long_poll_wakes_on_the_next() {
    let first = TestApp::spawn_with(oidc::with_apps).await;
    let second = first.spawn_sharing(oidc::with_apps).await;
    let tokens = offline_tokens(&first).await;
    let access = claims(tokens["access_token"].as_str().unwrap());
    revoke(&first, tokens["access_token"].as_str().unwrap()).await;

    let read = follow(&second, RESOURCE_SERVER, "?after=0", &[]).await;
    let body: Value = read.json().await.unwrap();
    assert_eq!(body["cursor"], 1);
    let event = &body["events"][0];
    assert_eq!(event["cursor"], 1);
    assert_eq!(event["kind"], "jti");
    assert_eq!(event["jti"], access["jti"]);
    assert_eq!(event["expires_at"], access["exp"]);
    assert!(event["revoked_at"].as_i64().unwrap() >= access["iat"].as_i64().unwrap());
    assert!(event.get("grant_id").is_none());

    let waiting = tokio::spawn({
        let url = second.url("/revocations?after=1&wait=30");
        let http = second.http.clone();
        async move {
            http.get(url)
                .basic_auth(oidc::API, Some(oidc::API_SECRET))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    });
    revoke(&first, tokens["refresh_token"].as_str().unwrap()).await;
    let woken = waiting.await.unwrap();
    assert_eq!(woken["cursor"], 2, "{woken}");
    assert_eq!(woken["events"][0]["kind"], "grant");
    assert_eq!(woken["events"][0]["grant_id"], access["grant_id"]);
}

/// Reads the stream until `until` holds for what arrived; at most 20 s (a bound for a
/// failing test, not a timing assertion).
async fn read_until(stream: &mut reqwest::Response, until: impl Fn(&str) -> bool) -> String {
    let mut seen = String::new();
    let reading = async {
        while !until(&seen) {
            let chunk = stream
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            seen.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), reading)
        .await
        .unwrap_or_else(|_| panic!("the stream said only: {seen}"));
    seen
}

/// With `Accept: text/event-stream` the feed is Server-Sent Events: what there is, then
/// each revocation as it commits; a reconnecting `EventSource` resumes after its
/// `Last-Event-ID`.
#[tokio::test]
async fn the_feed_streams_server_sent_events_and_resumes_after_the_last_event_id() {
    let app = TestApp::spawn_with(oidc::with_apps).await;
    let core = portcullis::Core::open(app.config.clone()).unwrap();
    let tokens = offline_tokens(&app).await;
    revoke(&app, tokens["access_token"].as_str().unwrap()).await;

    let sse = [("accept", "text/event-stream")];
    let mut stream = follow(&app, RESOURCE_SERVER, "", &sse).await;
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    assert_eq!(stream.headers()["cache-control"], "no-store");
    let first = read_until(&mut stream, |s| s.contains("id: 1\n")).await;
    assert!(first.starts_with("retry: 1000\n\n"), "{first}");
    assert!(first.contains("event: revocation\ndata: {\"cursor\":1,\"kind\":\"jti\""));

    let alice = disable_alice(&core, portcullis::clock::now());
    let next = read_until(&mut stream, |s| s.contains("id: 2\n")).await;
    let data = next
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("a data line");
    let event: Value = serde_json::from_str(data).unwrap();
    assert_eq!(event["kind"], "user");
    assert_eq!(event["sub"], alice.id.as_str());
    drop(stream);

    let mut resumed = follow(
        &app,
        RESOURCE_SERVER,
        "?after=0",
        &[sse[0], ("last-event-id", "1")],
    )
    .await;
    let again = read_until(&mut resumed, |s| s.contains("\n\n") && s.contains("id: ")).await;
    assert!(!again.contains("id: 1\n"), "{again}");
    assert!(again.contains("id: 2\n"), "{again}");
}
