//! User accounts: username rules, creation and the declarative `[[users]]` upsert.
//! Password hashing here is blocking: callers are the CLI and start-up, never handlers.

use crate::config::UserConfig;
use crate::crypto::{password, token, MasterKey};
use crate::revocation::{self, Cause};
use crate::store::totp_credentials::{self, TotpCredentialRow};
use crate::store::users::{self, ProfileChange, UserRow};
use crate::store::{self, DbConnection, StoreError};

/// Label of the TOTP credential that comes from the configuration file.
const CONFIG_TOTP_LABEL: &str = "config";

/// Minimum password length for accounts created by an administrator (NIST SP 800-63B §5.1.1).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Trims and lower-cases a username; rejects empty, over-long, or spaced names.
pub fn normalize_username(raw: &str) -> Result<String, String> {
    let name = raw.trim().to_lowercase();
    if name.is_empty() || name.chars().count() > 64 {
        return Err("must be 1-64 characters".into());
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{raw:?} must not contain spaces or control characters"
        ));
    }
    Ok(name)
}

pub fn validate_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    if password.len() > password::MAX_PASSWORD_BYTES {
        return Err(format!(
            "must be at most {} bytes",
            password::MAX_PASSWORD_BYTES
        ));
    }
    Ok(())
}

pub fn validate_email(email: &str) -> Result<(), String> {
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(format!("{email:?} is not an email address"))
    }
}

/// Decodes a base32 TOTP secret (RFC 4648, padding optional); at least 128 bits.
pub fn decode_totp_secret(encoded: &str) -> Result<Vec<u8>, String> {
    let cleaned = encoded.trim().trim_end_matches('=').to_uppercase();
    let bytes = totp_rs::Secret::try_from_base32(&cleaned)
        .map_err(|_| "is not valid base32".to_string())?
        .as_ref()
        .to_vec();
    if bytes.len() < 16 {
        return Err("must be at least 128 bits (26 base32 characters)".into());
    }
    Ok(bytes)
}

/// Checks a `[[users]]` entry (username already normalised); the error names the field.
pub fn validate(u: &UserConfig) -> Result<(), String> {
    if let Some(email) = &u.email {
        validate_email(email).map_err(|e| format!("email: {e}"))?;
    }
    if let Some(p) = &u.password {
        validate_password(p.expose()).map_err(|e| format!("password: {e}"))?;
    }
    if let Some(t) = &u.totp_secret {
        decode_totp_secret(t.expose()).map_err(|e| format!("totp_secret: {e}"))?;
    }
    Ok(())
}

