//! Password sign-in (checklist §3.6): throttled per account and per client address in
//! the shared database, the same answer and cost for unknown users and wrong passwords,
//! and a new session on success.

use serde_json::json;

use crate::config::SignInConfig;
use crate::crypto::password::PasswordHasher;
use crate::oidc::acr::Level;
use crate::people::accounts;
use crate::people::sessions::{self, Authenticated, Client, Started};
use crate::store::login_throttle::{self, Limit};
use crate::store::{self, audit, users, Db, DbConnection, StoreError};

pub enum Outcome {
    SignedIn(Started),
    /// Wrong username or password, or a disabled account: one answer for all.
    Rejected,
    /// Too many failures; try again after this many seconds.
    Locked {
        retry_after: i64,
    },
}

pub struct Attempt {
    pub username: String,
    pub password: String,
    pub client: Client,
    /// The cookie secret of a session the browser already has: ended on success.
    pub previous_session: Option<String>,
}

/// An account is locked after its failures; an address — shared by everyone behind one
/// proxy or NAT — is slowed down instead, so a flood cannot lock its people out.
fn limits(policy: &SignInConfig) -> (Limit, Limit) {
    let limit = |max_failures, pace| Limit {
        max_failures,
        window: policy.failure_window.as_secs(),
        lockout: policy.lockout.as_secs(),
        pace,
    };
    (
        limit(policy.max_failures_per_account, None),
        limit(
            policy.max_failures_per_address,
            Some(policy.address_max_delay.as_secs()),
        ),
    )
}

#[tracing::instrument(skip_all)]
pub async fn with_password(
    db: &Db,
    hasher: &PasswordHasher,
    policy: &SignInConfig,
    attempt: Attempt,
    now: i64,
) -> Result<Outcome, StoreError> {
    // Case and spacing cannot split an account's counter (checklist §3.6).
    let username = accounts::normalize_username(&attempt.username).ok();
    let account_key = username.as_ref().map(|u| format!("user:{u}"));
    let address_key = attempt.client.ip.as_deref().map(address_key);
    let (account_limit, address_limit) = limits(policy);
    let counters: Vec<(String, Limit)> = account_key
        .iter()
        .map(|k| (k.clone(), account_limit))
        .chain(address_key.iter().map(|k| (k.clone(), address_limit)))
        .collect();

    // The attempt is counted before the (expensive) hash, so a burst cannot outrun the
    // limit: only as many attempts as there are free slots are ever judged.
    let (user, locked) = db
        .run(move |conn| {
            let locked = take_slots(conn, &counters, now)?;
            let user = match (&username, locked) {
                (Some(u), None) => users::by_username(conn, u)?,
                _ => None,
            };
            Ok::<_, StoreError>((user, locked))
        })
        .await?;
    if let Some(retry_after) = locked {
        return Ok(Outcome::Locked { retry_after });
    }

    let matches = hasher
        .verify(
            attempt.password,
            user.as_ref().and_then(|u| u.password_hash.clone()),
        )
        .await;
    let known = user.as_ref().map(|u| u.id.clone());
    let Some(user) = user.filter(|u| matches && !u.disabled) else {
        // The failure was counted with its slot; lock the keys it filled.
        db.run(move |conn| {
            if let Some(key) = &account_key {
                login_throttle::lock_if_full(conn, key, account_limit, now)?;
            }
            if let Some(key) = &address_key {
                login_throttle::lock_if_full(conn, key, address_limit, now)?;
            }
            audit::record(
                conn,
                "signin.failed",
                known.as_deref(),
                None,
                json!({ "method": "pwd" }),
            )
        })
        .await?;
        tracing::info!("sign-in failed");
        return Ok(Outcome::Rejected);
    };

    let lifetime = policy.session_lifetime.as_secs();
    let idle = policy.session_idle_timeout.as_secs();
    let started = db
        .run(move |conn| {
            store::transaction(conn, |conn| {
                // Only this attempt's own slot is given back (#11 item 1): failures
                // counted beside it — a burst it was part of — stay until their window
                // ends, so a right password cannot open fresh slots for a burst.
                for key in account_key.iter().chain(&address_key) {
                    login_throttle::release(conn, key)?;
                }
                if let Some(previous) = &attempt.previous_session {
                    sessions::end(conn, previous, now)?;
                }
                // RFC 8176 §2: "pwd" — password-based authentication.
                let who = Authenticated {
                    user_id: user.id.clone(),
                    amr: vec!["pwd"],
                    level: Level::Pwd,
                    auth_time: now,
                };
                let started = sessions::start(conn, &who, &attempt.client, lifetime, idle, now)?;
                audit::record(
                    conn,
                    "signin.succeeded",
                    Some(&user.id),
                    None,
                    json!({ "method": "pwd" }),
                )?;
                Ok::<_, StoreError>(started)
            })
        })
        .await?;
    tracing::info!(session = %started.session.id, "signed in");
    Ok(Outcome::SignedIn(started))
}

/// Takes a slot of every counter, or none: when one is locked or full, the slots taken
/// so far are given back and its wait is returned.
fn take_slots(
    conn: &mut DbConnection,
    counters: &[(String, Limit)],
    now: i64,
) -> Result<Option<i64>, StoreError> {
    store::transaction(conn, |conn| {
        for (i, (key, limit)) in counters.iter().enumerate() {
            if let Some(retry_after) = login_throttle::take_slot(conn, key, *limit, now)? {
                for (taken, _) in &counters[..i] {
                    login_throttle::release(conn, taken)?;
                }
                return Ok(Some(retry_after));
            }
        }
        Ok(None)
    })
}

/// The per-address counter's key. An IPv6 host usually holds a whole /64, so its
/// addresses share one counter; an IPv4 address is its own.
pub(crate) fn address_key(ip: &str) -> String {
    use std::net::IpAddr;
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let net = ipnet::Ipv6Net::new(v6, 64).expect("64 is a valid prefix length");
                format!("ip:{}", net.trunc())
            }
        },
        _ => format!("ip:{ip}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ipv6_addresses_share_their_64_and_ipv4_stands_alone() {
        use super::address_key;
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), "ip:2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2:bbbb::9"), "ip:2001:db8:1:2::/64");
        assert_ne!(
            address_key("2001:db8:1:3::1"),
            address_key("2001:db8:1:2::1")
        );
        assert_eq!(address_key("192.0.2.7"), "ip:192.0.2.7");
        assert_eq!(address_key("::ffff:192.0.2.7"), "ip:192.0.2.7");
    }
}
