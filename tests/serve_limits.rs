// Over 500 lines: every limit of the server in one place, sharing the loopback client and server helpers.
//! `mmindex serve` against hostile or unlucky clients: a file over the size
//! cap, stalled, idle and too many connections, searches that outlast their
//! request, a symlink swapped during batches, and error answers that must
//! all be JSON. Each test runs the real binary on a loopback port.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::server::{
    agent, answer, raw_exchange, raw_json, s, textured_photos, trained_index, Server,
};
use mmindex::features::file::NOT_INSIDE;
use serde_json::Value;

const TOKEN: &str = "0123456789abcdef-token";

fn batch(url: &str, records: &Value) -> (u16, Value) {
    answer(
        agent()
            .post(&format!("{url}/records:batch"))
            .set("Content-Type", "application/json")
            .send_string(&serde_json::json!({ "records": records }).to_string()),
    )
}

fn health(url: &str) -> Value {
    let (code, v) = answer(agent().get(&format!("{url}/health")).call());
    assert_eq!(code, 200, "{v}");
    v
}

/// Whether the server closes `c` (end of stream or reset) before `limit`
/// passes, reading and dropping whatever it sends first.
fn closed_by_server(c: &mut TcpStream, limit: Duration) -> bool {
    c.set_read_timeout(Some(limit)).expect("timeout");
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_sparse_gigabyte_file_is_refused_unread() {
    let dir = tempfile::tempdir().expect("temp");
    let idx = trained_index(dir.path());
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::copy(&textured_photos()[0], root.join("ok.jpg")).expect("copy");
    // 1 GiB long, not a block of it on disk.
    let huge = std::fs::File::create(root.join("huge.jpg")).expect("create");
    huge.set_len(1 << 30).expect("set_len");

    let server = Server::start(&idx, &["--allowed-root", s(&root)]);
    let (code, v) = batch(
        &server.url,
        &serde_json::json!([{"id": "huge", "path": "huge.jpg"}, {"id": "ok", "path": "ok.jpg"}]),
    );
    assert_eq!((code, v["added"].as_u64()), (200, Some(1)), "{v}");
    assert_eq!(v["failed"][0]["id"], "huge", "{v}");
    assert_eq!(
        v["failed"][0]["reason"], "1073741824 bytes exceeds the file size limit of 268435456 bytes",
        "{v}"
    );
    let peak_mib = server.peak_rss_kib() >> 10;
    eprintln!("server peak RSS after the batch: {peak_mib} MiB");
    assert!(
        peak_mib < 512,
        "the server read the file: peak RSS {peak_mib} MiB"
    );
    drop(server);

    // The cap is the server's --max-file-bytes.
    let server = Server::start(
        &idx,
        &["--allowed-root", s(&root), "--max-file-bytes", "1000"],
    );
    let (code, v) = batch(
        &server.url,
        &serde_json::json!([{"id": "ok2", "path": "ok.jpg"}]),
    );
    assert_eq!((code, v["added"].as_u64()), (200, Some(0)), "{v}");
    let reason = v["failed"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.ends_with("exceeds the file size limit of 1000 bytes"),
        "{v}"
    );
}

#[test]
fn a_stalled_client_does_not_hold_up_shutdown() {
    let dir = tempfile::tempdir().expect("temp");
    let idx = trained_index(dir.path());
    let mut server = Server::start(&idx, &[]);
    // One byte of a request head, then nothing.
    let mut stalled = TcpStream::connect(server.addr()).expect("connect");
    stalled.write_all(b"G").expect("write");
    // A keep-alive connection idle after one request.
    let mut idle = TcpStream::connect(server.addr()).expect("connect");
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut buf = [0u8; 512];
    assert!(idle.read(&mut buf).expect("answer") > 0);
    // The default grace is 10 s; the stalled client has no request under
    // way, so nothing is waited for.
    let status = server
        .terminate_within(Duration::from_secs(20))
        .expect("still running 20 s after SIGTERM");
    assert!(status.success(), "{status:?}");
}

#[test]
fn shutdown_drops_connections_after_the_grace_time_and_writes_still_finish() {
    let dir = tempfile::tempdir().expect("temp");
    let idx = trained_index(dir.path());
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("mkdir");
    let photos = textured_photos();
    for p in &photos {
        std::fs::copy(p, root.join(p.file_name().expect("name"))).expect("copy");
    }
    let mut server = Server::start(
        &idx,
        &[
            "--allowed-root",
            s(&root),
            "--batch-size",
            "2",
            "--shutdown-grace-secs",
            "1",
            "--test-search-delay-ms",
            "60000",
        ],
    );
    let url = server.url.clone();
    // A search that runs for a minute.
    let query = std::fs::read(&photos[0]).expect("read");
    let searcher = {
        let url = url.clone();
        std::thread::spawn(move || {
            agent()
                .post(&format!("{url}/search"))
                .send_bytes(&query)
                .is_ok()
        })
    };
    // A batch, under way in the writer before the signal.
    let records: Vec<Value> = (0..40)
        .map(|i| {
            let p = &photos[i % photos.len()];
            serde_json::json!({"id": format!("b/{i}"), "path": p.file_name().and_then(|n| n.to_str())})
        })
        .collect();
    let uploader = {
        let url = url.clone();
        std::thread::spawn(move || {
            agent()
                .post(&format!("{url}/records:batch"))
                .set("Content-Type", "application/json")
                .send_string(&serde_json::json!({ "records": records }).to_string())
                .is_ok()
        })
    };
    let started = Instant::now();
    while answer(agent().get(&format!("{url}/records/b/0")).call()).0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the batch never began"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = server
        .terminate_within(Duration::from_secs(20))
        .expect("still running 20 s after SIGTERM: the long search was waited for");
    assert!(status.success(), "{status:?}");
    assert!(
        !searcher.join().expect("searcher"),
        "the search was answered"
    );
    let acknowledged = uploader.join().expect("uploader");
    eprintln!("batch acknowledged before its connection was dropped: {acknowledged}");
    // The batch handed to the writer finished and was flushed.
    let index = mmindex::Index::open(&idx).expect("open");
    for i in 0..40 {
        assert!(
            index.contains(format!("b/{i}")).expect("contains"),
            "b/{i} missing"
        );
    }
    assert!(index.verify().expect("verify").is_ok());
}

#[test]
fn idle_and_slow_connections_are_closed() {
    let dir = tempfile::tempdir().expect("temp");
    let idx = trained_index(dir.path());
    let server = Server::start(
        &idx,
        &["--idle-timeout-secs", "1", "--header-timeout-secs", "2"],
    );
    let limit = Duration::from_secs(15);
    // Idle after a request.
    let mut after_request = TcpStream::connect(server.addr()).expect("connect");
    after_request
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    assert!(
        closed_by_server(&mut after_request, limit),
        "idle connection still open"
    );
    // Silent from the start.
    let mut silent = TcpStream::connect(server.addr()).expect("connect");
    assert!(
        closed_by_server(&mut silent, limit),
        "silent connection still open"
    );
    // A head that never ends, one byte at a time, never idle for long.
    let mut slow = TcpStream::connect(server.addr()).expect("connect");
    slow.write_all(b"GET /health HTTP/1.1\r\nX-Slow: ")
        .expect("write");
    let started = Instant::now();
    let mut cut = false;
    while started.elapsed() < limit {
        if slow.write_all(b"a").is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(cut, "a head trickling in for 15 s was not cut off");
    // Still serving.
    assert_eq!(health(&server.url)["status"], "ok");
}

/// Whether the server has closed `c`, without waiting.
fn closed_now(c: &TcpStream) -> bool {
    c.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 64];
    match (&*c).read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

#[cfg(target_os = "linux")]
#[test]
fn the_connection_cap_holds_and_health_still_answers() {
    let dir = tempfile::tempdir().expect("temp");
    let idx = trained_index(dir.path());
    // Timeouts far longer than the test: only the cap's eviction of quiet
    // connections can let /health in.
    let server = Server::start(
        &idx,
        &[
            "--max-connections",
            "4",
            "--header-timeout-secs",
            "600",
            "--idle-timeout-secs",
            "600",
        ],
    );
    let silent: Vec<TcpStream> = (0..12)
        .map(|_| TcpStream::connect(server.addr()).expect("connect"))
        .collect();
    // Time for a server without a cap to accept them all.
    std::thread::sleep(Duration::from_millis(500));
    let sockets = server.tcp_sockets();
    // The listener, four connections, and one accepted waiting for a slot.
    assert!(
        sockets <= 1 + 4 + 1,
        "{sockets} sockets open with a cap of 4"
    );
    let quick = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let (code, v) = answer(quick.get(&format!("{}/health", server.url)).call());
    assert_eq!(code, 200, "{v}");
    let closed = silent.iter().filter(|c| closed_now(c)).count();
    assert!(
        closed >= 12 - 4,
        "only {closed} of 12 silent connections were closed"
    );
    drop(silent);
    drop(server);

    // Under an open-file limit of 64, 80 silent connections: the cap fits
    // under the limit and accepts never fail.
    let server = Server::start_with_nofile(&idx, &[], 64);
    let silent: Vec<TcpStream> = (0..80)
        .map(|_| TcpStream::connect(server.addr()).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let sockets = server.tcp_sockets();
    assert!(sockets <= 64, "{sockets} sockets under a limit of 64");
    let (code, v) = answer(quick.get(&format!("{}/health", server.url)).call());
    assert_eq!(code, 200, "{v}");
    drop(silent);
}

#[test]
fn a_search_answered_408_keeps_its_slot_until_its_work_ends() {
    let dir = tempfile::tempdir().expect("temp");
    let idx = trained_index(dir.path());
    let server = Server::start(
        &idx,
        &["--timeout-secs", "1", "--test-search-delay-ms", "1500"],
    );
    let url = server.url.clone();
    let query = std::fs::read(&textured_photos()[0]).expect("read");
    let clients: Vec<_> = (0..6)
        .map(|_| {
            let (url, query) = (url.clone(), query.clone());
            std::thread::spawn(move || {
                answer(agent().post(&format!("{url}/search")).send_bytes(&query)).0
            })
        })
        .collect();
    for c in clients {
        assert_eq!(c.join().expect("client"), 408);
    }
    let started = Instant::now();
    while health(&url)["searches_running"] != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "searches never ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let peak = health(&url)["searches_peak"].as_u64().unwrap_or(0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    eprintln!("at most {peak} searches ran at once on {cores} cores");
    assert!(
        (1..=cores).contains(&peak),
        "{peak} searches at once on {cores} cores"
    );
}

#[test]
fn a_symlink_swapped_during_batches_never_lets_the_outside_file_in() {
    let dir = tempfile::tempdir().expect("temp");
    let idx = trained_index(dir.path());
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("mkdir");
    let photos = textured_photos();
    let inside = root.join("inside.jpg");
    let outside = dir.path().join("outside.jpg");
    std::fs::copy(&photos[0], &inside).expect("copy");
    std::fs::copy(&photos[1], &outside).expect("copy");
    let server = Server::start(&idx, &["--allowed-root", s(&root), "--batch-size", "8"]);
    let url = server.url.clone();
    let hash = |id: &str| {
        let (code, v) = answer(agent().get(&format!("{url}/records/{id}")).call());
        assert_eq!(code, 200, "{v}");
        v["content_hash"].as_str().expect("hash").to_string()
    };
    let (code, _) = answer(
        agent()
            .put(&format!("{url}/records/ref-out"))
            .send_bytes(&std::fs::read(&outside).expect("read")),
    );
    assert_eq!(code, 201);
    let (code, v) = batch(
        &url,
        &serde_json::json!([{"id": "ref-in", "path": "inside.jpg"}]),
    );
    assert_eq!((code, v["added"].as_u64()), (200, Some(1)), "{v}");
    let (in_hash, out_hash) = (hash("ref-in"), hash("ref-out"));
    assert_ne!(in_hash, out_hash);

    // swap.jpg is in turn a regular file inside the root and a symlink
    // out of it.
    let entry = root.join("swap.jpg");
    std::fs::hard_link(&inside, &entry).expect("hard link");
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, entry) = (stop.clone(), entry.clone());
        let (inside, outside) = (inside.clone(), outside.clone());
        std::thread::spawn(move || {
            common::swap_until(&stop, &entry, &inside, &outside, Duration::from_millis(1))
        })
    };
    let (mut accepted, mut stored, mut refused) = (0, 0, 0);
    for round in 0..20 {
        if accepted == 3 {
            break;
        }
        let records: Vec<Value> = (0..40)
            .map(|i| serde_json::json!({"id": format!("r{round}/{i}"), "path": "swap.jpg"}))
            .collect();
        let (code, v) = batch(&url, &serde_json::json!(records));
        if code == 400 {
            // Refused whole: nothing was read.
            continue;
        }
        assert_eq!(code, 200, "{v}");
        accepted += 1;
        for f in v["failed"].as_array().expect("failed") {
            assert_eq!(f["reason"], NOT_INSIDE, "{f}");
            refused += 1;
        }
        for i in 0..40 {
            let id = format!("r{round}/{i}");
            if answer(agent().get(&format!("{url}/records/{id}")).call()).0 == 200 {
                stored += 1;
                assert_eq!(hash(&id), in_hash, "{id} holds the outside file");
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let flips = swapper.join().expect("swapper");
    eprintln!(
        "{accepted} batches, {flips} swaps: {stored} records stored from inside, {refused} refused"
    );
    assert!(accepted > 0, "every batch was refused whole");
}

fn token_server(dir: &Path, extra: &[&str]) -> Server {
    let idx = trained_index(dir);
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token");
    let mut args = vec!["--token-file", s(&token_file)];
    args.extend_from_slice(extra);
    Server::start(&idx, &args)
}

#[test]
fn every_error_answer_is_json() {
    let dir = tempfile::tempdir().expect("temp");
    let server = token_server(dir.path(), &[]);
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    let long_uri = format!(
        "GET /health?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(70_000)
    );
    // More header fields than the parser takes (100): a small request,
    // answered 431 before the connection closes.
    let many_headers = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..200)
            .map(|i| format!("X-{i}: a\r\n"))
            .collect::<String>()
    );
    for (request, status) in [
        (
            format!("PUT /records/%ff HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 1\r\n\r\nx"),
            400,
        ),
        (
            format!("DELETE /health HTTP/1.1\r\nHost: x\r\n{auth}\r\n"),
            405,
        ),
        ("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n".to_string(), 404),
        (long_uri, 414),
        (many_headers, 431),
        ("NOT HTTP AT ALL\r\n\r\n".to_string(), 400),
    ] {
        let reply = raw_exchange(server.addr(), request.as_bytes());
        let (code, v) = raw_json(&reply);
        let line = request.lines().next().unwrap_or_default();
        let line = &line[..line.len().min(60)];
        assert_eq!(code, status, "{line}: {reply}");
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{reply}"
        );
    }
}

#[test]
fn an_empty_id_or_body_is_a_bad_request() {
    let dir = tempfile::tempdir().expect("temp");
    let server = token_server(dir.path(), &[]);
    let bearer = format!("Bearer {TOKEN}");
    let url = &server.url;
    let (code, v) = answer(
        agent()
            .put(&format!("{url}/records/"))
            .set("Authorization", &bearer)
            .send_bytes(b"x"),
    );
    assert_eq!(code, 400, "{v}");
    let (code, v) = answer(
        agent()
            .put(&format!("{url}/records/x"))
            .set("Authorization", &bearer)
            .send_bytes(b""),
    );
    assert_eq!(code, 400, "{v}");
    for bad in ["0", "1.5", "-1", "NaN", "x"] {
        let (code, v) = answer(
            agent()
                .post(&format!("{url}/search?query_share={bad}"))
                .set("Authorization", &bearer)
                .send_bytes(b"x"),
        );
        assert_eq!(code, 400, "{bad}: {v}");
    }
    for bad in [
        "rerank=10001",
        "rerank_patience=10001",
        "rerank_patience=-1",
    ] {
        let (code, v) = answer(
            agent()
                .post(&format!("{url}/search?{bad}"))
                .set("Authorization", &bearer)
                .send_bytes(b"x"),
        );
        assert_eq!(code, 400, "{bad}: {v}");
        assert!(v.to_string().contains("rerank"), "{bad}: {v}");
    }
}

#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let dir = tempfile::tempdir().expect("temp");
    let server = token_server(dir.path(), &[]);
    let image = std::fs::read(&textured_photos()[0]).expect("read");
    let (code, v) = answer(
        agent()
            .put(&format!("{}/records/lower", server.url))
            .set("Authorization", &format!("bearer {TOKEN}"))
            .send_bytes(&image),
    );
    assert_eq!(code, 201, "{v}");
}

