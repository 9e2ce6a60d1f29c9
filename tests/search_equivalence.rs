//! The sequential and inverted paths rank identically, on random word
//! histograms, and both agree with a plain model of TF-IDF scoring.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use common::rng::Rng;
use mmindex::vocab::Codebook;
use mmindex::{Feature, Index, RecordId, RunOptions, Scoring, SearchMode, SearchOptions};
use ndarray::Array2;
use proptest::prelude::*;

/// An index of `docs`, added 7 per batch; a seal whenever the unsealed
/// records hold `seal` postings; a block cache of `cache` bytes.
fn index_with(
    words: usize,
    idf: Vec<f32>,
    docs: &[Vec<u32>],
    seal: u64,
    cache: u64,
) -> (tempfile::TempDir, Index) {
    let (dir, index) = common::temp_index(|b| {
        b.feature(Feature::Sift)
            .seal_postings(seal)
            .block_cache_bytes(cache)
    });
    let mut w = index
        .writer(RunOptions {
            batch_size: 7,
            ..RunOptions::default()
        })
        .expect("writer");
    w.install_codebook(Codebook::from_float(Array2::zeros((words, 4))), Some(idf))
        .expect("install");
    let recs = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (RecordId::from(format!("r{i}")), d.clone()))
        .collect();
    let r = w.add_words(recs).expect("add");
    assert_eq!(r.added, docs.len());
    (dir, index)
}

