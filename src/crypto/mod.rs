//! Cryptography, all of it from maintained libraries: `ring` signs and verifies JWS and
//! does AEAD/HMAC/HKDF/SHA-256; `rsa` and `p256` generate the keys; `argon2` hashes
//! passwords. Nothing here is hand-rolled.

pub mod jwk;
pub mod jws;
pub mod keygen;
pub mod master_key;
pub mod password;
pub mod token;

pub use jws::Alg;
pub use master_key::MasterKey;
