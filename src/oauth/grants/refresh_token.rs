//! `grant_type=refresh_token` (RFC 6749 §6, OpenID Connect Core §12) with rotation and
//! reuse detection (RFC 9700 §4.14.2), driven through oxide-auth's sans-IO
//! `code_grant::refresh` state machine: it asks us to authenticate the client, recover
//! the grant behind the token, and refresh; it checks the client the token was issued
//! to, the expiry, and that the scope is only ever narrowed (§6: never widened).
//!
//! Rotation is one conditional UPDATE (`refresh_tokens::rotate`), so of two refreshes of
//! one token on any instances exactly one wins. Presenting a rotated token again revokes
//! the whole family — every token of that sign-in and their access tokens — unless it
//! is the immediately preceding token replayed within the grace period
//! (`tokens.refresh_token_reuse_grace`, 10 s by default: a response lost on its way is
//! retried with the token the client still has), which gets the same successors back:
//! the same refresh token, and an access token with the same claims, signed again.
//!
//! [`run`] takes the grant in steps: `exchange` does everything that touches the
//! database inside one write transaction (`Db::write`: on SQLite it shares its commit
//! with the other rotations queued at that moment); a token found already rotated goes
//! to `reused` in a transaction of its own; `respond` signs the tokens once the
//! rotation has committed, so the write lock is never held for a signature and no token
//! is handed out for a rotation that did not become durable.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use oxide_auth::code_grant::refresh::{self as machine, Input, Output, Refresh};
use oxide_auth::primitives::grant::{Extensions, Grant};
use oxide_auth::primitives::issuer::{RefreshedToken, TokenType};
use serde::{Deserialize, Serialize};

use super::mint::{self, Authorized};
use super::{TokenContext, TokenResponse};
use crate::crypto::token;
use crate::oauth::client::Client;
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::params::Params;
use crate::oauth::resource;
use crate::oauth::OAuthError;
use crate::revocation::{self, Cause, Owner};
use crate::store::refresh_tokens::{self, RefreshTokenRow, Use};
use crate::store::{Db, DbConnection};

/// A token request for this grant, parsed by the handler.
pub struct RefreshRequest<'a> {
    pub params: &'a Params,
    pub presented: &'a Presented,
}

impl machine::Request for RefreshRequest<'_> {
    fn valid(&self) -> bool {
        true
    }
    fn refresh_token(&self) -> Option<Cow<'_, str>> {
        self.params.get("refresh_token").map(Cow::Borrowed)
    }
    fn scope(&self) -> Option<Cow<'_, str>> {
        self.params.get("scope").map(Cow::Borrowed)
    }
    fn grant_type(&self) -> Option<Cow<'_, str>> {
        self.params.get("grant_type").map(Cow::Borrowed)
    }
    fn authorization(&self) -> Option<(Cow<'_, str>, Cow<'_, [u8]>)> {
        match self.presented {
            Presented::Basic { client_id, secret } => {
                Some((Cow::Borrowed(client_id), Cow::Borrowed(secret.as_bytes())))
            }
            _ => None,
        }
    }
    fn extension(&self, key: &str) -> Option<Cow<'_, str>> {
        self.params.get(key).map(Cow::Borrowed)
    }
}

const REFUSED: &str = "the refresh token is invalid, expired or revoked";

/// What the database part of a refresh decided; [`respond`] turns it into the answer
/// once the transaction it ran in has committed.
enum Rotation {
    /// Rotated: the successor's secret, and what its access (and ID) token is minted from.
    Rotated(Box<Rotated>),
    /// The token had been rotated already (by an earlier request or a concurrent one):
    /// [`reused`] decides, in a transaction of its own.
    Replayed(Box<RefreshTokenRow>),
    /// A rotated token came back: its family has been revoked.
    Reused,
}

/// What the answer to a rotation is signed from, after the commit. With a reuse grace
/// period its [`Successors`] are sealed into the rotated token's row in the rotation's
/// own transaction, so a retry within the window is answered with the same ones.
struct Rotated {
    client: Arc<Client>,
    /// The token that was rotated: the sign-in its successors carry forward.
    row: RefreshTokenRow,
    successors: Successors,
}