/// A new account row; the password (if any) is hashed here.
pub fn new_user(
    username: &str,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
    password: Option<&str>,
    managed_by: &str,
    now: i64,
) -> Result<UserRow, String> {
    let password_hash = password.map(password::hash_blocking).transpose()?;
    Ok(UserRow {
        id: token::random_id(),
        username: username.to_owned(),
        email,
        email_verified,
        name,
        password_changed_at: password_hash.as_ref().map(|_| now),
        password_hash,
        disabled: false,
        managed_by: managed_by.to_owned(),
        created_at: now,
        updated_at: now,
        config_password_mac: None,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the HMAC of a configured password is for (`users.config_password_mac`).
const CONFIG_PASSWORD: &str = "config-password";

/// Makes the stored account match a `[[users]]` entry (hardening #11 item 4). The file
/// wins for the profile fields and for `disabled` when it sets it; its password is applied
/// when the account is created and again only when the file's value changes, so a
/// `user set-password` or `user disable` from the CLI survives a restart.
pub fn upsert_from_config(
    conn: &mut DbConnection,
    master: &MasterKey,
    u: &UserConfig,
    managed_by: &str,
    now: i64,
) -> Result<bool, AccountError> {
    let password = u.password.as_ref().map(|p| p.expose());
    let mut found = users::by_username(conn, &u.username)?;
    if found.is_none() {
        let row = new_user(
            &u.username,
            u.email.clone(),
            u.email_verified,
            u.name.clone(),
            password,
            managed_by,
            now,
        )
        .map_err(AccountError::Invalid)
        .map(|row| UserRow {
            disabled: u.disabled.unwrap_or(false),
            config_password_mac: password.map(|p| master.mac(CONFIG_PASSWORD, p.as_bytes())),
            ..row
        })?;
        // Several instances may bootstrap the same user at once: the loser updates.
        if store::try_insert(conn, |conn| users::insert(conn, &row))? {
            sync_config_totp(conn, master, &row.id, u, now)?;
            return Ok(true);
        }
        found = users::by_username(conn, &u.username)?;
    }
    let user = match found {
        None => return Err(StoreError::Conflict("the user was removed during its update").into()),
        Some(existing) => {
            let change = ProfileChange {
                email: u.email.clone(),
                email_verified: u.email_verified,
                name: u.name.clone(),
                managed_by: managed_by.to_owned(),
                updated_at: now,
            };
            users::update_profile(conn, &existing.id, &change)?;
            if let Some(p) = password {
                sync_config_password(conn, master, &existing, p, now)?;
            }
            existing
        }
    };
    if let Some(disabled) = u.disabled.filter(|d| *d != user.disabled) {
        set_disabled(conn, &user.id, disabled, now)?;
    }
    sync_config_totp(conn, master, &user.id, u, now)?;
    Ok(false)
}

/// Disables or enables an account. Disabling cuts off everything it holds — sessions,
/// grants, refresh and access tokens — in the same transaction (issue #4); disabling a
/// disabled account changes nothing.
pub fn set_disabled(
    conn: &mut DbConnection,
    user_id: &str,
    disabled: bool,
    now: i64,
) -> Result<(), StoreError> {
    store::transaction(conn, |conn| {
        if users::set_disabled(conn, user_id, disabled, now)? && disabled {
            revocation::user(conn, user_id, Cause::UserDisabled, now)?;
        }
        Ok(())
    })
}

/// Sets a new password (an argon2id PHC string) and, in the same transaction, cuts off
/// what the old one opened: sessions, grants, refresh and access tokens.
pub fn set_password(
    conn: &mut DbConnection,
    user_id: &str,
    phc: &str,
    now: i64,
) -> Result<(), StoreError> {
    store::transaction(conn, |conn| {
        users::set_password(conn, user_id, phc, now)?;
        revocation::user(conn, user_id, Cause::PasswordChanged, now)
    })
}

/// Applies the file's password when the file's value is new to this account. An account
/// from before the fingerprint existed takes the fingerprint without a new hash when its
/// password already is the file's.
fn sync_config_password(
    conn: &mut DbConnection,
    master: &MasterKey,
    existing: &UserRow,
    configured: &str,
    now: i64,
) -> Result<(), AccountError> {
    let unchanged = existing
        .config_password_mac
        .as_deref()
        .is_some_and(|mac| master.verify_mac(CONFIG_PASSWORD, configured.as_bytes(), mac));
    if unchanged {
        return Ok(());
    }
    let mac = master.mac(CONFIG_PASSWORD, configured.as_bytes());
    let current = existing.config_password_mac.is_none()
        && password::verify_blocking(configured, existing.password_hash.as_deref());
    store::transaction(conn, |conn| {
        if !current {
            let phc = password::hash_blocking(configured).map_err(AccountError::Invalid)?;
            set_password(conn, &existing.id, &phc, now)?;
        }
        users::set_config_password_mac(conn, &existing.id, &mac)?;
        Ok(())
    })
}

fn sync_config_totp(
    conn: &mut DbConnection,
    master: &MasterKey,
    user_id: &str,
    u: &UserConfig,
    now: i64,
) -> Result<(), AccountError> {
    let wanted = u
        .totp_secret
        .as_ref()
        .map(|s| decode_totp_secret(s.expose()))
        .transpose()
        .map_err(AccountError::Invalid)?;
    let existing = totp_credentials::by_label(conn, user_id, CONFIG_TOTP_LABEL)?;
    if let Some(row) = &existing {
        let same = wanted.as_ref().is_some_and(|w| {
            master
                .open(row.id.as_bytes(), &row.secret)
                .is_ok_and(|s| &s == w)
        });
        if same {
            return Ok(());
        }
        totp_credentials::delete(conn, &row.id)?;
    }
    if let Some(secret) = wanted {
        let id = token::random_id();
        totp_credentials::insert(
            conn,
            &TotpCredentialRow {
                secret: master.seal(id.as_bytes(), &secret),
                id,
                user_id: user_id.to_owned(),
                label: CONFIG_TOTP_LABEL.into(),
                last_used_step: None,
                confirmed_at: Some(now),
                created_at: now,
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised() {
        assert_eq!(normalize_username("  Alice ").unwrap(), "alice");
        assert!(normalize_username("   ").is_err());
        assert!(normalize_username("al ice").is_err());
        assert!(normalize_username(&"a".repeat(65)).is_err());
    }

    #[test]
    fn totp_secrets_must_be_base32_and_long_enough() {
        assert!(decode_totp_secret("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").is_ok());
        assert!(decode_totp_secret("JBSWY3DPEHPK3PXP").is_err());
        assert!(decode_totp_secret("not base32!").is_err());
    }
}
