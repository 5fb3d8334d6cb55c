//! Cryptography, all of it from maintained libraries: `ring` signs and verifies JWS and
//! does AEAD/HMAC/HKDF/SHA-256; `rsa` and `p256` generate the keys; `argon2` hashes
//! passwords. Nothing here is hand-rolled.

pub mod keygen;
pub mod master_key;
pub mod password;
pub mod token;

/// JWKs and JWS live in `portcullis-jose`, which the resource-server verifier shares.
pub use portcullis_jose::{jwk, jws};

pub use jws::Alg;
pub use master_key::MasterKey;