/// The successor refresh token's secret and what makes its access token the same one
/// again: all a response needs besides the grant (`row`).
#[derive(Serialize, Deserialize)]
struct Successors {
    secret: String,
    scope: Vec<String>,
    issue: mint::Issue,
}

impl Rotation {
    /// Whether [`respond`] makes an RSA signature (then it belongs on the blocking
    /// pool, not on an HTTP worker).
    fn signs_with_rsa(&self) -> bool {
        match self {
            Rotation::Rotated(r) => mint::signs_with_rsa(&r.client, &r.successors.scope),
            Rotation::Replayed(_) | Rotation::Reused => false,
        }
    }
}

/// The database part of the grant: the token's row, checked against the client `run`
/// authenticated, and the rotation (or the reuse) — all inside one write transaction
/// (`Db::write`), which the caller commits before calling [`respond`].
#[tracing::instrument(skip_all, fields(client_id = request.presented.client_id()))]
fn exchange(
    conn: &mut DbConnection,
    ctx: &TokenContext,
    request: &RefreshRequest<'_>,
    authenticated: Arc<Client>,
    now: i64,
) -> Result<Rotation, OAuthError> {
    let mut flow = Refresh::new(request);
    let mut input = Input::None;
    let mut authenticated = Some(authenticated);
    let mut client: Option<Arc<Client>> = None;
    let mut row: Option<RefreshTokenRow> = None;
    let mut decided: Option<Rotation> = None;
    let scope = request.params.get("scope").map(Cow::Borrowed);
    loop {
        input = match flow.advance(input) {
            // With Basic: the client named in it. Otherwise (co-authentication, after the
            // token was recovered): the client the token was issued to.
            Output::Unauthenticated {
                client: expected, ..
            } => {
                // Authenticated before the job was queued (`run`).
                let authenticated = authenticated.take().ok_or_else(|| {
                    OAuthError::unavailable(&"the refresh flow authenticated twice")
                })?;
                if authenticated.id != expected {
                    // RFC 6749 §6: "the refresh token was issued to the authenticated client".
                    return Err(OAuthError::invalid_grant(REFUSED));
                }
                client = Some(authenticated);
                Input::Authenticated {
                    scope: scope.clone(),
                }
            }
            Output::RecoverRefresh { token: presented } => {
                let found = recover(conn, presented, now)?;
                let grant = found
                    .as_ref()
                    .and_then(|r| to_grant(r, &ctx.settings.issuer))
                    .map(Box::new);
                row = found;
                Input::Recovered {
                    scope: scope.clone(),
                    grant,
                }
            }
            Output::Refresh { grant, .. } => {
                let (Some(client), Some(row)) = (client.take(), row.take()) else {
                    return Err(OAuthError::unavailable(
                        &"the refresh flow advanced out of order",
                    ));
                };
                decided = Some(rotate(conn, ctx, request.params, client, row, &grant, now)?);
                // oxide-auth only packages this; the tokens are minted by `respond`,
                // after the commit.
                Input::Refreshed(RefreshedToken {
                    token: String::new(),
                    refresh: None,
                    until: DateTime::<Utc>::from_timestamp(now, 0)
                        .unwrap_or(DateTime::<Utc>::MIN_UTC),
                    token_type: TokenType::Bearer,
                })
            }
            Output::Ok(_) => {
                return decided
                    .take()
                    .ok_or_else(|| OAuthError::unavailable(&"no rotation"))
            }
            Output::Err(e) => return Err(machine_error(e)),
        };
    }
}

