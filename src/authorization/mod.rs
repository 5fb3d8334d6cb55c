//! The person's side of the authorization code flow (OpenID Connect Core §3.1.2.3–3.1.2.5):
//! decide whether the person must sign in or consent, keep the request while they do
//! (bound to their browser), and issue the code.
//!
//! Every function runs on one pooled connection on the blocking pool; handlers map the
//! [`Outcome`] to a page or a redirect.

use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::crypto::token;
use crate::keys::KeySet;
use crate::oauth::authorize::{self, AuthorizationRequest, ClientRedirect, Refusal, ResponseMode};
use crate::oauth::client::{self as clients, Client};
use crate::oauth::params::{has_control, Params};
use crate::oidc::assurance::{self, Policy, Requirement, StepUp};
use crate::oidc::id_token;
use crate::people::mfa::totp;
use crate::people::sessions::{self, Session};
use crate::store::authorization_codes::{self as codes, CodeRow};
use crate::store::authorization_requests::{self as pending, AuthorizationRequestRow};
use crate::store::grants::{self, GrantRow};
use crate::store::login_throttle::{self, Limit};
use crate::store::{self, consents, DbConnection, StoreError};

mod consent;
pub use consent::{answer_consent, consent_view, ConsentView};

/// How long a person has to sign in and consent (Keycloak's default login timeout).
pub const REQUEST_TTL: i64 = 30 * 60;

/// What the flow needs of the configuration.
#[derive(Debug, Clone)]
pub struct Flow {
    pub code_ttl: i64,
    pub assurance: Policy,
}

/// What the browser brought: its session cookie and its binding cookie, and where it
/// came from (`http.trusted_proxies` decides).
pub struct Browser {
    pub session_secret: Option<String>,
    pub binding: String,
    pub address: Option<String>,
}

impl Browser {
    /// The live session behind the browser's cookie, if any.
    pub fn session(
        &self,
        conn: &mut DbConnection,
        now: i64,
    ) -> Result<Option<Session>, StoreError> {
        match &self.session_secret {
            Some(secret) => sessions::current(conn, secret, now),
            None => Ok(None),
        }
    }
}

/// The response that goes back to the client's redirect URI; `iss` is added by the
/// HTTP layer to every one (RFC 9207 §2).
#[derive(Debug, Clone)]
pub struct ClientResponse {
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub params: Vec<(&'static str, String)>,
}

#[derive(Debug)]
pub enum Outcome {
    /// An error shown to the person; nothing goes back to the client.
    Page(&'static str),
    Respond(ClientResponse),
    SignIn {
        request_id: String,
    },
    Consent {
        request_id: String,
    },
    /// Step-up: the person must type a code from their second factor.
    SecondFactor {
        request_id: String,
    },
    /// Step-up with enrolment: the person may set up a second factor now.
    Enrol {
        request_id: String,
    },
    /// Too many requests stored for this browser's address: try again in `retry_after`
    /// seconds (#11 item 8).
    TooMany {
        retry_after: i64,
    },
}

pub(crate) const EXPIRED: &str = "This sign-in request has expired or was started in another browser. Go back to the application and start again.";

impl From<Refusal> for Outcome {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Page(m) => Outcome::Page(m),
            Refusal::Redirect {
                to,
                error,
                description,
            } => error_response(&to, error, &description),
        }
    }
}

pub(crate) fn error_response(
    to: &ClientRedirect,
    error: &'static str,
    description: &str,
) -> Outcome {
    let mut params = vec![
        ("error", error.to_owned()),
        ("error_description", description.to_owned()),
    ];
    params.extend(to.state.clone().map(|s| ("state", s)));
    Outcome::Respond(ClientResponse {
        redirect_uri: to.redirect_uri.clone(),
        response_mode: to.response_mode,
        params,
    })
}

