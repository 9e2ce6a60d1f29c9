//! Rebuild: a new codebook generation over stored records, switched to
//! atomically, also when the process is killed at a random moment.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::rng::Rng;
use mmindex::{Error, Feature, Index, Query, RunOptions, Source};

const CHILD_DIR: &str = "MMINDEX_REBUILD_CHILD_INDEX";
const CHILD_TRAINING_IMAGES: &str = "MMINDEX_REBUILD_CHILD_TRAINING_IMAGES";
const TEST_NAME: &str = "crash_during_rebuild_leaves_old_or_new_whole";

fn photo_sources(n: usize) -> Vec<Source> {
    common::photos()
        .into_iter()
        .filter(|p| !common::photo_id(p).starts_with("microaneurysms"))
        .take(n)
        .map(|p| common::photo_source(&p))
        .collect()
}

/// Every stored photo is ranked first for its own image.
fn assert_all_found(index: &Index, n: usize) {
    let s = index.searcher().expect("searcher");
    for src in photo_sources(n) {
        let mmindex::features::ImageInput::Path(p) = &src.input else {
            unreachable!()
        };
        let hits = s.search(&Query::path(p), 1).expect("search");
        assert_eq!(
            hits.first().map(|h| h.id.clone()),
            Some(src.id.clone()),
            "{}",
            src.id
        );
    }
}

#[test]
fn rebuild_changes_words_and_feature_and_keeps_records() {
    let (_dir, index) = common::temp_index(|b| b.feature(Feature::RootSift).words(100));
    let mut w = index.writer(RunOptions::default()).expect("writer");
    w.build(photo_sources(6)).expect("build");
    let before = index.stats().expect("stats");
    let r = w.rebuild(Some(150), Some(Feature::Orb)).expect("rebuild");
    assert_eq!((r.previous, r.train.generation, r.records), (1, 2, 6));
    drop(w);
    let after = index.stats().expect("stats");
    assert_eq!(
        (after.records, after.words, after.generation, after.feature),
        (before.records, 150, 2, Feature::Orb)
    );
    let v = index.verify().expect("verify");
    assert!(v.is_ok(), "{:?}", v.violations);
    assert_all_found(&index, 6);
    // The switch is persistent.
    let path = index.path().to_path_buf();
    drop(index);
    let index = Index::open(&path).expect("reopen");
    assert_eq!(index.config().feature, Feature::Orb);
    // RootSIFT's default keypoint count became ORB's.
    assert_eq!(
        index.config().max_features,
        Feature::Orb.default_max_features()
    );
    assert_all_found(&index, 6);
}

#[test]
fn rebuild_to_another_feature_keeps_a_max_features_that_was_set() {
    let (_dir, index) =
        common::temp_index(|b| b.feature(Feature::RootSift).words(60).max_features(300));
    let mut w = index.writer(RunOptions::default()).expect("writer");
    w.build(photo_sources(3)).expect("build");
    w.rebuild(None, Some(Feature::Orb)).expect("rebuild");
    drop(w);
    assert_eq!(index.config().max_features, 300);
}

#[test]
fn rebuild_refuses_records_without_a_file() {
    let (_dir, index) = common::temp_index(|b| b.words(50));
    let mut w = index.writer(RunOptions::default()).expect("writer");
    w.build(photo_sources(2)).expect("build");
    let bytes = std::fs::read(&common::photos()[3]).expect("photo");
    w.add(vec![Source::bytes("mem", bytes)]).expect("add");
    let e = w.rebuild(Some(60), None).expect_err("must refuse");
    assert!(
        matches!(e, Error::InvalidConfig(_)) && e.to_string().contains("mem"),
        "{e}"
    );
    assert_eq!(
        index.stats().expect("stats").generation,
        1,
        "nothing changed"
    );
}

