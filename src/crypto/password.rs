//! Password hashing with argon2id at the OWASP parameters (m = 19 MiB, t = 2, p = 1;
//! argon2's defaults). Each hash costs ~25 ms of CPU and 19 MiB, so hashing runs on the
//! blocking pool behind a small semaphore: a flood of sign-ins cannot starve other work.

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::Argon2;
use tokio::sync::Semaphore;

/// Passwords longer than this are refused before hashing (hash DoS).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash_blocking(password: &str) -> Result<String, String> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "passwords are limited to {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("password hashing failed: {e}"))
}

/// Checks a password against a PHC string in constant time. Without a stored hash a
/// dummy hash is checked all the same, so unknown users cost what known ones do.
pub fn verify_blocking(password: &str, phc: Option<&str>) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let stored = phc.unwrap_or(DUMMY_HASH);
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), stored)
        .is_ok();
    ok && phc.is_some()
}

/// The hash of a random string nobody knows, at the same parameters.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$yWsk8V2nGQ7+zOQyWn7ZdM2mBoVbc7z2Bz3b0BvKq0E";

/// A bounded pool for hashing on the server.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
}

impl PasswordHasher {
    pub fn new(concurrency: usize) -> Self {
        PasswordHasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    async fn limited<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        tokio::task::spawn_blocking(f)
            .await
            .expect("password hashing does not panic")
    }

    pub async fn verify(&self, password: String, phc: Option<String>) -> bool {
        self.limited(move || verify_blocking(&password, phc.as_deref()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let phc = hash_blocking("correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_blocking("correct horse battery staple", Some(&phc)));
        assert!(!verify_blocking("correct horse battery stapl", Some(&phc)));
        assert!(!verify_blocking("anything", None));
        assert!(hash_blocking(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }

    /// The dummy must parse, with the real parameters, or unknown users would answer
    /// faster than known ones (checklist §3.6).
    #[test]
    fn the_dummy_hash_costs_a_real_verification() {
        let parsed = argon2::PasswordHash::new(DUMMY_HASH).unwrap();
        let real = hash_blocking("anything at all").unwrap();
        let real = argon2::PasswordHash::new(&real).unwrap();
        assert_eq!(parsed.algorithm, real.algorithm);
        assert_eq!(parsed.params, real.params);
        assert_eq!(parsed.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
    }
}
