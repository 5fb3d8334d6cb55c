//! RP-Initiated Logout 1.0: `id_token_hint`, `client_id`, `post_logout_redirect_uri`
//! (matched exactly against the client's registered list, §3) and `state`. A request
//! that cannot be tied to the browser's session is confirmed by the person first (§2:
//! "the OP SHOULD ask the End-User whether to log out").

use crate::keys::KeySet;
use crate::oauth::client::{self as clients, Client};
use crate::oauth::params::{has_control, Params};
use crate::oauth::redirect;
use crate::oidc::id_token;
use crate::people::sessions;
use crate::store::{DbConnection, StoreError};

/// Where to send the browser afterwards, when the client asked and may.
#[derive(Debug, Clone)]
pub struct Return {
    pub client_id: String,
    pub post_logout_redirect_uri: String,
    pub state: Option<String>,
}

impl Return {
    pub fn location(&self) -> String {
        match &self.state {
            Some(state) => {
                redirect::with_query(&self.post_logout_redirect_uri, &[("state", state)])
            }
            None => self.post_logout_redirect_uri.clone(),
        }
    }
}

#[derive(Debug)]
pub enum Decision {
    /// The request is not acceptable: a page, never a redirect.
    Invalid(&'static str),
    /// Signed out (or was not signed in).
    Done(Option<Return>),
    /// Ask the person first.
    Confirm {
        client_name: Option<String>,
        to: Option<Return>,
    },
}

const BAD_HINT: &str = "The application sent a sign-out request this server cannot verify.";
const BAD_RETURN: &str = "The application asked to return to an address that is not registered for it, so you were not sent there.";

#[tracing::instrument(skip_all)]
pub fn request(
    conn: &mut DbConnection,
    params: &Params,
    session_secret: Option<&str>,
    keys: &KeySet,
    issuer: &str,
    now: i64,
) -> Result<Decision, StoreError> {
    if params.first_duplicate().is_some() || params.get("state").is_some_and(has_control) {
        return Ok(Decision::Invalid("The sign-out request is malformed."));
    }
    let hint = match params.get("id_token_hint") {
        None => None,
        Some(h) => match id_token::verify_hint(h, keys, issuer, now) {
            Some(claims) => Some(claims),
            None => return Ok(Decision::Invalid(BAD_HINT)),
        },
    };
    let client_id = match (params.get("client_id"), &hint) {
        (Some(id), Some(h)) if id != h.aud => return Ok(Decision::Invalid(BAD_HINT)),
        (Some(id), _) => Some(id.to_owned()),
        (None, Some(h)) => Some(h.aud.clone()),
        (None, None) => None,
    };
    let client = match &client_id {
        Some(id) => match clients::get(conn, id)? {
            Some(c) => Some(c),
            None => return Ok(Decision::Invalid(BAD_HINT)),
        },
        None => None,
    };
    let to = match returning(
        client.as_deref(),
        params.get("post_logout_redirect_uri"),
        params.get("state"),
    ) {
        Ok(to) => to,
        Err(message) => return Ok(Decision::Invalid(message)),
    };
    let session = match session_secret {
        Some(secret) => sessions::current(conn, secret, now)?,
        None => None,
    };
    let Some(session) = session else {
        return Ok(Decision::Done(to));
    };
    // The hint names this very session: no need to ask. A hint of the same user from
    // another session (another browser, an earlier sign-in, any client's old token) is
    // no proof that this browser asked, so the person confirms (hardening #11 item 10).
    if hint.is_some_and(|h| h.sid.as_deref() == Some(session.id.as_str())) {
        sessions::end(conn, session_secret.unwrap_or_default(), now)?;
        return Ok(Decision::Done(to));
    }
    Ok(Decision::Confirm {
        client_name: client.map(|c| c.client_name.clone()),
        to,
    })
}

/// The person confirmed: end the session, and return if the (re-checked) target allows.
pub fn confirm(
    conn: &mut DbConnection,
    params: &Params,
    session_secret: Option<&str>,
    now: i64,
) -> Result<Decision, StoreError> {
    let client = match params.get("client_id") {
        Some(id) => clients::get(conn, id)?,
        None => None,
    };
    let to = match returning(
        client.as_deref(),
        params.get("post_logout_redirect_uri"),
        params.get("state"),
    ) {
        Ok(to) => to,
        Err(message) => return Ok(Decision::Invalid(message)),
    };
    if let Some(secret) = session_secret {
        sessions::end(conn, secret, now)?;
    }
    Ok(Decision::Done(to))
}

/// §3: `post_logout_redirect_uri` only for a known client, and only an exact match.
fn returning(
    client: Option<&Client>,
    uri: Option<&str>,
    state: Option<&str>,
) -> Result<Option<Return>, &'static str> {
    let Some(uri) = uri else {
        return Ok(None);
    };
    let client = client.ok_or(BAD_RETURN)?;
    if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
        return Err(BAD_RETURN);
    }
    Ok(Some(Return {
        client_id: client.id.clone(),
        post_logout_redirect_uri: uri.to_owned(),
        state: state.map(str::to_owned),
    }))
}
