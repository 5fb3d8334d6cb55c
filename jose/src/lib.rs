//! The JOSE code shared by the Portcullis server and `portcullis-verifier`: public JWKs
//! and their RFC 7638 thumbprints, and compact JWS (RFC 7515) signed and verified with
//! `ring`, for RS256 and ES256 only. Nothing here knows about a database or a server,
//! so a resource server links it without them.

pub mod jwk;
pub mod jws;

pub use jwk::PublicJwk;
pub use jws::{Alg, PublicKey, Signer, Verified};

/// base64url without padding (RFC 7515 §2).
pub fn b64url(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// SHA-256.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}
