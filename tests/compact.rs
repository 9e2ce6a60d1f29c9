//! Compaction: the rewritten index verifies and answers exactly as before,
//! takes less space after heavy rewriting, refuses to run on an open index,
//! and a SIGKILL at any moment of it leaves the old index or the compacted
//! one, whole.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::rng::Rng;
use mmindex::vocab::Codebook;
use mmindex::{Error, Feature, Index, RecordId, RunOptions};
use ndarray::Array2;

const CHILD_DIR: &str = "MMINDEX_COMPACT_CHILD_INDEX";
const TEST_NAME: &str = "killed_compaction_leaves_a_whole_index";
const WORDS: usize = 400;

/// An index of 600 records added 20 per batch with a seal every 2,000
/// postings, then 150 removed: plenty of rewritten and deleted values.
fn fill(dir: &Path, seed: u64) {
    fill_n(dir, seed, 600);
}

/// [`fill`] with `n` records, every fourth removed.
fn fill_n(dir: &Path, seed: u64, n: usize) {
    let index = Index::builder()
        .feature(Feature::Sift)
        .seal_postings(2_000)
        .open(dir)
        .expect("create");
    let mut w = index
        .writer(RunOptions {
            batch_size: 20,
            ..RunOptions::default()
        })
        .expect("writer");
    w.install_codebook(Codebook::from_float(Array2::zeros((WORDS, 2))), None)
        .expect("install");
    let mut rng = Rng::new(seed);
    let recs = (0..n)
        .map(|i| {
            let words = (0..60).map(|_| rng.below(WORDS as u64) as u32).collect();
            (RecordId::from(format!("r{i}")), words)
        })
        .collect();
    w.add_words(recs).expect("add");
    let gone: Vec<String> = (0..n).step_by(4).map(|i| format!("r{i}")).collect();
    w.remove(gone.iter().map(String::as_str)).expect("remove");
}

fn answers(index: &Index) -> Vec<Vec<(String, u32)>> {
    common::word_answers(
        index,
        &[
            vec![1u32, 2, 3, 5, 8, 13],
            (0..40).collect(),
            vec![399, 398, 7],
        ],
        25,
    )
}

fn assert_whole(dir: &Path, expected: &[Vec<(String, u32)>], context: &str) {
    assert_whole_n(dir, expected, 450, context);
}

fn assert_whole_n(dir: &Path, expected: &[Vec<(String, u32)>], records: u64, context: &str) {
    let index = Index::open(dir).unwrap_or_else(|e| panic!("{context}: open: {e}"));
    let v = index.verify().expect("verify runs");
    assert!(v.is_ok(), "{context}: {:?}", v.violations);
    assert_eq!(index.stats().expect("stats").records, records, "{context}");
    assert_eq!(answers(&index), expected, "{context}");
    let parent = dir.parent().expect("parent");
    for e in std::fs::read_dir(parent).expect("parent") {
        let name = e.expect("entry").file_name().to_string_lossy().to_string();
        assert!(
            !name.contains("mmindex-compact"),
            "{context}: leftover {name}"
        );
    }
}

#[test]
fn compaction_keeps_answers_and_gives_back_space() {
    let dir = tempfile::tempdir().expect("temp");
    let path = dir.path().join("idx");
    fill(&path, 11);
    let expected = {
        let index = Index::open(&path).expect("open");
        // Open: compaction refuses to run under it.
        match Index::compact(&path) {
            Err(Error::Locked { .. }) => {}
            other => panic!("expected Locked, got {other:?}"),
        }
        answers(&index)
    };
    let blocks = |p: &Path| {
        let index = Index::open(p).expect("open");
        let s = index.space().expect("space");
        (s.posting_blocks, s.postings)
    };
    let (blocks_before, _) = blocks(&path);
    let r = Index::compact(&path).expect("compact");
    assert!(
        r.bytes_after < r.bytes_before,
        "{} -> {}",
        r.bytes_before,
        r.bytes_after
    );
    assert_whole(&path, &expected, "after compaction");
    // Seals every 2,000 postings left each of the 400 words several
    // blocks; the copy holds one per word (each word has far fewer than
    // 32,768 postings).
    let (blocks_after, _) = blocks(&path);
    assert!(blocks_before > 2 * WORDS as u64, "{blocks_before}");
    assert!(
        blocks_after <= WORDS as u64,
        "{blocks_before} -> {blocks_after}"
    );
    // And again: an already compact index stays whole.
    Index::compact(&path).expect("compact twice");
    assert_whole(&path, &expected, "after a second compaction");
}

#[test]
fn killed_compaction_leaves_a_whole_index() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        Index::compact(&dir).expect("child compacts");
        println!("compacted");
        return;
    }
    let seed = Rng::seed(TEST_NAME);
    let mut rng = Rng::new(seed);
    let work = tempfile::tempdir().expect("temp");
    let template = work.path().join("template");
    fill(&template, seed);
    let expected = answers(&Index::open(&template).expect("open template"));
    let exe = std::env::current_exe().expect("test binary");
    let run_child = |dir: &Path| {
        Command::new(&exe)
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads", "1"])
            .env(CHILD_DIR, dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child")
    };
    // How long an undisturbed compaction takes, to spread the kills over it.
    let probe_parent = work.path().join("probe");
    std::fs::create_dir_all(&probe_parent).expect("mkdir");
    let probe = probe_parent.join("idx");
    common::copy_dir(&template, &probe);
    let started = Instant::now();
    assert!(run_child(&probe).wait().expect("probe").success());
    let full = started.elapsed().as_millis() as u64;
    assert_whole(&probe, &expected, "undisturbed child");
    let template_bytes = dir_bytes(&template);
    let mut compacted = 0;
    for iter in 0..common::crash_iterations() {
        let parent = work.path().join(format!("run{iter}"));
        std::fs::create_dir_all(&parent).expect("mkdir");
        let dir = parent.join("idx");
        common::copy_dir(&template, &dir);
        let delay = Duration::from_millis(rng.below(full + full / 5));
        let mut child = run_child(&dir);
        let t = Instant::now();
        while t.elapsed() < delay && child.try_wait().expect("poll").is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_whole(
            &dir,
            &expected,
            &format!("iteration {iter} (seed {seed}), killed after {delay:?}"),
        );
        if dir_bytes(&dir) < template_bytes {
            compacted += 1;
        }
    }
    eprintln!(
        "{} kills over a {full} ms compaction: {compacted} left the compacted index, the others the old one",
        common::crash_iterations()
    );
}

