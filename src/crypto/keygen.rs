//! Key generation: `rsa` and `p256` make the private keys (PKCS#8), ring proves it can
//! sign with them, and the `kid` is the RFC 7638 thumbprint of the public half.

use getrandom::SysRng;
use p256::elliptic_curve::Generate;
use rsa::pkcs8::EncodePrivateKey;

use super::jwk::PublicJwk;
use super::jws::{Alg, Signer};

/// A freshly generated key pair, before it is sealed and stored.
pub struct Generated {
    pub kid: String,
    pub jwk: PublicJwk,
    pub pkcs8: Vec<u8>,
}

pub fn generate(alg: Alg, rsa_bits: usize) -> Result<Generated, String> {
    let failed = |e: &dyn std::fmt::Display| format!("{alg}: {e}");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(alg: Alg) {
        let key = generate(alg, 2048).unwrap();
        let signer = Signer::from_pkcs8(alg, &key.pkcs8).unwrap();
        let sig = signer.sign(b"message");
        let public = crate::crypto::jws::PublicKey::from_jwk(&key.jwk).unwrap();
        assert_eq!(public.alg(), alg);
        assert!(public.verify(b"message", &sig));
        assert!(!public.verify(b"other", &sig));
        assert!(signer.public_key().verify(b"message", &sig));
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
}
