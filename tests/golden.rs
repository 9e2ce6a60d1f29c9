//! Format compatibility: a small index written by format version 1 is
//! committed under tests/golden/v1; every later build must open it, verify
//! it, and answer exactly as recorded (as tantivy's compat tests do).
//!
//! `MMINDEX_WRITE_GOLDEN=1 cargo test --test golden` rewrites it; only do
//! that together with a format version bump, keeping the old directory.

mod common;

use std::path::{Path, PathBuf};

use mmindex::{Feature, Index, RunOptions, SearchMode, SearchOptions, Source};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1")
}

/// Fixed word-list queries: answers depend only on stored data, not on the
/// OpenCV build that would describe a query image.
fn queries() -> Vec<Vec<u32>> {
    vec![
        (0..50).collect(),
        (0..50).step_by(3).collect(),
        vec![1, 1, 2, 3, 5, 8, 13, 21, 34],
        vec![49],
    ]
}

fn answers(index: &Index) -> serde_json::Value {
    let s = index.searcher().expect("searcher");
    let mut out = Vec::new();
    for q in queries() {
        for mode in [SearchMode::Inverted, SearchMode::Sequential] {
            let hits = s
                .search_words(
                    &q,
                    &SearchOptions {
                        top_k: 10,
                        mode,
                        scoring: None,
                        ..SearchOptions::default()
                    },
                )
                .expect("search");
            out.push(serde_json::json!(hits
                .iter()
                .map(|h| serde_json::json!({"id": h.id.to_string_lossy(), "doc": h.doc, "score_bits": h.score.to_bits()}))
                .collect::<Vec<_>>()));
        }
    }
    let st = index.stats().expect("stats");
    serde_json::json!({
        "records": st.records,
        "words": st.words,
        "generation": st.generation,
        "postings": st.postings,
        "ids": index.record_ids().expect("ids").iter().map(|i| i.to_string_lossy()).collect::<Vec<_>>(),
        "answers": out,
    })
}

#[test]
fn golden_index_opens_and_answers_identically() {
    let golden = golden_dir();
    if std::env::var("MMINDEX_WRITE_GOLDEN").is_ok() {
        let _ = std::fs::remove_dir_all(&golden);
        let index = Index::builder()
            .feature(Feature::Orb)
            .words(50)
            .open(golden.join("index"))
            .expect("create");
        let mut w = index.writer(RunOptions::default()).expect("writer");
        let sources = common::photos()
            .into_iter()
            .take(3)
            .map(|p| Source::path(common::photo_id(&p), p))
            .collect();
        w.build(sources).expect("build");
        w.remove([common::photo_id(&common::photos()[1]).as_str()])
            .expect("remove");
        drop(w);
        let expected = answers(&index);
        drop(index);
        std::fs::write(
            golden.join("expected.json"),
            serde_json::to_string_pretty(&expected).expect("json"),
        )
        .expect("write expected");
        return;
    }
    // Opening may write (recovery, leftovers): work on a copy.
    let dir = tempfile::tempdir().expect("temp");
    common::copy_dir(&golden.join("index"), &dir.path().join("index"));
    let index = Index::open(dir.path().join("index")).expect("a version-1 index opens");
    let v = index.verify().expect("verify");
    assert!(v.is_ok(), "{:?}", v.violations);
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(golden.join("expected.json")).expect("expected.json"),
    )
    .expect("json");
    assert_eq!(answers(&index), expected);
}
