//! `mmindex serve` as a real process on a loopback port, and the client
//! helpers the server tests share.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test: `MMINDEX_TEST_BIN` when set (to run the server
/// tests against another build of it), else this build's.
pub fn bin() -> PathBuf {
    std::env::var_os("MMINDEX_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_mmindex")))
}

/// A running server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Server {
    /// Starts `mmindex serve --index IDX --listen 127.0.0.1:0 EXTRA...` and
    /// reads the port from its first line.
    pub fn start(idx: &Path, extra: &[&str]) -> Server {
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--index", s(idx), "--listen", "127.0.0.1:0"])
            .args(extra);
        Server::spawn(cmd)
    }

    /// Starts `mmindex serve --shard DIR... --listen 127.0.0.1:0 EXTRA...`.
    pub fn start_shards(shards: &[PathBuf], extra: &[&str]) -> Server {
        let mut cmd = Command::new(bin());
        cmd.arg("serve");
        for d in shards {
            cmd.args(["--shard", s(d)]);
        }
        cmd.args(["--listen", "127.0.0.1:0"]).args(extra);
        Server::spawn(cmd)
    }

    /// As [`Server::start`], under an open-file limit of `nofile`.
    pub fn start_with_nofile(idx: &Path, extra: &[&str], nofile: u32) -> Server {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("ulimit -n {nofile} && exec \"$@\""), "sh"])
            .arg(bin())
            .args(["serve", "--index", s(idx), "--listen", "127.0.0.1:0"])
            .args(extra);
        Server::spawn(cmd)
    }

    fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start mmindex serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, url }
    }

    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// SIGTERM, then the exit status: graceful shutdown must exit 0.
    pub fn terminate(mut self) -> ExitStatus {
        self.signal_term();
        self.child.wait().expect("wait")
    }

    /// SIGTERM, then the exit status if the process ends within `limit`
    /// (it is killed on drop otherwise).
    pub fn terminate_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        self.signal_term();
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn signal_term(&self) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(ok.success());
    }

    /// The process's peak resident memory (VmHWM) in KiB.
    #[cfg(target_os = "linux")]
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }

    /// How many TCP sockets the process holds open (its listener
    /// included): its socket descriptors whose inodes are in the TCP tables.
    #[cfg(target_os = "linux")]
    pub fn tcp_sockets(&self) -> usize {
        let pid = self.child.id();
        let inodes: std::collections::HashSet<String> =
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .expect("/proc/PID/fd")
                .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter_map(|t| {
                    let t = t.to_string_lossy().into_owned();
                    Some(t.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
                })
                .collect();
        ["tcp", "tcp6"]
            .iter()
            .filter_map(|t| std::fs::read_to_string(format!("/proc/{pid}/net/{t}")).ok())
            .flat_map(|table| {
                table
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_whitespace().nth(9).map(str::to_string))
                    .collect::<Vec<_>>()
            })
            .filter(|inode| inodes.contains(inode))
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build()
}

/// Status and JSON body of a request, whatever the status.
pub fn answer(r: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = resp.status();
    let body = resp.into_string().expect("body");
    let json = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body:?}"));
    (status, json)
}

/// An index trained on four photos with no records yet.
pub fn trained_index(dir: &Path) -> PathBuf {
    let images = dir.join("train");
    std::fs::create_dir_all(&images).expect("mkdir");
    for p in super::photos().iter().take(4) {
        std::fs::copy(p, images.join(p.file_name().expect("name"))).expect("copy");
    }
    let idx = dir.join("idx");
    let out = Command::new(bin())
        .args(["train", "--index", s(&idx), "--images", s(&images)])
        .args(["--words", "200"])
        .output()
        .expect("run train");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    idx
}

/// Photos with enough texture to be found again (not the tiny or blurred ones).
pub fn textured_photos() -> Vec<PathBuf> {
    super::photos()
        .into_iter()
        .filter(|p| {
            let id = super::photo_id(p);
            !id.starts_with("micro") && !id.starts_with("clock")
        })
        .collect()
}

/// Sends raw bytes on a new connection and reads the answer until the
/// server closes the connection, a whole JSON answer has come, or 30 s
/// pass.
pub fn raw_exchange(addr: &str, request: &[u8]) -> String {
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    // A server that answers before reading all of a large request may
    // close meanwhile: what it answered is still there to read.
    let _ = c.write_all(request);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = c.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.windows(4).any(|w| w == b"\r\n\r\n") && out.ends_with(b"}") {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status and JSON body of a raw answer; panics when the body is not
/// JSON.
pub fn raw_json(reply: &str) -> (u16, Value) {
    let status = reply
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {reply:?}"));
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let json = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {reply:?}"));
    (status, json)
}
