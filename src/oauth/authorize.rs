//! The authorization request (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1), validated
//! through oxide-auth's sans-IO `code_grant::authorization` state machine: it asks us to
//! bind the client (`Bind`), extend the request (`Extend`: PKCE and the OpenID
//! parameters, which oxide-auth does not know) and negotiate the scope (`Negotiate`).
//! Every question is answered from the client row already in memory, so the machine
//! runs without I/O.
//!
//! RFC 6749 §4.1.2.1: until `client_id` and `redirect_uri` are validated, errors are
//! shown to the person and never redirected (no open redirector, checklist §1.2); after
//! that they go back to the client.

use std::borrow::Cow;

use oxide_auth::code_grant::authorization::{self as machine, Authorization, Input, Output};
use oxide_auth::primitives::grant::Extensions;
use oxide_auth::primitives::registrar::{BoundClient, ExactUrl, PreGrant, RegisteredUrl};
use serde::{Deserialize, Serialize};

use super::params::{has_control, Params};
use super::{pkce, redirect};
use crate::oauth::client::Client;
use crate::oidc::request::{self as oidc, OidcParams};

/// Checklist §3 limits.
const MAX_STATE: usize = 2048;
const MAX_SCOPE: usize = 1024;

/// RFC 6749 §4.1.2 and OAuth 2.0 Form Post Response Mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// A validated authorization request: what the rest of the flow (sign-in, consent, the
/// code) works from. Stored as JSON while the person signs in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    /// In the order requested, without duplicates.
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    /// RFC 8707 §2.1: the resources the grant is for (none: the client's default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<String>,
    #[serde(flatten)]
    pub oidc: OidcParams,
}

/// Where an error response goes once the client and its redirect URI are known.
#[derive(Debug, Clone)]
pub struct ClientRedirect {
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
}

/// Why a request is refused.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// Shown to the person; never redirected.
    Page(&'static str),
    /// Sent back to the client: RFC 6749 §4.1.2.1 `error` and `error_description`.
    Redirect {
        to: ClientRedirect,
        error: &'static str,
        description: String,
    },
}

impl ClientRedirect {
    pub fn refuse(&self, error: &'static str, description: impl Into<String>) -> Refusal {
        Refusal::Redirect {
            to: self.clone(),
            error,
            description: description.into(),
        }
    }
}

impl AuthorizationRequest {
    pub fn client_redirect(&self) -> ClientRedirect {
        ClientRedirect {
            redirect_uri: self.redirect_uri.clone(),
            response_mode: self.response_mode,
            state: self.state.clone(),
        }
    }
}

/// The client and redirect URI of a request, checked before anything may be redirected.
/// `client` is the row for `client_id`, when there is one.
pub fn bind(params: &Params, client: Option<&Client>) -> Result<ClientRedirect, Refusal> {
    for name in ["client_id", "redirect_uri"] {
        if params.is_duplicate(name) {
            // RFC 6749 §3.1: parameters MUST NOT be included more than once.
            return Err(Refusal::Page(
                "The request names its application or return address more than once.",
            ));
        }
        if params.is_malformed(name) || params.get(name).is_some_and(has_control) {
            return Err(Refusal::Page("The request is malformed."));
        }
    }
    let client = client.ok_or(Refusal::Page(
        "The application that sent you here is not registered with this server.",
    ))?;
    // OpenID Connect Core §3.1.2.1: redirect_uri is REQUIRED.
    let requested = params.get("redirect_uri").ok_or(Refusal::Page(
        "The request does not say where to return; the application must send redirect_uri.",
    ))?;
    if !redirect::is_registered(&client.redirect_uris, requested) {
        return Err(Refusal::Page(
            "The return address in this request is not registered for the application, so you were not sent back to it.",
        ));
    }
    let response_mode = match params.get("response_mode") {
        Some("form_post") => ResponseMode::FormPost,
        _ => ResponseMode::Query,
    };
    let state = params
        .get("state")
        .filter(|s| s.len() <= MAX_STATE && !has_control(s) && !params.is_duplicate("state"))
        .map(str::to_owned);
    Ok(ClientRedirect {
        redirect_uri: requested.to_owned(),
        response_mode,
        state,
    })
}

/// Validates a whole request for `client` (see [`bind`] for the first part).
pub fn validate(params: &Params, client: Option<&Client>) -> Result<AuthorizationRequest, Refusal> {
    let to = bind(params, client)?;
    let client = client.expect("bind checked the client");
    if let Some(description) = params.duplicate_description() {
        return Err(to.refuse("invalid_request", description));
    }
    // Checklist §3.1: broken encoding in any other parameter goes back as invalid_request.
    if params.any_malformed() {
        return Err(to.refuse(
            "invalid_request",
            "a parameter is not valid UTF-8 or percent-encoding",
        ));
    }
    if params
        .get("state")
        .is_some_and(|s| s.len() > MAX_STATE || has_control(s))
    {
        return Err(to.refuse("invalid_request", "state is too long or malformed"));
    }
    // OpenID Connect Core §6: request objects are not supported, and must not be ignored.
    if params.get("request").is_some() {
        return Err(to.refuse("request_not_supported", "request objects are not supported"));
    }
    if params.get("request_uri").is_some() {
        return Err(to.refuse("request_uri_not_supported", "request_uri is not supported"));
    }
    if !matches!(
        params.get("response_mode"),
        None | Some("query" | "form_post")
    ) {
        return Err(to.refuse(
            "invalid_request",
            "response_mode must be query or form_post",
        ));
    }
    run_machine(params, client, &to)
}

