//! `grant_type=client_credentials` (RFC 6749 §4.4): a confidential client asks for a token
//! for itself, driven through oxide-auth's sans-IO `code_grant::client_credentials` state
//! machine (authenticate, bind, extend, negotiate). No refresh token (§4.4.3), no ID
//! token. The token's `sub` is `client:<client_id>` (RFC 9068 §2.2): user ids never
//! contain `:`, so no client can pass for a user (RFC 9700 §4.15, checklist §1.32).

use std::borrow::Cow;
use std::sync::Arc;

use oxide_auth::code_grant::client_credentials::{
    self as machine, ClientCredentials, Input, Output,
};
use oxide_auth::primitives::grant::Extensions;
use oxide_auth::primitives::registrar::{BoundClient, PreGrant, RegisteredUrl};

use super::{TokenContext, TokenResponse};
use crate::crypto::token;
use crate::oauth::client::{self as clients, Client, GrantType};
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::issuer::{self, AccessTokenClaims};
use crate::oauth::params::Params;
use crate::oauth::{resource, scope, OAuthError};
use crate::store::DbConnection;

/// The prefix of a client's subject in its own tokens.
pub const SUBJECT_PREFIX: &str = "client:";

pub struct ClientCredentialsRequest<'a> {
    pub params: &'a Params,
    pub presented: &'a Presented,
}

impl machine::Request for ClientCredentialsRequest<'_> {
    fn valid(&self) -> bool {
        true
    }
    fn authorization(&self) -> Option<(Cow<'_, str>, Cow<'_, [u8]>)> {
        match self.presented {
            Presented::Basic { client_id, secret } => {
                Some((Cow::Borrowed(client_id), Cow::Borrowed(secret.as_bytes())))
            }
            // oxide-auth wants a name and a passphrase; the assertion was verified before
            // the grant ran, and `client_auth::check` is what decides (`Authenticate`).
            Presented::Asserted { client_id } => {
                Some((Cow::Borrowed(client_id), Cow::Borrowed(b"")))
            }
            _ => None,
        }
    }
    fn scope(&self) -> Option<Cow<'_, str>> {
        self.params.get("scope").map(Cow::Borrowed)
    }
    fn grant_type(&self) -> Option<Cow<'_, str>> {
        self.params.get("grant_type").map(Cow::Borrowed)
    }
    fn extension(&self, key: &str) -> Option<Cow<'_, str>> {
        match (key, self.presented) {
            ("client_id", Presented::Post { client_id, .. }) => Some(Cow::Borrowed(client_id)),
            ("client_secret", Presented::Post { secret, .. }) => Some(Cow::Borrowed(secret)),
            ("client_id" | "client_secret", _) => None,
            _ => self.params.get(key).map(Cow::Borrowed),
        }
    }
    fn allow_credentials_in_body(&self) -> bool {
        matches!(self.presented, Presented::Post { .. })
    }
}

/// Issues a token to the client. `found` is the row for the presented client id, from
/// the database or the in-memory registry (the only grant that can run without the
/// database: with an ES256 client it is cheap enough for an actix worker).
#[tracing::instrument(skip_all, fields(client_id = request.presented.client_id()))]
pub fn exchange(
    found: Option<Arc<Client>>,
    ctx: &TokenContext,
    request: &ClientCredentialsRequest<'_>,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let mut found = found;
    // §4.4: confidential clients only; a public client has nothing to authenticate with.
    if matches!(request.presented, Presented::Public { .. }) {
        return Err(request.presented.refused());
    }
    let mut flow = ClientCredentials::new(request);
    let mut input = Input::None;
    let mut client: Option<Arc<Client>> = None;
    let mut granted: Vec<String> = Vec::new();
    loop {
        input = match flow.advance(input) {
            Output::Authenticate { .. } => {
                let authenticated =
                    client_auth::check(&ctx.master, found.take(), request.presented)?;
                if !authenticated.allows(GrantType::ClientCredentials) {
                    return Err(OAuthError::new(
                        "unauthorized_client",
                        actix_web::http::StatusCode::BAD_REQUEST,
                    )
                    .describe("this client may not use client_credentials"));
                }
                client = Some(authenticated);
                Input::Authenticated
            }
            Output::Binding { client_id } => Input::Bound {
                bound_client: BoundClient {
                    client_id: Cow::Owned(client_id.to_owned()),
                    // No redirect in this grant; oxide-auth wants one and never follows it.
                    redirect_uri: Cow::Owned(RegisteredUrl::Semantic(
                        ctx.settings
                            .issuer
                            .parse()
                            .map_err(|e| OAuthError::unavailable(&e))?,
                    )),
                },
            },
            Output::Extend => Input::Extended {
                extensions: Extensions::new(),
            },
            Output::Negotiate { bound_client, .. } => {
                let client = client
                    .as_ref()
                    .ok_or_else(|| OAuthError::unavailable(&"out of order"))?;
                granted = negotiate(request.params.get("scope"), client)?;
                Input::Negotiated {
                    pre_grant: PreGrant {
                        client_id: bound_client.client_id.to_string(),
                        redirect_uri: bound_client.redirect_uri.as_ref().clone(),
                        scope: granted
                            .join(" ")
                            .parse()
                            .map_err(|_| invalid_scope("malformed scope"))?,
                    },
                }
            }
            Output::Ok { .. } => {
                let client = client
                    .as_ref()
                    .ok_or_else(|| OAuthError::unavailable(&"out of order"))?;
                // RFC 8707 §2.2: one of the client's resources, or its default audience.
                let audience =
                    resource::audience_for(request.params, &[], client, &ctx.settings.audience)?;
                return issue(ctx, client, &granted, audience, now);
            }
            Output::Err(e) => return Err(machine_error(*e)),
        };
    }
}

