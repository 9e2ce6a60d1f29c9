// Over 500 lines: the server's life cycle with one index and with shards, sharing the search and ranking helpers.
//! `mmindex serve` as a real process on a loopback port, driven by a real
//! HTTP client: writes, searches, restarts, the security rules, a kill
//! during a batch upload, a stop right after start, and shards served as
//! one index.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::rng::Rng;
use common::server::{agent, answer, raw_exchange, s, trained_index, Server};
use serde_json::Value;

fn search(a: &ureq::Agent, url: &str, image: &[u8]) -> Value {
    let (code, v) = answer(a.post(&format!("{url}/search?top_k=5")).send_bytes(image));
    assert_eq!(code, 200, "{v}");
    v
}

/// Ids and scores of a search answer (the timing differs between calls).
fn ranking(v: &Value) -> Vec<(String, String)> {
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|h| (h["id"].to_string(), h["score"].to_string()))
        .collect()
}

fn first_id(v: &Value) -> String {
    v["results"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn photos() -> Vec<PathBuf> {
    common::server::textured_photos()
}

#[test]
fn records_over_http_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp");
    let idx = trained_index(dir.path());
    let a = agent();
    let photos = photos();
    let server = Server::start(&idx, &[]);
    let url = server.url.clone();
    assert_eq!(answer(a.get(&format!("{url}/health")).call()).0, 200);

    for p in &photos {
        let id = format!("photos/{}", common::photo_id(p));
        let bytes = std::fs::read(p).expect("read");
        let (code, v) = answer(a.put(&format!("{url}/records/{id}")).send_bytes(&bytes));
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["status"], "added");
    }
    // Re-adding an id replaces it.
    let again = std::fs::read(&photos[0]).expect("read");
    let first = format!("photos/{}", common::photo_id(&photos[0]));
    let (code, v) = answer(a.put(&format!("{url}/records/{first}")).send_bytes(&again));
    assert_eq!((code, v["status"].as_str()), (200, Some("replaced")));
    // Delete one.
    let gone = format!("photos/{}", common::photo_id(&photos[1]));
    assert_eq!(
        answer(a.delete(&format!("{url}/records/{gone}")).call()).0,
        200
    );
    assert_eq!(
        answer(a.delete(&format!("{url}/records/{gone}")).call()).0,
        404
    );
    assert_eq!(
        answer(a.get(&format!("{url}/records/{gone}")).call()).0,
        404
    );
    let (code, info) = answer(a.get(&format!("{url}/records/{first}")).call());
    assert_eq!(code, 200);
    assert!(info["features"].as_u64().unwrap_or(0) > 0, "{info}");

    let queries: Vec<Vec<u8>> = photos
        .iter()
        .map(|p| common::transformed(p, mmindex::augment::Transform::Rotate(15.0)))
        .collect();
    let before: Vec<Value> = queries.iter().map(|q| search(&a, &url, q)).collect();
    for (p, v) in photos.iter().zip(&before).skip(2) {
        assert_eq!(
            first_id(v),
            format!("photos/{}", common::photo_id(p)),
            "{v}"
        );
    }
    let (_, stats_before) = answer(a.get(&format!("{url}/stats")).call());
    assert_eq!(stats_before["records"], (photos.len() - 1) as u64);

    let status = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");

    // Restarted warming its block cache: searches answered while it
    // warms give the same rankings.
    let server = Server::start(&idx, &["--warm"]);
    let url = server.url.clone();
    let (_, stats_after) = answer(a.get(&format!("{url}/stats")).call());
    assert_eq!(stats_after, stats_before);
    for (q, b) in queries.iter().zip(&before) {
        assert_eq!(ranking(&search(&a, &url, q)), ranking(b));
    }
    drop(server);
    let index = mmindex::Index::open(&idx).expect("open after the server");
    assert!(index.verify().expect("verify").is_ok());
}