/// A new authorization request (GET or POST `/authorize`).
/// `pending` bounds the requests stored per address while their people sign in: every
/// request without a usable session is kept for [`REQUEST_TTL`], so without it anyone
/// could fill the disk with them.
#[tracing::instrument(skip_all)]
#[allow(clippy::too_many_arguments)]
pub fn begin(
    conn: &mut DbConnection,
    params: &Params,
    browser: &Browser,
    keys: &KeySet,
    issuer: &str,
    flow: &Flow,
    pending: Limit,
    now: i64,
) -> Result<Outcome, StoreError> {
    let client = match params.get("client_id") {
        Some(id) if !params.is_duplicate("client_id") && !has_control(id) => {
            clients::get(conn, id)?
        }
        _ => None,
    };
    let request = match authorize::validate(params, client.as_deref()) {
        Ok(r) => r,
        Err(refusal) => return Ok(refusal.into()),
    };
    let client = client.expect("validate checked the client");
    // §3.1.2.1: the hint names who the client expects; a hint we did not sign is an error.
    let hinted = match &request.oidc.id_token_hint {
        None => None,
        Some(hint) => match id_token::verify_hint(hint, keys, issuer, now) {
            Some(claims) => Some(claims.sub),
            None => {
                return Ok(error_response(
                    &request.client_redirect(),
                    "invalid_request",
                    "id_token_hint is not valid",
                ))
            }
        },
    };
    let session = browser.session(conn, now)?;
    let session = session.filter(|s| hinted.as_ref().is_none_or(|sub| *sub == s.user_id));
    proceed(
        conn,
        request,
        &client,
        session,
        Pending::New(pending),
        browser,
        flow,
        now,
    )
}

/// The stored request a decision is about, or the limit for storing a new one.
enum Pending<'a> {
    Stored(&'a AuthorizationRequestRow),
    New(Limit),
}

impl Pending<'_> {
    fn stored(&self) -> Option<&AuthorizationRequestRow> {
        match self {
            Pending::Stored(row) => Some(row),
            Pending::New(_) => None,
        }
    }
}

/// Back from sign-in or consent: continue the stored request.
pub fn resume(
    conn: &mut DbConnection,
    request_id: &str,
    browser: &Browser,
    flow: &Flow,
    now: i64,
) -> Result<Outcome, StoreError> {
    let Some((row, request, client)) = load(conn, request_id, browser, now)? else {
        return Ok(Outcome::Page(EXPIRED));
    };
    let session = browser.session(conn, now)?;
    proceed(
        conn,
        request,
        &client,
        session,
        Pending::Stored(&row),
        browser,
        flow,
        now,
    )
}

/// The request behind `request_id`, if it is live and belongs to this browser.
pub(crate) fn load(
    conn: &mut DbConnection,
    request_id: &str,
    browser: &Browser,
    now: i64,
) -> Result<Option<(AuthorizationRequestRow, AuthorizationRequest, Arc<Client>)>, StoreError> {
    let Some(row) = pending::get_live(conn, request_id, now)? else {
        return Ok(None);
    };
    let binding = token::sha256(browser.binding.as_bytes());
    if !bool::from(binding.ct_eq(&row.binding_hash)) {
        return Ok(None);
    }
    let request: AuthorizationRequest =
        serde_json::from_str(&row.request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let Some(client) = clients::get(conn, &row.client_id)? else {
        return Ok(None);
    };
    Ok(Some((row, request, client)))
}

/// What must happen next for this request.
enum Next {
    SignIn,
    SecondFactor,
    Enrol,
    Consent,
    Issue(Session),
    Fail(&'static str, &'static str),
}

/// What the person has done and has: the inputs of [`decide`] beyond the request.
struct Person<'a> {
    session: Option<Session>,
    consented: Option<&'a [String]>,
    /// What the assurance policy says of the session's level.
    step_up: StepUp,
}