/// [`exchange`] with the client read from the database.
pub fn exchange_stored(
    conn: &mut DbConnection,
    ctx: &TokenContext,
    request: &ClientCredentialsRequest<'_>,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let found = clients::get(conn, request.presented.client_id())?;
    exchange(found, ctx, request, now)
}

/// [`exchange`] for `client`, from the in-memory registry (found current), when it signs
/// with ES256: an HMAC and one ES256 signature (~30 µs), cheap enough for an actix
/// worker — no RSA signature. `None` sends the request to [`exchange_stored`] (RS256
/// client, or credentials the registry refuses).
pub fn from_registry(
    client: Arc<Client>,
    ctx: &TokenContext,
    request: &ClientCredentialsRequest<'_>,
    now: i64,
) -> Option<Result<TokenResponse, OAuthError>> {
    // No ID token in this grant: only the access token's algorithm counts.
    if super::mint::signs_with_rsa(&client, &[]) {
        return None;
    }
    match exchange(Some(client), ctx, request, now) {
        Err(e) if e.error == "invalid_client" => None,
        other => Some(other),
    }
}

fn machine_error(e: machine::Error) -> OAuthError {
    match e {
        machine::Error::Invalid(mut d) => match d.description().kind().as_ref() {
            "unsupported_grant_type" => OAuthError::unsupported_grant_type(),
            _ => OAuthError::invalid_request("the request is malformed"),
        },
        machine::Error::Unauthorized(..) => OAuthError::invalid_client(false),
        machine::Error::Ignore | machine::Error::Primitive(_) => {
            OAuthError::unavailable(&"the client_credentials flow failed")
        }
    }
}

fn invalid_scope(description: &str) -> OAuthError {
    OAuthError::new("invalid_scope", actix_web::http::StatusCode::BAD_REQUEST).describe(description)
}

/// The scopes asked for — each registered for the client and none of the scopes that
/// describe a person — or, when none are asked for, every such scope it has (§3.3).
fn negotiate(requested: Option<&str>, client: &Client) -> Result<Vec<String>, OAuthError> {
    let allowed: Vec<String> = client
        .scopes
        .iter()
        .filter(|s| !scope::STANDARD.contains(&s.as_str()))
        .cloned()
        .collect();
    let Some(requested) = requested else {
        return Ok(allowed);
    };
    let mut granted: Vec<String> = Vec::new();
    for s in requested.split(' ').filter(|s| !s.is_empty()) {
        if !allowed.iter().any(|a| a == s) {
            return Err(invalid_scope(
                "a requested scope is not allowed for this client",
            ));
        }
        if !granted.iter().any(|g| g == s) {
            granted.push(s.to_owned());
        }
    }
    Ok(granted)
}

fn issue(
    ctx: &TokenContext,
    client: &Client,
    scope: &[String],
    audience: String,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let s = &ctx.settings;
    let ttl = client.access_token_ttl.unwrap_or(s.access_token_ttl);
    let alg = client.access_token_signed_response_alg;
    let access_token = issuer::mint(
        &ctx.keys,
        alg,
        &AccessTokenClaims {
            iss: s.issuer.clone(),
            sub: format!("{SUBJECT_PREFIX}{}", client.id),
            aud: audience,
            exp: now + ttl,
            iat: now,
            jti: token::random_id(),
            client_id: client.id.clone(),
            scope: scope.join(" "),
            auth_time: None,
            acr: None,
            amr: Vec::new(),
            sid: None,
            grant_id: None,
        },
        now,
    )
    .map_err(|e| OAuthError::unavailable(&e))?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ttl,
        scope: scope.join(" "),
        refresh_token: None,
        id_token: None,
    })
}
