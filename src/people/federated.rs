//! Which local account a person signing in through an upstream becomes (#13), in one
//! transaction from the callback to the session, so a failure leaves no half-made user
//! or identity behind:
//!
//! - an identity is found by (upstream, upstream subject) — never by email alone;
//! - a first sign-in links to the local account with the same email only when the
//!   upstream asserts it verified *and* is configured `trust_email`; an email that
//!   matches an account otherwise is refused (the person links from the account page,
//!   signed in, to prove the account is theirs);
//! - otherwise a first sign-in creates a local account (`provision`, on by default);
//! - a disabled account signs in no more through any provider.
//!
//! The session is a first factor like a password: `amr` `fed` (RFC 8176 has no value
//! for federation: `fed` is ours), at the upstream's configured `level` (`pwd` by
//! default); with `trust_amr`, the upstream's own RFC 8176 methods follow `fed`, and an
//! upstream `mfa` makes it an `mfa` sign-in. Step-up applies on top of it.

use serde_json::json;

use crate::config::UpstreamConfig;
use crate::crypto::token;
use crate::federation::{Asserted, Upstream};
use crate::oidc::acr::Level;
use crate::people::accounts;
use crate::people::sessions::{self, Authenticated, Client, Started};
use crate::store::federated_identities::{self, FederatedIdentityRow};
use crate::store::users::{self, UserRow};
use crate::store::{self, audit, DbConnection, StoreError};

/// A federated sign-in that did not start a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The account is disabled.
    Disabled,
    /// No linked account, and this upstream creates none.
    NotProvisioned,
    /// An account with this email exists, but the upstream is not trusted to prove it.
    EmailTaken,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Disabled => "disabled",
            Refusal::NotProvisioned => "not_provisioned",
            Refusal::EmailTaken => "email_taken",
        }
    }
}

/// How long sessions last, and the browser they are for.
pub struct SessionTerms<'a> {
    pub client: &'a Client,
    pub previous: Option<&'a str>,
    pub lifetime: i64,
    pub idle: i64,
}

/// Signs the person the upstream vouched for in: their linked account, an account
/// linked now by trusted email, or a new one.
pub fn sign_in(
    conn: &mut DbConnection,
    through: &Upstream,
    asserted: &Asserted,
    terms: &SessionTerms<'_>,
    now: i64,
) -> Result<Result<Started, Refusal>, StoreError> {
    let upstream = &through.config;
    let (amr, level) = assurance(through, asserted);
    store::transaction(conn, |conn| {
        let user = match account_for(conn, upstream, asserted, now)? {
            Ok(user) => user,
            Err(refusal) => {
                audit::record(
                    conn,
                    "signin.failed",
                    None,
                    None,
                    json!({ "method": "fed", "upstream": upstream.id, "reason": refusal.reason() }),
                )?;
                return Ok(Err(refusal));
            }
        };
        if user.disabled {
            audit::record(
                conn,
                "signin.failed",
                Some(&user.id),
                None,
                json!({ "method": "fed", "upstream": upstream.id, "reason": "disabled" }),
            )?;
            return Ok(Err(Refusal::Disabled));
        }
        if let Some(previous) = terms.previous {
            sessions::end(conn, previous, now)?;
        }
        let who = Authenticated {
            user_id: user.id.clone(),
            amr: amr.clone(),
            level,
            auth_time: now,
        };
        let started = sessions::start(conn, &who, terms.client, terms.lifetime, terms.idle, now)?;
        audit::record(
            conn,
            "signin.succeeded",
            Some(&user.id),
            None,
            json!({ "method": "fed", "upstream": upstream.id }),
        )?;
        Ok(Ok(started))
    })
}

/// RFC 8176 §2, the registered values: an upstream's others are dropped.
const METHODS: [&str; 21] = [
    "face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd", "rba",
    "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia",
];

/// The methods and level of a sign-in through `through`.
fn assurance(through: &Upstream, asserted: &Asserted) -> (Vec<&'static str>, Level) {
    let mut amr = vec!["fed"];
    let mut level = through.level;
    if through.config.trust_amr {
        for method in &asserted.amr {
            if let Some(known) = METHODS.iter().find(|m| **m == method.as_str()) {
                if !amr.contains(known) {
                    amr.push(known);
                }
            }
        }
        if amr.contains(&"mfa") {
            level = level.max(Level::Mfa);
        }
    }
    (amr, level)
}

