//! Accepting and serving connections: a cap on how many are open, a
//! deadline for a request's head and for an idle connection, and a deadline
//! on shutdown after which the connections still open are dropped.
//!
//! At the cap, a new connection is accepted and the oldest connection with
//! no request under way is asked to close (at once if it is waiting for a
//! head, after its answer is out otherwise); the new one is served when a
//! slot frees. Meanwhile no further connection is accepted: clients wait in
//! the listen backlog, and at most one connection beyond the cap is open.
//! So idle or stalled clients cannot keep others out, and a flood of them
//! cannot exhaust the file descriptors. An accept that fails for want of
//! resources (EMFILE, ENFILE, ENOMEM) is retried after a pause, never in a
//! busy loop.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Duration, Instant};
use tower_service::Service;

use super::io::{Clock, Watched};

/// The connection limits (docs/SERVER.md lists their defaults).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Time to send a request's head.
    pub header: Duration,
    /// Time a connection may stay idle.
    pub idle: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Time shutdown waits for requests under way.
    pub shutdown_grace: Duration,
}

/// Pause after an accept that failed for want of resources.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` resolves, then lets the
/// requests under way finish for at most the grace time and drops what is
/// still open. `open` counts the connections open.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    open: Arc<AtomicUsize>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let registry = Arc::new(Registry::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut last_complaint: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        while conns.try_join_next().is_some() {}
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, _)) => {
                let permit = match slots.clone().try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => tokio::select! {
                        p = make_room(&slots, &registry) => p,
                        _ = &mut shutdown => break,
                    },
                };
                conns.spawn(serve_one(
                    stream,
                    app.clone(),
                    limits,
                    stop_rx.clone(),
                    permit,
                    (open.clone(), registry.clone()),
                ));
            }
            Err(e) if is_per_connection(&e) => {}
            Err(e) => {
                if last_complaint.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    eprintln!("accepting a connection failed (retrying): {e}");
                    last_complaint = Some(Instant::now());
                }
                tokio::select! {
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => {},
                    _ = &mut shutdown => break,
                }
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        eprintln!(
            "dropping {} connections still open {} s after the shutdown signal",
            conns.len(),
            limits.shutdown_grace.as_secs()
        );
        conns.shutdown().await;
    }
}

/// Waits for a connection slot, asking the oldest quiet connection to close
/// meanwhile (again every so often, as connections turn quiet).
async fn make_room(slots: &Arc<Semaphore>, registry: &Registry) -> OwnedSemaphorePermit {
    const RETRY: Duration = Duration::from_millis(100);
    loop {
        registry.evict_one();
        // The semaphore is never closed.
        if let Ok(Ok(p)) = tokio::time::timeout(RETRY, slots.clone().acquire_owned()).await {
            return p;
        }
    }
}

/// Each open connection's clock and its request to close, oldest first.
type Members = BTreeMap<usize, (Arc<Clock>, Arc<Notify>)>;

/// The open connections.
#[derive(Default)]
struct Registry {
    next: AtomicUsize,
    open: Mutex<Members>,
}

impl Registry {
    fn join(self: &Arc<Self>, clock: Arc<Clock>) -> (Member, Arc<Notify>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let evict = Arc::new(Notify::new());
        self.members().insert(id, (clock, evict.clone()));
        (Member(self.clone(), id), evict)
    }

    fn members(&self) -> std::sync::MutexGuard<'_, Members> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the oldest connection with no request under way to close.
    fn evict_one(&self) {
        if let Some((_, evict)) = self.members().values().find(|(c, _)| c.quiet()) {
            evict.notify_one();
        }
    }
}

/// A connection's place in the [`Registry`], left when dropped.
struct Member(Arc<Registry>, usize);

impl Drop for Member {
    fn drop(&mut self) {
        self.0.members().remove(&self.1);
    }
}

/// Errors that concern only the connection being accepted.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionAborted | K::ConnectionReset | K::ConnectionRefused | K::Interrupted
    )
}

/// Counts a connection open while alive.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(n: Arc<AtomicUsize>) -> Counted {
        n.fetch_add(1, Ordering::Relaxed);
        Counted(n)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn serve_one(
    stream: TcpStream,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
    (open, registry): (Arc<AtomicUsize>, Arc<Registry>),
) {
    let _open = Counted::new(open);
    let _ = stream.set_nodelay(true);
    let clock = Arc::new(Clock::new());
    let (_member, evict) = registry.join(clock.clone());
    let service = {
        let clock = clock.clone();
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut app = app.clone();
            let under_way = clock.request();
            async move {
                let answer = app.call(req.map(Body::new)).await;
                drop(under_way);
                answer
            }
        })
    };
    let mut builder = http1::Builder::new();
    // The head deadline is the watchdog's below; hyper's own needs a timer
    // and would also end idle connections at the same time.
    builder.header_read_timeout(None).writev(false);
    let conn = builder.serve_connection(TokioIo::new(Watched::new(stream, clock.clone())), service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let deadline = clock.deadline(limits.header, limits.idle);
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = sleep_until(deadline) => {
                if clock.deadline(limits.header, limits.idle).is_some_and(|d| d <= Instant::now()) {
                    return;
                }
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                // A connection with no request under way, waiting for (part
                // of) a head, has nothing to finish.
                if clock.awaiting_head() {
                    return;
                }
                conn.as_mut().graceful_shutdown();
            }
            _ = evict.notified() => {
                if clock.awaiting_head() {
                    return;
                }
                // Closes it at once if idle, else after the answer under way.
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Sleeps until the deadline, or for a while without one: the deadline
/// moves when a request ends, so it is looked at again.
async fn sleep_until(deadline: Option<Instant>) {
    const RECHECK: Duration = Duration::from_secs(1);
    tokio::time::sleep_until(deadline.unwrap_or_else(|| Instant::now() + RECHECK)).await
}
