//! Client authentication at the token endpoint (RFC 6749 §2.3, §3.2.1; checklist §1.26):
//! `client_secret_basic`, `client_secret_post`, `private_key_jwt` (settled first by
//! `oauth::client_assertion`), and `none` for public clients. One method per request;
//! the registered method is the only one accepted; secrets are compared in constant
//! time against their stored HMAC.

use std::sync::Arc;

use base64::Engine;
use percent_encoding::percent_decode_str;

use super::client_assertion;
use super::params::Params;
use super::registry::Registry;
use super::OAuthError;
use crate::crypto::MasterKey;
use crate::oauth::client::{self as clients, AuthMethod, Client};
use crate::store::{Db, DbConnection, StoreError};

/// The credentials a request carries, before they are checked.
#[derive(Clone)]
pub enum Presented {
    Basic {
        client_id: String,
        secret: String,
    },
    Post {
        client_id: String,
        secret: String,
    },
    /// A public client names itself (`none`).
    Public {
        client_id: String,
    },
    /// A `private_key_jwt` assertion, not checked yet.
    Assertion {
        client_id: String,
        assertion: String,
    },
    /// An assertion `client_assertion::Assertions::settle` verified for this request.
    Asserted {
        client_id: String,
    },
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("client_id", &self.client_id())
            .finish_non_exhaustive()
    }
}

impl Presented {
    pub fn client_id(&self) -> &str {
        match self {
            Presented::Basic { client_id, .. }
            | Presented::Post { client_id, .. }
            | Presented::Public { client_id }
            | Presented::Assertion { client_id, .. }
            | Presented::Asserted { client_id } => client_id,
        }
    }

    pub fn secret(&self) -> Option<&str> {
        match self {
            Presented::Basic { secret, .. } | Presented::Post { secret, .. } => Some(secret),
            Presented::Public { .. } | Presented::Assertion { .. } | Presented::Asserted { .. } => {
                None
            }
        }
    }

    pub fn used_basic(&self) -> bool {
        matches!(self, Presented::Basic { .. })
    }

    /// RFC 6749 §5.2: 401 `invalid_client`, with `WWW-Authenticate` when Basic was used.
    pub fn refused(&self) -> OAuthError {
        OAuthError::invalid_client(self.used_basic())
    }
}

/// Reads the credentials from the `Authorization` header and the body.
pub fn presented(params: &Params, authorization: Option<&str>) -> Result<Presented, OAuthError> {
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    if params.is_duplicate("client_id") || params.is_duplicate("client_secret") {
        return Err(OAuthError::invalid_request(
            "client_id or client_secret was sent more than once",
        ));
    }
    if params.get("client_assertion").is_some() || params.get("client_assertion_type").is_some() {
        return assertion(params, authorization.is_some() || body_secret.is_some());
    }
    if let Some(header) = authorization {
        let (client_id, secret) = basic(header).ok_or_else(|| OAuthError::invalid_client(true))?;
        // RFC 6749 §2.3: "MUST NOT use more than one authentication method".
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method",
            ));
        }
        if body_id.is_some_and(|id| id != client_id) {
            return Err(OAuthError::invalid_request(
                "client_id does not match the credentials",
            ));
        }
        return Ok(Presented::Basic { client_id, secret });
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok(Presented::Post {
            client_id: id.to_owned(),
            secret: secret.to_owned(),
        }),
        (Some(id), None) => Ok(Presented::Public {
            client_id: id.to_owned(),
        }),
        (None, _) => {
            Err(OAuthError::invalid_client(false).describe("client authentication is required"))
        }
    }
}

