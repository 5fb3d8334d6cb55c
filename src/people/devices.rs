//! A person's own devices (issue #4): the sign-ins that hold a refresh token — which
//! application, which browser or device, from where, last used — and signing out of one
//! of them, or of everything.

use crate::people::sessions;
use crate::revocation::{self, Cause, Owner};
use crate::store::users::{self, UserRow};
use crate::store::{clients, refresh_tokens, DbConnection, StoreError};

/// One sign-in of an application that can still refresh its tokens.
pub struct Device {
    /// The grant (refresh-token family) id: what "sign out this device" names.
    pub id: String,
    pub application: String,
    pub user_agent: String,
    pub ip: String,
    pub signed_in_at: i64,
    pub last_used_at: i64,
}

/// The signed-in person and their devices, newest use first.
pub fn list(
    conn: &mut DbConnection,
    session_secret: &str,
    now: i64,
) -> Result<Option<(UserRow, Vec<Device>)>, StoreError> {
    let Some(user) = signed_in(conn, session_secret, now)? else {
        return Ok(None);
    };
    let mut devices = Vec::new();
    for row in refresh_tokens::active_for_user(conn, &user.id, None, now)? {
        let application = clients::get(conn, &row.client_id)?
            .map_or_else(|| row.client_id.clone(), |c| c.client_name);
        devices.push(Device {
            id: row.family_id,
            application,
            user_agent: row
                .last_user_agent
                .or(row.created_user_agent)
                .unwrap_or_else(|| "Unknown device".into()),
            ip: row
                .last_ip
                .or(row.created_ip)
                .unwrap_or_else(|| "unknown".into()),
            signed_in_at: row.auth_time,
            last_used_at: row.last_used_at.unwrap_or(row.created_at),
        });
    }
    Ok(Some((user, devices)))
}

/// Revokes one of the person's sign-ins; false when it is not theirs (or not live).
pub fn sign_out_device(
    conn: &mut DbConnection,
    session_secret: &str,
    grant_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(user) = signed_in(conn, session_secret, now)? else {
        return Ok(false);
    };
    let theirs = refresh_tokens::active_for_user(conn, &user.id, None, now)?
        .iter()
        .any(|r| r.family_id == grant_id);
    if theirs {
        let owner = Owner {
            user_id: Some(&user.id),
            client_id: None,
        };
        revocation::grant(conn, grant_id, Cause::DeviceSignedOut, owner, now)?;
    }
    Ok(theirs)
}

/// Ends every session and revokes every grant and refresh token of the person.
pub fn sign_out_everywhere(
    conn: &mut DbConnection,
    session_secret: &str,
    now: i64,
) -> Result<(), StoreError> {
    let Some(user) = signed_in(conn, session_secret, now)? else {
        return Ok(());
    };
    revocation::user(conn, &user.id, Cause::SignedOutEverywhere, now)
}

fn signed_in(
    conn: &mut DbConnection,
    session_secret: &str,
    now: i64,
) -> Result<Option<UserRow>, StoreError> {
    let Some(session) = sessions::current(conn, session_secret, now)? else {
        return Ok(None);
    };
    Ok(users::get(conn, &session.user_id)?.filter(|u| !u.disabled))
}
