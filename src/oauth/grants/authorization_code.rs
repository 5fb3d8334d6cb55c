//! `grant_type=authorization_code` (RFC 6749 §4.1.3–4.1.4, RFC 7636 §4.5–4.6, OpenID
//! Connect Core §3.1.3), driven through oxide-auth's sans-IO `code_grant::accesstoken`
//! state machine. It asks us to authenticate the client (`Authenticate`), recover the
//! grant behind the code (`Recover`), extend it (`Extend`: our PKCE check) and issue
//! (`Issue`); it checks the client, redirect URI and expiry of what we recovered. Each
//! question is answered on the one blocking-pool connection the handler lent us; the
//! OpenID layer (the ID token) is added to the response here, since oxide-auth's
//! response has no such field.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use oxide_auth::code_grant::accesstoken::{
    self as machine, AccessToken, Authorization, Input, Output,
};
use oxide_auth::primitives::grant::{Extensions, Grant};
use oxide_auth::primitives::issuer::{IssuedToken, TokenType};

use super::mint::{self, Authorized};
use super::{TokenContext, TokenResponse};
use crate::crypto::token;
use crate::oauth::client::Client;
use crate::oauth::client::GrantType;
use crate::oauth::client_auth::{self, AuthError, Presented};
use crate::oauth::params::Params;
use crate::oauth::resource;
use crate::oauth::{pkce, OAuthError};
use crate::people::sessions::Client as Browser;
use crate::revocation::{self, Cause, Owner};
use crate::store::authorization_codes::{self as codes, CodeRow};
use crate::store::refresh_tokens;
use crate::store::{self, grants, DbConnection, StoreError};

/// A token request for this grant, parsed by the handler.
pub struct CodeRequest<'a> {
    pub params: &'a Params,
    pub presented: &'a Presented,
}

impl machine::Request for CodeRequest<'_> {
    fn valid(&self) -> bool {
        true
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        self.params.get("code").map(Cow::Borrowed)
    }
    fn authorization(&self) -> Authorization<'_> {
        match self.presented {
            Presented::Basic { client_id, secret } => Authorization::UsernamePassword(
                Cow::Borrowed(client_id),
                Cow::Borrowed(secret.as_bytes()),
            ),
            _ => Authorization::None,
        }
    }
    fn client_id(&self) -> Option<Cow<'_, str>> {
        match self.presented {
            Presented::Basic { .. } => None,
            other => Some(Cow::Borrowed(other.client_id())),
        }
    }
    fn redirect_uri(&self) -> Option<Cow<'_, str>> {
        self.params.get("redirect_uri").map(Cow::Borrowed)
    }
    fn grant_type(&self) -> Option<Cow<'_, str>> {
        self.params.get("grant_type").map(Cow::Borrowed)
    }
    fn extension(&self, key: &str) -> Option<Cow<'_, str>> {
        match (key, self.presented) {
            ("client_secret", Presented::Post { secret, .. }) => Some(Cow::Borrowed(secret)),
            ("client_secret", _) => None,
            _ => self.params.get(key).map(Cow::Borrowed),
        }
    }
    fn allow_credentials_in_body(&self) -> bool {
        matches!(self.presented, Presented::Post { .. })
    }
}

impl From<AuthError> for OAuthError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Refused(e) => e,
            AuthError::Store(e) => e.into(),
        }
    }
}

/// Exchanges a code for tokens. Errors are RFC 6749 §5.2 answers.
///
/// Three steps, so that nothing but the code's own bookkeeping holds a lock (#11 item
/// 12): first, on the pooled connection, the client is authenticated and the code looked
/// up — an unknown client, a code that does not exist, or one issued to another client
/// or redirect URI is refused without starting a transaction. Then one transaction from
/// consuming the code to recording what is issued: a concurrent redemption waits for it
/// (PostgreSQL row lock, SQLite write lock), then finds the code used and revokes what
/// this one issued — so of many parallel redemptions exactly one gets tokens, and they
/// are revoked by the replays. A refusal after the code was consumed still commits: the
/// code stays burned (checklist §3.2). Last, after the commit, the signatures.
#[tracing::instrument(skip_all, fields(client_id = request.presented.client_id()))]
pub fn exchange(
    conn: &mut DbConnection,
    ctx: &TokenContext,
    request: &CodeRequest<'_>,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let client = client_auth::authenticate(conn, &ctx.registry, &ctx.master, request.presented)?;
    let audience = could_be_theirs(conn, request, &client, &ctx.settings.audience)?;
    let issued = store::transaction(conn, |conn| {
        Ok::<_, StoreError>(run(conn, ctx, request, &client, now))
    })??;
    let code = &issued.code;
    let who = signed_in(code);
    let scope = ctx
        .settings
        .unexpired_scopes(&issued.scope, code.auth_time, now);
    let issue = mint::Issue::new(audience, now);
    mint::tokens(ctx, &client, &who, &scope, issue, issued.refresh_token)
}

