//! `GET /revocations` (#14 item 2): the revocation feed, for resource servers that
//! authenticate with HTTP Basic (RFC 6749 §2.3.1: credentials never in the URI).
//!
//! - `Accept: text/event-stream`: Server-Sent Events — every event after the cursor
//!   (`after`, or the `Last-Event-ID` an `EventSource` sends when it reconnects), then
//!   each new one as it commits, with a comment line every [`KEEP_ALIVE`];
//! - otherwise a long poll: `{"events": […], "cursor": n}` at once when there are events
//!   after `after`, else when the first one commits or `wait` seconds (at most 30) pass.

use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::token::authorization;
use super::AppState;
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::params::Params;
use crate::oauth::OAuthError;
use crate::revocation::feed::{self, Event};

/// How often an idle stream says it is alive (proxies close silent connections).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What the follower asked for, parsed once.
struct Query {
    after: i64,
    wait: Duration,
    stream: bool,
}

impl Query {
    fn parse(req: &HttpRequest) -> Result<Query, OAuthError> {
        let params = Params::parse(req.query_string().as_bytes())
            .map_err(|_| OAuthError::invalid_request("the query is not valid form encoding"))?;
        if let Some(description) = params.duplicate_description() {
            return Err(OAuthError::invalid_request(&description));
        }
        let number = |name: &str, raw: Option<&str>| -> Result<Option<u64>, OAuthError> {
            raw.map(|v| {
                v.parse::<u64>().map_err(|_| {
                    OAuthError::invalid_request(&format!("{name} must be a whole number"))
                })
            })
            .transpose()
        };
        let stream = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/event-stream"));
        // The EventSource standard resumes with Last-Event-ID; it wins over the URL's.
        let last_event_id = req
            .headers()
            .get("last-event-id")
            .and_then(|v| v.to_str().ok());
        let after = number("Last-Event-ID", last_event_id.filter(|_| stream))?
            .or(number("after", params.get("after"))?)
            .unwrap_or(0);
        let wait = number("wait", params.get("wait"))?.unwrap_or(0);
        Ok(Query {
            after: i64::try_from(after)
                .map_err(|_| OAuthError::invalid_request("after is out of range"))?,
            wait: Duration::from_secs(wait).min(feed::MAX_WAIT),
            stream,
        })
    }
}

pub async fn revocations(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let query = Query::parse(&req)?;
    let presented = client_auth::presented(&Params::default(), authorization(&req))?;
    if !matches!(presented, Presented::Basic { .. }) {
        return Err(presented.refused());
    }
    let caller =
        client_auth::authenticate_first(&state.db, &state.registry, &state.master, &presented)
            .await?;
    if !feed::may_follow(&caller) {
        return Err(OAuthError::new(
            "unauthorized_client",
            actix_web::http::StatusCode::FORBIDDEN,
        )
        .describe("only resource servers (introspection = \"any\") may follow revocations"));
    }
    if query.stream {
        return Ok(stream(state, query.after));
    }
    let mut events = feed::read(&state.db, query.after).await?;
    if events.is_empty() && state.feed.wait_beyond(query.after, query.wait).await {
        events = feed::read(&state.db, query.after).await?;
    }
    let cursor = events.last().map_or(query.after, |e| e.cursor);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "events": events, "cursor": cursor })))
}

/// The SSE body: what is there, then each new event; it ends when the instance closes.
fn stream(state: web::Data<AppState>, after: i64) -> HttpResponse {
    let start = web::Bytes::from_static(b"retry: 1000\n\n");
    let body = futures_util::stream::unfold(
        (state, after, Some(start)),
        |(state, after, pending)| async move {
            if let Some(chunk) = pending {
                return Some((Ok::<_, actix_web::Error>(chunk), (state, after, None)));
            }
            if state.feed.is_closing() {
                return None;
            }
            let events = match feed::read(&state.db, after).await {
                Ok(events) => events,
                // The follower reconnects (after `retry`) and resumes from its cursor.
                Err(_) => return None,
            };
            if let Some(last) = events.last().map(|e| e.cursor) {
                return Some((Ok(frames(&events)), (state, last, None)));
            }
            if state.feed.wait_beyond(after, KEEP_ALIVE).await {
                return Some((Ok(web::Bytes::new()), (state, after, None)));
            }
            if state.feed.is_closing() {
                return None;
            }
            Some((
                Ok(web::Bytes::from_static(b": keep-alive\n\n")),
                (state, after, None),
            ))
        },
    );
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // Tells nginx-like proxies not to buffer the stream.
        .insert_header(("x-accel-buffering", "no"))
        .streaming(body)
}

/// `id`, `event` and `data` lines per event (the HTML Living Standard's SSE format).
fn frames(events: &[Event]) -> web::Bytes {
    let mut out = String::new();
    for event in events {
        let data = serde_json::to_string(event).expect("an event serialises");
        out.push_str(&format!(
            "id: {}\nevent: revocation\ndata: {data}\n\n",
            event.cursor
        ));
    }
    out.into()
}
