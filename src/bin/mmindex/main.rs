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

/// Caps glibc's malloc arenas at one per core (at least 2), unless
/// `MALLOC_ARENA_MAX` says otherwise. A build extracts on worker threads
/// while the caller's thread commits; by default each thread may get an
/// arena of its own (up to 8 per core) that keeps the memory it freed, so
/// the workers' image buffers and the commits' buffers add up: a
/// 5,000-image build peaked at 1,135 MiB by default and 616 MiB with two
/// arenas, in the same wall time (docs/INGEST.md, "Memory budget").
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn cap_malloc_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only changes a malloc parameter; it is called before
    // this process starts any other thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn cap_malloc_arenas() {}

fn main() -> ExitCode {
    cap_malloc_arenas();
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
        Command::ExportVocabulary(a) => admin::export_vocabulary(a),
        Command::Serve(a) => serve::serve(a),
    }
}
