//! Signing keys: generation (`rsa`, `p256`), encryption at rest, rotation, and the
//! in-memory [`KeyRing`] that signs and serves the JWKS.
//!
//! Rotation is announce → sign → retire (OpenID Connect Core §10.1.1): a new key is
//! published for `announce` seconds before it signs, so resource servers that cache the
//! JWKS never meet an unknown `kid`; a retired key stays published for `retention`
//! seconds (the longest lifetime of anything it signed), then leaves the JWKS.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use getrandom::SysRng;
use p256::elliptic_curve::Generate;
use rsa::pkcs8::EncodePrivateKey;
use serde_json::json;

use super::jwk::PublicJwk;
use super::jws::{Alg, Signer};
use super::master_key::MasterKey;
use crate::store::audit;
use crate::store::signing_keys::{self, SigningKeyRow};
use crate::store::{DbConnection, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "signing key {kid} cannot be decrypted with the configured secret_key; every instance \
         sharing a database must use the same secret_key"
    )]
    Undecryptable { kid: String },
    #[error("signing key {kid} is invalid: {reason}")]
    Invalid { kid: String, reason: String },
    #[error("key generation failed: {0}")]
    Generation(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How keys are made and rotated; derived from the configuration.
#[derive(Debug, Clone)]
pub struct KeyPolicy {
    pub rsa_bits: usize,
    /// Seconds a new key is published before it signs.
    pub announce: i64,
    /// Seconds a retired key stays published (longest token lifetime plus skew).
    pub retention: i64,
}

/// A freshly generated key pair, before it is sealed and stored.
struct Generated {
    kid: String,
    jwk: PublicJwk,
    pkcs8: Vec<u8>,
}

fn generate(alg: Alg, rsa_bits: usize) -> Result<Generated, KeyError> {
    let failed = |e: &dyn std::fmt::Display| KeyError::Generation(format!("{alg}: {e}"));
    let pkcs8 = match alg {
        Alg::RS256 => rsa::PrivateKey::new(&mut SysRng, rsa_bits)
            .map_err(|e| failed(&e))?
            .to_pkcs8_der()
            .map_err(|e| failed(&e))?
            .as_bytes()
            .to_vec(),
        Alg::ES256 => p256::SecretKey::try_generate()
            .map_err(|e| failed(&e))?
            .to_pkcs8_der()
            .map_err(|e| failed(&e))?
            .as_bytes()
            .to_vec(),
    };
    // Parsing with ring proves the document is one ring will sign with.
    let jwk = Signer::from_pkcs8(alg, &pkcs8)
        .map_err(|e| failed(&e))?
        .public_jwk();
    Ok(Generated {
        kid: jwk.thumbprint(),
        jwk,
        pkcs8,
    })
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

/// Where a key stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet.
    Announced,
    /// The key that signs for its algorithm.
    Signing,
    /// Published for verification only.
    Retired,
    /// No longer published.
    Expired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Announced => "announced",
            KeyState::Signing => "signing",
            KeyState::Retired => "retired",
            KeyState::Expired => "expired",
        }
    }
}

/// One decrypted key with its schedule.
pub struct LoadedKey {
    pub kid: String,
    pub alg: Alg,
    pub generation: i64,
    pub activates_at: i64,
    pub retires_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub signer: Arc<Signer>,
    jwk: PublicJwk,
}

impl LoadedKey {
    fn published(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }
}

/// An immutable snapshot of the keys, with the JWKS body computed once.
pub struct KeySet {
    keys: Vec<LoadedKey>,
    /// Shared, so serving it is a reference-count increment, not a copy.
    jwks: bytes::Bytes,
    etag: String,
}

impl KeySet {
    fn build(keys: Vec<LoadedKey>, now: i64) -> KeySet {
        let published: Vec<serde_json::Value> = keys
            .iter()
            .filter(|k| k.published(now))
            .map(|k| k.jwk.to_published(&k.kid, k.alg))
            .collect();
        let jwks = serde_json::json!({ "keys": published }).to_string();
        let etag = format!(
            "\"{}\"",
            super::token::b64url(&super::token::sha256(jwks.as_bytes())[..16])
        );
        KeySet {
            keys,
            jwks: jwks.into(),
            etag,
        }
    }

    /// The key that signs for `alg` at `now`: the newest generation that has activated
    /// and not retired.
    pub fn signing_key(&self, alg: Alg, now: i64) -> Option<&LoadedKey> {
        self.keys
            .iter()
            .filter(|k| {
                k.alg == alg && k.activates_at <= now && k.retires_at.is_none_or(|t| t > now)
            })
            .max_by_key(|k| k.generation)
    }

    pub fn state(&self, key: &LoadedKey, now: i64) -> KeyState {
        if !key.published(now) {
            KeyState::Expired
        } else if key.activates_at > now {
            KeyState::Announced
        } else if self
            .signing_key(key.alg, now)
            .is_some_and(|s| s.kid == key.kid)
        {
            KeyState::Signing
        } else {
            KeyState::Retired
        }
    }

    /// The key `kid` names, when it is still published at `now`: a key that has left the
    /// JWKS verifies nothing (hardening #11 item 3).
    pub fn verifying_key(&self, kid: &str, now: i64) -> Option<&LoadedKey> {
        self.keys.iter().find(|k| k.kid == kid && k.published(now))
    }

    pub fn keys(&self) -> &[LoadedKey] {
        &self.keys
    }