#[test]
fn a_query_prepared_before_a_rebuild_is_refused_as_stale() {
    let (_dir, index) = common::temp_index(|b| b.words(50));
    let mut w = index.writer(RunOptions::default()).expect("writer");
    w.build(photo_sources(3)).expect("build");
    let s = index.searcher().expect("searcher");
    let photo = common::photos()[0].clone();
    let prepared = s.prepare(&Query::path(&photo)).expect("prepare");
    let opts = mmindex::SearchOptions::default();
    assert!(!s
        .search_prepared(&prepared, &opts)
        .expect("search")
        .is_empty());
    w.rebuild(Some(60), None).expect("rebuild");
    drop(w);
    let e = s
        .search_prepared(&prepared, &opts)
        .expect_err("the vocabulary changed");
    assert!(
        matches!(
            e,
            Error::StalePreparedQuery {
                prepared: 1,
                active: 2
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("prepare the query again"), "{e}");
    // Prepared again, it searches the new generation.
    let again = s.prepare(&Query::path(&photo)).expect("prepare again");
    assert!(!s.search_prepared(&again, &opts).expect("search").is_empty());
}

fn child(dir: &Path) {
    let index = Index::open(dir).expect("child opens");
    // The rebuild trains on a subset of the images and streams the others
    // when this is below their number, and spills every image otherwise.
    let training_images = std::env::var(CHILD_TRAINING_IMAGES)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RunOptions::default().training_images);
    let mut w = index
        .writer(RunOptions {
            workers: 1,
            training_images,
            ..RunOptions::default()
        })
        .expect("writer");
    println!("start");
    w.rebuild(Some(120), None).expect("rebuild");
    println!("done");
}

#[test]
fn crash_during_rebuild_leaves_old_or_new_whole() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        child(Path::new(&dir));
        return;
    }
    let seed = Rng::seed(TEST_NAME);
    let mut rng = Rng::new(seed);
    let iters = common::crash_iterations();
    let work = tempfile::tempdir().expect("temp");
    let template = work.path().join("template");
    {
        let index = Index::builder()
            .feature(Feature::Orb)
            .words(80)
            .open(&template)
            .expect("create");
        let mut w = index.writer(RunOptions::default()).expect("writer");
        w.build(photo_sources(8)).expect("build");
    }
    // How long an undisturbed rebuild takes, to spread the kills over it.
    let probe = work.path().join("probe");
    common::copy_dir(&template, &probe);
    let started = Instant::now();
    let status = child_command(&probe, 0).status().expect("probe child");
    assert!(status.success());
    let full = started.elapsed().as_millis() as u64;
    let (mut old, mut new) = (0, 0);
    for iter in 0..iters {
        let dir = work.path().join(format!("run{iter}"));
        common::copy_dir(&template, &dir);
        let delay = Duration::from_millis(rng.below(full + full / 5));
        // Every other kill hits a rebuild that streams.
        let training_images = if iter % 2 == 1 { 4 } else { 0 };
        let mut child = child_command(&dir, training_images).spawn().expect("spawn");
        let t = Instant::now();
        while t.elapsed() < delay && child.try_wait().expect("poll").is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill();
        let _ = child.wait();
        let index =
            Index::open(&dir).unwrap_or_else(|e| panic!("iteration {iter} (seed {seed}): {e}"));
        let v = index.verify().expect("verify");
        assert!(
            v.is_ok(),
            "iteration {iter} (seed {seed}): {:?}",
            v.violations
        );
        let st = index.stats().expect("stats");
        match (st.generation, st.words) {
            (1, 80) => old += 1,
            (2, 120) => new += 1,
            other => panic!("iteration {iter} (seed {seed}): neither old nor new: {other:?}"),
        }
        assert_eq!(st.records, 8);
        assert_all_found(&index, 8);
        let leftovers: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.to_string_lossy().ends_with(".mmindex-spill"))
            .collect();
        assert!(leftovers.is_empty(), "spill files left: {leftovers:?}");
    }
    eprintln!("{iters} kills during a {full} ms rebuild: {old} old, {new} new");
}

fn child_command(dir: &Path, training_images: usize) -> Command {
    let mut c = Command::new(std::env::current_exe().expect("test binary"));
    c.args(["--exact", TEST_NAME, "--nocapture", "--test-threads", "1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_TRAINING_IMAGES, training_images.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}
