//! The consent step (OpenID Connect Core §3.1.2.4): what the page shows, and the
//! person's answer — remembered per user and client, or `access_denied` to the client.

use serde_json::json;

use super::{error_response, load, resume, Browser, Flow, Outcome, EXPIRED};
use crate::store::authorization_requests as pending;
use crate::store::{self, consents, DbConnection, StoreError};

/// What the consent page shows.
pub struct ConsentView {
    pub request_id: String,
    pub client_name: String,
    pub scopes: Vec<String>,
    /// Where the answer will go: the page's `form-action` must allow it (`http/page.rs`).
    pub redirect_uri: String,
}

/// What the consent page shows, or where to go instead.
pub fn consent_view(
    conn: &mut DbConnection,
    request_id: &str,
    browser: &Browser,
    now: i64,
) -> Result<Result<ConsentView, Outcome>, StoreError> {
    let Some((row, request, client)) = load(conn, request_id, browser, now)? else {
        return Ok(Err(Outcome::Page(EXPIRED)));
    };
    let signed_in = browser.session(conn, now)?.is_some();
    if !signed_in {
        return Ok(Err(Outcome::SignIn { request_id: row.id }));
    }
    Ok(Ok(ConsentView {
        request_id: row.id,
        client_name: client.client_name.clone(),
        scopes: request.scope,
        redirect_uri: request.redirect_uri,
    }))
}

/// The person's answer on the consent page.
#[tracing::instrument(skip_all)]
pub fn answer_consent(
    conn: &mut DbConnection,
    request_id: &str,
    browser: &Browser,
    allow: bool,
    flow: &Flow,
    now: i64,
) -> Result<Outcome, StoreError> {
    let Some((row, request, client)) = load(conn, request_id, browser, now)? else {
        return Ok(Outcome::Page(EXPIRED));
    };
    let session = browser.session(conn, now)?;
    let Some(session) = session else {
        return Ok(Outcome::SignIn { request_id: row.id });
    };
    if !allow {
        pending::delete(conn, &row.id)?;
        store::audit::record(
            conn,
            "consent.denied",
            Some(&session.user_id),
            Some(&client.id),
            json!({}),
        )?;
        // RFC 6749 §4.1.2.1: "The resource owner or authorization server denied the request."
        return Ok(error_response(
            &request.client_redirect(),
            "access_denied",
            "the user denied the request",
        ));
    }
    let mut scopes = consents::get(conn, &session.user_id, &client.id)?.unwrap_or_default();
    for s in &request.scope {
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    store::transaction(conn, |conn| {
        consents::put(conn, &session.user_id, &client.id, &scopes, now)?;
        pending::mark_consented(conn, &row.id, now)
    })?;
    resume(conn, request_id, browser, flow, now)
}
