//! `portcullis keys list|rotate|revoke`.

use clap::Subcommand;

use crate::app::Core;
use crate::clock;
use crate::config::Config;
use crate::crypto::Alg;
use crate::keys::KeyRing;
use crate::keys::{self, KeyError};
use crate::store::signing_keys;

use super::Failure;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys and where each stands.
    List,
    /// Generate the next key: published now, signing after `keys.announce`.
    Rotate {
        /// Rotate only this algorithm (RS256 or ES256); default: both.
        #[arg(long)]
        alg: Option<Alg>,
        /// Sign with the new key at once (after a suspected compromise). Resource servers
        /// holding a cached JWKS will reject tokens until they refetch it.
        #[arg(long)]
        now: bool,
    },
    /// Take a key out of signing, the JWKS and verification at once (after a compromise):
    /// every token it signed stops verifying, on every instance within one
    /// `keys.reload_interval`. A key that signs is first replaced by a new one.
    Revoke {
        /// The key's `kid`, as `keys list` shows it. A thumbprint is base64url and may
        /// begin with `-`: it is still the kid, not an option.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

pub fn run(config: Config, command: KeysCommand) -> Result<(), Failure> {
    let core = Core::open(config)?;
    let now = clock::now();
    match command {
        KeysCommand::List => {
            let rows = core.db.run_blocking(signing_keys::list)?;
            let ring = KeyRing::new(core.master.clone());
            ring.load(rows, now)?;
            let set = ring.current();
            println!(
                "{:<44} {:<6} {:<10} {:<21} {:<21} EXPIRES",
                "KID", "ALG", "STATE", "ACTIVATES", "RETIRES"
            );
            for key in set.keys() {
                let time = |t: Option<i64>| t.map(clock::format).unwrap_or_else(|| "-".into());
                println!(
                    "{:<44} {:<6} {:<10} {:<21} {:<21} {}",
                    key.kid,
                    key.alg,
                    set.state(key, now).as_str(),
                    clock::format(key.activates_at),
                    time(key.retires_at),
                    time(key.expires_at)
                );
            }
            Ok(())
        }
        KeysCommand::Rotate {
            alg,
            now: immediately,
        } => {
            let policy = core.key_policy();
            let algs = alg.map(|a| vec![a]).unwrap_or_else(|| Alg::ALL.to_vec());
            core.db
                .run_blocking(|conn| keys::ensure_signing_keys(conn, &core.master, &policy, now))?;
            for alg in algs {
                let rotated = core
                    .db
                    .run_blocking(|conn| {
                        keys::rotate(conn, &core.master, &policy, alg, now, immediately)
                    })
                    .map_err(|e: KeyError| Failure(e.to_string()))?;
                println!(
                    "{alg}: new key {} published now, signing from {}; older keys leave the JWKS at {}",
                    rotated.kid,
                    clock::format(rotated.activates_at),
                    clock::format(rotated.previous_expires_at)
                );
            }
            Ok(())
        }
        KeysCommand::Revoke { kid } => {
            let policy = core.key_policy();
            let revoked = core
                .db
                .run_blocking(|conn| {
                    crate::store::transaction(conn, |conn| {
                        keys::revoke(conn, &core.master, &policy, &kid, now)
                    })
                })
                .map_err(|e: KeyError| Failure(e.to_string()))?;
            match revoked {
                None => Err(Failure(format!("no signing key has the kid {kid}"))),
                Some(replaced) => {
                    if let Some(r) = replaced {
                        println!("{}: new key {} signs from now", r.alg, r.kid);
                    }
                    println!(
                        "{kid}: revoked; it leaves the JWKS and verifies nothing from the next key reload"
                    );
                    Ok(())
                }
            }
        }
    }
}