/// The local account behind the asserted identity, linking or creating it as the
/// configuration allows.
fn account_for(
    conn: &mut DbConnection,
    upstream: &UpstreamConfig,
    asserted: &Asserted,
    now: i64,
) -> Result<Result<UserRow, Refusal>, StoreError> {
    if let Some(identity) = federated_identities::by_subject(conn, &upstream.id, &asserted.subject)?
    {
        federated_identities::touch(conn, &identity.id, asserted.email.as_deref(), now)?;
        let user = users::get(conn, &identity.user_id)?
            .ok_or_else(|| StoreError::Corrupt(format!("identity {} has no user", identity.id)))?;
        return Ok(Ok(user));
    }
    let same_email = match &asserted.email {
        Some(email) => users::by_email(conn, email)?,
        None => Vec::new(),
    };
    if !same_email.is_empty() {
        let trusted = upstream.trust_email && asserted.email_verified;
        // Only an account whose own email is verified, and only one: otherwise which
        // account the address proves is not clear.
        let verified: Vec<&UserRow> = same_email.iter().filter(|u| u.email_verified).collect();
        if !trusted || verified.len() != 1 {
            return Ok(Err(Refusal::EmailTaken));
        }
        let user = verified[0].clone();
        link(conn, &user.id, upstream, asserted, now)?;
        audit::record(
            conn,
            "federation.linked",
            Some(&user.id),
            None,
            json!({ "upstream": upstream.id, "by": "trusted_email" }),
        )?;
        return Ok(Ok(user));
    }
    if !upstream.provision {
        return Ok(Err(Refusal::NotProvisioned));
    }
    let username = free_username(conn, upstream, asserted)?;
    let user = accounts::new_user(
        &username,
        asserted.email.clone(),
        upstream.trust_email && asserted.email_verified,
        asserted.name.clone(),
        None,
        &format!("federation:{}", upstream.id),
        now,
    )
    .map_err(StoreError::Corrupt)?;
    users::insert(conn, &user)?;
    link(conn, &user.id, upstream, asserted, now)?;
    audit::record(
        conn,
        "federation.provisioned",
        Some(&user.id),
        None,
        json!({ "upstream": upstream.id }),
    )?;
    Ok(Ok(user))
}

/// Links the asserted identity to `user_id`.
pub fn link(
    conn: &mut DbConnection,
    user_id: &str,
    upstream: &UpstreamConfig,
    asserted: &Asserted,
    now: i64,
) -> Result<(), StoreError> {
    federated_identities::insert(
        conn,
        &FederatedIdentityRow {
            id: token::random_id(),
            user_id: user_id.to_owned(),
            provider: upstream.id.clone(),
            subject: asserted.subject.clone(),
            email: asserted.email.clone(),
            created_at: now,
            last_login_at: Some(now),
        },
    )
}

/// A username for a new account: the upstream's `preferred_username`, else the local
/// part of its email, else the provider's id — with a random suffix when taken.
fn free_username(
    conn: &mut DbConnection,
    upstream: &UpstreamConfig,
    asserted: &Asserted,
) -> Result<String, StoreError> {
    let wanted = asserted
        .preferred_username
        .as_deref()
        .or_else(|| asserted.email.as_deref().and_then(|e| e.split('@').next()))
        .and_then(|n| accounts::normalize_username(n).ok())
        .filter(|n| n.chars().count() <= 48)
        .unwrap_or_else(|| upstream.id.clone());
    if users::by_username(conn, &wanted)?.is_none() {
        return Ok(wanted);
    }
    loop {
        let suffix: String = token::random_id().chars().take(6).collect();
        let candidate = format!("{wanted}-{}", suffix.to_lowercase());
        if users::by_username(conn, &candidate)?.is_none() {
            return Ok(candidate);
        }
    }
}

/// Why a signed-in person's provider was not linked or unlinked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    /// The upstream account is linked to another local account.
    LinkedElsewhere,
    /// Removing it would leave the account with no way to sign in.
    LastWay,
    /// No such linked identity of this person.
    NotFound,
}

/// Links the upstream identity to the signed-in person `user_id` (who proved the local
/// account by being signed in, and the upstream one by signing in there).
pub fn link_signed_in(
    conn: &mut DbConnection,
    user_id: &str,
    upstream: &UpstreamConfig,
    asserted: &Asserted,
    now: i64,
) -> Result<Result<(), LinkRefusal>, StoreError> {
    store::transaction(conn, |conn| {
        if let Some(existing) =
            federated_identities::by_subject(conn, &upstream.id, &asserted.subject)?
        {
            return Ok(if existing.user_id == user_id {
                Ok(())
            } else {
                Err(LinkRefusal::LinkedElsewhere)
            });
        }
        link(conn, user_id, upstream, asserted, now)?;
        audit::record(
            conn,
            "federation.linked",
            Some(user_id),
            None,
            json!({ "upstream": upstream.id, "by": "signed_in" }),
        )?;
        Ok(Ok(()))
    })
}

/// Unlinks one of `user_id`'s identities, unless it is their last way to sign in.
pub fn unlink(
    conn: &mut DbConnection,
    user_id: &str,
    identity_id: &str,
) -> Result<Result<(), LinkRefusal>, StoreError> {
    store::transaction(conn, |conn| {
        let (has_password, identities) = methods(conn, user_id)?;
        let Some(identity) = identities.iter().find(|i| i.id == identity_id) else {
            return Ok(Err(LinkRefusal::NotFound));
        };
        if !has_password && identities.len() == 1 {
            return Ok(Err(LinkRefusal::LastWay));
        }
        federated_identities::delete(conn, &identity.id)?;
        audit::record(
            conn,
            "federation.unlinked",
            Some(user_id),
            None,
            json!({ "upstream": identity.provider }),
        )?;
        Ok(Ok(()))
    })
}

/// How `user_id` can sign in: with a password or not, and through which identities.
pub fn methods(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<(bool, Vec<FederatedIdentityRow>), StoreError> {
    let has_password = users::get(conn, user_id)?.is_some_and(|u| u.password_hash.is_some());
    Ok((has_password, federated_identities::for_user(conn, user_id)?))
}
