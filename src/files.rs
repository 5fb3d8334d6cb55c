//! The files Portcullis keeps on disk, private to the user it runs as (hardening #11
//! item 9): they hold password hashes, emails, addresses, the audit log and the instance
//! key. Directories it creates are 0700, files it creates 0600; an existing one that
//! other local users can read is named in a warning at start.

use std::fs::{DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` and any missing parents with mode 0700; an existing one is left as is.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Creates `path` empty with mode 0600 unless it exists. SQLite gives its `-wal` and
/// `-shm` files the mode of the database file, so creating that one is enough.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

/// Writes a new file (never an existing one) with mode 0600.
pub fn write_private_file(path: &Path, content: &str) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content.as_bytes())?;
    file.write_all(b"\n")
}

/// Warns when group or others may read `path`.
pub fn warn_if_shared(path: &Path, what: &str) {
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "{what} can be read by other local users of this machine: chmod 600 it"
            );
        }
    }
}
