//! The instance secret (`secret_key`): every instance sharing a database must have the
//! same one. Two subkeys are derived from it with HKDF-SHA256 (RFC 5869):
//! - an AES-256-GCM key that encrypts private signing keys and TOTP secrets at rest;
//! - an HMAC-SHA256 key that hashes client secrets, so that a leaked database does not
//!   let anyone guess even an operator-chosen, low-entropy secret offline.

use ring::{aead, hkdf, hmac};

use super::token::random_bytes;

const NONCE_LEN: usize = 12;

/// Keys derived from `secret_key`. Never printed.
pub struct MasterKey {
    aead: aead::LessSafeKey,
    hmac: hmac::Key,
}

#[derive(Debug, thiserror::Error)]
#[error("the data cannot be decrypted with the configured secret_key")]
pub struct Undecryptable;

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl MasterKey {
    /// Minimum length of a configured `secret_key`, in bytes.
    pub const MIN_LEN: usize = 32;

    pub fn from_secret(secret: &[u8]) -> MasterKey {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"portcullis/v1").extract(secret);
        let derive = |info: &'static [u8]| {
            let mut out = [0u8; 32];
            prk.expand(&[info], Len(32))
                .and_then(|okm| okm.fill(&mut out))
                .expect("HKDF output of 32 bytes is always valid");
            out
        };
        let enc = derive(b"at-rest encryption");
        let mac = derive(b"client secret hmac");
        MasterKey {
            aead: aead::LessSafeKey::new(
                aead::UnboundKey::new(&aead::AES_256_GCM, &enc).expect("32-byte AES key"),
            ),
            hmac: hmac::Key::new(hmac::HMAC_SHA256, &mac),
        }
    }

    /// AES-256-GCM with a random 96-bit nonce; `aad` binds the ciphertext to its row.
    /// Output: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce = random_bytes::<NONCE_LEN>();
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
        out.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        self.aead
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(aad),
                &mut body,
            )
            .expect("AES-GCM sealing of an in-memory buffer cannot fail");
        out.extend_from_slice(&body);
        out
    }

    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Undecryptable> {
        if sealed.len() < NONCE_LEN {
            return Err(Undecryptable);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| Undecryptable)?;
        let mut body = body.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, aead::Aad::from(aad), &mut body)
            .map_err(|_| Undecryptable)?;
        Ok(plain.to_vec())
    }

    /// HMAC-SHA256 over `purpose ‖ 0x00 ‖ data`: one key, separate domains.
    pub fn mac(&self, purpose: &str, data: &[u8]) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.hmac);
        ctx.update(purpose.as_bytes());
        ctx.update(&[0]);
        ctx.update(data);
        ctx.sign().as_ref().to_vec()
    }

    /// Constant-time check of a tag made by [`MasterKey::mac`].
    pub fn verify_mac(&self, purpose: &str, data: &[u8], tag: &[u8]) -> bool {
        let mut message = Vec::with_capacity(purpose.len() + 1 + data.len());
        message.extend_from_slice(purpose.as_bytes());
        message.push(0);
        message.extend_from_slice(data);
        hmac::verify(&self.hmac, &message, tag).is_ok()
    }

    /// The stored form of a client secret.
    pub fn hash_client_secret(&self, secret: &str) -> Vec<u8> {
        self.mac("client-secret", secret.as_bytes())
    }

    /// Constant-time comparison of a presented secret with the stored tag.
    pub fn verify_client_secret(&self, secret: &str, stored: &[u8]) -> bool {
        self.verify_mac("client-secret", secret.as_bytes(), stored)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_the_same_key_and_aad() {
        let key = MasterKey::from_secret(&[7u8; 32]);
        let sealed = key.seal(b"kid-1", b"private key bytes");
        assert_eq!(key.open(b"kid-1", &sealed).unwrap(), b"private key bytes");
        assert!(key.open(b"kid-2", &sealed).is_err(), "aad binds the row");
        let other = MasterKey::from_secret(&[8u8; 32]);
        assert!(other.open(b"kid-1", &sealed).is_err());
        assert!(key.open(b"kid-1", &sealed[..5]).is_err());
    }

    #[test]
    fn client_secret_hashes_verify() {
        let key = MasterKey::from_secret(b"0123456789abcdef0123456789abcdef");
        let tag = key.hash_client_secret("change-me");
        assert!(key.verify_client_secret("change-me", &tag));
        assert!(!key.verify_client_secret("change-mf", &tag));
        assert!(!MasterKey::from_secret(&[1u8; 32]).verify_client_secret("change-me", &tag));
        assert!(
            !key.verify_mac("csrf", b"change-me", &tag),
            "purposes are separate"
        );
    }
}
