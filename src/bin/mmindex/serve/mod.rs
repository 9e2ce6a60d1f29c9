//! `mmindex serve`: one process holds an index open and answers HTTP JSON.
//!
//! Searches run concurrently on tokio's blocking pool (extraction is
//! CPU-bound and must not stall the async threads); writes are serialised by
//! one lock, since an index has one writer at a time. A write answers only
//! after its batch is flushed, so an acknowledged record survives a crash.
//! See docs/SERVER.md for the endpoints and the security model.

mod auth;
mod error;
mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use axum::extract::DefaultBodyLimit;
use mmindex::{Index, RunOptions};

use crate::cli::ServeArgs;

/// What every request handler shares.
pub struct AppState {
    pub index: Index,
    /// Held for the whole of a write: an index has one writer at a time.
    pub write_lock: Mutex<()>,
    pub run: RunOptions,
    /// Bearer token; `None` accepts every request.
    pub token: Option<Vec<u8>>,
    /// Whether reads need the token too.
    pub protect_reads: bool,
    /// Canonical folder that `POST /records:batch` paths must lie in;
    /// `None` disables server-side paths.
    pub allowed_root: Option<PathBuf>,
    pub timeout: Duration,
    /// Largest request body in bytes.
    pub max_upload: usize,
    /// Searches running at once: one per core. A search is CPU-bound
    /// (feature extraction), so more at once only share the cores and
    /// stretch every one of them; the rest wait in arrival order.
    pub search_slots: tokio::sync::Semaphore,
}

pub fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let token = match &a.token_file {
        Some(f) => {
            let t = std::fs::read_to_string(f)
                .with_context(|| format!("reading the token file {}", f.display()))?;
            let t = t.trim().as_bytes().to_vec();
            if t.len() < 16 {
                bail!("the token in {} is shorter than 16 bytes", f.display());
            }
            Some(t)
        }
        None => None,
    };
    let listen: SocketAddr = a
        .listen
        .parse()
        .with_context(|| format!("--listen {}", a.listen))?;
    if !listen.ip().is_loopback() && token.is_none() {
        bail!(
            "refusing to listen on {listen} without --token-file: anyone who can reach it could \
             change the index (pass a token, or listen on a loopback address)"
        );
    }
    if a.protect_reads && token.is_none() {
        bail!("--protect-reads needs --token-file");
    }
    let allowed_root = match &a.allowed_root {
        Some(r) => Some(
            r.canonicalize()
                .with_context(|| format!("--allowed-root {}", r.display()))?,
        ),
        None => None,
    };
    let index = Index::open(&a.index.index)
        .with_context(|| format!("opening {}", a.index.index.display()))?;
    let state = Arc::new(AppState {
        index,
        write_lock: Mutex::new(()),
        run: a.run.options(),
        token,
        protect_reads: a.protect_reads,
        allowed_root,
        timeout: Duration::from_secs(a.timeout_secs.max(1)),
        max_upload: a.max_upload_bytes,
        search_slots: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        ),
    });
    if a.warm {
        let state = state.clone();
        // Searches are answered meanwhile; a failure only leaves the
        // cache colder.
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            match state.index.searcher().and_then(|s| s.warm(u64::MAX)) {
                Ok(r) => eprintln!(
                    "warmed {} words ({} MB) in {:.1} s",
                    r.words,
                    r.bytes >> 20,
                    started.elapsed().as_secs_f64()
                ),
                Err(e) => eprintln!("warming the block cache failed: {e}"),
            }
        });
    }
    let app = routes::router(state.clone()).layer(DefaultBodyLimit::max(a.max_upload_bytes));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let local = listener.local_addr()?;
        // Scripts and tests read this line to learn the port (with :0).
        println!("listening on http://{local}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serving")
    })?;
    // In-flight requests have finished; their writes were flushed already.
    state.index.flush()?;
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on ctrl-c or SIGTERM. Graceful shutdown then stops accepting
/// connections and waits for requests in flight, so a write that started
/// either finishes (and is acknowledged) or never began.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
