//! Revocation: the one writer of revocations (#14 "one place that revokes"). Whatever
//! cuts a token off — a replayed code, a reused refresh token, `/revoke`, the per-client
//! cap, a device signed out, a disabled user — comes here, and each revocation is written
//! three ways in one transaction: the state the server checks (grants, refresh tokens,
//! the `jti` deny-list, sessions), an event resource servers follow
//! (`store::revocation_events`, cursor-ordered) and an audit record.

use serde_json::json;

pub mod feed;

use crate::store::{
    self, audit, grants, refresh_tokens, revocation_events, revoked_access_tokens, sessions,
    DbConnection, StoreError,
};

/// Why something is revoked; each names its audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// An authorization code came back (RFC 6749 §4.1.2: SHOULD revoke what it issued).
    CodeReplayed,
    /// A rotated refresh token came back outside its grace (RFC 9700 §4.14.2).
    RefreshReused,
    /// The client asked (RFC 7009 §2.1).
    Requested,
    /// Beyond `max_refresh_tokens_per_client` live sign-ins, the least recently used.
    Capped,
    /// The person signed one device out on the devices page.
    DeviceSignedOut,
    /// The person signed out everywhere.
    SignedOutEverywhere,
    /// The account was disabled (issue #4: banning cuts everything off).
    UserDisabled,
    /// A new password cuts off what the old one opened.
    PasswordChanged,
}

impl Cause {
    fn audit_kind(self) -> &'static str {
        match self {
            Self::CodeReplayed => "code.replayed",
            Self::RefreshReused => "refresh_token.reused",
            Self::Requested => "token.revoked",
            Self::Capped => "refresh_token.capped",
            Self::DeviceSignedOut => "device.signed_out",
            Self::SignedOutEverywhere => "user.signed_out_everywhere",
            Self::UserDisabled | Self::PasswordChanged => "user.tokens_revoked",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::CodeReplayed => "code_replayed",
            Self::RefreshReused => "refresh_reused",
            Self::Requested => "requested",
            Self::Capped => "capped",
            Self::DeviceSignedOut => "device_signed_out",
            Self::SignedOutEverywhere => "signed_out_everywhere",
            Self::UserDisabled => "user_disabled",
            Self::PasswordChanged => "password_changed",
        }
    }
}

/// Whose revocation it is, for the audit record.
#[derive(Debug, Clone, Copy, Default)]
pub struct Owner<'a> {
    pub user_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
}

/// What a feed event names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A grant: every token issued from it (access tokens carry it as `grant_id`).
    Grant,
    /// One access token, by `jti`.
    Jti,
    /// Every token of a user (`sub`) issued until the event.
    User,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Jti => "jti",
            Self::User => "user",
        }
    }

    pub fn parse(kind: &str) -> Option<Self> {
        [Self::Grant, Self::Jti, Self::User]
            .into_iter()
            .find(|s| s.as_str() == kind)
    }
}

/// Revokes a whole sign-in: its grant (so its access tokens turn inactive) and every
/// refresh token of its family (RFC 7009 §2.1, RFC 9700 §4.14.2). Revoking a grant that
/// is already revoked writes no second event.
pub fn grant(
    conn: &mut DbConnection,
    grant_id: &str,
    cause: Cause,
    owner: Owner<'_>,
    now: i64,
) -> Result<(), StoreError> {
    store::transaction(conn, |conn| {
        revocation_events::lock_for_append(conn)?;
        refresh_tokens::revoke_family(conn, grant_id, now)?;
        if let Some(expires_at) = grants::revoke(conn, grant_id, now)? {
            revocation_events::append(conn, Subject::Grant.as_str(), grant_id, now, expires_at)?;
        }
        record(conn, cause, owner, json!({ "grant_id": grant_id }))
    })
}

/// Revokes one access token by its `jti` until it would have expired (RFC 7009 §2: a
/// self-contained token cannot be recalled, so it is denied where it is checked).
pub fn access_token(
    conn: &mut DbConnection,
    jti: &str,
    expires_at: i64,
    owner: Owner<'_>,
    now: i64,
) -> Result<(), StoreError> {
    store::transaction(conn, |conn| {
        revocation_events::lock_for_append(conn)?;
        if revoked_access_tokens::insert(conn, jti, expires_at, now)? {
            revocation_events::append(conn, Subject::Jti.as_str(), jti, now, expires_at)?;
            record(conn, Cause::Requested, owner, json!({ "jti": jti }))?;
        }
        Ok(())
    })
}

/// Ends every session and revokes every grant and refresh token of a user; their access
/// tokens turn inactive with their grants, and the feed says so for the user as a whole.
pub fn user(
    conn: &mut DbConnection,
    user_id: &str,
    cause: Cause,
    now: i64,
) -> Result<(), StoreError> {
    store::transaction(conn, |conn| {
        revocation_events::lock_for_append(conn)?;
        sessions::end_all_of_user(conn, user_id, now)?;
        refresh_tokens::revoke_all_of_user(conn, user_id, now)?;
        let last_token_expires = grants::revoke_all_of_user(conn, user_id, now)?;
        // A disabled user's event stands as long as any token of theirs could; with no
        // live grant there is none, but a resource server may still hold a cached answer.
        let expires_at = last_token_expires.unwrap_or(now).max(now);
        revocation_events::append(conn, Subject::User.as_str(), user_id, now, expires_at)?;
        let owner = Owner {
            user_id: Some(user_id),
            client_id: None,
        };
        let detail = match cause {
            Cause::UserDisabled | Cause::PasswordChanged => json!({ "cause": cause.name() }),
            _ => json!({}),
        };
        record(conn, cause, owner, detail)
    })
}

fn record(
    conn: &mut DbConnection,
    cause: Cause,
    owner: Owner<'_>,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    audit::record(
        conn,
        cause.audit_kind(),
        owner.user_id,
        owner.client_id,
        detail,
    )
}