/// Cosine over tf·idf, in f64, by the textbook formula.
fn model_cosine(q: &[u32], d: &[u32], idf: &[f32]) -> f64 {
    let vec = |ws: &[u32]| {
        let mut v = std::collections::BTreeMap::new();
        for w in ws {
            *v.entry(*w).or_insert(0.0) += f64::from(idf[*w as usize]);
        }
        v
    };
    let (a, b) = (vec(q), vec(d));
    let dot: f64 = a.iter().filter_map(|(w, x)| b.get(w).map(|y| x * y)).sum();
    let n =
        |v: &std::collections::BTreeMap<u32, f64>| v.values().map(|x| x * x).sum::<f64>().sqrt();
    if dot == 0.0 {
        0.0
    } else {
        dot / (n(&a) * n(&b))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn modes_rank_identically(
        words in 2usize..60,
        seed_docs in proptest::collection::vec(proptest::collection::vec(0u32..1000, 0..40), 1..60),
        seed_query in proptest::collection::vec(0u32..1000, 1..40),
        idf_seed in proptest::collection::vec(0.1f32..5.0, 60),
        top_k in 1usize..20,
        seal in prop_oneof![Just(1u64), 2u64..300, Just(u64::MAX)],
        threads in prop_oneof![Just(0usize), 1usize..9],
        // Off; so small that only short lists are kept (and decoded); room
        // for everything.
        cache in prop_oneof![Just(0u64), Just(1_024u64), Just(64u64 << 20)],
    ) {
        let docs: Vec<Vec<u32>> = seed_docs.iter().map(|d| d.iter().map(|w| w % words as u32).collect()).collect();
        let query: Vec<u32> = seed_query.iter().map(|w| w % words as u32).collect();
        let idf = idf_seed[..words].to_vec();
        let (_dir, index) = index_with(words, idf.clone(), &docs, seal, cache);
        let s = index.searcher().expect("searcher");
        // Each word is read from the store, then from the cache as read,
        // then from the cache decoded.
        for scoring in [Scoring::Cosine, Scoring::L1, Scoring::Cosine, Scoring::L1] {
            let run = |mode| s.search_words(&query, &SearchOptions { top_k, mode, scoring: Some(scoring), threads, ..SearchOptions::default() }).expect("search");
            let inv = run(SearchMode::Inverted);
            let seq = run(SearchMode::Sequential);
            prop_assert_eq!(&inv, &seq);
            if scoring == Scoring::Cosine {
                for h in &inv {
                    let i: usize = h.id.to_string_lossy()[1..].parse().expect("id");
                    let m = model_cosine(&query, &docs[i], &idf);
                    prop_assert!((m - f64::from(h.score)).abs() < 1e-4, "doc {} model {} got {}", i, m, h.score);
                }
                // Every doc the model scores above the k-th hit is among the hits.
                if let Some(last) = inv.last() {
                    for (i, d) in docs.iter().enumerate() {
                        if model_cosine(&query, d, &idf) > f64::from(last.score) + 1e-4 {
                            let id = format!("r{i}");
                            prop_assert!(inv.iter().any(|h| h.id.to_string_lossy() == id), "missing {}", id);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn removals_and_replacements_across_posting_blocks() {
    for seal in [1, 100, 500, u64::MAX] {
        for cache in [0, 64 << 20] {
            removals_and_replacements(seal, cache);
        }
    }
}

/// 400 docs sharing word 0 span several posting blocks (and the unsealed
/// docs, for seal thresholds above 1); removing docs at block starts,
/// middles and ends, and replacing some, keeps every invariant and both
/// modes in agreement.
fn removals_and_replacements(seal: u64, cache: u64) {
    let words = 8;
    let docs: Vec<Vec<u32>> = (0..400u32)
        .map(|i| vec![0, 1 + i % 7, 1 + (i * 3) % 7])
        .collect();
    let (_dir, index) = index_with(words, vec![1.0; words], &docs, seal, cache);
    // Searched (twice: the second time decodes) before the edits too, so
    // that the searches after them would meet stale postings if the block
    // cache kept any.
    let before = index.searcher().expect("searcher");
    for q in [[0u32].as_slice(), &[2, 2, 3], &[0, 4, 5]].repeat(2) {
        let hits = before
            .search_words(
                q,
                &SearchOptions {
                    top_k: 500,
                    ..SearchOptions::default()
                },
            )
            .expect("search");
        assert!(!hits.is_empty());
    }
    let mut w = index.writer(RunOptions::default()).expect("writer");
    let gone: Vec<String> = [0usize, 1, 127, 128, 129, 255, 256, 399]
        .iter()
        .map(|i| format!("r{i}"))
        .collect();
    assert_eq!(
        w.remove(gone.iter().map(String::as_str)).expect("remove"),
        gone.len()
    );
    let replaced = w
        .add_words(vec![
            (RecordId::from("r5"), vec![2, 2, 3]),
            (RecordId::from("r300"), vec![0, 4]),
        ])
        .expect("replace");
    assert_eq!(replaced.replaced, 2);
    drop(w);
    let report = index.verify().expect("verify");
    assert!(report.is_ok(), "{:?}", report.violations);
    assert_eq!(
        index.stats().expect("stats").records,
        400 - gone.len() as u64
    );
    let s = index.searcher().expect("searcher");
    for (q, threads) in [(vec![0u32], 0), (vec![2, 2, 3], 2), (vec![0, 4, 5], 3)] {
        let o = |mode| SearchOptions {
            top_k: 500,
            mode,
            scoring: None,
            threads,
            ..SearchOptions::default()
        };
        let inv = s.search_words(&q, &o(SearchMode::Inverted)).expect("inv");
        assert_eq!(
            inv,
            s.search_words(&q, &o(SearchMode::Sequential)).expect("seq")
        );
        assert!(inv.iter().all(|h| !gone.contains(&h.id.to_string_lossy())));
    }
}

/// `Searcher::warm` reads lists into the block cache, the most frequent
/// words first, never past its limit, and changes no answer.
#[test]
fn warming_fills_the_cache_and_changes_no_answer() {
    let seed = Rng::seed("warming_fills_the_cache_and_changes_no_answer");
    let mut rng = Rng::new(seed);
    let words = 40;
    // Word w has IDF 1 + w / 10: low words are the frequent ones.
    let idf: Vec<f32> = (0..words).map(|w| 1.0 + w as f32 / 10.0).collect();
    let docs: Vec<Vec<u32>> = (0..300)
        .map(|_| {
            (0..1 + rng.below(20))
                .map(|_| rng.below(words as u64) as u32)
                .collect()
        })
        .collect();
    let queries: Vec<Vec<u32>> = (0..5)
        .map(|_| (0..10).map(|_| rng.below(words as u64) as u32).collect())
        .collect();
    for (cache, limit) in [(64u64 << 20, u64::MAX), (64 << 20, 2_000), (0, u64::MAX)] {
        let (_dir, index) = index_with(words, idf.clone(), &docs, 100, cache);
        let s = index.searcher().expect("searcher");
        let r = s.warm(limit).expect("warm");
        match (cache, limit) {
            (0, _) => assert_eq!((r.words, r.bytes), (0, 0), "seed {seed}"),
            (_, u64::MAX) => {
                assert_eq!(r.words, words as u64, "seed {seed}");
                assert!(r.bytes > 0, "seed {seed}");
            }
            _ => {
                assert!(r.bytes <= limit, "seed {seed}: {r:?}");
                assert!(r.words < words as u64, "seed {seed}: {r:?}");
            }
        }
        for q in &queries {
            let o = |mode| SearchOptions {
                top_k: 50,
                mode,
                ..SearchOptions::default()
            };
            assert_eq!(
                s.search_words(q, &o(SearchMode::Inverted)).expect("inv"),
                s.search_words(q, &o(SearchMode::Sequential)).expect("seq"),
                "seed {seed}, cache {cache}, limit {limit}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Approximate search: both paths agree, and every score is the exact
    /// one less at most the stated bound (√(1 − share) for cosine, 1 −
    /// share for L1), never more than the exact one.
    #[test]
    fn approximate_search_ranks_identically_within_its_bound(
        words in 2usize..60,
        seed_docs in proptest::collection::vec(proptest::collection::vec(0u32..1000, 0..40), 1..60),
        seed_query in proptest::collection::vec(0u32..1000, 1..40),
        idf_seed in proptest::collection::vec(0.1f32..5.0, 60),
        top_k in 1usize..20,
        seal in prop_oneof![Just(1u64), 2u64..300, Just(u64::MAX)],
        threads in prop_oneof![Just(0usize), 1usize..9],
        share in 0.05f32..1.0,
    ) {
        let docs: Vec<Vec<u32>> = seed_docs.iter().map(|d| d.iter().map(|w| w % words as u32).collect()).collect();
        let query: Vec<u32> = seed_query.iter().map(|w| w % words as u32).collect();
        let (_dir, index) = index_with(words, idf_seed[..words].to_vec(), &docs, seal, 1 << 20);
        let s = index.searcher().expect("searcher");
        for scoring in [Scoring::Cosine, Scoring::L1] {
            let o = |mode, top_k, query_share| SearchOptions { top_k, mode, scoring: Some(scoring), threads, query_share, ..SearchOptions::default() };
            let exact = s.search_words(&query, &o(SearchMode::Inverted, docs.len(), 1.0)).expect("exact");
            let inv = s.search_words(&query, &o(SearchMode::Inverted, top_k, share)).expect("inverted");
            let seq = s.search_words(&query, &o(SearchMode::Sequential, top_k, share)).expect("sequential");
            prop_assert_eq!(&inv, &seq);
            let bound = match scoring {
                Scoring::Cosine => (1.0 - f64::from(share)).sqrt(),
                _ => 1.0 - f64::from(share),
            };
            for h in &inv {
                let e = exact.iter().find(|x| x.doc == h.doc).map_or(0.0, |x| f64::from(x.score));
                let a = f64::from(h.score);
                prop_assert!(a <= e + 1e-5 && a >= e - bound - 1e-4, "{:?} doc {} exact {} approximate {} bound {}", scoring, h.doc, e, a, bound);
            }
        }
    }
}

#[test]
fn a_query_share_outside_zero_to_one_is_refused() {
    let (_dir, index) = index_with(4, vec![1.0; 4], &[vec![0, 1], vec![2]], u64::MAX, 0);
    let s = index.searcher().expect("searcher");
    for bad in [0.0, -0.5, 1.5, f32::NAN, f32::INFINITY] {
        let o = SearchOptions {
            query_share: bad,
            ..SearchOptions::default()
        };
        match s.search_words(&[0, 1], &o) {
            Err(mmindex::Error::InvalidConfig(m)) => assert!(m.contains("query_share"), "{m}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn approximate_search_drops_the_query_s_lightest_words() {
    // Word 0 is frequent (low idf), word 1 rare: a query of both keeps only
    // word 1 at half its weight, so the doc holding only word 0 drops out.
    let (_dir, index) = index_with(2, vec![0.2, 4.0], &[vec![0], vec![1]], u64::MAX, 0);
    let s = index.searcher().expect("searcher");
    for mode in [SearchMode::Inverted, SearchMode::Sequential] {
        let ids = |query_share| -> Vec<String> {
            let o = SearchOptions {
                mode,
                query_share,
                ..SearchOptions::default()
            };
            s.search_words(&[0, 1], &o)
                .expect("search")
                .iter()
                .map(|h| h.id.to_string_lossy())
                .collect()
        };
        assert_eq!(ids(1.0), ["r1", "r0"], "{mode:?}");
        assert_eq!(ids(0.5), ["r1"], "{mode:?}");
    }
}
