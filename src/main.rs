use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    portcullis::cli::run(portcullis::cli::Cli::parse())
}