#[test]
fn the_token_is_checked_before_the_upload_cap() {
    let dir = tempfile::tempdir().expect("temp");
    let server = token_server(dir.path(), &["--max-upload-bytes", "1000000"]);
    let reply = raw_exchange(
        server.addr(),
        b"PUT /records/big HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n",
    );
    let (code, v) = raw_json(&reply);
    assert_eq!(code, 401, "{reply}");
    assert!(!v.to_string().contains("1000000"), "the cap was told: {v}");
}

#[test]
fn a_symlinked_directory_does_not_tell_what_exists_outside() {
    let dir = tempfile::tempdir().expect("temp");
    let idx = trained_index(dir.path());
    let root = dir.path().join("root");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    std::fs::copy(&textured_photos()[0], elsewhere.join("exists.jpg")).expect("copy");
    std::os::unix::fs::symlink(&elsewhere, root.join("dirlink")).expect("symlink");
    let server = Server::start(&idx, &["--allowed-root", s(&root)]);
    let ask = |path: &str| {
        let (code, v) = batch(&server.url, &serde_json::json!([{"id": "t", "path": path}]));
        (code, v["failed"][0]["reason"].clone())
    };
    let exists = ask("dirlink/exists.jpg");
    let missing = ask("dirlink/missing.jpg");
    assert_eq!(exists, missing);
    assert_eq!(exists, (200, Value::from(NOT_INSIDE)));
}
