//! Model-based test: random sequences of add / replace / remove / reopen /
//! search, checked after every step against a plain in-memory model (a map
//! of record id → words, scored by the textbook formulas in f64), with
//! `verify` after every step.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

use std::collections::BTreeMap;

use mmindex::vocab::Codebook;
use mmindex::{Feature, Index, RecordId, RunOptions, Scoring, SearchMode, SearchOptions};
use ndarray::Array2;
use proptest::prelude::*;

const WORDS: usize = 24;

#[derive(Debug, Clone)]
enum Op {
    /// Add (or replace) records: (id number, words).
    Add(Vec<(u8, Vec<u32>)>),
    Remove(Vec<u8>),
    Reopen,
    Search(Vec<u32>, bool, bool),
}

fn op() -> impl Strategy<Value = Op> {
    let words = proptest::collection::vec(0u32..WORDS as u32, 0..12);
    prop_oneof![
        4 => proptest::collection::vec((0u8..20, words.clone()), 1..6).prop_map(Op::Add),
        2 => proptest::collection::vec(0u8..20, 1..4).prop_map(Op::Remove),
        1 => Just(Op::Reopen),
        3 => (proptest::collection::vec(0u32..WORDS as u32, 1..12), any::<bool>(), any::<bool>())
            .prop_map(|(q, seq, l1)| Op::Search(q, seq, l1)),
    ]
}

/// Score of a doc for a query by the definitions in docs/SCORING.md.
fn model_score(q: &[u32], d: &[u32], idf: &[f64], l1: bool) -> f64 {
    let vec = |ws: &[u32]| {
        let mut v = BTreeMap::new();
        for w in ws {
            *v.entry(*w).or_insert(0.0) += idf[*w as usize];
        }
        v
    };
    let (a, b) = (vec(q), vec(d));
    if l1 {
        let (na, nb): (f64, f64) = (a.values().sum(), b.values().sum());
        a.iter()
            .filter_map(|(w, x)| b.get(w).map(|y| (x / na).min(y / nb)))
            .sum()
    } else {
        let n = |v: &BTreeMap<u32, f64>| v.values().map(|x| x * x).sum::<f64>().sqrt();
        let dot: f64 = a.iter().filter_map(|(w, x)| b.get(w).map(|y| x * y)).sum();
        if dot == 0.0 {
            0.0
        } else {
            dot / (n(&a) * n(&b))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn index_matches_model(ops in proptest::collection::vec(op(), 1..12), idf_seed in proptest::collection::vec(1u32..40, WORDS), seal in prop_oneof![Just(1u64), 2u64..40, Just(u64::MAX)]) {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("idx");
        let idf: Vec<f32> = idf_seed.iter().map(|v| *v as f32 / 10.0).collect();
        let idf64: Vec<f64> = idf.iter().map(|v| f64::from(*v)).collect();
        let mut index = Index::builder().feature(Feature::Sift).seal_postings(seal).open(&path).expect("create");
        index
            .writer(RunOptions::default())
            .expect("writer")
            .install_codebook(Codebook::from_float(Array2::zeros((WORDS, 2))), Some(idf.clone()))
            .expect("install");
        let mut model: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Add(recs) => {
                    let mut w = index.writer(RunOptions { batch_size: 3, ..RunOptions::default() }).expect("writer");
                    let batch = recs.iter().map(|(i, ws)| (RecordId::from(format!("r{i}")), ws.clone())).collect();
                    w.add_words(batch).expect("add");
                    for (i, ws) in recs {
                        model.insert(format!("r{i}"), ws);
                    }
                }
                Op::Remove(ids) => {
                    let mut w = index.writer(RunOptions::default()).expect("writer");
                    let names: Vec<String> = ids.iter().map(|i| format!("r{i}")).collect();
                    let expected = names.iter().collect::<std::collections::BTreeSet<_>>().iter().filter(|n| model.contains_key(n.as_str())).count();
                    prop_assert_eq!(w.remove(names.iter().map(String::as_str)).expect("remove"), expected);
                    for n in &names {
                        model.remove(n);
                    }
                }
                Op::Reopen => {
                    drop(index);
                    index = Index::builder().seal_postings(seal).open(&path).expect("reopen");
                }
                Op::Search(q, seq, l1) => {
                    let opts = SearchOptions {
                        top_k: 100,
                        mode: if seq { SearchMode::Sequential } else { SearchMode::Inverted },
                        scoring: Some(if l1 { Scoring::L1 } else { Scoring::Cosine }),
                        ..SearchOptions::default()
                    };
                    let hits = index.searcher().expect("searcher").search_words(&q, &opts).expect("search");
                    let mut want: Vec<(String, f64)> = model
                        .iter()
                        .map(|(id, ws)| (id.clone(), model_score(&q, ws, &idf64, l1)))
                        .filter(|(_, s)| *s > 0.0)
                        .collect();
                    want.sort_by(|a, b| a.0.cmp(&b.0));
                    let mut got: Vec<(String, f64)> = hits.iter().map(|h| (h.id.to_string_lossy(), f64::from(h.score))).collect();
                    // Ranked by score, best first.
                    prop_assert!(got.windows(2).all(|p| p[0].1 >= p[1].1), "not ranked: {:?}", got);
                    got.sort_by(|a, b| a.0.cmp(&b.0));
                    prop_assert_eq!(got.len(), want.len(), "got {:?} want {:?}", got, want);
                    for ((gi, gs), (wi, ws)) in got.iter().zip(&want) {
                        prop_assert_eq!(gi, wi);
                        prop_assert!((gs - ws).abs() < 1e-4, "{}: {} vs model {}", gi, gs, ws);
                    }
                }
            }
            prop_assert_eq!(index.stats().expect("stats").records, model.len() as u64);
            let v = index.verify().expect("verify");
            prop_assert!(v.is_ok(), "{:?}", v.violations);
        }
    }
}

