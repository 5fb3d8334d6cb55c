//! Token revocation (RFC 7009 §2): a refresh token takes its whole family and the access
//! tokens of its grant with it (§2.1 SHOULD); an access token's `jti` is kept on a
//! deny-list until it would have expired. A client revokes only its own tokens; an
//! unknown token is not an error (§2.2).

use serde_json::json;

use super::grants::mint;
use super::issuer::{self, TokenSettings};
use super::OAuthError;
use crate::crypto::{token, KeySet};
use crate::store::clients::ClientRow;
use crate::store::{self, audit, refresh_tokens, revoked_access_tokens, DbConnection};

#[tracing::instrument(skip_all, fields(client_id = %caller.id))]
pub fn revoke(
    conn: &mut DbConnection,
    keys: &KeySet,
    settings: &TokenSettings,
    caller: &ClientRow,
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
        store::transaction(conn, |conn| {
            mint::revoke_family(conn, &row.family_id, now)?;
            audit::record(
                conn,
                "token.revoked",
                Some(&row.user_id),
                Some(&caller.id),
                json!({ "grant_id": row.family_id }),
            )
        })?;
        return Ok(());
    }
    if let Some(claims) = issuer::verify(token, keys, settings, now) {
        if claims.client_id != caller.id {
            return Err(not_yours());
        }
        revoked_access_tokens::insert(conn, &claims.jti, claims.exp, now)?;
    }
    Ok(())
}
