//! One file per command group.

mod admin;
mod ingest;
mod query;

use std::process::ExitCode;

pub use admin::stats_json;
pub use query::json_hits;

use crate::cli::Command;

/// Runs a parsed command and returns its exit code.
pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
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
        Command::Serve(a) => crate::serve::serve(a),
    }
}
