//! A deadline on reading a request's body (hardening #11 item 6). actix bounds the time
//! to read the head (`client_request_timeout`) but not the body, so a client that
//! declares a body and trickles it a byte at a time holds its connection for as long as
//! it likes. The body stream fails once `http.body_timeout` has passed since the head
//! arrived; the extractor then refuses the request and the connection is closed.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_core::Stream;

struct Deadline {
    inner: Payload,
    timer: Pin<Box<tokio::time::Sleep>>,
    expired: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.expired {
            return Poll::Ready(None);
        }
        if let ready @ Poll::Ready(_) = Pin::new(&mut this.inner).poll_next(cx) {
            return ready;
        }
        if this.timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.expired = true;
        Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the request body was not received in time",
        )))))
    }
}

/// Puts the deadline on `req`'s body, when it has one (requests without a body, such
/// as the hot GETs of `/jwks` and discovery, pay nothing).
pub fn apply(req: &mut ServiceRequest, limit: Duration) {
    let headers = req.headers();
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if !has_body {
        return;
    }
    let inner = req.take_payload();
    let deadline = Deadline {
        inner,
        timer: Box::pin(tokio::time::sleep(limit)),
        expired: false,
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(deadline),
    });
}
