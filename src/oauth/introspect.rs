//! Token introspection (RFC 7662 §2): for JWT access tokens, signature and expiry, then
//! the deny-list, the grant and the user; for refresh tokens, the stored row. Anything
//! not active is `{"active": false}` and nothing more (§2.2). Callers authenticate as
//! confidential clients; an access token issued to another client is described only to
//! a client registered with `introspection = "any"` (a resource server), a refresh token
//! only to the client it was issued to.

use serde::Serialize;

use super::client;
use super::issuer::{self, TokenSettings};
use crate::crypto::token;
use crate::keys::KeySet;
use crate::oauth::client::{self as clients, Client};
use crate::store::{grants, refresh_tokens, revoked_access_tokens, DbConnection, StoreError};

/// What checking an access token's signature needs.
pub struct Verifier<'a> {
    pub keys: &'a KeySet,
    pub settings: &'a TokenSettings,
    pub verified: &'a issuer::VerifiedTokens,
}

/// RFC 7662 §2.2, with RFC 9470 §6.2 `acr` and `auth_time`, and the `amr` (RFC 8176)
/// the access token carries.
#[derive(Debug, Default, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

impl Introspection {
    fn inactive() -> Self {
        Introspection::default()
    }
}

/// The state of `token` as `caller` may see it. `token_type_hint` is not needed: both
/// kinds are tried (§2.1: the server may ignore it).
#[tracing::instrument(skip_all, fields(client_id = %caller.id))]
pub fn introspect(
    conn: &mut DbConnection,
    verifier: &Verifier<'_>,
    caller: &Client,
    token: &str,
    now: i64,
) -> Result<Introspection, StoreError> {
    let settings = verifier.settings;
    if let Some(claims) = verifier
        .verified
        .verify(token, verifier.keys, settings, now)
    {
        // §4: another client's token is described only to a resource server.
        if claims.client_id != caller.id && caller.introspection != client::Introspection::Any {
            return Ok(Introspection::inactive());
        }
        let username = match &claims.grant_id {
            // A person's token: not on the deny-list, its grant live, its user enabled.
            Some(grant) => match grants::live_user_for_token(conn, grant, &claims.jti)? {
                Some(user) if user.id == claims.sub => Some(user.username),
                _ => return Ok(Introspection::inactive()),
            },
            // A client's own token (client_credentials): not on the deny-list, the client
            // still registered.
            None => {
                if revoked_access_tokens::is_revoked(conn, &claims.jti)?
                    || clients::get(conn, &claims.client_id)?.is_none()
                {
                    return Ok(Introspection::inactive());
                }
                None
            }
        };
        return Ok(Introspection {
            active: true,
            scope: Some(claims.scope),
            client_id: Some(claims.client_id),
            username,
            token_type: Some("Bearer"),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            nbf: Some(claims.iat),
            sub: Some(claims.sub),
            aud: Some(claims.aud),
            iss: Some(claims.iss),
            jti: Some(claims.jti),
            acr: claims.acr,
            auth_time: claims.auth_time,
            amr: claims.amr,
        });
    }
    let Some(row) = refresh_tokens::by_hash(conn, &token::sha256(token.as_bytes()))? else {
        return Ok(Introspection::inactive());
    };
    let usable = row.client_id == caller.id
        && row.revoked_at.is_none()
        && row.rotated_at.is_none()
        && row.idle_expires_at.min(row.absolute_expires_at) > now;
    if !usable {
        return Ok(Introspection::inactive());
    }
    let Some(user) = grants::live_user(conn, &row.family_id)? else {
        return Ok(Introspection::inactive());
    };
    let scope: Vec<String> = serde_json::from_str(&row.scope).unwrap_or_default();
    Ok(Introspection {
        active: true,
        scope: Some(scope.join(" ")),
        client_id: Some(row.client_id),
        username: Some(user.username),
        token_type: Some("refresh_token"),
        exp: Some(row.idle_expires_at.min(row.absolute_expires_at)),
        iat: Some(row.created_at),
        sub: Some(row.user_id),
        iss: Some(settings.issuer.clone()),
        amr: crate::oauth::grants::mint::amr_list(row.amr.as_deref()),
        acr: row.acr.map(|a| settings.acr_names.public(&a)),
        auth_time: Some(row.auth_time),
        ..Introspection::default()
    })
}