/// The parameters this grant needs, and a code that exists for this client and
/// redirect URI: checked on a read before the transaction (and again inside it). The
/// answer is the access token's audience (RFC 8707 §2.2: a `resource` among those the
/// authorization named); a refused `resource` leaves the code unused.
fn could_be_theirs(
    conn: &mut DbConnection,
    request: &CodeRequest<'_>,
    client: &Client,
    server_audience: &str,
) -> Result<String, OAuthError> {
    let (Some(code), Some(redirect_uri)) = (
        request.params.get("code"),
        request.params.get("redirect_uri"),
    ) else {
        return Err(OAuthError::invalid_request(
            "code and redirect_uri are required",
        ));
    };
    match codes::get(conn, &token::sha256(code.as_bytes()))? {
        Some(row) if row.client_id == client.id && row.redirect_uri == redirect_uri => {
            resource::audience_for(
                request.params,
                &resource::list(&row.resources),
                client,
                server_audience,
            )
        }
        _ => Err(refused()),
    }
}

/// The sign-in a code carries to its tokens.
fn signed_in(code: &CodeRow) -> Authorized<'_> {
    Authorized {
        user_id: &code.user_id,
        session_id: code.session_id.as_deref(),
        grant_id: &code.grant_id,
        auth_time: code.auth_time,
        acr: code.acr.as_deref(),
        amr: mint::amr_list(code.amr.as_deref()),
        nonce: code.nonce.as_deref(),
        resources: resource::list(&code.resources),
    }
}

/// What the transaction recorded; the tokens are signed from it after the commit.
struct Issued {
    code: CodeRow,
    scope: Vec<String>,
    refresh_token: Option<String>,
}

fn run(
    conn: &mut DbConnection,
    ctx: &TokenContext,
    request: &CodeRequest<'_>,
    client: &Client,
    now: i64,
) -> Result<Issued, OAuthError> {
    let mut flow = AccessToken::new(request);
    let mut input = Input::None;
    let mut code: Option<CodeRow> = None;
    let mut issued: Option<Issued> = None;
    loop {
        input = match flow.advance(input) {
            // Authenticated before the transaction began.
            Output::Authenticate { .. } => Input::Authenticated,
            Output::Recover { code: presented } => {
                let row = redeem(
                    conn,
                    presented,
                    client,
                    request.params.get("redirect_uri"),
                    now,
                )?;
                let grant = to_grant(&row)?;
                code = Some(row);
                Input::Recovered(Some(Box::new(grant)))
            }
            Output::Extend { .. } => {
                let row = code.as_ref().ok_or_else(out_of_order)?;
                check_verifier(row, request.params.get("code_verifier"))?;
                Input::Extended {
                    access_extensions: Extensions::new(),
                }
            }
            Output::Issue { .. } => {
                let row = code.take().ok_or_else(out_of_order)?;
                let recorded = issue(conn, ctx, client, row, now)?;
                // oxide-auth only packages this; the tokens are minted after the commit.
                let token = IssuedToken {
                    token: String::new(),
                    refresh: None,
                    until: time(now),
                    token_type: TokenType::Bearer,
                };
                issued = Some(recorded);
                Input::Issued(token)
            }
            Output::Ok(_) => return issued.take().ok_or_else(out_of_order),
            Output::Err(mut e) => return Err(machine_error(&mut e)),
        };
    }
}

fn refused() -> OAuthError {
    OAuthError::invalid_grant("the code is invalid, expired or already used")
}

fn out_of_order() -> OAuthError {
    OAuthError::unavailable(&"the token flow advanced out of order")
}

