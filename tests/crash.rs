//! Crash safety of ingestion, in the style of sled's crash-recovery tests:
//! the test re-runs its own binary as a child that ingests photos batch by
//! batch and reports each acknowledged batch on stdout; the parent kills it
//! with SIGKILL at a random moment, reopens the index and checks that it
//! verifies, that every acknowledged record is present and ranked first for
//! its own image, and that every acknowledged removal holds (a removal in
//! flight at the kill may have gone either way). The child seals its
//! unsealed records every few batches, so kills also interrupt seals, which
//! the reopen finishes.
//!
//! `MMINDEX_CRASH_ITERS` sets the number of kills (default 20);
//! `scripts/crash.sh` runs 500. `MMINDEX_SEED` replays a run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::rng::Rng;
use mmindex::augment::Transform;
use mmindex::{Feature, Index, Query, RunOptions};

const CHILD_DIR: &str = "MMINDEX_CRASH_CHILD_INDEX";
const CHILD_IMAGES: &str = "MMINDEX_CRASH_CHILD_IMAGES";
const TEST_NAME: &str = "crash_during_ingest_loses_nothing_acknowledged";

/// Distinct images: each usable photo as is, cropped, and rotated.
fn make_images(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in common::photos() {
        let id = common::photo_id(&p);
        if id.starts_with("microaneurysms") {
            continue; // 102×102: too small to be found after cropping
        }
        let bytes = std::fs::read(&p).expect("photo");
        let stem = id.trim_end_matches(".jpg");
        let variants = [
            (format!("{stem}.jpg"), bytes.clone()),
            (
                format!("{stem}.crop.png"),
                mmindex::augment::apply(&bytes, Transform::Crop(0.85)).expect("crop"),
            ),
            (
                format!("{stem}.rot.png"),
                mmindex::augment::apply(&bytes, Transform::Rotate(10.0)).expect("rotate"),
            ),
        ];
        for (name, b) in variants {
            let path = dir.join(name);
            std::fs::write(&path, b).expect("write image");
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Unsealed postings at which the child seals: every few batches, so that
/// kills also land in seals (each image has up to 300 distinct words).
const CHILD_SEAL_POSTINGS: u64 = 1_000;

/// The child: add two records per transaction, remove one record every third
/// batch; print each acknowledgement only after the call returned.
fn child(index: &Path, images: &Path) {
    let index = Index::builder()
        .seal_postings(CHILD_SEAL_POSTINGS)
        .open(index)
        .expect("child opens index");
    let mut w = index
        .writer(RunOptions {
            batch_size: 2,
            workers: 1,
            ..RunOptions::default()
        })
        .expect("writer");
    let mut files: Vec<PathBuf> = std::fs::read_dir(images)
        .expect("images")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut added: Vec<String> = Vec::new();
    for (n, pair) in files.chunks(2).enumerate() {
        let sources = pair.iter().map(|p| common::photo_source(p)).collect();
        let r = w.add(sources).expect("add");
        assert!(r.failed.is_empty(), "{:?}", r.failed);
        for p in pair {
            let id = common::photo_id(p);
            println!("ack {id}");
            added.push(id);
        }
        if n % 3 == 2 {
            let victim = added.remove(added.len() / 2);
            // Killed between these two lines, the removal may or may not
            // have committed: the parent checks neither way.
            println!("removing {victim}");
            w.remove([victim.as_str()]).expect("remove");
            println!("removed {victim}");
        }
    }
    println!("done");
}

#[test]
fn crash_during_ingest_loses_nothing_acknowledged() {
    if let (Ok(index), Ok(images)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_IMAGES)) {
        child(Path::new(&index), Path::new(&images));
        return;
    }
    let seed = Rng::seed(TEST_NAME);
    let mut rng = Rng::new(seed);
    let iters = common::crash_iterations();
    let work = tempfile::tempdir().expect("temp");
    let images = work.path().join("images");
    std::fs::create_dir_all(&images).expect("mkdir");
    let files = make_images(&images);

    // A trained, empty index to copy for every iteration.
    let template = work.path().join("template");
    {
        let index = Index::builder()
            .feature(Feature::Orb)
            .words(300)
            .open(&template)
            .expect("create");
        let mut w = index.writer(RunOptions::default()).expect("writer");
        let sources = files.iter().map(|p| common::photo_source(p)).collect();
        w.train(sources).expect("train");
    }
    let bytes_of: std::collections::HashMap<String, Vec<u8>> = files
        .iter()
        .map(|p| (common::photo_id(p), std::fs::read(p).expect("read")))
        .collect();

    let exe = std::env::current_exe().expect("test binary");
    let child_command = |dir: &Path| {
        let mut c = Command::new(&exe);
        c.args(["--exact", TEST_NAME, "--nocapture", "--test-threads", "1"])
            .env(CHILD_DIR, dir)
            .env(CHILD_IMAGES, &images)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        c
    };
    // How long an undisturbed child runs, to spread the kills over it.
    let probe = work.path().join("probe");
    common::copy_dir(&template, &probe);
    let started = Instant::now();
    let out = child_command(&probe).output().expect("probe child");
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("done"));
    let full = started.elapsed().as_millis() as u64;
    let mut completed = 0;
    for iter in 0..iters {
        let dir = work.path().join(format!("run{iter}"));
        common::copy_dir(&template, &dir);
        let delay = Duration::from_millis(rng.below(full + full / 10));
        let mut child = child_command(&dir).spawn().expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        let started = Instant::now();
        while started.elapsed() < delay {
            if child.try_wait().expect("poll child").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let lines = reader.join().expect("reader");
        if lines.iter().any(|l| l == "done") {
            completed += 1;
        }
        let mut acked = BTreeSet::new();
        for l in &lines {
            if let Some(id) = l.strip_prefix("ack ") {
                acked.insert(id.to_string());
            } else if let Some(id) = l.strip_prefix("removing ") {
                acked.remove(id);
            }
        }
        let removed: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("removed "))
            .collect();

        let index = Index::open(&dir)
            .unwrap_or_else(|e| panic!("iteration {iter} (seed {seed}): reopen: {e}"));
        let v = index.verify().expect("verify runs");
        assert!(
            v.is_ok(),
            "iteration {iter} (seed {seed}): {:?}",
            v.violations
        );
        let s = index.searcher().expect("searcher");
        for id in &acked {
            assert!(
                index.contains(id).expect("lookup"),
                "iteration {iter} (seed {seed}): acknowledged {id} lost"
            );
            let hits = s
                .search(&Query::bytes(bytes_of[id].clone()), 1)
                .expect("search");
            assert_eq!(
                hits.first().map(|h| h.id.to_string_lossy()).as_deref(),
                Some(id.as_str()),
                "iteration {iter} (seed {seed}): {id} not ranked first for its own image"
            );
        }
        for id in removed {
            assert!(
                !index.contains(id).expect("lookup"),
                "iteration {iter} (seed {seed}): removed {id} is back"
            );
        }
        eprintln!(
            "iteration {iter}: killed after {delay:?}, {} records acknowledged",
            acked.len()
        );
    }
    eprintln!("{iters} kills over a {full} ms run, {completed} children finished before the kill");
}
