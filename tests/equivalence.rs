//! Incremental ingestion gives the same index as ingestion at once:
//! "train, then add everything" equals "train, then add in two halves (two
//! processes)"; and adding then removing a record equals never adding it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use mmindex::{Index, Query, RunOptions, SearchOptions};

fn mmindex(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_mmindex"))
        .args(args)
        .output()
        .expect("run mmindex");
    assert!(
        out.status.success(),
        "mmindex {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `stats --json` without the size on disk (sled's file layout may differ).
fn stats(idx: &Path) -> serde_json::Value {
    let out = mmindex(&["stats", "--index", s(idx), "--json"]);
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stats json");
    let o = v.as_object_mut().expect("object");
    o.remove("bytes_on_disk");
    o.remove("bytes_per_record");
    v
}

/// `search --json` of every query, without the timings.
fn answers(idx: &Path, queries: &[String]) -> Vec<serde_json::Value> {
    let mut args = vec!["search", "--index", s(idx), "--top-k", "20", "--json"];
    args.extend(queries.iter().map(String::as_str));
    let out = mmindex(&args);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("json line");
            v.as_object_mut().expect("object").remove("ms");
            v
        })
        .collect()
}

#[test]
fn two_halves_in_two_processes_equal_all_at_once() {
    let dir = tempfile::tempdir().expect("temp");
    let photos: Vec<String> = common::photos().iter().map(|p| s(p).to_string()).collect();
    let train = common::photos_dir();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for idx in [&a, &b] {
        mmindex(&[
            "train",
            "--index",
            s(idx),
            "--images",
            s(&train),
            "--words",
            "300",
            "--feature",
            "sift",
        ]);
    }
    let mut all = vec!["add", "--index", s(&a), "--batch-size", "5"];
    all.extend(photos.iter().map(String::as_str));
    mmindex(&all);
    let half = photos.len() / 2;
    for part in [&photos[..half], &photos[half..]] {
        let mut args = vec!["add", "--index", s(&b), "--batch-size", "3"];
        args.extend(part.iter().map(String::as_str));
        mmindex(&args);
    }
    assert_eq!(stats(&a), stats(&b));
    assert_eq!(stats(&a)["records"], photos.len());
    let queries: Vec<String> = photos.clone();
    let (qa, qb) = (answers(&a, &queries), answers(&b, &queries));
    assert_eq!(qa.len(), photos.len());
    assert_eq!(qa, qb);
}

#[test]
fn add_then_remove_equals_never_added() {
    let dir = tempfile::tempdir().expect("temp");
    let photos = common::photos();
    let (extra, rest) = photos.split_last().expect("photos");
    let src = common::photo_source;
    let open = |name: &str| {
        let index = Index::builder()
            .words(200)
            .open(dir.path().join(name))
            .expect("create");
        let mut w = index.writer(RunOptions::default()).expect("writer");
        w.train(photos.iter().map(|p| src(p)).collect())
            .expect("train");
        w.add(rest.iter().map(|p| src(p)).collect()).expect("add");
        (index, w)
    };
    let (never, w1) = open("never");
    drop(w1);
    let (removed, mut w2) = open("removed");
    w2.add(vec![src(extra)]).expect("add extra");
    assert_eq!(
        w2.remove([common::photo_id(extra).as_str()])
            .expect("remove"),
        1
    );
    drop(w2);
    assert_eq!(
        never.stats().expect("stats").records,
        removed.stats().expect("stats").records
    );
    assert_eq!(
        never.stats().expect("stats").postings,
        removed.stats().expect("stats").postings
    );
    let (s1, s2) = (never.searcher().expect("s"), removed.searcher().expect("s"));
    for p in &photos {
        let opts = SearchOptions {
            top_k: 20,
            ..SearchOptions::default()
        };
        let strip = |hits: Vec<mmindex::Hit>| {
            hits.into_iter()
                .map(|h| (h.id, h.score.to_bits()))
                .collect::<Vec<_>>()
        };
        let a = strip(s1.search_with(&Query::path(p), &opts).expect("search"));
        let b = strip(s2.search_with(&Query::path(p), &opts).expect("search"));
        assert_eq!(a, b, "{}", p.display());
    }
    assert!(removed.verify().expect("verify").is_ok());
}