fn decide(
    request: &AuthorizationRequest,
    client: &Client,
    person: Person<'_>,
    pending: Option<&AuthorizationRequestRow>,
    now: i64,
) -> Next {
    let Person {
        session,
        consented,
        step_up,
    } = person;
    let prompt = request.oidc.prompt;
    // Signed in during this very request: prompt=login and max_age=0 are met.
    let fresh = |s: &Session| pending.is_some_and(|p| s.auth_time >= p.created_at);
    let needs_sign_in = match &session {
        None => true,
        // §3.1.2.1 prompt=login; max_age: "the OP MUST attempt to actively re-authenticate"
        // when more time has passed (max_age=0 being prompt=login, so the same second is
        // not enough). Judged now, as the code is issued: a sign-in during this request
        // that has grown older than max_age (a long stay on the consent page) is not
        // enough either (#11 item 12).
        Some(s) => {
            let max_age = request.oidc.max_age;
            let too_old = max_age.is_some_and(|m| m > 0 && now - s.auth_time > m);
            too_old || (!fresh(s) && (prompt.login || max_age == Some(0)))
        }
    };
    if needs_sign_in {
        return if prompt.none {
            Next::Fail("login_required", "the user must sign in")
        } else {
            Next::SignIn
        };
    }
    let session = session.expect("checked above");
    // The assurance policy (`oidc/assurance.rs`), after the first factor and before
    // consent: only the missing factor is asked for.
    match step_up {
        StepUp::Go => {}
        // No interaction could meet it: say so, prompt=none or not.
        StepUp::Unmet => {
            return Next::Fail(
                "unmet_authentication_requirements",
                "the requested authentication level cannot be met",
            )
        }
        _ if prompt.none => {
            return Next::Fail(
                "interaction_required",
                "the user must prove a second factor",
            )
        }
        StepUp::AskCode => return Next::SecondFactor,
        StepUp::Enrol => return Next::Enrol,
    }
    let consented_here = pending.is_some_and(|p| p.consented_at.is_some());
    let covered = consented.is_some_and(|c| request.scope.iter().all(|s| c.contains(s)));
    let needs_consent = !consented_here && (prompt.consent || (!client.skip_consent && !covered));
    if needs_consent {
        return if prompt.none {
            Next::Fail("consent_required", "the user must consent")
        } else {
            Next::Consent
        };
    }
    Next::Issue(session)
}

#[allow(clippy::too_many_arguments)]
fn proceed(
    conn: &mut DbConnection,
    request: AuthorizationRequest,
    client: &Client,
    session: Option<Session>,
    pending: Pending<'_>,
    browser: &Browser,
    flow: &Flow,
    now: i64,
) -> Result<Outcome, StoreError> {
    let stored = pending.stored();
    let consented = match &session {
        Some(s) => consents::get(conn, &s.user_id, &client.id)?,
        None => None,
    };
    let step_up = match &session {
        None => StepUp::Go,
        Some(s) => {
            let requirement = Requirement::of(&request.oidc, client, &flow.assurance.names);
            let level = s.assurance(now, flow.assurance.level_max_age).level;
            let enrolled =
                assurance::may_step_up(requirement, level) && totp::enrolled(conn, &s.user_id)?;
            let enrol = client
                .enroll_on_step_up
                .unwrap_or(flow.assurance.enroll_on_step_up);
            assurance::step_up(requirement, level, enrolled, enrol)
        }
    };
    let person = Person {
        session,
        consented: consented.as_deref(),
        step_up,
    };
    match decide(&request, client, person, stored, now) {
        Next::Fail(error, description) => Ok(error_response(
            &request.client_redirect(),
            error,
            description,
        )),
        Next::Issue(session) => {
            if let Some(p) = stored {
                // Completes once, even if the browser comes back twice.
                if !pending::delete(conn, &p.id)? {
                    return Ok(Outcome::Page(EXPIRED));
                }
            }
            let code = issue_code(conn, &request, &session, flow, now)?;
            let mut params = vec![("code", code)];
            params.extend(request.state.clone().map(|s| ("state", s)));
            Ok(Outcome::Respond(ClientResponse {
                redirect_uri: request.redirect_uri.clone(),
                response_mode: request.response_mode,
                params,
            }))
        }
        next => {
            let request_id = match pending {
                Pending::Stored(p) => p.id.clone(),
                Pending::New(limit) => match keep(conn, &request, browser, limit, now)? {
                    Ok(id) => id,
                    Err(retry_after) => return Ok(Outcome::TooMany { retry_after }),
                },
            };
            Ok(match next {
                Next::SignIn => Outcome::SignIn { request_id },
                Next::SecondFactor => Outcome::SecondFactor { request_id },
                Next::Enrol => Outcome::Enrol { request_id },
                _ => Outcome::Consent { request_id },
            })
        }
    }
}

