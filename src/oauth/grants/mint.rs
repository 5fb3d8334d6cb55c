//! What every grant issues: the JWT access token (RFC 9068), refresh tokens (opaque, 256
//! bits, stored hashed, one family per sign-in), and — through the OpenID Connect hook
//! `oidc::id_token::for_grant` — the ID token when `openid` was granted.

use super::{TokenContext, TokenResponse};
use crate::crypto::{token, Alg};
use crate::oauth::client::Client;
use crate::oauth::issuer::{self, AccessTokenClaims};
use crate::oauth::resource;
use crate::oauth::OAuthError;
use crate::oidc::id_token;
use crate::people::sessions::Client as Browser;
use crate::revocation::{self, Cause, Owner};
use crate::store::refresh_tokens::{self, RefreshTokenRow};
use crate::store::{DbConnection, StoreError};

/// Who signed in, how, and under which grant: carried by every token of the grant.
pub struct Authorized<'a> {
    pub user_id: &'a str,
    pub session_id: Option<&'a str>,
    pub grant_id: &'a str,
    pub auth_time: i64,
    pub acr: Option<&'a str>,
    pub amr: Vec<String>,
    /// Only in the first ID token (§12.2: a refreshed one has none).
    pub nonce: Option<&'a str>,
    /// The resources the grant was authorized for (RFC 8707), carried by its refresh tokens.
    pub resources: Vec<String>,
}

impl<'a> Authorized<'a> {
    /// The sign-in a refresh token carries forward.
    pub fn from_refresh_token(row: &'a RefreshTokenRow) -> Self {
        Authorized {
            user_id: &row.user_id,
            session_id: row.session_id.as_deref(),
            grant_id: &row.family_id,
            auth_time: row.auth_time,
            acr: row.acr.as_deref(),
            amr: amr_list(row.amr.as_deref()),
            nonce: None,
            resources: resource::list(&row.resources),
        }
    }
}

/// A stored `amr` JSON array.
pub fn amr_list(stored: Option<&str>) -> Vec<String> {
    stored
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or_default()
}

/// What makes a response the same response when it is given again (a refresh retried
/// within `tokens.refresh_token_reuse_grace`): the access token's audience, `jti` and
/// issue time. Everything else comes from the grant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Issue {
    /// `aud` (`oauth::resource::audience`).
    pub audience: String,
    pub jti: String,
    /// `iat`; `exp` follows from it.
    pub at: i64,
}

impl Issue {
    /// A new access token for `audience`, issued `now`.
    pub fn new(audience: String, now: i64) -> Self {
        Issue {
            audience,
            jti: token::random_id(),
            at: now,
        }
    }
}

/// Access token as `issue` says, and ID token when `openid` is in `scope`, for `client`.
pub fn tokens(
    ctx: &TokenContext,
    client: &Client,
    who: &Authorized<'_>,
    scope: &[String],
    issue: Issue,
    refresh_token: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let now = issue.at;
    let s = &ctx.settings;
    let access_ttl = client.access_token_ttl.unwrap_or(s.access_token_ttl);
    let access_token = issuer::mint(
        &ctx.keys,
        client.access_token_signed_response_alg,
        &AccessTokenClaims {
            iss: s.issuer.clone(),
            sub: who.user_id.to_owned(),
            aud: issue.audience,
            exp: now + access_ttl,
            iat: now,
            jti: issue.jti,
            client_id: client.id.clone(),
            scope: scope.join(" "),
            auth_time: Some(who.auth_time),
            acr: who.acr.map(|a| s.acr_names.public(a)),
            amr: who.amr.clone(),
            sid: who.session_id.map(str::to_owned),
            grant_id: Some(who.grant_id.to_owned()),
        },
        now,
    )
    .map_err(|e| OAuthError::unavailable(&e))?;
    // The OpenID Connect hook: OAuth mints the access token, OIDC adds its ID token.
    let id_token = id_token::for_grant(&ctx.keys, s, client, who, scope, &access_token, now)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: access_ttl,
        scope: scope.join(" "),
        refresh_token,
        id_token,
    })
}

/// Whether [`tokens`] for `client` and `scope` makes an RSA signature (~1 ms): such
/// work runs on the blocking pool, never on an HTTP worker.
pub fn signs_with_rsa(client: &Client, scope: &[String]) -> bool {
    client.access_token_signed_response_alg == Alg::RS256
        || (scope.iter().any(|s| s == "openid")
            && client.id_token_signed_response_alg == Alg::RS256)
}

/// Where a new refresh token comes from: the browser of the sign-in (first of a
/// family), or the token it replaces (rotation), whose absolute expiry, scope and
/// sign-in address the successor keeps.
pub enum Origin<'a> {
    SignIn(&'a Browser),
    Rotation(&'a RefreshTokenRow),
}

/// A new refresh token for `who`; the request's address and user agent become its
/// "last use" on rotation.
pub fn refresh_token(
    ctx: &TokenContext,
    client: &Client,
    who: &Authorized<'_>,
    scope_json: &str,
    origin: Origin<'_>,
    now: i64,
) -> (String, RefreshTokenRow) {
    let parent = match origin {
        Origin::Rotation(p) => Some(p),
        Origin::SignIn(_) => None,
    };
    let s = &ctx.settings;
    let secret = token::random_secret();
    let absolute = parent.map_or_else(
        || {
            now + client
                .refresh_token_absolute_ttl
                .unwrap_or(s.refresh_absolute_ttl)
        },
        |p| p.absolute_expires_at,
    );
    let idle = (now + client.refresh_token_idle_ttl.unwrap_or(s.refresh_idle_ttl)).min(absolute);
    let (created_ip, created_user_agent) = match origin {
        Origin::Rotation(p) => (p.created_ip.clone(), p.created_user_agent.clone()),
        Origin::SignIn(browser) => (browser.ip.clone(), browser.user_agent.clone()),
    };
    let row = RefreshTokenRow {
        id: token::random_id(),
        token_hash: token::sha256(secret.as_bytes()),
        family_id: who.grant_id.to_owned(),
        parent_id: parent.map(|p| p.id.clone()),
        client_id: client.id.clone(),
        user_id: who.user_id.to_owned(),
        session_id: who.session_id.map(str::to_owned),
        scope: scope_json.to_owned(),
        acr: who.acr.map(str::to_owned),
        amr: Some(serde_json::to_string(&who.amr).expect("a list serialises")),
        auth_time: who.auth_time,
        created_at: now,
        idle_expires_at: idle,
        absolute_expires_at: absolute,
        rotated_at: None,
        revoked_at: None,
        created_ip,
        created_user_agent,
        last_used_at: parent.map(|_| now),
        last_ip: parent.and(ctx.origin.ip.clone()),
        last_user_agent: parent.and(ctx.origin.user_agent.clone()),
        grace_response: None,
        resources: serde_json::to_string(&who.resources).expect("a list serialises"),
    };
    (secret, row)
}

/// Keeps at most `max_refresh_tokens_per_client` live sign-ins per user and client,
/// revoking the least recently used beyond it.
pub fn enforce_cap(
    conn: &mut DbConnection,
    ctx: &TokenContext,
    client_id: &str,
    user_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    let cap = usize::try_from(ctx.settings.max_refresh_tokens_per_client).unwrap_or(usize::MAX);
    let active = refresh_tokens::active_for_user(conn, user_id, Some(client_id), now)?;
    for row in active.iter().skip(cap) {
        let owner = Owner {
            user_id: Some(user_id),
            client_id: Some(client_id),
        };
        revocation::grant(conn, &row.family_id, Cause::Capped, owner, now)?;
    }
    Ok(())
}