    /// The JWKS document (RFC 7517 §5) of every published key.
    pub fn jwks_json(&self) -> bytes::Bytes {
        self.jwks.clone()
    }

    pub fn etag(&self) -> &str {
        &self.etag
    }
}

/// The keys every handler signs with; reloaded from the database in the background so
/// that a rotation made by any instance is picked up without a restart.
pub struct KeyRing {
    master: Arc<MasterKey>,
    current: RwLock<Arc<KeySet>>,
}

impl KeyRing {
    pub fn new(master: Arc<MasterKey>) -> KeyRing {
        KeyRing {
            master,
            current: RwLock::new(Arc::new(KeySet::build(Vec::new(), 0))),
        }
    }

    pub fn current(&self) -> Arc<KeySet> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the snapshot with `rows`, decrypting only keys not already loaded.
    /// On error the previous snapshot stays in place.
    pub fn load(&self, rows: Vec<SigningKeyRow>, now: i64) -> Result<(), KeyError> {
        let previous = self.current();
        let known: HashMap<&str, &LoadedKey> =
            previous.keys.iter().map(|k| (k.kid.as_str(), k)).collect();
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let invalid = |reason: String| KeyError::Invalid {
                kid: row.kid.clone(),
                reason,
            };
            let alg: Alg = row.alg.parse().map_err(invalid)?;
            let (signer, jwk) = match known.get(row.kid.as_str()) {
                Some(k) => (k.signer.clone(), k.jwk.clone()),
                None => self.decrypt(&row, alg)?,
            };
            keys.push(LoadedKey {
                kid: row.kid,
                alg,
                generation: row.generation,
                activates_at: row.activates_at,
                retires_at: row.retires_at,
                expires_at: row.expires_at,
                signer,
                jwk,
            });
        }
        let next = Arc::new(KeySet::build(keys, now));
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = next;
        Ok(())
    }

    fn decrypt(&self, row: &SigningKeyRow, alg: Alg) -> Result<(Arc<Signer>, PublicJwk), KeyError> {
        let pkcs8 = self
            .master
            .open(row.kid.as_bytes(), &row.private_key)
            .map_err(|_| KeyError::Undecryptable {
                kid: row.kid.clone(),
            })?;
        let signer = Signer::from_pkcs8(alg, &pkcs8).map_err(|reason| KeyError::Invalid {
            kid: row.kid.clone(),
            reason,
        })?;
        let jwk = signer.public_jwk();
        if jwk.thumbprint() != row.kid {
            return Err(KeyError::Invalid {
                kid: row.kid.clone(),
                reason: "the kid is not the thumbprint of the stored key".into(),
            });
        }
        Ok((Arc::new(signer), jwk))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256};

    fn roundtrip(alg: Alg) {
        let key = generate(alg, 2048).unwrap();
        let signer = Signer::from_pkcs8(alg, &key.pkcs8).unwrap();
        let sig = signer.sign(b"message");
        let point_or_der: Vec<u8> = match (&signer, &key.jwk) {
            (Signer::Ec(k), _) => ring::signature::KeyPair::public_key(k).as_ref().to_vec(),
            (Signer::Rsa(k), _) => ring::signature::KeyPair::public_key(k).as_ref().to_vec(),
        };
        let verifier = match alg {
            Alg::ES256 => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point_or_der),
            Alg::RS256 => UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, point_or_der),
        };
        verifier.verify(b"message", &sig).unwrap();
        assert!(verifier.verify(b"other", &sig).is_err());
        assert_eq!(key.kid, key.jwk.thumbprint());
    }

    #[test]
    fn generated_es256_keys_sign_with_ring() {
        roundtrip(Alg::ES256);
    }

    #[test]
    fn generated_rs256_keys_sign_with_ring() {
        roundtrip(Alg::RS256);
    }

    fn loaded(
        kid: &str,
        generation: i64,
        activates_at: i64,
        retires_at: Option<i64>,
        expires_at: Option<i64>,
    ) -> LoadedKey {
        let key = generate(Alg::ES256, 2048).unwrap();
        LoadedKey {
            kid: kid.into(),
            alg: Alg::ES256,
            generation,
            activates_at,
            retires_at,
            expires_at,
            signer: Arc::new(Signer::from_pkcs8(Alg::ES256, &key.pkcs8).unwrap()),
            jwk: key.jwk,
        }
    }

    #[test]
    fn states_follow_the_schedule() {
        // k1 signed from 0, retires at 100 when k2 takes over, leaves the JWKS at 200.
        let set = KeySet::build(
            vec![
                loaded("k1", 1, 0, Some(100), Some(200)),
                loaded("k2", 2, 100, None, None),
            ],
            50,
        );
        let at = |now| {
            set.keys()
                .iter()
                .map(|k| set.state(k, now))
                .collect::<Vec<_>>()
        };
        use KeyState::*;
        assert_eq!(at(50), [Signing, Announced]);
        assert_eq!(at(100), [Retired, Signing]);
        assert_eq!(at(199), [Retired, Signing]);
        assert_eq!(at(200), [Expired, Signing]);
        assert_eq!(set.signing_key(Alg::ES256, 99).unwrap().kid, "k1");
        assert!(set.signing_key(Alg::RS256, 99).is_none());
        // Both are published while k2 is announced.
        let jwks = String::from_utf8(set.jwks_json().to_vec()).unwrap();
        assert_eq!(jwks.matches("\"kid\"").count(), 2);
    }
}
