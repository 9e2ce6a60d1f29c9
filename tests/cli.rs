// Over 500 lines: every command of the binary in one place, sharing the process helpers.
//! The `mmindex` binary, driven as separate processes as a user would.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn mmindex(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mmindex"))
        .args(args)
        .output()
        .expect("run mmindex")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// `mmindex build|train --index IDX --images IMAGES --words K`, which must
/// succeed.
fn index_folder(cmd: &str, idx: &Path, images: &Path, words: u32) {
    let out = mmindex(&[
        cmd,
        "--index",
        s(idx),
        "--images",
        s(images),
        "--words",
        &words.to_string(),
    ]);
    assert!(out.status.success(), "{cmd}: {}", text(&out.stderr));
}

#[test]
fn build_keeps_at_most_max_features_a_record() {
    let dir = tempfile::tempdir().expect("temp");
    let images = photo_folder(dir.path(), 3);
    let idx = dir.path().join("idx");
    let out = mmindex(&[
        "build",
        "--index",
        s(&idx),
        "--images",
        s(&images),
        "--words",
        "50",
        "--max-features",
        "40",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let index = mmindex::Index::open(&idx).expect("open");
    assert_eq!(index.config().max_features, 40);
    for p in common::photos().iter().take(3) {
        let name = p.file_name().and_then(|n| n.to_str()).expect("name");
        let r = index.record(name).expect("record").expect("stored");
        assert!(r.features > 0 && r.features <= 40, "{name}: {}", r.features);
    }
    drop(index);
    // An approximate search still finds the photo itself first.
    let q = &common::photos()[0];
    let out = mmindex(&[
        "search",
        "--index",
        s(&idx),
        "--query-share",
        "0.6",
        "--json",
        s(q),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let name = q.file_name().and_then(|n| n.to_str()).expect("name");
    assert_eq!(v["results"][0]["id"], name, "{v}");
}

/// Exit code of `mmindex verify --index IDX`.
fn verify_code(idx: &Path) -> Option<i32> {
    mmindex(&["verify", "--index", s(idx)]).status.code()
}

/// A folder with the first `n` sample photos.
fn photo_folder(dir: &Path, n: usize) -> PathBuf {
    let images = dir.join("images");
    std::fs::create_dir_all(&images).expect("mkdir");
    for p in common::photos().iter().take(n) {
        std::fs::copy(p, images.join(p.file_name().expect("name"))).expect("copy");
    }
    images
}

#[test]
fn build_then_search_json_stats_verify_in_separate_processes() {
    let dir = tempfile::tempdir().expect("temp");
    let images = photo_folder(dir.path(), 6);
    let idx = dir.path().join("idx");
    index_folder("build", &idx, &images, 300);

    let q = dir.path().join("query.png");
    let first = common::photos()[0].clone();
    std::fs::write(&q, common::transformed(&first, common::TRANSFORMS[0])).expect("write query");
    let out = mmindex(&[
        "search",
        "--index",
        s(&idx),
        "--top-k",
        "3",
        "--json",
        s(&q),
        s(&first),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2);
    for (line, query) in lines.iter().zip([&q, &first]) {
        assert_eq!(line["query"], s(query));
        assert!(line["ms"].as_f64().expect("ms is a number") > 0.0);
        let results = line["results"].as_array().expect("results array");
        assert!(!results.is_empty() && results.len() <= 3);
        assert_eq!(results[0]["id"], common::photo_id(&first));
        assert!(results[0]["score"].as_f64().expect("score") > 0.0);
    }

    let out = mmindex(&["stats", "--index", s(&idx), "--json"]);
    assert!(out.status.success());
    let st: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).expect("stats JSON");
    assert_eq!(st["records"], 6);
    assert_eq!(st["words"], 300);
    assert_eq!(st["generation"], 1);
    assert!(st["bytes_on_disk"].as_u64().expect("bytes") > 0);
    // Where the bytes go: every kind is there, the codebook at least its
    // 300 × 128 floats, and the logical total within the size on disk.
    let space = &st["space"];
    let kinds = [
        "postings_bytes",
        "histogram_bytes",
        "codebook_bytes",
        "metadata_bytes",
    ];
    for k in kinds {
        assert!(space[k].as_u64().unwrap_or(0) > 0, "{k}: {st}");
    }
    assert!(space["codebook_bytes"].as_u64().unwrap_or(0) >= 300 * 128 * 4);
    let total: u64 = kinds.iter().map(|k| space[k].as_u64().unwrap_or(0)).sum();
    assert!(total <= st["bytes_on_disk"].as_u64().unwrap_or(0), "{st}");
    let per = space["postings_per_record"].as_f64().unwrap_or(0.0);
    assert!((per * 6.0 - space["postings_bytes"].as_f64().unwrap_or(0.0)).abs() < 1.0);

    let out = mmindex(&["verify", "--index", s(&idx)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn verify_fails_on_tampered_trees() {
    let dir = tempfile::tempdir().expect("temp");
    let images = photo_folder(dir.path(), 3);
    let idx = dir.path().join("idx");
    index_folder("build", &idx, &images, 100);
    // Each tampering on a fresh copy of the index.
    let cases: [Tamper; 4] = [
        (
            "garbage histogram",
            "g1.hist",
            0u64.to_be_bytes().to_vec(),
            Some(b"\xff\xff\xff"),
        ),
        (
            "missing histogram",
            "g1.hist",
            1u64.to_be_bytes().to_vec(),
            None,
        ),
        (
            "dangling record",
            "records",
            b"ghost.jpg".to_vec(),
            Some(&[0, 0, 0, 0, 0, 0, 0, 99]),
        ),
        (
            "wrong doc count",
            "g1.stats",
            b"docs".to_vec(),
            Some(&[0, 0, 0, 0, 0, 0, 0, 7]),
        ),
    ];
    for (what, tree, key, value) in cases {
        let copy = dir.path().join(format!("copy-{}", what.replace(' ', "-")));
        common::copy_dir(&idx, &copy);
        {
            let index = mmindex::Index::open(&copy).expect("open copy");
            index.__tamper(tree, &key, value).expect("tamper");
        }
        let out = mmindex(&["verify", "--index", s(&copy)]);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", text(&out.stdout));
        assert!(text(&out.stdout).contains("violation"), "{what}");
    }
}

/// What to damage: description, tree, key, new value (`None` deletes).
type Tamper = (&'static str, &'static str, Vec<u8>, Option<&'static [u8]>);

#[test]
fn bad_files_are_reported_by_name_and_the_rest_is_indexed() {
    let dir = tempfile::tempdir().expect("temp");
    let images = photo_folder(dir.path(), 4);
    std::fs::write(images.join("empty.jpg"), b"").expect("empty");
    let good = std::fs::read(&common::photos()[0]).expect("photo");
    std::fs::write(images.join("truncated.jpg"), &good[..good.len() / 2]).expect("truncated");
    std::fs::write(images.join("notes.jpg"), b"this is not a picture\n").expect("text");
    let idx = dir.path().join("idx");
    let out = mmindex(&[
        "build",
        "--index",
        s(&idx),
        "--images",
        s(&images),
        "--words",
        "100",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "partial success exit code; stderr: {}",
        text(&out.stderr)
    );
    let err = text(&out.stderr);
    for (name, reason) in [
        ("empty.jpg", "empty file"),
        ("truncated.jpg", "truncated"),
        ("notes.jpg", "not a decodable image"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} not reported in: {err}"));
        assert!(line.contains(reason), "{name}: {line}");
    }
    let out = mmindex(&["stats", "--index", s(&idx), "--json"]);
    let st: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).expect("stats");
    assert_eq!(st["records"], 4);
    assert_eq!(verify_code(&idx), Some(0));
}

#[test]
fn records_file_add_and_remove() {
    let dir = tempfile::tempdir().expect("temp");
    let images = photo_folder(dir.path(), 5);
    let idx = dir.path().join("idx");
    index_folder("train", &idx, &images, 200);
    let names: Vec<String> = common::photos()
        .iter()
        .take(5)
        .map(|p| common::photo_id(p))
        .collect();
    let mut jsonl = String::new();
    for (i, n) in names.iter().enumerate() {
        jsonl.push_str(&format!(
            "{{\"pk\": {}, \"title\": \"t{i}\", \"picture\": \"{n}\"}}\n",
            100 + i
        ));
    }
    jsonl.push_str("{not json}\n{\"pk\": 7}\n{\"pk\": 1.5, \"picture\": \"a.jpg\"}\n{\"picture\": \"a.jpg\"}\n");
    let file = dir.path().join("rows.jsonl");
    std::fs::write(&file, jsonl).expect("write records");
    let out = mmindex(&[
        "add",
        "--index",
        s(&idx),
        "--records",
        s(&file),
        "--id-field",
        "pk",
        "--field",
        "picture",
        "--files-dir",
        s(&images),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("line 6: malformed JSON"), "{err}");
    assert!(err.contains("line 7: missing field `picture`"), "{err}");
    assert!(
        err.contains("line 8: id field `pk` must be a string or an integer, found 1.5"),
        "{err}"
    );
    assert!(err.contains("line 9: missing id field `pk`"), "{err}");
    assert!(text(&out.stdout).contains("added 5 records"));

    let out = mmindex(&[
        "search",
        "--index",
        s(&idx),
        "--json",
        "--top-k",
        "1",
        s(&images.join(&names[2])),
    ]);
    let line: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).expect("json");
    assert_eq!(line["results"][0]["id"], "102");

    let out = mmindex(&["remove", "--index", s(&idx), "102", "nope"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("removed 1 of 2"));
    let out = mmindex(&[
        "search",
        "--index",
        s(&idx),
        "--json",
        "--top-k",
        "5",
        s(&images.join(&names[2])),
    ]);
    assert!(!text(&out.stdout).contains("\"102\""));
    assert_eq!(verify_code(&idx), Some(0));
}

#[test]
fn errors_name_the_problem() {
    let dir = tempfile::tempdir().expect("temp");
    let missing = dir.path().join("nothing-here");
    let out = mmindex(&["stats", "--index", s(&missing)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not an mmindex index"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !missing.exists(),
        "reading commands must not create an index"
    );
    let out = mmindex(&[
        "build",
        "--index",
        s(&dir.path().join("i")),
        "--images",
        s(&missing),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nothing-here"));
    assert!(
        !dir.path().join("i").exists(),
        "a failed build must not leave an index"
    );
    let out = mmindex(&[
        "search",
        "--index",
        s(&dir.path().join("i")),
        "--mode",
        "fast",
        "q.jpg",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn an_index_open_elsewhere_is_reported_as_locked() {
    let dir = tempfile::tempdir().expect("temp");
    let idx = dir.path().join("idx");
    let _held = mmindex::Index::builder()
        .open(&idx)
        .expect("create and hold");
    let out = mmindex(&["stats", "--index", s(&idx)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("in use by another process"),
        "{}",
        text(&out.stderr)
    );
}

/// Runs `mmindex args`, killing it after `secs`: `None` when it had to be
/// killed.
fn mmindex_within(args: &[&str], secs: u64) -> Option<Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mmindex"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run mmindex");
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(secs) {
        if child.try_wait().expect("wait").is_some() {
            return Some(child.wait_with_output().expect("output"));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Inputs a careless or hostile caller gives the command line: each is
/// refused with a clear message, reads nothing it should not, and leaves
/// nothing half-made.
#[test]
fn hostile_command_lines_are_refused_cleanly() {
    let dir = tempfile::tempdir().expect("temp");
    let images = photo_folder(dir.path(), 3);
    let idx = dir.path().join("idx");
    index_folder("build", &idx, &images, 50);
    let records = |file: &Path| {
        [
            "add",
            "--index",
            s(&idx),
            "--records",
            s(file),
            "--id-field",
            "pk",
            "--field",
            "picture",
            "--files-dir",
            s(&images),
        ]
        .map(str::to_string)
    };
    let run = |args: &[String]| mmindex(&args.iter().map(String::as_str).collect::<Vec<_>>());

    // A directory as the records file: reading it fails at once and for
    // ever; the command must end with an error, not loop.
    let args = records(dir.path());
    let out = mmindex_within(&args.iter().map(String::as_str).collect::<Vec<_>>(), 20)
        .expect("`add --records DIR` did not end within 20 s");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is a directory"),
        "{}",
        text(&out.stderr)
    );

    // Image paths that leave --files-dir, and ids the index cannot take,
    // are refused per line, naming the line; the image outside is not read.
    let outside = dir.path().join("outside.png");
    std::fs::copy(&common::photos()[5], &outside).expect("copy");
    let rows = format!(
        "{{\"pk\": \"abs\", \"picture\": {:?}}}\n{{\"pk\": \"up\", \"picture\": \"../outside.png\"}}\n{{\"pk\": \"\", \"picture\": {:?}}}\n",
        s(&outside),
        common::photo_id(&common::photos()[0])
    );
    let file = dir.path().join("rows.jsonl");
    std::fs::write(&file, rows).expect("write");
    let out = run(&records(&file));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("line 1: field `picture` must name a file inside"),
        "{err}"
    );
    assert!(
        err.contains("line 2: field `picture` must name a file inside"),
        "{err}"
    );
    assert!(err.contains("line 3: id field `pk` must be 1 to"), "{err}");
    let index = mmindex::Index::open(&idx).expect("open");
    assert_eq!(index.stats().expect("stats").records, 3);
    assert!(!index.contains("abs").expect("contains"));
    drop(index);

    // Out-of-range numbers are usage errors (exit 2), before any work.
    for args in [
        vec!["search", "--index", s(&idx), "--top-k", "0", "q.png"],
        vec!["search", "--index", s(&idx), "--rerank", "10001", "q.png"],
        vec![
            "search",
            "--index",
            s(&idx),
            "--rerank-patience",
            "10001",
            "q.png",
        ],
        vec!["search", "--index", s(&idx), "--query-share", "0", "q.png"],
        vec![
            "search",
            "--index",
            s(&idx),
            "--query-share",
            "1.5",
            "q.png",
        ],
        vec!["add", "--index", s(&idx), "--workers", "2000", "q.png"],
        vec![
            "build",
            "--index",
            s(&idx),
            "--images",
            s(&idx),
            "--max-features",
            "0",
        ],
    ] {
        let out = mmindex(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let too_many = mmindex::RunOptions {
        workers: mmindex::MAX_WORKERS + 1,
        ..mmindex::RunOptions::default()
    };
    assert!(too_many.validate().is_err());

    // A build that fails leaves no index behind: an empty folder (nothing
    // to train on) and a bad option.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    for (name, extra) in [("e1", vec![]), ("e2", vec!["--batch-size", "0"])] {
        let target = dir.path().join(name);
        let mut args = vec!["build", "--index", s(&target), "--images"];
        args.push(if extra.is_empty() {
            s(&empty)
        } else {
            s(&images)
        });
        args.extend(extra);
        let out = mmindex(&args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!target.exists(), "{args:?} left {}", target.display());
    }

    // A build that fails because another process holds the index must not
    // touch it: it did not create it, even when the directory was absent
    // when it started and appeared while it waited for the lock.
    let held_dir = dir.path().join("held");
    let lock_file = std::fs::File::create(dir.path().join("held.mmindex-lock")).expect("lock file");
    lock_file.lock().expect("hold the index lock");
    let child = Command::new(env!("CARGO_BIN_EXE_mmindex"))
        .args(["build", "--index", s(&held_dir), "--images", s(&images)])
        .args(["--words", "50"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run mmindex");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    // The other holder creates its index meanwhile.
    std::fs::create_dir(&held_dir).expect("mkdir");
    std::fs::write(held_dir.join("conf"), b"theirs").expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("in use by another process"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        held_dir.join("conf").exists(),
        "a build refused for the lock removed another holder's index"
    );
    drop(lock_file);
}

#[test]
fn files_over_the_size_cap_are_skipped_unread() {
    let dir = tempfile::tempdir().expect("temp");
    let images = photo_folder(dir.path(), 4);
    // 1 GiB long, not a block of it on disk.
    std::fs::File::create(images.join("huge.jpg"))
        .expect("create")
        .set_len(1 << 30)
        .expect("set_len");
    let idx = dir.path().join("idx");
    let out = mmindex(&[
        "build",
        "--index",
        s(&idx),
        "--images",
        s(&images),
        "--words",
        "100",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("huge.jpg"))
        .unwrap_or_else(|| panic!("huge.jpg not reported in: {err}"));
    assert!(
        line.ends_with("1073741824 bytes exceeds the file size limit of 268435456 bytes"),
        "{line}"
    );
    // --max-file-bytes sets the cap.
    let photo = &common::photos()[0];
    let out = mmindex(&[
        "add",
        "--index",
        s(&idx),
        "--max-file-bytes",
        "1000",
        s(photo),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("exceeds the file size limit of 1000 bytes"),
        "{}",
        text(&out.stderr)
    );
}

/// A vocabulary trained on few images is reported as outgrown once the
/// collection holds twice as many records, by `add` (stderr) and `stats`
/// (text and JSON), naming the `rebuild` that fixes it; a rebuild clears it.
#[test]
fn an_outgrown_vocabulary_is_reported_with_its_rebuild() {
    let dir = tempfile::tempdir().expect("temp");
    let idx = dir.path().join("idx");
    let first = photo_folder(&dir.path().join("a"), 2);
    index_folder("build", &idx, &first, 50);
    let stats = |json: bool| {
        let mut args = vec!["stats", "--index", s(&idx)];
        if json {
            args.push("--json");
        }
        let out = mmindex(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        out
    };
    let j: serde_json::Value = serde_json::from_slice(&stats(true).stdout).expect("json");
    assert_eq!(j["trained_images"], 2, "{j}");
    assert_eq!(j["vocabulary_outgrown"], false, "{j}");
    assert!(!text(&stats(false).stderr).contains("rebuild"));

    let more: Vec<String> = common::photos()
        .iter()
        .skip(2)
        .take(3)
        .map(|p| s(p).to_string())
        .collect();
    let mut args = vec!["add", "--index", s(&idx)];
    args.extend(more.iter().map(String::as_str));
    let out = mmindex(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let advice = format!("run `mmindex rebuild --index {}`", s(&idx));
    assert!(text(&out.stderr).contains(&advice), "{}", text(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&stats(true).stdout).expect("json");
    assert_eq!(j["vocabulary_outgrown"], true, "{j}");
    assert!(text(&stats(false).stderr).contains(&advice));

    let out = mmindex(&["rebuild", "--index", s(&idx), "--words", "50"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&stats(true).stdout).expect("json");
    assert_eq!(j["trained_images"], 5, "{j}");
    assert_eq!(j["vocabulary_outgrown"], false, "{j}");
}

#[test]
fn an_exported_vocabulary_builds_indexes_that_score_alike() {
    let dir = tempfile::tempdir().expect("temp");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    index_folder(
        "build",
        &a,
        &photo_folder(&dir.path().join("three"), 3),
        100,
    );
    let vocab = dir.path().join("v.mmv");
    let out = mmindex(&["export-vocabulary", "--index", s(&a), "--out", s(&vocab)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("100 words"),
        "{}",
        text(&out.stdout)
    );
    let five = photo_folder(&dir.path().join("five"), 5);
    let out = mmindex(&[
        "build",
        "--index",
        s(&b),
        "--images",
        s(&five),
        "--vocabulary",
        s(&vocab),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The same vocabulary and IDF: a photo in both indexes scores the same
    // against a query in both, whatever else each holds.
    let query = common::photos()[0].clone();
    let hits = |idx: &Path| -> Vec<(String, f64)> {
        let out = mmindex(&[
            "search",
            "--index",
            s(idx),
            "--json",
            "--rerank",
            "0",
            s(&query),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        j["results"]
            .as_array()
            .expect("results")
            .iter()
            .map(|h| {
                (
                    h["id"].as_str().expect("id").to_string(),
                    h["score"].as_f64().expect("score"),
                )
            })
            .collect()
    };
    let (ha, hb) = (hits(&a), hits(&b));
    assert_eq!(ha.len(), 3);
    assert_eq!(hb.len(), 5);
    for (id, score) in &ha {
        let other = hb.iter().find(|h| &h.0 == id).expect("in both");
        assert_eq!(other.1.to_bits(), score.to_bits(), "{id}");
    }
    // Shards of the same folder on the same vocabulary split its records
    // as shard_of routes their ids.
    let mut total = 0;
    for i in 0..2 {
        let idx = dir.path().join(format!("shard{i}"));
        let shard = format!("{i}/2");
        let out = mmindex(&[
            "build",
            "--index",
            s(&idx),
            "--images",
            s(&five),
            "--vocabulary",
            s(&vocab),
            "--shard",
            &shard,
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = mmindex(&["stats", "--index", s(&idx), "--json"]);
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let expected = common::photos()
            .iter()
            .take(5)
            .filter(|p| mmindex::shard_of(common::photo_id(p).as_bytes(), 2) == i)
            .count();
        assert_eq!(j["records"], expected, "shard {i}: {j}");
        total += expected;
    }
    assert_eq!(total, 5);
    let out = mmindex(&[
        "build",
        "--index",
        s(&dir.path().join("d")),
        "--images",
        s(&five),
        "--shard",
        "0/2",
    ]);
    assert_eq!(out.status.code(), Some(2), "--shard needs --vocabulary");
    // Training options do not go with a given vocabulary.
    let out = mmindex(&[
        "build",
        "--index",
        s(&dir.path().join("c")),
        "--images",
        s(&five),
        "--vocabulary",
        s(&vocab),
        "--words",
        "7",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = mmindex(&[
        "export-vocabulary",
        "--index",
        s(&dir.path().join("none")),
        "--out",
        s(&vocab),
    ]);
    assert!(!out.status.success());
}
