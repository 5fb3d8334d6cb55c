//! Browser sessions: server-side, found by the SHA-256 of a 256-bit cookie secret. A
//! session knows how the person authenticated — the first factor's `auth_time` (OpenID
//! Connect Core §2), `acr` and `amr` (RFC 8176), and when a second factor was last
//! proved — so step-up and `max_age` can be decided later.

use crate::crypto::token;
use crate::oidc::acr::Level;
use crate::store::sessions::{self as store, SessionRow};
use crate::store::{DbConnection, StoreError};

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub auth_time: i64,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    /// When a second factor was last proved in this session.
    pub mfa_at: Option<i64>,
}

/// What one factor proved (the sign-in pipeline, #12): who, by which methods (RFC 8176
/// §2), at which level, and when. A password is one first factor; federation will be
/// another; a second factor is added to a live session ([`add_second_factor`]).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user_id: String,
    pub amr: Vec<&'static str>,
    pub level: Level,
    pub auth_time: i64,
}

/// How the person behind a session stands at a moment: what its tokens say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assurance {
    pub level: Level,
    pub amr: Vec<String>,
    /// The last active authentication the level rests on (RFC 9470 §3 `auth_time`):
    /// the second factor's time at `mfa`, else the first factor's.
    pub auth_time: i64,
}

impl Session {
    /// The session's level at `now`: `mfa` while its second factor is younger than
    /// `level_max_age` (`[mfa] level_max_age`), else its first factor's.
    pub fn assurance(&self, now: i64, level_max_age: i64) -> Assurance {
        let first = self
            .acr
            .as_deref()
            .and_then(Level::parse)
            .unwrap_or(Level::Pwd);
        match self.mfa_at.filter(|at| now - at < level_max_age) {
            Some(at) => {
                let mut amr = self.amr.clone();
                // RFC 8176 §2: "otp" — a one-time password; "mfa" — more than one factor.
                for method in ["otp", "mfa"] {
                    if !amr.iter().any(|m| m == method) {
                        amr.push(method.to_owned());
                    }
                }
                Assurance {
                    level: first.max(Level::Mfa),
                    amr,
                    auth_time: at.max(self.auth_time),
                }
            }
            None => Assurance {
                level: first,
                amr: self.amr.clone(),
                auth_time: self.auth_time,
            },
        }
    }
}

/// A session just started, with the secret for its cookie (never stored).
pub struct Started {
    pub cookie_secret: String,
    pub session: Session,
}

/// Where a browser is, as recorded with its session.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Starts a new session: always a new id and secret, so a session id planted before
/// sign-in is never the one that becomes authenticated (no fixation). It ends `lifetime`
/// seconds from now, or `idle` seconds after it was last used, whichever comes first.
pub fn start(
    conn: &mut DbConnection,
    who: &Authenticated,
    client: &Client,
    lifetime: i64,
    idle: i64,
    now: i64,
) -> Result<Started, StoreError> {
    let cookie_secret = token::random_secret();
    let row = SessionRow {
        id: token::random_id(),
        secret_hash: token::sha256(cookie_secret.as_bytes()),
        user_id: Some(who.user_id.clone()),
        auth_time: Some(who.auth_time),
        acr: Some(who.level.as_str().to_owned()),
        amr: Some(serde_json::to_string(&who.amr).expect("a list serialises")),
        ip: client.ip.clone(),
        user_agent: client
            .user_agent
            .as_ref()
            .map(|ua| ua.chars().take(512).collect()),
        created_at: now,
        last_seen_at: now,
        expires_at: now + lifetime,
        ended_at: None,
        idle_expires_at: now + idle.min(lifetime),
        mfa_at: None,
    };
    store::insert(conn, &row)?;
    Ok(Started {
        cookie_secret,
        session: from_row(row).expect("a new session has a user"),
    })
}

/// How often a use of a session is written down: its idle deadline moves in steps of
/// this, so a busy session costs one write a minute, not one per request.
const TOUCH_EVERY: i64 = 60;

/// The signed-in session behind a cookie secret, if it is live (neither ended, expired,
/// nor idle for longer than its idle timeout). Finding it counts as a use.
pub fn current(
    conn: &mut DbConnection,
    cookie_secret: &str,
    now: i64,
) -> Result<Option<Session>, StoreError> {
    let Some(row) = store::active_by_secret(conn, &token::sha256(cookie_secret.as_bytes()), now)?
    else {
        return Ok(None);
    };
    if now - row.last_seen_at >= TOUCH_EVERY {
        // The idle timeout the session started with, measured from this use.
        let idle = row.idle_expires_at - row.last_seen_at;
        store::touch(conn, &row.id, now, (now + idle).min(row.expires_at))?;
    }
    Ok(from_row(row))
}

/// Records a second factor proved in session `id` at `now` (step-up: the first factor
/// and the session's lifetime stay as they were), under a new secret: the cookie from
/// before the step no longer opens the session (no fixation across a change of level,
/// OWASP ASVS 3.2.1). The new cookie secret comes back.
pub fn add_second_factor(
    conn: &mut DbConnection,
    id: &str,
    now: i64,
) -> Result<String, StoreError> {
    let cookie_secret = token::random_secret();
    store::set_mfa_at(conn, id, now, &token::sha256(cookie_secret.as_bytes()))?;
    Ok(cookie_secret)
}

/// Ends the session behind a cookie secret, if any.
pub fn end(conn: &mut DbConnection, cookie_secret: &str, now: i64) -> Result<(), StoreError> {
    if let Some(row) = store::active_by_secret(conn, &token::sha256(cookie_secret.as_bytes()), now)?
    {
        store::end(conn, &row.id, now)?;
    }
    Ok(())
}

fn from_row(row: SessionRow) -> Option<Session> {
    Some(Session {
        user_id: row.user_id?,
        auth_time: row.auth_time?,
        amr: row
            .amr
            .and_then(|a| serde_json::from_str(&a).ok())
            .unwrap_or_default(),
        acr: row.acr,
        mfa_at: row.mfa_at,
        id: row.id,
    })
}
