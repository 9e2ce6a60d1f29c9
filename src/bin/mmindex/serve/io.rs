//! The socket as one connection sees it: every byte moved is noted in the
//! connection's [`Clock`], and hyper's own answers to unparseable requests
//! are given a JSON body.
//!
//! hyper answers a request head it cannot parse (400), a request target
//! over its limit (414) and a head over its buffer (431) by itself, with an
//! empty body and no hook to change it. Every answer of the service has a
//! `content-type` (the `json_errors` layer sees to it), so a head written
//! with one of those statuses and no `content-type` can only be one of
//! hyper's: that head is replaced by one with a JSON `{"error": ...}` body.
//! The check is exact: a JSON body never holds a raw CR LF, so no body bytes
//! can pass for a head.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Duration, Instant};

/// What the watchdog of one connection knows about it.
pub struct Clock(Mutex<ClockState>);

struct ClockState {
    accepted: Instant,
    /// Requests whose answer the service has not produced yet.
    in_flight: usize,
    /// Requests begun on this connection.
    requests: u64,
    /// The last byte received or sent, or the last answer produced.
    last_activity: Instant,
    /// When the first byte of a request head not yet parsed arrived.
    head_started: Option<Instant>,
}

impl Clock {
    pub fn new() -> Clock {
        let now = Instant::now();
        Clock(Mutex::new(ClockState {
            accepted: now,
            in_flight: 0,
            requests: 0,
            last_activity: now,
            head_started: None,
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn received(&self) {
        let now = Instant::now();
        let mut s = self.state();
        s.last_activity = now;
        if s.in_flight == 0 && s.requests > 0 && s.head_started.is_none() {
            s.head_started = Some(now);
        }
    }

    fn sent(&self) {
        self.state().last_activity = Instant::now();
    }

    /// Marks a request begun; the guard marks its answer produced.
    pub fn request(self: &Arc<Self>) -> InFlight {
        let mut s = self.state();
        s.in_flight += 1;
        s.requests += 1;
        s.head_started = None;
        InFlight(self.clone())
    }

    /// When the connection is to be closed unless something happens first:
    /// never while a request is under way; otherwise at the header deadline
    /// (from the start for the first request, from a head's first byte for
    /// later ones) or after `idle` with nothing received or sent.
    pub fn deadline(&self, header: Duration, idle: Duration) -> Option<Instant> {
        let s = self.state();
        if s.in_flight > 0 {
            return None;
        }
        let idle_end = s.last_activity + idle;
        let head_start = if s.requests == 0 {
            Some(s.accepted)
        } else {
            s.head_started
        };
        Some(match head_start {
            Some(h) => idle_end.min(h + header),
            None => idle_end,
        })
    }

    /// Whether no request is under way (an answer may still be on its way
    /// out).
    pub fn quiet(&self) -> bool {
        self.state().in_flight == 0
    }

    /// Whether no request is under way and none has been answered since the
    /// client last started one: dropping the connection now loses nothing.
    pub fn awaiting_head(&self) -> bool {
        let s = self.state();
        s.in_flight == 0 && (s.requests == 0 || s.head_started.is_some())
    }
}

/// A request under way; dropped when its answer is produced (or the
/// request is abandoned).
pub struct InFlight(Arc<Clock>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.state();
        s.in_flight = s.in_flight.saturating_sub(1);
        s.last_activity = Instant::now();
    }
}

/// A stream whose traffic is noted in a [`Clock`] and whose hyper-made
/// error heads get a JSON body.
pub struct Watched<S> {
    inner: S,
    clock: Arc<Clock>,
    /// Bytes of a replacement answer not yet written.
    pending: Vec<u8>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, clock: Arc<Clock>) -> Watched<S> {
        Watched {
            inner,
            clock,
            pending: Vec::new(),
        }
    }
}

impl<S: AsyncWrite + Unpin> Watched<S> {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.clock.sent();
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = ready!(Pin::new(&mut self.inner).poll_read(cx, buf));
        if r.is_ok() && buf.filled().len() > before {
            self.clock.received();
        }
        Poll::Ready(r)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(cx))?;
        if let Some((head_len, replacement)) = json_error_head(buf) {
            self.pending = replacement;
            // The replaced head counts as written; the replacement goes out
            // on this call or the next write, flush or shutdown.
            if let Poll::Ready(Err(e)) = self.poll_drain(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(head_len));
        }
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        if n > 0 {
            self.clock.sent();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// If `buf` starts with a whole response head of status 400, 414 or 431
/// without a `content-type` (one of hyper's own answers), its length and
/// the same answer with a JSON body.
fn json_error_head(buf: &[u8]) -> Option<(usize, Vec<u8>)> {
    const MAX_HEAD: usize = 8 << 10;
    if !(buf.starts_with(b"HTTP/1.1 ") || buf.starts_with(b"HTTP/1.0 ")) {
        return None;
    }
    let scan = &buf[..buf.len().min(MAX_HEAD)];
    let end = scan.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
    let status_line = lines.next()?;
    let message = match status_line.get(9..12)? {
        "400" => "the request is not valid HTTP/1.1",
        "414" => "the request target is too long",
        "431" => "the request's header fields are too large",
        _ => return None,
    };
    let mut kept = Vec::new();
    for line in lines {
        let name = line.split(':').next().unwrap_or("").trim();
        if name.eq_ignore_ascii_case("content-type") {
            return None;
        }
        if !(name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("connection"))
        {
            kept.push(line);
        }
    }
    let body = serde_json::json!({ "error": message }).to_string();
    let mut out = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for line in kept {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some((end, out.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::json_error_head;

    #[test]
    fn only_hypers_bare_error_heads_are_replaced() {
        let (n, out) = json_error_head(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n",
        )
        .expect("replaced");
        assert_eq!(n, 76);
        let out = String::from_utf8(out).expect("utf-8");
        assert!(
            out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{out}"
        );
        assert!(out.contains("\r\ndate: x\r\n"), "{out}");
        assert!(
            out.ends_with("\r\n\r\n{\"error\":\"the request's header fields are too large\"}"),
            "{out}"
        );
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        assert!(json_error_head(ours).is_none());
        assert!(json_error_head(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(json_error_head(b"{\"error\":\"HTTP/1.1 400 \"}").is_none());
    }
}
