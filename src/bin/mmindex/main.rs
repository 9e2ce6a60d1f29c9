//! `mmindex`: the command-line front of the library. Argument parsing,
//! progress and output only; all behaviour is in the library.
//!
//! Exit codes: 0 success; 1 failure (an error, a failed query, or `verify`
//! found a violation); 2 usage error; 3 partial success (the command
//! completed, but some records could not be indexed: each is reported on
//! stderr by name with its reason).

mod cli;
mod commands;
mod progress;
mod serve;

use std::process::ExitCode;

use clap::Parser;

/// Exit code of a command that completed with some records skipped.
pub const EXIT_PARTIAL: u8 = 3;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = cli::Cli::parse();
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
