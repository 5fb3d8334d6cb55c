//! The revocation feed (#14 item 2): how a resource server that verifies access tokens
//! on its own learns, within a second or so, that one was cut off — without introspecting
//! every request. It reads `revocation_events` from a cursor; each event names what the
//! revoked tokens carry: a `grant_id`, a `jti`, or a user (`sub`, for every token of
//! theirs issued until `revoked_at`).
//!
//! Every instance polls the newest cursor every [`POLL`] (one indexed `MAX` on one
//! table), so a revocation committed by any instance wakes the followers of all of
//! them; a follower then reads its events from the database.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use super::Subject;
use crate::oauth::client::{Client, Introspection};
use crate::store::{revocation_events, Db, StoreError};

/// How often each instance looks for revocations made anywhere.
pub const POLL: Duration = Duration::from_millis(250);
/// Events in one answer; a follower behind by more asks again from the last cursor.
pub const BATCH: i64 = 500;
/// The longest a long poll is held (`wait`), under proxies' usual idle timeouts.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// One revocation as a follower reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Where to resume after this event (`after`, or SSE `Last-Event-ID`).
    pub cursor: i64,
    /// `grant`, `jti` or `user`.
    pub kind: &'static str,
    /// The claim the revoked tokens carry: `grant_id`, `jti`, or `sub`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    pub revoked_at: i64,
    /// After this no token the event rejects is alive; a follower may forget it then.
    pub expires_at: i64,
}

impl Event {
    fn from_row(row: revocation_events::EventRow) -> Option<Event> {
        let kind = Subject::parse(&row.kind)?;
        let subject = Some(row.subject);
        let (grant_id, jti, sub) = match kind {
            Subject::Grant => (subject, None, None),
            Subject::Jti => (None, subject, None),
            Subject::User => (None, None, subject),
        };
        Some(Event {
            cursor: row.seq,
            kind: kind.as_str(),
            grant_id,
            jti,
            sub,
            revoked_at: row.occurred_at,
            expires_at: row.expires_at,
        })
    }
}

/// Resource servers may follow the feed: the clients registered to introspect any
/// token (`introspection = "any"`), who may already learn as much one token at a time.
pub fn may_follow(client: &Client) -> bool {
    client.introspection == Introspection::Any
}

/// Up to [`BATCH`] events after `after`, oldest first.
pub async fn read(db: &Db, after: i64) -> Result<Vec<Event>, StoreError> {
    let rows = db
        .run(move |conn| revocation_events::since(conn, after, BATCH))
        .await?;
    Ok(rows.into_iter().filter_map(Event::from_row).collect())
}

/// This instance's view of the newest cursor, and whether it is shutting down.
pub struct Feed {
    newest: watch::Sender<i64>,
    closing: watch::Sender<bool>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            newest: watch::Sender::new(0),
            closing: watch::Sender::new(false),
        }
    }
}

impl Feed {
    /// Polls the newest cursor every [`POLL`], forever (the background task runs it).
    pub async fn follow(self: Arc<Self>, db: Db) {
        let mut failing = false;
        loop {
            match db.run(revocation_events::newest).await {
                Ok(newest) => {
                    if std::mem::take(&mut failing) {
                        tracing::info!("the newest revocation can be read again");
                    }
                    self.newest.send_if_modified(|seen| {
                        let moved = *seen != newest;
                        *seen = newest;
                        moved
                    });
                }
                // Once per outage, not four times a second.
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "cannot read the newest revocation; followers wait");
                }
                Err(_) => {}
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Ends every open stream and long poll (before a graceful shutdown waits for them).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Waits until an event after `after` is known here, `wait` has passed, or the
    /// instance is closing; true when there is something to read.
    pub async fn wait_beyond(&self, after: i64, wait: Duration) -> bool {
        let mut newest = self.newest.subscribe();
        let mut closing = self.closing.subscribe();
        let beyond = async { newest.wait_for(|n| *n > after).await.is_ok() };
        tokio::select! {
            found = beyond => found,
            _ = closing.wait_for(|c| *c) => false,
            _ = tokio::time::sleep(wait) => false,
        }
    }

    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }
}