#[test]
fn security_rules_hold_and_the_server_keeps_running() {
    let dir = tempfile::tempdir().expect("temp");
    let idx = trained_index(dir.path());
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("mkdir");
    let photos = photos();
    std::fs::copy(&photos[0], root.join("ok.jpg")).expect("copy");
    let outside = dir.path().join("outside.jpg");
    std::fs::copy(&photos[1], &outside).expect("copy");
    std::os::unix::fs::symlink(&outside, root.join("link.jpg")).expect("symlink");
    let token = "0123456789abcdef-token";
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).expect("token");
    let server = Server::start(
        &idx,
        &[
            "--token-file",
            s(&token_file),
            "--max-upload-bytes",
            "1000000",
            "--allowed-root",
            s(&root),
        ],
    );
    let url = server.url.clone();
    let a = agent();
    let bearer = format!("Bearer {token}");
    let image = std::fs::read(&photos[0]).expect("read");

    // Writes need the token; reads do not (no --protect-reads). The refusal
    // comes before the body is read, so these send a small one: a client
    // still writing a large body may see the connection close instead.
    let (code, v) = answer(a.put(&format!("{url}/records/x")).send_bytes(b"x"));
    assert_eq!(code, 401, "{v}");
    let (code, _) = answer(
        a.put(&format!("{url}/records/x"))
            .set("Authorization", "Bearer wrong-token-of-same-len")
            .send_bytes(b"x"),
    );
    assert_eq!(code, 401);
    let (code, _) = answer(
        a.put(&format!("{url}/records/x"))
            .set("Authorization", &bearer)
            .send_bytes(&image),
    );
    assert_eq!(code, 201);
    assert_eq!(answer(a.get(&format!("{url}/records/x")).call()).0, 200);
    assert_eq!(answer(a.delete(&format!("{url}/records/x")).call()).0, 401);
    let (code, _) = answer(
        a.delete(&format!("{url}/records/x"))
            .set("Authorization", &bearer)
            .call(),
    );
    assert_eq!(code, 200);

    // Over the cap: 413 from the headers alone, the body never sent.
    let reply = raw_exchange(
        server.addr(),
        b"PUT /records/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer 0123456789abcdef-token\r\nContent-Length: 50000000\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");

    // A decompression bomb: a valid PNG header claiming 60000 × 60000 px.
    let mut bomb = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bomb.extend_from_slice(&60000u32.to_be_bytes());
    bomb.extend_from_slice(&60000u32.to_be_bytes());
    bomb.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0, 0]);
    let (code, v) = answer(
        a.put(&format!("{url}/records/bomb"))
            .set("Authorization", &bearer)
            .send_bytes(&bomb),
    );
    assert_eq!(code, 422, "{v}");
    assert!(v["error"].as_str().unwrap_or("").contains("exceeds"), "{v}");
    let (code, _) = answer(a.post(&format!("{url}/search")).send_bytes(&bomb));
    assert_eq!(code, 422);
    // 36 bytes of lossless WebP that decode to 16000 × 16000 px.
    let webp = common::bombs::webp_lossless(16000, 16000);
    let (code, v) = answer(a.post(&format!("{url}/search")).send_bytes(&webp));
    assert_eq!(code, 422, "{v}");
    assert!(v["error"].as_str().unwrap_or("").contains("exceeds"), "{v}");

    // Server-side paths: only inside the allowed root. A path spelled
    // outside it refuses the whole request; one leading out through a
    // symlink fails its record, unread.
    let batch = |records: &str| {
        answer(
            a.post(&format!("{url}/records:batch"))
                .set("Authorization", &bearer)
                .set("Content-Type", "application/json")
                .send_string(records),
        )
    };
    for bad in [
        r#"{"records":[{"id":"t","path":"../outside.jpg"}]}"#.to_string(),
        format!(r#"{{"records":[{{"id":"t","path":"{}"}}]}}"#, s(&outside)),
        r#"{"records":[{"id":"t","path":"/etc/passwd"}]}"#.to_string(),
    ] {
        let (code, v) = batch(&bad);
        assert_eq!(code, 400, "{bad}: {v}");
    }
    let (code, v) = batch(r#"{"records":[{"id":"t","path":"link.jpg"}]}"#);
    assert_eq!((code, v["added"].as_u64()), (200, Some(0)), "{v}");
    assert_eq!(
        v["failed"][0]["reason"],
        mmindex::features::file::NOT_INSIDE,
        "{v}"
    );
    assert_eq!(answer(a.get(&format!("{url}/records/t")).call()).0, 404);
    let (code, v) = batch(r#"{"records":[{"id":"t","path":"#);
    assert_eq!(code, 400, "{v}");
    let (code, v) = batch(r#"{"records":[{"id":"ok","path":"ok.jpg"}]}"#);
    assert_eq!((code, v["added"].as_u64()), (200, Some(1)), "{v}");

    // Still serving, and the index is whole.
    let hits = search(&a, &url, &image);
    assert_eq!(first_id(&hits), "ok");
    assert_eq!(answer(a.get(&format!("{url}/health")).call()).0, 200);
    drop(server);
    let index = mmindex::Index::open(&idx).expect("open");
    assert!(index.verify().expect("verify").is_ok());
}

#[test]
fn a_kill_during_a_batch_upload_loses_only_unacknowledged_records() {
    let seed = Rng::seed("a_kill_during_a_batch_upload");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().expect("temp");
    let idx = trained_index(dir.path());
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("mkdir");
    let photos = photos();
    for p in &photos {
        std::fs::copy(p, root.join(p.file_name().expect("name"))).expect("copy");
    }
    let a = agent();
    let server = Server::start(&idx, &["--allowed-root", s(&root), "--batch-size", "2"]);
    let url = server.url.clone();
    // Acknowledged one by one before the batch.
    let acked: Vec<(String, PathBuf)> = photos
        .iter()
        .take(3)
        .map(|p| (format!("acked/{}", common::photo_id(p)), p.clone()))
        .collect();
    for (id, p) in &acked {
        let bytes = std::fs::read(p).expect("read");
        let (code, v) = answer(a.put(&format!("{url}/records/{id}")).send_bytes(&bytes));
        assert_eq!(code, 201, "{v}");
    }
    // A large batch, killed at a seeded moment while it runs.
    let records: Vec<Value> = (0..60)
        .map(|i| {
            let p = &photos[i % photos.len()];
            serde_json::json!({
                "id": format!("batch/{i}"),
                "path": p.file_name().and_then(|n| n.to_str()),
            })
        })
        .collect();
    let body = serde_json::json!({ "records": records }).to_string();
    let uploader = {
        let url = url.clone();
        std::thread::spawn(move || {
            agent()
                .post(&format!("{url}/records:batch"))
                .set("Content-Type", "application/json")
                .send_string(&body)
                .is_ok()
        })
    };
    let delay = 200 + rng.below(1500);
    std::thread::sleep(Duration::from_millis(delay));
    drop(server); // SIGKILL
    let acknowledged = uploader.join().expect("uploader");
    eprintln!("seed {seed}: killed after {delay} ms, batch acknowledged: {acknowledged}");

    let index = mmindex::Index::open(&idx).expect("reopen");
    let report = index.verify().expect("verify");
    assert!(report.is_ok(), "seed {seed}: {:?}", report.violations);
    let searcher = index.searcher().expect("searcher");
    for (id, p) in &acked {
        assert!(
            index.contains(id).expect("contains"),
            "seed {seed}: {id} lost"
        );
        let hits = searcher
            .search(&mmindex::Query::path(p), 10)
            .expect("search");
        assert!(
            hits.iter().any(|h| h.id.to_string_lossy() == *id),
            "seed {seed}: {id} not found by its own image"
        );
    }
    let present: Vec<usize> = (0..60)
        .filter(|i| index.contains(format!("batch/{i}")).expect("contains"))
        .collect();
    let stored = present.len();
    // Batches of two commit in source order: what survived is whole batches
    // from the start.
    assert_eq!(present, (0..stored).collect::<Vec<_>>(), "seed {seed}");
    assert_eq!(stored % 2, 0, "seed {seed}: half a batch survived");
    if acknowledged {
        assert_eq!(stored, 60, "seed {seed}: an acknowledged batch is whole");
    }
    eprintln!("seed {seed}: {stored} of 60 batch records were committed before the kill");
}

/// Indexes on the vocabulary of `trained`, one per directory, with no
/// records.
fn on_vocabulary_of(trained: &std::path::Path, dirs: &[PathBuf]) {
    let v = mmindex::Index::open(trained)
        .expect("open")
        .export_vocabulary()
        .expect("export");
    for d in dirs {
        let index = mmindex::Index::builder()
            .vocabulary(&v)
            .open(d)
            .expect("create");
        let mut w = index
            .writer(mmindex::RunOptions::default())
            .expect("writer");
        w.install_vocabulary(&v).expect("install");
    }
}

#[test]
fn shards_are_served_as_one_index() {
    let dir = tempfile::tempdir().expect("temp");
    let trained = trained_index(dir.path());
    let shards: Vec<PathBuf> = (0..3)
        .map(|i| dir.path().join(format!("shard{i}")))
        .collect();
    let whole = dir.path().join("whole");
    on_vocabulary_of(&trained, &shards);
    on_vocabulary_of(&trained, std::slice::from_ref(&whole));
    let photos = photos();
    let root = common::photos_dir();
    let a = agent();

    let one = Server::start(&whole, &["--allowed-root", s(&root)]);
    let many = Server::start_shards(&shards, &["--allowed-root", s(&root)]);
    let mut ids = Vec::new();
    for (i, p) in photos.iter().enumerate() {
        let id = common::photo_id(p);
        if i % 2 == 0 {
            let bytes = std::fs::read(p).expect("read");
            for url in [&one.url, &many.url] {
                let (code, v) = answer(a.put(&format!("{url}/records/{id}")).send_bytes(&bytes));
                assert_eq!(code, 201, "{v}");
            }
        }
        ids.push(id);
    }
    // The others in one batch, which the server splits by shard.
    let batch: Vec<Value> = photos
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, p)| {
            let name = p.file_name().and_then(|n| n.to_str()).expect("name");
            serde_json::json!({ "id": common::photo_id(p), "path": name })
        })
        .collect();
    let mut bad = batch.clone();
    bad.push(serde_json::json!({ "id": "missing", "path": "no-such.jpg" }));
    let body = serde_json::json!({ "records": bad }).to_string();
    for url in [&one.url, &many.url] {
        let (code, v) = answer(
            a.post(&format!("{url}/records:batch"))
                .set("Content-Type", "application/json")
                .send_string(&body),
        );
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["added"].as_u64(), Some(batch.len() as u64), "{v}");
        assert_eq!(v["failed"].as_array().map(Vec::len), Some(1), "{v}");
    }
    let (_, stats) = answer(a.get(&format!("{}/stats", many.url)).call());
    assert_eq!(stats["records"], photos.len() as u64, "{stats}");
    assert_eq!(stats["shards"].as_array().map(Vec::len), Some(3), "{stats}");

    // The same hits and scores as one index holding every record; each
    // hit names its shard.
    for p in &photos {
        let q = common::transformed(p, mmindex::augment::Transform::Rotate(15.0));
        let (x, y) = (search(&a, &one.url, &q), search(&a, &many.url, &q));
        assert_eq!(ranking(&x), ranking(&y));
        assert_eq!(first_id(&y), common::photo_id(p), "{y}");
        for h in y["results"].as_array().expect("results") {
            let id = h["id"].as_str().expect("id");
            let shard = mmindex::shard_of(id.as_bytes(), 3);
            assert_eq!(h["shard"].as_u64(), Some(shard as u64), "{h}");
        }
    }

    // Reads and removals go to the record's shard.
    let gone = &ids[1];
    assert_eq!(
        answer(a.get(&format!("{}/records/{gone}", many.url)).call()).0,
        200
    );
    assert_eq!(
        answer(a.delete(&format!("{}/records/{gone}", many.url)).call()).0,
        200
    );
    assert_eq!(
        answer(a.get(&format!("{}/records/{gone}", many.url)).call()).0,
        404
    );
    assert!(many.terminate().success());
    drop(one);

    for (i, d) in shards.iter().enumerate() {
        let index = mmindex::Index::open(d).expect("open shard");
        let stored: Vec<String> = index
            .record_ids()
            .expect("ids")
            .iter()
            .map(|r| r.to_string_lossy())
            .collect();
        let expected: Vec<String> = ids
            .iter()
            .filter(|id| *id != gone && mmindex::shard_of(id.as_bytes(), 3) == i)
            .cloned()
            .collect();
        let mut sorted = stored.clone();
        sorted.sort();
        let mut want = expected.clone();
        want.sort();
        assert_eq!(sorted, want, "shard {i}");
        assert!(index.verify().expect("verify").is_ok());
    }
}