fn time(unix: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// oxide-auth's own refusals: a missing parameter, a grant type it does not handle, or a
/// recovered grant whose client, redirect URI or lifetime does not match.
fn machine_error(e: &mut machine::Error) -> OAuthError {
    let kind = e.description().map(|d| d.kind().as_ref().to_owned());
    match kind.as_deref() {
        Some("invalid_grant") => {
            OAuthError::invalid_grant("the code is invalid, expired or already used")
        }
        Some("unsupported_grant_type") => OAuthError::unsupported_grant_type(),
        Some("invalid_client") => OAuthError::invalid_client(false),
        Some(_) => OAuthError::invalid_request("code and redirect_uri are required"),
        None => out_of_order(),
    }
}

/// Checks the code belongs to this client and redirect URI, then marks it used (once,
/// atomically). A code presented again by its own client revokes its grant: every token
/// issued from it (RFC 6749 §4.1.2, §10.5; RFC 9700 §4.2.4). Every refusal is the same
/// plain `invalid_grant`, so the answer never tells a caller that a code is real.
fn redeem(
    conn: &mut DbConnection,
    presented: &str,
    client: &Client,
    redirect_uri: Option<&str>,
    now: i64,
) -> Result<CodeRow, OAuthError> {
    let hash = token::sha256(presented.as_bytes());
    let row = codes::get(conn, &hash)?.ok_or_else(refused)?;
    // RFC 6749 §4.1.3: "ensure that the authorization code was issued to the authenticated
    // confidential client", with a `redirect_uri` identical to the authorization
    // request's (compared as strings). Checked before the code is consumed, so whoever
    // holds another client's code can neither burn it nor revoke what it issued.
    if row.client_id != client.id || redirect_uri != Some(row.redirect_uri.as_str()) {
        return Err(refused());
    }
    if !codes::consume(conn, &hash, now)? {
        revoke_replayed(conn, &row, now)?;
        return Err(refused());
    }
    if row.expires_at <= now {
        return Err(refused());
    }
    Ok(row)
}

fn revoke_replayed(conn: &mut DbConnection, row: &CodeRow, now: i64) -> Result<(), StoreError> {
    let owner = Owner {
        user_id: Some(&row.user_id),
        client_id: Some(&row.client_id),
    };
    revocation::grant(conn, &row.grant_id, Cause::CodeReplayed, owner, now)?;
    tracing::warn!(client_id = %row.client_id, "authorization code used twice: its grant is revoked");
    Ok(())
}

fn to_grant(row: &CodeRow) -> Result<Grant, OAuthError> {
    let scope: Vec<String> =
        serde_json::from_str(&row.scope).map_err(|e| OAuthError::unavailable(&e))?;
    Ok(Grant {
        owner_id: row.user_id.clone(),
        client_id: row.client_id.clone(),
        scope: scope
            .join(" ")
            .parse()
            .map_err(|_| OAuthError::unavailable(&"stored scope"))?,
        redirect_uri: row
            .redirect_uri
            .parse()
            .map_err(|e| OAuthError::unavailable(&e))?,
        until: time(row.expires_at),
        extensions: Extensions::new(),
    })
}

/// RFC 7636 §4.6, and RFC 9700 §4.8.2: a verifier without a challenge is a downgrade.
fn check_verifier(row: &CodeRow, verifier: Option<&str>) -> Result<(), OAuthError> {
    let ok = match (&row.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) => pkce::verify(verifier, challenge),
        (None, None) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ))
    }
}

/// Records what the code's exchange issues: the grant extended, and a refresh token
/// when `offline_access` was granted. Inside the code's transaction; nothing is signed.
fn issue(
    conn: &mut DbConnection,
    ctx: &TokenContext,
    client: &Client,
    code: CodeRow,
    now: i64,
) -> Result<Issued, OAuthError> {
    let scope: Vec<String> =
        serde_json::from_str(&code.scope).map_err(|e| OAuthError::unavailable(&e))?;
    let who = signed_in(&code);
    let access_ttl = client
        .access_token_ttl
        .unwrap_or(ctx.settings.access_token_ttl);
    // OpenID Connect Core §11: offline_access (granted only after consent) and a client
    // allowed to refresh.
    let refreshable =
        scope.iter().any(|s| s == "offline_access") && client.allows(GrantType::RefreshToken);
    let refresh = if refreshable {
        // The device is the browser the person signed in with, not the client's backend.
        let browser = match &code.session_id {
            Some(id) => store::sessions::get(conn, id)?.map(|s| Browser {
                ip: s.ip,
                user_agent: s.user_agent,
            }),
            None => None,
        }
        .unwrap_or_else(|| ctx.origin.clone());
        Some(mint::refresh_token(
            ctx,
            client,
            &who,
            &code.scope,
            mint::Origin::SignIn(&browser),
            now,
        ))
    } else {
        None
    };
    let keep_until = refresh.as_ref().map_or(now + access_ttl, |(_, row)| {
        row.absolute_expires_at.max(now + access_ttl)
    });
    store::transaction(conn, |conn| {
        // The grant may have been revoked (replay, disabled user) since the code was made.
        if grants::live_user(conn, &code.grant_id)?.is_none() {
            return Err(OAuthError::invalid_grant("the authorization was revoked"));
        }
        grants::extend(conn, &code.grant_id, keep_until)?;
        if let Some((_, row)) = &refresh {
            refresh_tokens::insert(conn, row)?;
            mint::enforce_cap(conn, ctx, &client.id, &code.user_id, now)?;
        }
        Ok(())
    })?;
    Ok(Issued {
        code,
        scope,
        refresh_token: refresh.map(|(secret, _)| secret),
    })
}
