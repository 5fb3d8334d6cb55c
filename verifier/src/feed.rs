//! Following the issuer's revocation feed (`revocation_feed_endpoint`): one background
//! task holds a Server-Sent Events stream open, resumes from its cursor with
//! `Last-Event-ID` after any break, and keeps what the events revoke — grants, `jti`s,
//! and users (every token of theirs issued until the revocation) — until the events
//! expire, which is when the last token they could reject has expired.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::{AccessToken, Clock, Credentials, Rejection};

/// What the verifier does while it cannot reach the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedOutage {
    /// Keep accepting tokens on their signatures and the revocations already known:
    /// a token revoked during the outage stays accepted until it expires or the feed
    /// is back. The default of most deployments: an outage of the issuer does not
    /// take the APIs down.
    ServeOnSignatures,
    /// After `grace` without the feed (from start-up until the first connection, too),
    /// refuse every token with `503`, so no revoked token is accepted for longer than
    /// the grace.
    FailClosed { grace: Duration },
}

/// The follower's state, for health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedStatus {
    /// Whether the stream is open now.
    pub connected: bool,
    /// The last event applied.
    pub cursor: i64,
    /// Revocations held (grants, `jti`s and users).
    pub held: usize,
}

/// One event as the issuer sends it.
#[derive(Debug, Deserialize)]
struct Event {
    cursor: i64,
    kind: String,
    grant_id: Option<String>,
    jti: Option<String>,
    sub: Option<String>,
    revoked_at: i64,
    expires_at: i64,
}

#[derive(Default)]
struct Revoked {
    /// grant id → when the event expires.
    grants: HashMap<String, i64>,
    jtis: HashMap<String, i64>,
    /// sub → (revoked at, expires at): tokens issued until `revoked at` are refused.
    users: HashMap<String, (i64, i64)>,
    cursor: i64,
    /// Since when the stream is down (`None` while connected).
    down_since: Option<Instant>,
    /// When expired entries were last forgotten (once a second is enough).
    pruned_at: i64,
}

impl Revoked {
    fn apply(&mut self, event: Event) {
        self.cursor = self.cursor.max(event.cursor);
        match (event.kind.as_str(), event.grant_id, event.jti, event.sub) {
            ("grant", Some(grant), _, _) => {
                self.grants.insert(grant, event.expires_at);
            }
            ("jti", _, Some(jti), _) => {
                self.jtis.insert(jti, event.expires_at);
            }
            ("user", _, _, Some(sub)) => {
                let entry = self.users.entry(sub).or_insert((i64::MIN, i64::MIN));
                entry.0 = entry.0.max(event.revoked_at);
                entry.1 = entry.1.max(event.expires_at);
            }
            (kind, ..) => tracing::debug!(kind, "a revocation event of a kind we do not know"),
        }
    }

    fn forget_expired(&mut self, now: i64) {
        if now <= self.pruned_at {
            return;
        }
        self.pruned_at = now;
        self.grants.retain(|_, expires| *expires > now);
        self.jtis.retain(|_, expires| *expires > now);
        self.users.retain(|_, (_, expires)| *expires > now);
    }

    fn revokes(&self, token: &AccessToken) -> bool {
        token
            .grant_id
            .as_ref()
            .is_some_and(|g| self.grants.contains_key(g))
            || (!token.jti.is_empty() && self.jtis.contains_key(&token.jti))
            // A user event at second t refuses tokens issued at t as well: whole seconds
            // cannot order them, and refusing is the side to err on.
            || self
                .users
                .get(&token.sub)
                .is_some_and(|(revoked_at, _)| token.iat <= *revoked_at)
    }
}

/// The verifier's handle; dropping it (with the last verifier) ends the task.
pub(crate) struct Follower {
    shared: Arc<Shared>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

struct Shared {
    state: RwLock<Revoked>,
    outage: FeedOutage,
}

/// How long a silent stream is trusted: the issuer says something every 15 seconds.
const SILENCE: Duration = Duration::from_secs(45);
const LONGEST_BACKOFF: Duration = Duration::from_secs(30);

impl Follower {
    pub(crate) fn start(
        http: reqwest::Client,
        endpoint: String,
        credentials: Credentials,
        outage: FeedOutage,
        clock: Clock,
    ) -> Arc<Follower> {
        let shared = Arc::new(Shared {
            state: RwLock::new(Revoked {
                down_since: Some(Instant::now()),
                ..Revoked::default()
            }),
            outage,
        });
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = shared.clone();
        tokio::spawn(async move {
            let mut retry = Duration::from_secs(1);
            let mut backoff = Duration::ZERO;
            loop {
                let cursor = task.state.read().expect("not poisoned").cursor;
                let outcome = tokio::select! {
                    _ = &mut stopped => return,
                    outcome = async {
                        tokio::time::sleep(backoff).await;
                        task.stream(&http, &endpoint, &credentials, cursor, &mut retry, &clock).await
                    } => outcome,
                };
                task.mark_down();
                backoff = match outcome {
                    // A stream that ended (the issuer restarted) is resumed after `retry`.
                    Ok(()) => retry,
                    Err(e) => {
                        tracing::warn!(error = %e, "the revocation feed is unreachable; retrying");
                        (backoff * 2).clamp(retry, LONGEST_BACKOFF)
                    }
                };
            }
        });
        Arc::new(Follower {
            shared,
            _stop: stop,
        })
    }

    pub(crate) fn check(&self, token: &AccessToken) -> Result<(), Rejection> {
        self.shared.check(token)
    }

