//! Password hashing with argon2id at the OWASP parameters (m = 19 MiB, t = 2, p = 1;
//! argon2's defaults). Each hash costs ~25 ms of CPU and 19 MiB, so the server verifies
//! on a few dedicated threads of its own, each reusing one preallocated memory area: a
//! flood of sign-ins cannot starve other work, and memory stays at `concurrency` × 19 MiB
//! (hashing on the general blocking pool left a freed 19 MiB area in the allocator
//! arena of every thread that ever hashed: hundreds of MB under load).

use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Argon2, Block, Params};
use subtle::ConstantTimeEq;
use tokio::sync::{mpsc, oneshot};

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

/// The server's hashing threads.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
}

struct Job {
    password: String,
    phc: Option<String>,
    reply: oneshot::Sender<bool>,
}

impl PasswordHasher {
    /// Starts `concurrency` threads; they end when the last handle is dropped.
    pub fn new(concurrency: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>(1024);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..concurrency.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("portcullis-argon2-{i}"))
                .spawn(move || {
                    let mut memory: Vec<Block> = Vec::new();
                    loop {
                        let job = queue
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .blocking_recv();
                        let Some(job) = job else { break };
                        let ok = verify_with_memory(&job.password, job.phc.as_deref(), &mut memory);
                        let _ = job.reply.send(ok);
                    }
                })
                .expect("a hashing thread starts");
        }
        PasswordHasher { jobs }
    }

    pub async fn verify(&self, password: String, phc: Option<String>) -> bool {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            password,
            phc,
            reply,
        };
        if self.jobs.send(job).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

/// [`verify_blocking`] with a reusable memory area (grown to the largest `m` seen).
fn verify_with_memory(password: &str, phc: Option<&str>, memory: &mut Vec<Block>) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let (stored, known) = match phc.and_then(|p| PasswordHash::new(p).ok()) {
        Some(parsed) => (parsed, true),
        None => (
            PasswordHash::new(DUMMY_HASH).expect("the dummy hash parses"),
            false,
        ),
    };
    let ok = check(password, &stored, memory).unwrap_or(false);
    ok && known
}

fn check(password: &str, stored: &PasswordHash, memory: &mut Vec<Block>) -> Option<bool> {
    if stored.algorithm != argon2::Algorithm::Argon2id.ident() {
        return None;
    }
    let params = Params::try_from(stored).ok()?;
    let version = argon2::Version::try_from(stored.version?).ok()?;
    let expected = stored.hash.as_ref()?;
    let salt: &[u8] = stored.salt.as_ref()?.as_ref();
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    Argon2::new(argon2::Algorithm::Argon2id, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..blocks])
        .ok()?;
    Some(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
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
        let mut memory = Vec::new();
        assert!(verify_with_memory(
            "correct horse battery staple",
            Some(&phc),
            &mut memory
        ));
        assert!(!verify_with_memory(
            "correct horse battery stapl",
            Some(&phc),
            &mut memory
        ));
        assert!(!verify_with_memory("anything", None, &mut memory));
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
