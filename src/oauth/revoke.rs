//! Token revocation (RFC 7009 §2): a refresh token takes its whole family and the access
//! tokens of its grant with it (§2.1 SHOULD); an access token's `jti` is kept on a
//! deny-list until it would have expired. A client revokes only its own tokens; an
//! unknown token is not an error (§2.2).

use super::issuer::{self, TokenSettings};
use super::OAuthError;
use crate::crypto::token;
use crate::keys::KeySet;
use crate::oauth::client::Client;
use crate::revocation::{self, Cause, Owner};
use crate::store::{refresh_tokens, DbConnection};

#[tracing::instrument(skip_all, fields(client_id = %caller.id))]
pub fn revoke(
    conn: &mut DbConnection,
    keys: &KeySet,
    settings: &TokenSettings,
    caller: &Client,
    token: &str,
    hint: Option<&str>,
    now: i64,
) -> Result<(), OAuthError> {
    // §2.2.1: hints we do not know name token types we do not support.
    if !matches!(hint, None | Some("access_token" | "refresh_token")) {
        return Err(OAuthError::new(
            "unsupported_token_type",
            actix_web::http::StatusCode::BAD_REQUEST,
        )
        .describe("token_type_hint must be access_token or refresh_token"));
    }
    let not_yours = || {
        OAuthError::new(
            "unauthorized_client",
            actix_web::http::StatusCode::BAD_REQUEST,
        )
        .describe("the token was not issued to this client")
    };
    if let Some(row) = refresh_tokens::by_hash(conn, &token::sha256(token.as_bytes()))? {
        if row.client_id != caller.id {
            return Err(not_yours());
        }
        let owner = Owner {
            user_id: Some(&row.user_id),
            client_id: Some(&caller.id),
        };
        revocation::grant(conn, &row.family_id, Cause::Requested, owner, now)?;
        return Ok(());
    }
    if let Some(claims) = issuer::verify(token, keys, settings, now) {
        if claims.client_id != caller.id {
            return Err(not_yours());
        }
        // A client-credentials token has no user behind it.
        let owner = Owner {
            user_id: claims.grant_id.is_some().then_some(claims.sub.as_str()),
            client_id: Some(&caller.id),
        };
        revocation::access_token(conn, &claims.jti, claims.exp, owner, now)?;
    }
    Ok(())
}