/// The grant end to end, as `/token` runs it: `exchange` in a write transaction (on
/// SQLite, grouped with the other rotations queued: `store::writer`), then `respond`
/// once it has committed — on the calling worker for ES256, on the blocking pool when
/// an RSA signature is due.
pub async fn run(
    db: &Db,
    ctx: TokenContext,
    params: Params,
    presented: Presented,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    // Before anything is queued for the writer (#11 item 12): a token that cannot be one
    // of ours, and a client that does not authenticate, are refused here.
    match params.get("refresh_token") {
        None => return Err(OAuthError::invalid_request("refresh_token is required")),
        Some(t) if !token::looks_like_secret(t) => return Err(OAuthError::invalid_grant(REFUSED)),
        Some(_) => {}
    }
    let client =
        client_auth::authenticate_first(db, &ctx.registry, &ctx.master, &presented).await?;
    let job_ctx = ctx.clone();
    let replay_client = client.clone();
    let mut rotation = db
        .write(move |conn| {
            let request = RefreshRequest {
                params: &params,
                presented: &presented,
            };
            exchange(conn, &job_ctx, &request, client, now)
        })
        .await?;
    if let Rotation::Replayed(row) = rotation {
        // Not in the transaction that found the token rotated: on PostgreSQL, an UPDATE
        // that waited for a concurrent rotation keeps a lock on the row it then skipped,
        // and revoking the family while holding it deadlocks with another replay's
        // revocation (grant first, then the family's tokens).
        let job_ctx = ctx.clone();
        rotation = db
            .write(move |conn| reused(conn, &job_ctx, &row, replay_client, now))
            .await?;
    }
    if !rotation.signs_with_rsa() {
        return respond(&ctx, rotation);
    }
    tokio::task::spawn_blocking(move || respond(&ctx, rotation))
        .await
        .map_err(|e| OAuthError::unavailable(&e))?
}

/// The answer to a refresh whose transaction has committed.
fn respond(ctx: &TokenContext, rotation: Rotation) -> Result<TokenResponse, OAuthError> {
    match rotation {
        Rotation::Rotated(r) => {
            let who = Authorized::from_refresh_token(&r.row);
            let Successors {
                secret,
                scope,
                issue,
            } = r.successors;
            mint::tokens(ctx, &r.client, &who, &scope, issue, Some(secret))
        }
        // `run` has handed a replay to `reused`; refused either way.
        Rotation::Replayed(_) | Rotation::Reused => Err(OAuthError::invalid_grant(REFUSED)),
    }
}

/// oxide-auth's refusals: a missing token, a wider scope, a token of another client or
/// one that has expired.
fn machine_error(e: machine::Error) -> OAuthError {
    match e {
        machine::Error::Invalid(mut d) => match d.description().kind().as_ref() {
            "invalid_scope" => {
                OAuthError::new("invalid_scope", actix_web::http::StatusCode::BAD_REQUEST)
                    .describe("the scope may only be narrowed on refresh")
            }
            "invalid_grant" => OAuthError::invalid_grant(REFUSED),
            "unsupported_grant_type" => OAuthError::unsupported_grant_type(),
            _ => OAuthError::invalid_request("refresh_token is required"),
        },
        machine::Error::Unauthorized(..) => OAuthError::invalid_client(false),
        machine::Error::Primitive => OAuthError::unavailable(&"the refresh flow failed"),
    }
}

/// The row behind a presented token: unknown, revoked and expired tokens, and those of
/// a revoked grant or a disabled user, are `None`; rotated ones are returned, so that
/// their reuse is seen (after client authentication).
fn recover(
    conn: &mut DbConnection,
    presented: &str,
    now: i64,
) -> Result<Option<RefreshTokenRow>, OAuthError> {
    let row = refresh_tokens::live_by_hash(conn, &token::sha256(presented.as_bytes()))?;
    Ok(row.filter(|r| {
        r.revoked_at.is_none()
            && r.absolute_expires_at > now
            && (r.rotated_at.is_some() || r.idle_expires_at > now)
    }))
}

/// The row as oxide-auth's grant; `None` (so `invalid_grant`) if its stored scope does
/// not parse, which no row written by this server has.
fn to_grant(row: &RefreshTokenRow, issuer: &str) -> Option<Grant> {
    let scope: Vec<String> = serde_json::from_str(&row.scope).ok()?;
    Some(Grant {
        owner_id: row.user_id.clone(),
        client_id: row.client_id.clone(),
        scope: scope.join(" ").parse().ok()?,
        // Refresh grants have no redirect URI; oxide-auth wants a URL.
        redirect_uri: issuer.parse().ok()?,
        until: DateTime::<Utc>::from_timestamp(
            row.idle_expires_at.min(row.absolute_expires_at),
            0,
        )?,
        extensions: Extensions::new(),
    })
}

