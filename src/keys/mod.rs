//! Our signing keys as the server holds them: the in-memory [`KeyRing`] (decrypted from
//! `signing_keys` rows, reloaded in the background) that signs and serves the JWKS, and
//! their [`rotation`]. The JOSE primitives live in `crypto/`, which knows no database.
//!
//! Rotation is announce → sign → retire (OpenID Connect Core §10.1.1): a new key is
//! published for `announce` seconds before it signs, so resource servers that cache the
//! JWKS never meet an unknown `kid`; a retired key stays published for `retention`
//! seconds (the longest lifetime of anything it signed), then leaves the JWKS.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::crypto::jwk::PublicJwk;
use crate::crypto::jws::{Alg, PublicKey, Signer};
use crate::crypto::MasterKey;
use crate::store::signing_keys::SigningKeyRow;
use crate::store::StoreError;

pub mod rotation;

pub use rotation::{ensure_signing_keys, revoke, rotate, rotate_if_due, KeyPolicy, Rotated};

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
    /// The public half, which verifies.
    pub public: Arc<PublicKey>,
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
            crate::crypto::token::b64url(&crate::crypto::token::sha256(jwks.as_bytes())[..16])
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

    /// Verifies a compact JWS signed by one of these keys still published at `now`.
    pub fn verify(&self, token: &str, now: i64) -> Option<crate::crypto::jws::Verified> {
        crate::crypto::jws::verify(token, |kid| {
            self.verifying_key(kid, now).map(|k| k.public.as_ref())
        })
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
            let (signer, public, jwk) = match known.get(row.kid.as_str()) {
                Some(k) => (k.signer.clone(), k.public.clone(), k.jwk.clone()),
                None => {
                    let (signer, jwk) = self.decrypt(&row, alg)?;
                    (signer.clone(), Arc::new(signer.public_key()), jwk)
                }
            };
            keys.push(LoadedKey {
                kid: row.kid,
                alg,
                generation: row.generation,
                activates_at: row.activates_at,
                retires_at: row.retires_at,
                expires_at: row.expires_at,
                signer,
                public,
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
    use crate::crypto::keygen::generate;

    fn loaded(
        kid: &str,
        generation: i64,
        activates_at: i64,
        retires_at: Option<i64>,
        expires_at: Option<i64>,
    ) -> LoadedKey {
        let key = generate(Alg::ES256, 2048).unwrap();
        let signer = Signer::from_pkcs8(Alg::ES256, &key.pkcs8).unwrap();
        let public = signer.public_key();
        LoadedKey {
            kid: kid.into(),
            alg: Alg::ES256,
            generation,
            activates_at,
            retires_at,
            expires_at,
            signer: Arc::new(signer),
            public: Arc::new(public),
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
