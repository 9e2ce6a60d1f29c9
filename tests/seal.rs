//! Sealing's recovery paths, from states built by hand: what a seal leaves
//! when it is interrupted (blocks keyed at or above the watermark, a last
//! block merged past it), including after records were removed from the
//! unsealed docs in between. The next open finishes the seal, `verify` passes and
//! both search paths agree with an index that never had the damage.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use mmindex::store::codec::{keys, postings, Layout};
use mmindex::vocab::Codebook;
use mmindex::{Feature, Index, RecordId, RunOptions};
use ndarray::Array2;

const WORDS: usize = 50;

/// Words below 45, and word 49 only in record 25 (so once r25 is removed,
/// no unsealed record has word 49).
fn records() -> Vec<(RecordId, Vec<u32>)> {
    (0..40u32)
        .map(|i| {
            let mut words: Vec<u32> = (0..12).map(|j| (i * 3 + j * 7) % 45).collect();
            if i == 25 {
                words.push(49);
            }
            (RecordId::from(format!("r{i}")), words)
        })
        .collect()
}

/// 40 records, the first 20 sealed, the rest unsealed; then `remove`.
fn build(dir: &std::path::Path, remove: &[&str]) -> Index {
    let index = Index::builder()
        .feature(Feature::Sift)
        .seal_postings(u64::MAX)
        .open(dir)
        .expect("create");
    let mut w = index.writer(RunOptions::default()).expect("writer");
    w.install_codebook(Codebook::from_float(Array2::zeros((WORDS, 2))), None)
        .expect("install");
    let all = records();
    w.add_words(all[..20].to_vec()).expect("add");
    w.seal().expect("seal");
    w.add_words(all[20..].to_vec()).expect("add");
    w.remove(remove.iter().copied()).expect("remove");
    drop(w);
    index
}

fn answers(index: &Index) -> Vec<Vec<(String, u32)>> {
    common::word_answers(
        index,
        &[
            vec![0u32, 1, 2],
            (0..WORDS as u32).collect(),
            vec![7, 7, 21, 49],
        ],
        50,
    )
}

#[test]
fn interrupted_seal_states_are_finished_on_open() {
    let work = tempfile::tempdir().expect("temp");
    let reference = answers(&build(&work.path().join("reference"), &["r25"]));

    let path = work.path().join("damaged");
    let index = build(&path, &["r25"]);
    let stats = index.stats().expect("stats");
    assert!(stats.unsealed_postings > 0);
    // Doc 25 (removed) and doc 30 (unsealed) in an orphan block keyed
    // above the watermark (20); docs 21 and 30 merged into the last (and
    // only) block of word 3, as a merge in progress leaves it.
    let orphan = postings::encode(Layout::Packed, 25, &[(25, 1), (30, 2)]);
    index
        .__tamper("g1.postings", &keys::posting(9, 25), Some(&orphan))
        .expect("tamper");
    // Word 49's only unsealed record was removed: only the whole-tree cleaning
    // finds this one.
    let orphan = postings::encode(Layout::Packed, 25, &[(25, 1)]);
    index
        .__tamper("g1.postings", &keys::posting(49, 25), Some(&orphan))
        .expect("tamper");
    let mut merged: Vec<(u64, u32)> = records()[..20]
        .iter()
        .enumerate()
        .filter_map(|(i, (_, ws))| {
            let tf = ws.iter().filter(|&&w| w == 3).count() as u32;
            (tf > 0).then_some((i as u64, tf))
        })
        .collect();
    let first = merged[0].0;
    merged.extend([(21, 1), (30, 1)]);
    let merged = postings::encode(Layout::Packed, first, &merged);
    index
        .__tamper("g1.postings", &keys::posting(3, first), Some(&merged))
        .expect("tamper");
    index
        .__tamper("g1.stats", b"sealing", Some(&40u64.to_be_bytes()))
        .expect("tamper");
    assert!(!index.verify().expect("verify").is_ok());
    drop(index);

    let index = Index::open(&path).expect("reopen finishes the seal");
    let v = index.verify().expect("verify");
    assert!(v.is_ok(), "{:?}", v.violations);
    assert_eq!(index.stats().expect("stats").unsealed_postings, 0);
    assert_eq!(answers(&index), reference);
}
