//! Time as stored: whole seconds since the Unix epoch.
//!
//! [`Clock`] is the time the server acts on. It is the system's, plus an offset that
//! only tests move (`Clock::advance`): TOTP steps, lockouts and lifetimes are tested by
//! moving the clock, never by sleeping (#12). Handlers, key reloading and rotation, and
//! the clean-up job act on it. Every instance of a test that shares a
//! database shares one clock, as servers share the world's time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The system's time, for code that has no [`Clock`] (the CLI, audit records).
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The server's clock: cheap to clone, every clone reads the same time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> i64 {
        now() + self.offset.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every clone of it) `seconds` ahead; for tests.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::Relaxed);
    }
}

/// RFC 3339 in UTC, for people reading the CLI.
pub fn format(unix: i64) -> String {
    humantime::format_rfc3339_seconds(
        UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64),
    )
    .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn clones_move_together() {
        let clock = super::Clock::default();
        let other = clock.clone();
        let before = other.now();
        clock.advance(3600);
        assert!(other.now() >= before + 3600);
    }
}