/// Small copies of the sample photos, written once per test process.
fn small_photos() -> &'static [std::path::PathBuf] {
    static PHOTOS: std::sync::OnceLock<(tempfile::TempDir, Vec<std::path::PathBuf>)> =
        std::sync::OnceLock::new();
    &PHOTOS
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp");
            let mut paths = Vec::new();
            let mut src: Vec<_> =
                std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/data/photos"))
                    .expect("photos")
                    .map(|e| e.expect("entry").path())
                    .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
                    .filter(|p| !p.to_string_lossy().contains("microaneurysms"))
                    .collect();
            src.sort();
            for (i, p) in src.iter().take(8).enumerate() {
                let bytes = std::fs::read(p).expect("photo");
                let small =
                    mmindex::augment::apply(&bytes, mmindex::augment::Transform::Scale(0.35))
                        .expect("scale");
                let path = dir.path().join(format!("p{i}.png"));
                std::fs::write(&path, small).expect("write");
                paths.push(path);
            }
            (dir, paths)
        })
        .1
}

#[derive(Debug, Clone)]
enum ImageOp {
    /// Add or replace records: (id number, photo number).
    Add(Vec<(u8, usize)>),
    Remove(Vec<u8>),
    Rebuild(u32),
    Reopen,
    /// Search with a photo, sequential?, L1?
    Search(usize, bool, bool),
}

