//! The `portcullis` command line: one file per subcommand group. Every subcommand
//! takes the same `--config` and works against SQLite or PostgreSQL alike.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

mod client;
mod keys;
mod migrate;
mod password_input;
mod serve;
mod user;

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "An OAuth 2.0 and OpenID Connect authorization server"
)]
pub struct Cli {
    /// Configuration file (TOML); PORTCULLIS_… environment variables override it.
    #[arg(long, global = true, env = "PORTCULLIS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server (applies migrations and creates keys when needed).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Inspect and rotate signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
}

/// A command failed; the message is for the operator.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// Applies `change` and records `kind` in the audit log, in one transaction: an
/// administrative change is never made without its record.
fn audited(
    core: &crate::app::Core,
    kind: &str,
    user_id: Option<&str>,
    client_id: Option<&str>,
    change: impl FnOnce(&mut crate::store::DbConnection) -> Result<(), crate::store::StoreError>,
) -> Result<(), crate::store::StoreError> {
    core.db.run_blocking(|conn| {
        crate::store::transaction(conn, |conn| {
            change(conn)?;
            crate::store::audit::record(
                conn,
                kind,
                user_id,
                client_id,
                serde_json::json!({ "by": "cli" }),
            )
        })
    })
}

/// Parses nothing (the caller did), loads the configuration and runs the command.
pub fn run(cli: Cli) -> ExitCode {
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("portcullis: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&config.log);
    let result = match cli.command {
        Command::Serve => serve::run(config),
        Command::Migrate => migrate::run(config),
        Command::Client(c) => client::run(config, c),
        Command::User(c) => user::run(config, c),
        Command::Keys(c) => keys::run(config, c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("portcullis: {message}");
            ExitCode::FAILURE
        }
    }
}