/// Rotates `row` and records its successor, or handles a reuse; inside the caller's
/// transaction.
fn rotate(
    conn: &mut DbConnection,
    ctx: &TokenContext,
    params: &Params,
    client: Arc<Client>,
    row: RefreshTokenRow,
    grant: &Grant,
    now: i64,
) -> Result<Rotation, OAuthError> {
    // Narrowed scopes in the order first granted; lapsed scopes dropped.
    let original: Vec<String> =
        serde_json::from_str(&row.scope).map_err(|e| OAuthError::unavailable(&e))?;
    let narrowed: Vec<String> = original
        .iter()
        .filter(|s| grant.scope.iter().any(|g| g == s.as_str()))
        .cloned()
        .collect();
    let scope = ctx.settings.unexpired_scopes(&narrowed, row.auth_time, now);
    // RFC 8707 §2.2: a `resource` among the grant's; refused before anything is written.
    let audience = resource::audience_for(
        params,
        &resource::list(&row.resources),
        &client,
        &ctx.settings.audience,
    )?;
    let used = Use {
        at: now,
        ip: ctx.origin.ip.as_deref(),
        user_agent: ctx.origin.user_agent.as_deref(),
    };
    // The grant was live when the row was recovered, in this transaction.
    if row.rotated_at.is_some() || !refresh_tokens::rotate(conn, &row.id, &used)? {
        // Rotated by an earlier request, or by a concurrent one (another instance).
        return Ok(Rotation::Replayed(Box::new(row)));
    }
    let who = Authorized::from_refresh_token(&row);
    // The successor keeps the original scope (RFC 6749 §6: a narrower request narrows
    // the access token only).
    let (secret, successor) = mint::refresh_token(
        ctx,
        &client,
        &who,
        &row.scope,
        mint::Origin::Rotation(&row),
        now,
    );
    refresh_tokens::insert(conn, &successor)?;
    let successors = Successors {
        secret,
        scope,
        issue: mint::Issue::new(audience, now),
    };
    if ctx.settings.refresh_reuse_grace > 0 {
        // A retry within the window must find the same successors: sealed (AES-GCM, a few
        // microseconds) and stored in this transaction. Nothing is signed here: the
        // write lock is never held for a signature.
        let json = serde_json::to_vec(&successors).expect("successors serialise");
        refresh_tokens::set_grace_response(
            conn,
            &row.id,
            &ctx.master.seal(row.id.as_bytes(), &json),
        )?;
    }
    Ok(Rotation::Rotated(Box::new(Rotated {
        client,
        row,
        successors,
    })))
}

/// A rotated token came back: the same successors within the grace period (the
/// immediately preceding token only), else the family is revoked.
fn reused(
    conn: &mut DbConnection,
    ctx: &TokenContext,
    row: &RefreshTokenRow,
    client: Arc<Client>,
    now: i64,
) -> Result<Rotation, OAuthError> {
    let fresh = refresh_tokens::by_hash(conn, &row.token_hash)?;
    if let Some(fresh) = fresh.filter(|f| f.revoked_at.is_none()) {
        let in_grace = fresh
            .rotated_at
            .is_some_and(|t| now - t <= ctx.settings.refresh_reuse_grace);
        let successor_current = refresh_tokens::child_of(conn, &fresh.id)?
            .is_some_and(|c| c.rotated_at.is_none() && c.revoked_at.is_none());
        if in_grace && successor_current {
            let sealed = fresh
                .grace_response
                .as_deref()
                .and_then(|sealed| ctx.master.open(fresh.id.as_bytes(), sealed).ok())
                .and_then(|json| serde_json::from_slice::<Successors>(&json).ok());
            if let Some(successors) = sealed {
                // The same successors, signed again after this commit: the same refresh
                // token, an access token with the same claims (`jti`, `iat`).
                return Ok(Rotation::Rotated(Box::new(Rotated {
                    client,
                    row: fresh,
                    successors,
                })));
            }
        }
    }
    let owner = Owner {
        user_id: Some(&row.user_id),
        client_id: Some(&row.client_id),
    };
    revocation::grant(conn, &row.family_id, Cause::RefreshReused, owner, now)?;
    tracing::warn!(client_id = %row.client_id, "a rotated refresh token was used again: its family is revoked");
    Ok(Rotation::Reused)
}