/// Stores the request while its person signs in or consents, once the browser's address
/// has a slot left (`Err`: seconds until it has).
fn keep(
    conn: &mut DbConnection,
    request: &AuthorizationRequest,
    browser: &Browser,
    limit: Limit,
    now: i64,
) -> Result<Result<String, i64>, StoreError> {
    store::transaction(conn, |conn| {
        if let Some(address) = &browser.address {
            let key = format!("pending:{}", crate::people::signin::address_key(address));
            if let Some(retry_after) = login_throttle::take_slot(conn, &key, limit, now)? {
                return Ok(Err(retry_after));
            }
        }
        store_request(conn, request, browser, now).map(Ok)
    })
}

fn store_request(
    conn: &mut DbConnection,
    request: &AuthorizationRequest,
    browser: &Browser,
    now: i64,
) -> Result<String, StoreError> {
    let row = AuthorizationRequestRow {
        id: token::random_id(),
        binding_hash: token::sha256(browser.binding.as_bytes()),
        client_id: request.client_id.clone(),
        request: serde_json::to_string(request).expect("a request serialises"),
        consented_at: None,
        created_at: now,
        expires_at: now + REQUEST_TTL,
    };
    pending::insert(conn, &row)?;
    Ok(row.id)
}

/// A new code (256 bits, stored as its SHA-256) and the grant it starts, carrying what
/// the token step needs: nonce, PKCE challenge, and the session's assurance now —
/// auth_time, acr, amr (OpenID Connect Core §3.1.3; GUIDE: OpenID Connect wraps OAuth).
/// A scope the level does not earn is left out (`[mfa] scope_levels`).
fn issue_code(
    conn: &mut DbConnection,
    request: &AuthorizationRequest,
    session: &Session,
    flow: &Flow,
    now: i64,
) -> Result<String, StoreError> {
    let code_ttl = flow.code_ttl;
    let assurance = session.assurance(now, flow.assurance.level_max_age);
    let scope = flow.assurance.scopes_at(&request.scope, assurance.level);
    let code = token::random_secret();
    let grant = GrantRow {
        id: token::random_id(),
        client_id: request.client_id.clone(),
        user_id: session.user_id.clone(),
        session_id: Some(session.id.clone()),
        created_at: now,
        expires_at: now + code_ttl,
        revoked_at: None,
    };
    let row = CodeRow {
        code_hash: token::sha256(code.as_bytes()),
        grant_id: grant.id.clone(),
        client_id: request.client_id.clone(),
        user_id: session.user_id.clone(),
        session_id: Some(session.id.clone()),
        redirect_uri: request.redirect_uri.clone(),
        scope: serde_json::to_string(&scope).expect("a list serialises"),
        nonce: request.oidc.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        code_challenge_method: request.code_challenge.as_ref().map(|_| "S256".to_owned()),
        auth_time: assurance.auth_time,
        acr: Some(assurance.level.as_str().to_owned()),
        amr: Some(serde_json::to_string(&assurance.amr).expect("a list serialises")),
        claims: request
            .oidc
            .claims
            .as_ref()
            .map(|c| serde_json::to_string(c).expect("claims serialise")),
        created_at: now,
        expires_at: now + code_ttl,
        consumed_at: None,
        resources: serde_json::to_string(&request.resource).expect("a list serialises"),
    };
    store::transaction(conn, |conn| {
        grants::insert(conn, &grant)?;
        codes::insert(conn, &row)
    })?;
    Ok(code)
}

/// What the sign-in page says of a pending request.
pub struct Waiting {
    pub client_name: String,
    pub login_hint: Option<String>,
    /// Where the answer will go: the page's `form-action` must allow it (`http/page.rs`).
    pub redirect_uri: String,
}

/// The application a pending request is for, to name it on the sign-in page.
pub fn waiting(
    conn: &mut DbConnection,
    request_id: &str,
    browser: &Browser,
    now: i64,
) -> Result<Option<Waiting>, StoreError> {
    Ok(
        load(conn, request_id, browser, now)?.map(|(_, request, client)| Waiting {
            client_name: client.client_name.clone(),
            login_hint: request.oidc.login_hint,
            redirect_uri: request.redirect_uri,
        }),
    )
}
