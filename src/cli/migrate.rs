//! `portcullis migrate`.

use crate::app::Core;
use crate::config::Config;

use super::Failure;

pub fn run(config: Config) -> Result<(), Failure> {
    let core = Core::open(config)?;
    println!(
        "migrations applied; the {} database is up to date",
        core.db.backend().name()
    );
    Ok(())
}
