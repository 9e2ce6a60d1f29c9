//! `mmindex serve`: one process holds an index (or several shards served
//! as one) open and answers HTTP JSON.
//!
//! Searches run concurrently on tokio's blocking pool (extraction is
//! CPU-bound and must not stall the async threads); writes are serialised by
//! one lock, since an index has one writer at a time. A write answers only
//! after its batch is flushed, so an acknowledged record survives a crash.
//! See docs/SERVER.md for the endpoints, the limits and the security model.

mod auth;
mod conn;
mod error;
mod io;
mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use axum::extract::DefaultBodyLimit;
use mmindex::{shard_of, Index, RunOptions, ShardedSearcher};

use crate::cli::ServeArgs;

/// What every request handler shares.
pub struct AppState {
    /// The served index, or the shards served as one (in shard order).
    /// Never empty.
    pub indexes: Vec<Index>,
    /// Searches every shard as one, when there are several.
    pub sharded: Option<ShardedSearcher>,
    /// Held for the whole of a write: an index has one writer at a time.
    /// `true` once the server has stopped: a write that had not begun by
    /// then is refused.
    pub write_lock: Mutex<bool>,
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
    /// stretch every one of them; the rest wait in arrival order. A search
    /// holds its slot until its work ends, whether or not its request is
    /// still waiting for the answer.
    pub search_slots: Arc<tokio::sync::Semaphore>,
    pub gauges: Gauges,
    /// Test hook (`--test-search-delay-ms`): added to every search's work.
    pub test_search_delay: Duration,
}

impl AppState {
    /// The shard that holds, or will hold, record `id`.
    pub fn shard_for(&self, id: &[u8]) -> usize {
        shard_of(id, self.indexes.len())
    }

    /// The index that holds, or will hold, record `id`.
    pub fn index_for(&self, id: &[u8]) -> &Index {
        &self.indexes[self.shard_for(id)]
    }
}

/// Counts shown by `GET /health`.
#[derive(Default)]
pub struct Gauges {
    /// Connections open.
    pub connections: Arc<AtomicUsize>,
    /// Searches whose work is running.
    pub searches_running: AtomicUsize,
    /// The most searches that ran at once since the start.
    pub searches_peak: AtomicUsize,
}

/// File descriptors kept out of the connection cap: the index's files,
/// images being read, the runtime's own.
const RESERVED_FDS: u64 = 32;

/// `wanted`, lowered so that open connections cannot exhaust the open-file
/// limit (an accept failing with EMFILE would leave clients hanging).
fn connection_cap(wanted: u64) -> usize {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct it is given.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0
            && lim.rlim_cur != libc::RLIM_INFINITY
        {
            // rlim_t is not u64 on every platform.
            #[allow(clippy::unnecessary_cast)]
            let fit = (lim.rlim_cur as u64).saturating_sub(RESERVED_FDS).max(1);
            if fit < wanted {
                eprintln!(
                    "note: at most {fit} connections at once (the open-file limit is {})",
                    lim.rlim_cur
                );
                return fit as usize;
            }
        }
    }
    usize::try_from(wanted).unwrap_or(usize::MAX)
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
    let dirs = match &a.index {
        Some(dir) => vec![dir.clone()],
        None => a.shards.clone(),
    };
    let mut indexes = Vec::with_capacity(dirs.len());
    for dir in &dirs {
        indexes.push(Index::open(dir).with_context(|| format!("opening {}", dir.display()))?);
    }
    check_routing(&indexes, &dirs)?;
    let sharded = if indexes.len() > 1 {
        Some(ShardedSearcher::new(&indexes).context(
            "the shards must each hold one exported vocabulary, the same \
             (build --vocabulary FILE --shard I/N)",
        )?)
    } else {
        None
    };
    let state = Arc::new(AppState {
        indexes,
        sharded,
        write_lock: Mutex::new(false),
        run: a.run.options(),
        token,
        protect_reads: a.protect_reads,
        allowed_root,
        timeout: Duration::from_secs(a.timeout_secs.max(1)),
        max_upload: a.max_upload_bytes,
        search_slots: Arc::new(tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        )),
        gauges: Gauges::default(),
        test_search_delay: Duration::from_millis(a.test_search_delay_ms),
    });
    let limits = conn::Limits {
        header: Duration::from_secs(a.header_timeout_secs),
        idle: Duration::from_secs(a.idle_timeout_secs),
        max_connections: connection_cap(a.max_connections),
        shutdown_grace: Duration::from_secs(a.shutdown_grace_secs),
    };
    if a.warm {
        let state = state.clone();
        let dirs = dirs.clone();
        // Searches are answered meanwhile; a failure only leaves the
        // cache colder.
        std::thread::spawn(move || {
            for (i, index) in state.indexes.iter().enumerate() {
                let started = std::time::Instant::now();
                match index.searcher().and_then(|s| s.warm(u64::MAX)) {
                    Ok(r) => eprintln!(
                        "warmed {} words ({} MB) of {} in {:.1} s",
                        r.words,
                        r.bytes >> 20,
                        dirs[i].display(),
                        started.elapsed().as_secs_f64()
                    ),
                    Err(e) => eprintln!(
                        "warming the block cache of {} failed: {e}",
                        dirs[i].display()
                    ),
                }
            }
        });
    }
    let app = routes::router(state.clone()).layer(DefaultBodyLimit::max(a.max_upload_bytes));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let open = state.gauges.connections.clone();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let local = listener.local_addr()?;
        // The handlers exist before the line that says the server is up: a
        // SIGTERM sent as soon as it is read stops the server gracefully.
        let stop = shutdown_signal()?;
        // Scripts and tests read this line to learn the port (with :0).
        println!("listening on http://{local}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        conn::run(listener, app, limits, open, stop).await;
        anyhow::Ok(())
    })?;
    // Every connection is closed. A write handed to the writer before then
    // may still be running on the blocking pool, its connection gone: wait
    // for it (it holds the lock), and refuse any that had not begun.
    *state.write_lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
    for index in &state.indexes {
        index.flush()?;
    }
    // Searches still running hold nothing to keep: do not wait for them.
    runtime.shutdown_background();
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Refuses shards given out of order, or holding records of another
/// shard: reads and writes by id would miss them.
fn check_routing(indexes: &[Index], dirs: &[PathBuf]) -> anyhow::Result<()> {
    if indexes.len() < 2 {
        return Ok(());
    }
    for (i, (index, dir)) in indexes.iter().zip(dirs).enumerate() {
        let ids = index
            .record_ids()
            .with_context(|| format!("listing {}", dir.display()))?;
        let stray: Vec<_> = ids
            .iter()
            .filter(|id| shard_of(id.as_bytes(), indexes.len()) != i)
            .collect();
        if let Some(first) = stray.first() {
            bail!(
                "{} is given as shard {i} of {}, but {} of its {} records belong to other shards                  (record {:?} to shard {}): give the shards in the order they were built                  (--shard I/N)",
                dir.display(),
                indexes.len(),
                stray.len(),
                ids.len(),
                first.to_string_lossy(),
                shard_of(first.as_bytes(), indexes.len())
            );
        }
    }
    Ok(())
}

/// Handles ctrl-c (SIGINT) and SIGTERM from now on: the future resolves on
/// either. The server then stops accepting
/// connections and waits for requests under way (at most
/// `--shutdown-grace-secs`), so a write either finishes (and is flushed,
/// acknowledged if its connection is still open) or never begins.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("handling SIGTERM")?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("handling SIGINT")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    })
}
