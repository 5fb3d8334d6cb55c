//! `portcullis user add|list|disable|enable|set-password`. Passwords come from a prompt
//! or `--password-stdin`, never from the command line.

use clap::Subcommand;

use crate::app::Core;
use crate::clock;
use crate::config::Config;
use crate::crypto::password;
use crate::oauth::client::MANAGED_BY_CLI;
use crate::people::accounts;
use crate::store::users::{self as store, UserRow};
use crate::store::StoreError;

use super::{audited, password_input, Failure};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user with a password.
    Add {
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        email_verified: bool,
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Refuse new sign-ins, end sessions and revoke refresh tokens.
    Disable { username: String },
    /// Allow sign-ins again.
    Enable { username: String },
    /// Set a new password; ends the user's sessions and revokes their refresh tokens.
    SetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

pub fn run(config: Config, command: UserCommand) -> Result<(), Failure> {
    let core = Core::open(config)?;
    let now = clock::now();
    match command {
        UserCommand::Add {
            username,
            email,
            email_verified,
            name,
            password_stdin,
        } => {
            let username = accounts::normalize_username(&username)
                .map_err(|e| Failure(format!("username: {e}")))?;
            if let Some(email) = &email {
                accounts::validate_email(email).map_err(|e| Failure(format!("email: {e}")))?;
            }
            let password = password_input::read(password_stdin)?;
            accounts::validate_password(&password)
                .map_err(|e| Failure(format!("password: {e}")))?;
            let row = accounts::new_user(
                &username,
                email,
                email_verified,
                name,
                Some(&password),
                MANAGED_BY_CLI,
                now,
            )
            .map_err(Failure)?;
            core.db
                .run_blocking(|conn| store::insert(conn, &row))
                .map_err(|e: StoreError| {
                    if e.is_unique_violation() {
                        Failure(format!("a user named {username:?} already exists"))
                    } else {
                        Failure(e.to_string())
                    }
                })?;
            println!("created user {} (sub {})", row.username, row.id);
            Ok(())
        }
        UserCommand::List => {
            let rows = core.db.run_blocking(store::list)?;
            println!("{:<24} {:<24} {:<9} EMAIL", "USERNAME", "SUB", "STATUS");
            for row in rows {
                let status = if row.disabled { "disabled" } else { "active" };
                println!(
                    "{:<24} {:<24} {:<9} {}",
                    row.username,
                    row.id,
                    status,
                    row.email.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
        UserCommand::Disable { username } => {
            let user = find(&core, &username)?;
            audited(&core, "user.disabled", Some(&user.id), None, |conn| {
                accounts::set_disabled(conn, &user.id, true, now)
            })?;
            println!(
                "disabled {}: sessions ended, refresh tokens revoked",
                user.username
            );
            Ok(())
        }
        UserCommand::Enable { username } => {
            let user = find(&core, &username)?;
            audited(&core, "user.enabled", Some(&user.id), None, |conn| {
                accounts::set_disabled(conn, &user.id, false, now)
            })?;
            println!("enabled {}", user.username);
            Ok(())
        }
        UserCommand::SetPassword {
            username,
            password_stdin,
        } => {
            let user = find(&core, &username)?;
            let password = password_input::read(password_stdin)?;
            accounts::validate_password(&password)
                .map_err(|e| Failure(format!("password: {e}")))?;
            let phc = password::hash_blocking(&password).map_err(Failure)?;
            audited(
                &core,
                "user.password_changed",
                Some(&user.id),
                None,
                |conn| accounts::set_password(conn, &user.id, &phc, now),
            )?;
            println!(
                "password changed for {}; other sessions and refresh tokens revoked",
                user.username
            );
            Ok(())
        }
    }
}

fn find(core: &Core, username: &str) -> Result<UserRow, Failure> {
    let normalized =
        accounts::normalize_username(username).map_err(|e| Failure(format!("username: {e}")))?;
    core.db
        .run_blocking(|conn| store::by_username(conn, &normalized))?
        .ok_or_else(|| Failure(format!("no user named {normalized:?}")))
}
