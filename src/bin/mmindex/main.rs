//! `mmindex`: the command-line front of the library. Argument parsing,
//! progress and output only; all behaviour is in the library.
//!
//! Exit codes: 0 success; 1 failure (an error, a failed query, or `verify`
//! found a violation); 2 usage error; 3 partial success (the command
//! completed, but some records could not be indexed: each is reported on
//! stderr by name with its reason).

mod cli;
mod commands;
mod json;
mod progress;
mod serve;

use std::process::ExitCode;

use clap::Parser;

use cli::Command;
use commands::{admin, ingest, query};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = cli::Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command and returns its exit code.
fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Build(a) => ingest::build(a, false),
        Command::Train(a) => ingest::build(a, true),
        Command::Add(a) => ingest::add(a),
        Command::Remove(a) => ingest::remove(a),
        Command::Rebuild(a) => ingest::rebuild(a),
        Command::Search(a) => query::search(a),
        Command::Stats(a) => admin::stats(a),
        Command::Verify(a) => admin::verify(a),
        Command::Compact(a) => admin::compact(a),
        Command::Serve(a) => serve::serve(a),
    }
}
