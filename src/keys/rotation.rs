//! Key rotation: generating the first keys, rotating on a schedule or on demand, and
//! revoking a key after a compromise — each a change to `signing_keys` and an audit
//! record; every instance's [`super::KeyRing`] picks the change up at its next reload.

use serde_json::json;

use super::KeyError;
use crate::crypto::jws::Alg;
use crate::crypto::keygen::{self, Generated};
use crate::crypto::MasterKey;
use crate::store::audit;
use crate::store::signing_keys::{self, SigningKeyRow};
use crate::store::{DbConnection, StoreError};

/// How keys are made and rotated; derived from the configuration.
#[derive(Debug, Clone)]
pub struct KeyPolicy {
    pub rsa_bits: usize,
    /// Seconds a new key is published before it signs.
    pub announce: i64,
    /// Seconds a retired key stays published (longest token lifetime plus skew).
    pub retention: i64,
}

fn generate(alg: Alg, rsa_bits: usize) -> Result<Generated, KeyError> {
    keygen::generate(alg, rsa_bits).map_err(KeyError::Generation)
}

fn sealed_row(
    master: &MasterKey,
    alg: Alg,
    key: &Generated,
    generation: i64,
    now: i64,
    activates_at: i64,
) -> SigningKeyRow {
    SigningKeyRow {
        kid: key.kid.clone(),
        alg: alg.as_str().into(),
        generation,
        public_jwk: serde_json::to_string(&key.jwk).expect("a JWK serialises"),
        private_key: master.seal(key.kid.as_bytes(), &key.pkcs8),
        created_at: now,
        activates_at,
        retires_at: None,
        expires_at: None,
    }
}

/// Makes sure each algorithm has a key that can sign now; generates what is missing.
/// Returns the kids generated. Safe when several instances start at once: the loser
/// of `UNIQUE (alg, generation)` keeps the winner's key.
pub fn ensure_signing_keys(
    conn: &mut DbConnection,
    master: &MasterKey,
    policy: &KeyPolicy,
    now: i64,
) -> Result<Vec<String>, KeyError> {
    let rows = signing_keys::list(conn)?;
    let mut generated = Vec::new();
    for alg in Alg::ALL {
        let mine: Vec<&SigningKeyRow> = rows.iter().filter(|r| r.alg == alg.as_str()).collect();
        if mine.iter().any(|r| can_sign(r, now)) {
            continue;
        }
        let next = mine.iter().map(|r| r.generation).max().unwrap_or(0) + 1;
        let key = generate(alg, policy.rsa_bits)?;
        let row = sealed_row(master, alg, &key, next, now, now);
        match signing_keys::insert(conn, &row) {
            Ok(()) => {
                audit::record(
                    conn,
                    "key.generated",
                    None,
                    None,
                    json!({ "kid": key.kid, "alg": alg }),
                )?;
                generated.push(key.kid)
            }
            Err(e) if e.is_unique_violation() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(generated)
}

fn can_sign(row: &SigningKeyRow, now: i64) -> bool {
    row.activates_at <= now && row.retires_at.is_none_or(|t| t > now)
}

/// The result of a rotation, for the CLI to report.
#[derive(Debug, Clone)]
pub struct Rotated {
    pub alg: Alg,
    pub kid: String,
    pub activates_at: i64,
    pub previous_expires_at: i64,
}

/// Generates the next key of `alg`: published now, signing from `now + announce`
/// (or at once when `immediately`), older keys retiring then.
pub fn rotate(
    conn: &mut DbConnection,
    master: &MasterKey,
    policy: &KeyPolicy,
    alg: Alg,
    now: i64,
    immediately: bool,
) -> Result<Rotated, KeyError> {
    let key = generate(alg, policy.rsa_bits)?;
    let generation = signing_keys::latest(conn, alg.as_str())?.map_or(0, |r| r.generation) + 1;
    let activates_at = if immediately {
        now
    } else {
        now + policy.announce
    };
    let row = sealed_row(master, alg, &key, generation, now, activates_at);
    let previous_expires_at = activates_at + policy.retention;
    signing_keys::rotate(conn, &row, previous_expires_at).map_err(|e| {
        if e.is_unique_violation() {
            KeyError::Store(StoreError::Conflict(
                "another rotation of this algorithm ran at the same time",
            ))
        } else {
            e.into()
        }
    })?;
    audit::record(
        conn,
        "key.rotated",
        None,
        None,
        json!({ "kid": key.kid, "alg": alg, "activates_at": activates_at, "previous_expires_at": previous_expires_at }),
    )?;
    Ok(Rotated {
        alg,
        kid: key.kid,
        activates_at,
        previous_expires_at,
    })
}

/// Takes the key `kid` out of signing, the JWKS and verification at once (after a
/// compromise): every instance drops it at its next reload. When the key signs, or is
/// announced to, a new key of its algorithm signs from `now` first, so there is never a
/// moment without one. `Ok(None)`: no such key.
pub fn revoke(
    conn: &mut DbConnection,
    master: &MasterKey,
    policy: &KeyPolicy,
    kid: &str,
    now: i64,
) -> Result<Option<Option<Rotated>>, KeyError> {
    let Some(row) = signing_keys::get(conn, kid)? else {
        return Ok(None);
    };
    let alg: Alg = row.alg.parse().map_err(|reason| KeyError::Invalid {
        kid: row.kid.clone(),
        reason,
    })?;
    let replaced = if row.retires_at.is_none_or(|t| t > now) {
        Some(rotate(conn, master, policy, alg, now, true)?)
    } else {
        None
    };
    signing_keys::revoke(conn, kid, now)?;
    audit::record(
        conn,
        "key.revoked",
        None,
        None,
        json!({ "kid": kid, "alg": alg }),
    )?;
    Ok(Some(replaced))
}

/// Rotates `alg` when its signing key has signed for `rotate_after` seconds and no
/// successor is announced yet. Decided on fresh rows, not on an instance's cached ring,
/// so instances do not rotate twice; two instances deciding at the same instant both
/// try generation N+1 and `UNIQUE (alg, generation)` keeps one.
pub fn rotate_if_due(
    conn: &mut DbConnection,
    master: &MasterKey,
    policy: &KeyPolicy,
    alg: Alg,
    rotate_after: i64,
    now: i64,
) -> Result<Option<Rotated>, KeyError> {
    let rows = signing_keys::list(conn)?;
    let mine = || rows.iter().filter(|r| r.alg == alg.as_str());
    let announced = mine().any(|r| r.activates_at > now);
    let signing = mine()
        .filter(|r| can_sign(r, now))
        .max_by_key(|r| r.generation);
    let due = signing.is_none_or(|r| r.activates_at + rotate_after <= now);
    if announced || !due {
        return Ok(None);
    }
    match rotate(conn, master, policy, alg, now, false) {
        Ok(rotated) => Ok(Some(rotated)),
        Err(KeyError::Store(StoreError::Conflict(_))) => Ok(None),
        Err(e) => Err(e),
    }
}