fn image_op() -> impl Strategy<Value = ImageOp> {
    prop_oneof![
        4 => proptest::collection::vec((0u8..10, 0usize..8), 1..4).prop_map(ImageOp::Add),
        2 => proptest::collection::vec(0u8..10, 1..3).prop_map(ImageOp::Remove),
        1 => (12u32..30).prop_map(ImageOp::Rebuild),
        1 => Just(ImageOp::Reopen),
        3 => (0usize..8, any::<bool>(), any::<bool>()).prop_map(|(p, s, l)| ImageOp::Search(p, s, l)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// With images and rebuilds: after every step the stored ids equal the
    /// model's, `verify` passes, both search paths agree, and a search with a
    /// stored photo returns first exactly the records holding that photo,
    /// tied at the top.
    #[test]
    fn index_with_images_and_rebuilds_matches_model(ops in proptest::collection::vec(image_op(), 1..8), seal in prop_oneof![Just(1u64), 100u64..3000, Just(u64::MAX)]) {
        let photos = small_photos();
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("idx");
        let mut index = Index::builder().feature(Feature::Orb).words(16).seal_postings(seal).open(&path).expect("create");
        let src = |i: usize| mmindex::Source::path(format!("train{i}"), photos[i].clone());
        index.writer(RunOptions::default()).expect("writer").train((0..photos.len()).map(src).collect()).expect("train");
        let mut model: BTreeMap<String, usize> = BTreeMap::new();
        for op in ops {
            match op {
                ImageOp::Add(recs) => {
                    let mut w = index.writer(RunOptions { batch_size: 2, ..RunOptions::default() }).expect("writer");
                    let batch = recs.iter().map(|(i, p)| mmindex::Source::path(format!("r{i}"), photos[*p].clone())).collect();
                    let r = w.add(batch).expect("add");
                    prop_assert!(r.failed.is_empty(), "{:?}", r.failed);
                    for (i, p) in recs {
                        model.insert(format!("r{i}"), p);
                    }
                }
                ImageOp::Remove(ids) => {
                    let mut w = index.writer(RunOptions::default()).expect("writer");
                    let names: Vec<String> = ids.iter().map(|i| format!("r{i}")).collect();
                    w.remove(names.iter().map(String::as_str)).expect("remove");
                    for n in &names {
                        model.remove(n);
                    }
                }
                ImageOp::Rebuild(words) => {
                    let mut w = index.writer(RunOptions::default()).expect("writer");
                    if model.is_empty() {
                        prop_assert!(w.rebuild(Some(words), None).is_err(), "nothing to train on");
                    } else {
                        let r = w.rebuild(Some(words), None).expect("rebuild");
                        prop_assert_eq!(r.records, model.len() as u64);
                    }
                }
                ImageOp::Reopen => {
                    drop(index);
                    index = Index::builder().seal_postings(seal).open(&path).expect("reopen");
                }
                ImageOp::Search(p, seq, l1) => {
                    let s = index.searcher().expect("searcher");
                    let opts = |mode| SearchOptions { top_k: 20, mode, scoring: Some(if l1 { Scoring::L1 } else { Scoring::Cosine }), ..SearchOptions::default() };
                    let q = mmindex::Query::path(&photos[p]);
                    let a = s.search_with(&q, &opts(if seq { SearchMode::Sequential } else { SearchMode::Inverted })).expect("search");
                    let b = s.search_with(&q, &opts(if seq { SearchMode::Inverted } else { SearchMode::Sequential })).expect("search");
                    prop_assert_eq!(&a, &b);
                    let holders: std::collections::BTreeSet<String> =
                        model.iter().filter(|(_, v)| **v == p).map(|(k, _)| k.clone()).collect();
                    let top: std::collections::BTreeSet<String> =
                        a.iter().take(holders.len()).map(|h| h.id.to_string_lossy()).collect();
                    prop_assert_eq!(&top, &holders, "hits {:?}", a);
                    if let Some(first) = a.first() {
                        prop_assert!(a.iter().take(holders.len()).all(|h| h.score == first.score));
                        prop_assert!(a.iter().all(|h| model.contains_key(&h.id.to_string_lossy())));
                    }
                }
            }
            let mut ids: Vec<String> = index.record_ids().expect("ids").iter().map(|i| i.to_string_lossy()).collect();
            ids.sort();
            prop_assert_eq!(ids, model.keys().cloned().collect::<Vec<_>>());
            let v = index.verify().expect("verify");
            prop_assert!(v.is_ok(), "{:?}", v.violations);
        }
    }
}
