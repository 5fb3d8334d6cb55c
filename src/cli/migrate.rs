//! `portcullis migrate`.

use crate::app::Core;
use crate::config::Config;

use super::Failure;

pub fn run(config: Config) -> Result<(), Failure> {
    let core = Core::open(config)?;
    core.db.run_blocking(crate::store::verify_schema)?;
    println!(
        "migrations applied; the {} database is up to date",
        core.db.backend().name()
    );
    Ok(())
}