/// Our side of oxide-auth's `Request`: the parameters as decoded.
struct Incoming<'a>(&'a Params);

impl machine::Request for Incoming<'_> {
    fn valid(&self) -> bool {
        true
    }
    fn client_id(&self) -> Option<Cow<'_, str>> {
        self.0.get("client_id").map(Cow::Borrowed)
    }
    fn scope(&self) -> Option<Cow<'_, str>> {
        self.0.get("scope").map(Cow::Borrowed)
    }
    fn redirect_uri(&self) -> Option<Cow<'_, str>> {
        self.0.get("redirect_uri").map(Cow::Borrowed)
    }
    fn state(&self) -> Option<Cow<'_, str>> {
        self.0.get("state").map(Cow::Borrowed)
    }
    fn response_type(&self) -> Option<Cow<'_, str>> {
        self.0.get("response_type").map(Cow::Borrowed)
    }
    fn extension(&self, key: &str) -> Option<Cow<'_, str>> {
        self.0.get(key).map(Cow::Borrowed)
    }
}

fn run_machine(
    params: &Params,
    client: &Client,
    to: &ClientRedirect,
) -> Result<AuthorizationRequest, Refusal> {
    let incoming = Incoming(params);
    let mut flow = Authorization::new(&incoming);
    let mut input = Input::None;
    let mut extra: Option<(Option<String>, Vec<String>, OidcParams)> = None;
    let mut scope: Vec<String> = Vec::new();
    loop {
        let next = match flow.advance(input) {
            Output::Bind { redirect_uri, .. } => {
                // `bind` matched the URI exactly; it is what the client gets back.
                let exact = redirect_uri
                    .map(|u| u.as_str().to_owned())
                    .and_then(|u| ExactUrl::new(u).ok())
                    .ok_or(Refusal::Page(
                        "The return address in this request is not a valid URL.",
                    ))?;
                Input::Bound {
                    request: &incoming,
                    bound_client: BoundClient {
                        client_id: Cow::Owned(client.id.clone()),
                        redirect_uri: Cow::Owned(RegisteredUrl::Exact(exact)),
                    },
                }
            }
            Output::Extend => {
                let challenge = pkce::challenge(
                    params.get("code_challenge"),
                    params.get("code_challenge_method"),
                    client.require_pkce,
                )
                .map_err(|d| to.refuse("invalid_request", d))?;
                let oidc = oidc::parse(params).map_err(|d| to.refuse("invalid_request", d))?;
                let resource = super::resource::requested(params, client)
                    .map_err(|d| to.refuse("invalid_target", d))?;
                extra = Some((challenge, resource, oidc));
                Input::Extended(Extensions::new())
            }
            Output::Negotiate { bound_client, .. } => {
                scope = negotiate(params.get("scope"), client)
                    .map_err(|d| to.refuse("invalid_scope", d))?;
                let parsed = scope
                    .join(" ")
                    .parse()
                    .map_err(|_| to.refuse("invalid_scope", "malformed scope"))?;
                Input::Negotiated {
                    pre_grant: PreGrant {
                        client_id: bound_client.client_id.to_string(),
                        redirect_uri: bound_client.redirect_uri.as_ref().clone(),
                        scope: parsed,
                    },
                    state: to.state.clone(),
                }
            }
            Output::Ok { .. } => {
                let (code_challenge, resource, oidc) = extra
                    .take()
                    .ok_or(Refusal::Page("The request could not be processed."))?;
                return Ok(AuthorizationRequest {
                    client_id: client.id.clone(),
                    redirect_uri: to.redirect_uri.clone(),
                    response_mode: to.response_mode,
                    scope,
                    state: to.state.clone(),
                    code_challenge,
                    resource,
                    oidc,
                });
            }
            Output::Err(machine::Error::Redirect(mut e)) => {
                // oxide-auth checked response_type (only `code`) or the scope syntax.
                let kind = e.description().kind();
                let error: &'static str = match kind.as_ref() {
                    "unsupported_response_type" => "unsupported_response_type",
                    "invalid_scope" => "invalid_scope",
                    _ => "invalid_request",
                };
                return Err(to.refuse(
                    error,
                    match error {
                        "unsupported_response_type" => "only response_type=code is supported",
                        "invalid_scope" => "malformed scope",
                        _ => "the request is invalid",
                    },
                ));
            }
            Output::Err(_) => return Err(Refusal::Page("The request could not be processed.")),
        };
        input = next;
    }
}

/// RFC 6749 §3.3: the requested scopes, each one the client may ask for. `openid`
/// marks an OpenID Connect request; `offline_access` is dropped for clients that cannot
/// use refresh tokens (OpenID Connect Core §11).
fn negotiate(requested: Option<&str>, client: &Client) -> Result<Vec<String>, String> {
    let requested = requested.ok_or("scope is required")?;
    if requested.len() > MAX_SCOPE {
        return Err("scope is too long".into());
    }
    let allowed = &client.scopes;
    let refreshable = client.allows(super::client::GrantType::RefreshToken);
    let mut scope: Vec<String> = Vec::new();
    for token in requested.split(' ').filter(|s| !s.is_empty()) {
        if !super::scope::is_scope_token(token) {
            return Err("malformed scope".into());
        }
        if !allowed.iter().any(|a| a == token) {
            return Err(format!("the scope {token} is not allowed for this client"));
        }
        if token == "offline_access" && !refreshable {
            continue;
        }
        if !scope.iter().any(|s| s == token) {
            scope.push(token.to_owned());
        }
    }
    if scope.is_empty() {
        return Err("scope is required".into());
    }
    Ok(scope)
}
