//! Model-based test: random sequences of add / replace / remove / reopen /
//! search, checked after every step against a plain in-memory model (a map
//! of record id → words, scored by the textbook formulas in f64), with
//! `verify` after every step.

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
    fn index_matches_model(ops in proptest::collection::vec(op(), 1..12), idf_seed in proptest::collection::vec(1u32..40, WORDS)) {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("idx");
        let idf: Vec<f32> = idf_seed.iter().map(|v| *v as f32 / 10.0).collect();
        let idf64: Vec<f64> = idf.iter().map(|v| f64::from(*v)).collect();
        let mut index = Index::builder().feature(Feature::Sift).open(&path).expect("create");
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
                    index = Index::open(&path).expect("reopen");
                }
                Op::Search(q, seq, l1) => {
                    let opts = SearchOptions {
                        top_k: 100,
                        mode: if seq { SearchMode::Sequential } else { SearchMode::Inverted },
                        scoring: Some(if l1 { Scoring::L1 } else { Scoring::Cosine }),
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