/// RFC 7521 §4.2: `client_assertion_type` and `client_assertion`, alone.
fn assertion(params: &Params, other_method: bool) -> Result<Presented, OAuthError> {
    if other_method {
        return Err(OAuthError::invalid_request(
            "use one client authentication method",
        ));
    }
    let (Some(kind), Some(assertion)) = (
        params.get("client_assertion_type"),
        params.get("client_assertion"),
    ) else {
        return Err(OAuthError::invalid_request(
            "client_assertion and client_assertion_type go together",
        ));
    };
    if kind != client_assertion::ASSERTION_TYPE {
        return Err(OAuthError::invalid_client(false)
            .describe("the only client_assertion_type is jwt-bearer (RFC 7523)"));
    }
    let claimed = client_assertion::claimed_client(assertion);
    let client_id = match (params.get("client_id"), claimed) {
        (Some(id), Some(sub)) if id != sub => {
            return Err(OAuthError::invalid_client(false)
                .describe("client_id does not match the client assertion"))
        }
        (Some(id), _) => id.to_owned(),
        (None, Some(sub)) => sub,
        (None, None) => {
            return Err(
                OAuthError::invalid_client(false).describe("the client assertion is malformed")
            )
        }
    };
    Ok(Presented::Assertion {
        client_id,
        assertion: assertion.to_owned(),
    })
}

/// RFC 7617 with RFC 6749 §2.3.1: both halves are form-urlencoded before base64.
fn basic(header: &str) -> Option<(String, String)> {
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    let (id, secret) = (unescape(id)?, unescape(secret)?);
    (!id.is_empty()).then_some((id, secret))
}

/// Finds the client — in the in-memory registry while it is current, else in the
/// database — and checks the credentials against its registered method. A refusal from
/// the registry is checked again against the database.
pub fn authenticate(
    conn: &mut DbConnection,
    registry: &Registry,
    master: &MasterKey,
    presented: &Presented,
) -> Result<Arc<Client>, AuthError> {
    if let Some(cached) = registry.get_on(conn, presented.client_id())? {
        if let Ok(client) = check(master, Some(cached), presented) {
            return Ok(client);
        }
    }
    let client = clients::get(conn, presented.client_id())?;
    check(master, client, presented).map_err(AuthError::Refused)
}

/// [`authenticate`] for a request about to queue a write, before it queues: from the
/// registry when a shared read finds it current (no blocking-pool hop), else on a
/// pooled connection.
pub async fn authenticate_first(
    db: &Db,
    registry: &Registry,
    master: &Arc<MasterKey>,
    presented: &Presented,
) -> Result<Arc<Client>, OAuthError> {
    if let Some(cached) = registry.get_current(db, presented.client_id()).await {
        if let Ok(client) = check(master, Some(cached), presented) {
            return Ok(client);
        }
    }
    let (registry, master, presented) = (registry.clone(), master.clone(), presented.clone());
    db.run(move |conn| authenticate(conn, &registry, &master, &presented).map_err(OAuthError::from))
        .await
}

/// Checks the credentials against `client` (the row for the presented id, if any).
pub fn check(
    master: &MasterKey,
    client: Option<Arc<Client>>,
    presented: &Presented,
) -> Result<Arc<Client>, OAuthError> {
    // The same work whether the client exists or not (checklist §3.2 timing).
    let stored = client
        .as_ref()
        .and_then(|c| c.secret_hash.as_deref())
        .unwrap_or(&[0; 32]);
    let secret_ok = presented
        .secret()
        .is_some_and(|s| master.verify_client_secret(s, stored));
    let Some(client) = client else {
        return Err(presented.refused());
    };
    let method_ok = matches!(
        (client.token_endpoint_auth_method, presented),
        (AuthMethod::ClientSecretBasic, Presented::Basic { .. })
            | (AuthMethod::ClientSecretPost, Presented::Post { .. })
            | (AuthMethod::PrivateKeyJwt, Presented::Asserted { .. })
            | (AuthMethod::None, Presented::Public { .. })
    );
    let credentials_ok = match presented {
        Presented::Public { .. } => client.public,
        // Verified against the client's own keys for this request.
        Presented::Asserted { .. } => !client.public,
        // Never settled: refused.
        Presented::Assertion { .. } => false,
        _ => secret_ok && !client.public,
    };
    if method_ok && credentials_ok {
        Ok(client)
    } else {
        Err(presented.refused())
    }
}

/// A refusal (the client's fault) or a storage failure (ours).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Refused(OAuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my%3Aclient:s%2Bcr+t")
        );
        assert_eq!(
            basic(&header),
            Some(("my:client".to_owned(), "s+cr t".to_owned()))
        );
        assert_eq!(basic("Bearer abc"), None);
        assert_eq!(basic("Basic !!!"), None);
    }
}