#[test]
fn shards_given_out_of_order_are_refused_at_start() {
    let dir = tempfile::tempdir().expect("temp");
    let trained = trained_index(dir.path());
    let shards: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("shard{i}")))
        .collect();
    on_vocabulary_of(&trained, &shards);
    for (i, d) in shards.iter().enumerate() {
        let index = mmindex::Index::open(d).expect("open");
        let mut w = index
            .writer(mmindex::RunOptions::default())
            .expect("writer");
        let mine: Vec<mmindex::Source> = common::photos()
            .iter()
            .filter(|p| mmindex::shard_of(common::photo_id(p).as_bytes(), 2) == i)
            .map(|p| common::photo_source(p))
            .collect();
        assert!(!mine.is_empty());
        assert!(w.add(mine).expect("add").is_complete());
    }
    let swapped = [shards[1].clone(), shards[0].clone()];
    let mut cmd = std::process::Command::new(common::server::bin());
    cmd.arg("serve");
    for d in &swapped {
        cmd.args(["--shard", s(d)]);
    }
    let out = cmd
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("belong to other shards"), "{err}");
    // In order, it starts.
    let server = Server::start_shards(&shards, &[]);
    assert!(server.terminate().success());
}

#[test]
fn shards_on_different_vocabularies_are_refused_at_start() {
    let dir = tempfile::tempdir().expect("temp");
    let trained = trained_index(dir.path());
    let a = dir.path().join("a");
    on_vocabulary_of(&trained, std::slice::from_ref(&a));
    // Trained on the same photos with another vocabulary size.
    let b = dir.path().join("b");
    let out = std::process::Command::new(common::server::bin())
        .args([
            "train",
            "--index",
            s(&b),
            "--images",
            s(&dir.path().join("train")),
        ])
        .args(["--words", "150"])
        .output()
        .expect("run train");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(common::server::bin())
        .args([
            "serve",
            "--shard",
            s(&a),
            "--shard",
            s(&b),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("vocabulary"), "{err}");
}

#[test]
fn a_sigterm_right_after_start_stops_the_server_gracefully() {
    let dir = tempfile::tempdir().expect("temp");
    let idx = trained_index(dir.path());
    for round in 0..30 {
        // SIGTERM as soon as the listening line is read.
        let status = Server::start(&idx, &[]).terminate();
        assert!(status.success(), "round {round}: {status:?}");
    }
}