const RACE_TEST: &str = "opens_racing_a_compaction_never_touch_it";

/// Other opens while a compaction runs (in another process) wait for it or
/// fail with `Locked`; they never touch its copy. Some compactions are also
/// killed after the racing open. Every record survives every timing.
#[test]
fn opens_racing_a_compaction_never_touch_it() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        Index::compact(&dir).expect("child compacts");
        println!("compacted");
        return;
    }
    let seed = Rng::seed(RACE_TEST);
    let mut rng = Rng::new(seed);
    let work = tempfile::tempdir().expect("temp");
    // MMINDEX_RACE_RECORDS makes the compaction long enough for racing
    // opens to give up (`Locked`).
    let n: usize = std::env::var("MMINDEX_RACE_RECORDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let records = (n - n.div_ceil(4)) as u64;
    let template = work.path().join("template");
    fill_n(&template, seed, n);
    let expected = answers(&Index::open(&template).expect("open template"));
    let exe = std::env::current_exe().expect("test binary");
    let run_child = |dir: &Path| {
        Command::new(&exe)
            .args(["--exact", RACE_TEST, "--nocapture", "--test-threads", "1"])
            .env(CHILD_DIR, dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child")
    };
    let probe = work.path().join("probe").join("idx");
    common::copy_dir(&template, &probe);
    let started = Instant::now();
    assert!(run_child(&probe).wait().expect("probe").success());
    let full = started.elapsed().as_millis() as u64;
    let iterations = std::env::var("MMINDEX_RACE_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let (mut locked, mut opened, mut waited, mut killed) = (0, 0, 0, 0);
    for iter in 0..iterations {
        let dir = work.path().join(format!("run{iter}")).join("idx");
        common::copy_dir(&template, &dir);
        let delay = Duration::from_millis(rng.below(full + full / 5));
        let kill = rng.below(3) == 0;
        let context = format!("iteration {iter} (seed {seed}), open after {delay:?}, kill {kill}");
        let mut child = run_child(&dir);
        std::thread::sleep(delay);
        let t = Instant::now();
        match Index::open(&dir) {
            Ok(index) => {
                opened += 1;
                // Opening a closed index takes a few ms; longer means it
                // waited for the compaction's lock.
                if t.elapsed() > Duration::from_millis(20) {
                    waited += 1;
                }
                assert_eq!(index.stats().expect("stats").records, records, "{context}");
            }
            Err(Error::Locked { .. }) => locked += 1,
            Err(e) => panic!("{context}: racing open failed: {e}"),
        }
        if kill {
            let _ = child.kill();
            killed += 1;
        }
        let status = child.wait().expect("wait");
        assert!(kill || status.success(), "{context}: compaction failed");
        assert_whole_n(&dir, &expected, records, &context);
    }
    eprintln!(
        "{iterations} opens racing a {full} ms compaction of {records} records: {opened} opened ({waited} after waiting for it), {locked} Locked, {killed} compactions killed after the open"
    );
}

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .expect("dir")
        .map(|e| {
            let e = e.expect("entry");
            if e.file_type().expect("type").is_dir() {
                dir_bytes(&e.path())
            } else {
                e.metadata().expect("meta").len()
            }
        })
        .sum()
}

/// Each state a crash can leave between the copy and the swap, made by
/// hand: the next open finishes or undoes the compaction.
#[test]
fn every_interrupted_swap_state_recovers() {
    let work = tempfile::tempdir().expect("temp");
    let template = work.path().join("template");
    fill(&template, 5);
    let expected = answers(&Index::open(&template).expect("open"));
    let sib = |p: &Path, s: &str| {
        let mut o = p.as_os_str().to_owned();
        o.push(s);
        std::path::PathBuf::from(o)
    };
    // Copy incomplete (no marker): deleted, the index untouched.
    let a = work.path().join("a").join("idx");
    common::copy_dir(&template, &a);
    common::copy_dir(&template, &sib(&a, ".mmindex-compact"));
    assert_whole(&a, &expected, "incomplete copy");
    // Between the two renames: the index is missing, the marked copy exists.
    let b = work.path().join("b").join("idx");
    common::copy_dir(&template, &sib(&b, ".mmindex-compact-old"));
    common::copy_dir(&template, &sib(&b, ".mmindex-compact"));
    std::fs::write(
        sib(&b, ".mmindex-compact").join("mmindex-compact-complete"),
        b"",
    )
    .expect("marker");
    assert_whole(&b, &expected, "between the renames");
    // After both renames, before the cleanup.
    let c = work.path().join("c").join("idx");
    common::copy_dir(&template, &c);
    std::fs::write(c.join("mmindex-compact-complete"), b"").expect("marker");
    common::copy_dir(&template, &sib(&c, ".mmindex-compact-old"));
    assert_whole(&c, &expected, "before the cleanup");
    assert!(!c.join("mmindex-compact-complete").exists());
}