    pub(crate) fn status(&self) -> FeedStatus {
        self.shared.status()
    }
}

impl Shared {
    /// One connection: events until the stream ends or falls silent.
    async fn stream(
        &self,
        http: &reqwest::Client,
        endpoint: &str,
        credentials: &Credentials,
        cursor: i64,
        retry: &mut Duration,
        clock: &Clock,
    ) -> Result<(), String> {
        let mut response = http
            .get(endpoint)
            .basic_auth(&credentials.id, Some(&credentials.secret))
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .header("last-event-id", cursor.to_string())
            .timeout(Duration::from_secs(86_400 * 365))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("{endpoint}: {}", response.status()));
        }
        let mut buffer: Vec<u8> = Vec::new();
        let mut connected = false;
        loop {
            let chunk = match tokio::time::timeout(SILENCE, response.chunk()).await {
                Err(_) => return Err("the revocation feed fell silent".into()),
                Ok(Err(e)) => return Err(e.to_string()),
                Ok(Ok(None)) => return Ok(()),
                Ok(Ok(Some(chunk))) => chunk,
            };
            if !connected {
                connected = true;
                self.state.write().expect("not poisoned").down_since = None;
            }
            buffer.extend_from_slice(&chunk);
            // SSE events end with a blank line (HTML Living Standard §9.2.6).
            while let Some(end) = find_blank_line(&buffer) {
                let frame: Vec<u8> = buffer.drain(..end.1).collect();
                self.frame(&String::from_utf8_lossy(&frame[..end.0]), retry, clock);
            }
        }
    }

    fn frame(&self, frame: &str, retry: &mut Duration, clock: &Clock) {
        let mut data = String::new();
        for line in frame.lines() {
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "data" => {
                    if !data.is_empty() {
                        data.push('\n');
                    }
                    data.push_str(value);
                }
                "retry" => {
                    if let Ok(ms) = value.parse() {
                        *retry = Duration::from_millis(ms);
                    }
                }
                _ => {}
            }
        }
        if data.is_empty() {
            return;
        }
        match serde_json::from_str::<Event>(&data) {
            Ok(event) => {
                let mut state = self.state.write().expect("not poisoned");
                state.apply(event);
                state.forget_expired(clock());
            }
            Err(e) => tracing::warn!(error = %e, "a revocation event we cannot read"),
        }
    }

    fn mark_down(&self) {
        let mut state = self.state.write().expect("not poisoned");
        state.down_since.get_or_insert_with(Instant::now);
    }

    pub(crate) fn check(&self, token: &AccessToken) -> Result<(), Rejection> {
        let state = self.state.read().expect("not poisoned");
        if let (FeedOutage::FailClosed { grace }, Some(since)) = (self.outage, state.down_since) {
            if since.elapsed() >= grace {
                return Err(Rejection::unavailable(
                    "the revocation feed is unreachable; tokens cannot be checked",
                ));
            }
        }
        if state.revokes(token) {
            return Err(Rejection::invalid_token("the token has been revoked"));
        }
        Ok(())
    }

    pub(crate) fn status(&self) -> FeedStatus {
        let state = self.state.read().expect("not poisoned");
        FeedStatus {
            connected: state.down_since.is_none(),
            cursor: state.cursor,
            held: state.grants.len() + state.jtis.len() + state.users.len(),
        }
    }
}

/// Where the first frame ends: (end of its text, end of its blank line).
fn find_blank_line(buffer: &[u8]) -> Option<(usize, usize)> {
    for (i, _) in buffer.iter().enumerate() {
        for ending in [&b"\r\n\r\n"[..], b"\n\n", b"\r\r"] {
            if buffer[i..].starts_with(ending) {
                return Some((i, i + ending.len()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(sub: &str, iat: i64, grant: Option<&str>, jti: &str) -> AccessToken {
        serde_json::from_value(serde_json::json!({
            "iss": "i", "sub": sub, "aud": "api", "exp": 2000, "iat": iat, "jti": jti,
            "client_id": "c", "grant_id": grant
        }))
        .unwrap()
    }

    fn event(cursor: i64, kind: &str, subject: &str, revoked_at: i64) -> Event {
        let mut e = Event {
            cursor,
            kind: kind.into(),
            grant_id: None,
            jti: None,
            sub: None,
            revoked_at,
            expires_at: 2000,
        };
        match kind {
            "grant" => e.grant_id = Some(subject.into()),
            "jti" => e.jti = Some(subject.into()),
            _ => e.sub = Some(subject.into()),
        }
        e
    }

    #[test]
    fn events_revoke_by_grant_jti_and_user_until_the_revocation() {
        let mut revoked = Revoked::default();
        revoked.apply(event(1, "grant", "g1", 100));
        revoked.apply(event(2, "jti", "j1", 100));
        revoked.apply(event(3, "user", "alice", 100));
        assert_eq!(revoked.cursor, 3);
        assert!(revoked.revokes(&token("bob", 50, Some("g1"), "x")));
        assert!(revoked.revokes(&token("bob", 50, None, "j1")));
        assert!(revoked.revokes(&token("alice", 100, None, "x")));
        // Alice's token from after her revocation (she was enabled again) is hers.
        assert!(!revoked.revokes(&token("alice", 101, None, "x")));
        assert!(!revoked.revokes(&token("bob", 50, Some("g2"), "j2")));
        revoked.forget_expired(2000);
        assert!(!revoked.revokes(&token("bob", 50, Some("g1"), "j1")));
    }

    #[test]
    fn frames_are_split_on_blank_lines_of_any_ending() {
        assert_eq!(find_blank_line(b"id: 1\n\nrest"), Some((5, 7)));
        assert_eq!(find_blank_line(b"id: 1\r\n\r\n"), Some((5, 9)));
        assert_eq!(find_blank_line(b"id: 1\n"), None);
    }
}
