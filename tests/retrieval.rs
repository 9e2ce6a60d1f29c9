//! Retrieval on the sample photos: every photo, queried by three transformed
//! copies, must come first for at least 90% of the queries, in both search
//! modes, and the two modes must rank identically.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use mmindex::{Feature, Query, RunOptions, SearchMode, SearchOptions};

fn run(feature: Feature, words: u32) -> (usize, usize, usize) {
    let (_dir, index) = common::temp_index(|b| b.feature(feature).words(words));
    let mut w = index.writer(RunOptions::default()).expect("writer");
    let (sources, errs) = mmindex::source::folder(&common::photos_dir()).expect("walk photos");
    assert!(errs.is_empty(), "{errs:?}");
    let n = sources.len();
    let (_, report) = w.build(sources).expect("build");
    assert_eq!(report.added, n, "{report:?}");
    drop(w);
    let tree = index.stats().expect("stats").tree;
    assert_eq!(
        tree.is_some(),
        words as usize > mmindex::vocab::FLAT_MAX_WORDS,
        "{words} words gave {tree:?}"
    );
    let s = index.searcher().expect("searcher");
    let (mut firsts_inv, mut firsts_seq, mut total) = (0, 0, 0);
    for photo in common::photos() {
        for t in common::TRANSFORMS {
            let q = Query::bytes(common::transformed(&photo, t));
            let inv = s
                .search_with(
                    &q,
                    &SearchOptions {
                        top_k: 5,
                        mode: SearchMode::Inverted,
                        scoring: None,
                        ..SearchOptions::default()
                    },
                )
                .expect("inverted search");
            let seq = s
                .search_with(
                    &q,
                    &SearchOptions {
                        top_k: 5,
                        mode: SearchMode::Sequential,
                        scoring: None,
                        ..SearchOptions::default()
                    },
                )
                .expect("sequential search");
            assert_eq!(
                inv,
                seq,
                "{feature} {t:?} {}: modes disagree",
                photo.display()
            );
            let want = common::photo_id(&photo);
            total += 1;
            let first = inv.first().map(|h| h.id.to_string_lossy());
            if first.as_deref() == Some(want.as_str()) {
                firsts_inv += 1;
            } else {
                eprintln!("{feature}: {want} {} -> {first:?}", t.label());
            }
            if seq.first().map(|h| h.id.to_string_lossy()).as_deref() == Some(want.as_str()) {
                firsts_seq += 1;
            }
        }
    }
    println!(
        "{feature}: ranked first {firsts_inv}/{total} inverted, {firsts_seq}/{total} sequential ({:.1}%)",
        100.0 * firsts_inv as f64 / total as f64
    );
    (firsts_inv, firsts_seq, total)
}

fn check(feature: Feature, words: u32) {
    let (inv, seq, total) = run(feature, words);
    assert!(
        inv * 10 >= total * 9,
        "{feature}: only {inv}/{total} first (inverted)"
    );
    assert!(
        seq * 10 >= total * 9,
        "{feature}: only {seq}/{total} first (sequential)"
    );
}

#[test]
fn rootsift_finds_transformed_copies() {
    check(Feature::RootSift, 1000);
}

#[test]
fn sift_finds_transformed_copies() {
    check(Feature::Sift, 1000);
}

#[test]
fn orb_finds_transformed_copies() {
    check(Feature::Orb, 1000);
}

#[test]
fn akaze_finds_transformed_copies() {
    check(Feature::Akaze, 1000);
}

#[test]
fn brisk_finds_transformed_copies() {
    check(Feature::Brisk, 1000);
}

/// Above `FLAT_MAX_WORDS` the vocabulary is a tree (approximate nearest
/// words): transformed copies must still come first in both modes.
#[test]
fn rootsift_with_a_vocabulary_tree_finds_transformed_copies() {
    let words = mmindex::vocab::FLAT_MAX_WORDS as u32 + 1;
    check(Feature::RootSift, words);
}

#[test]
fn orb_with_a_vocabulary_tree_finds_transformed_copies() {
    check(Feature::Orb, mmindex::vocab::FLAT_MAX_WORDS as u32 + 1);
}
