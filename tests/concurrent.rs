//! Searches in several threads while a writer adds, replaces and removes
//! records: no search fails, and every hit carries exactly the score its
//! record has in a quiet index, so no search ever scored half a batch or a
//! half-removed record.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::rng::Rng;
use mmindex::vocab::Codebook;
use mmindex::{Feature, Index, RecordId, RunOptions, SearchMode, SearchOptions};
use ndarray::Array2;

const WORDS: usize = 64;

/// A new index in its temporary directory; its unsealed records are sealed
/// into posting blocks whenever they hold `seal` postings, and its block
/// cache holds `cache` bytes (`None`: the default).
fn new_index(idf: &[f32], seal: u64, cache: Option<u64>) -> (tempfile::TempDir, Index) {
    let (dir, index) = common::temp_index(|b| {
        let b = b.feature(Feature::Sift).seal_postings(seal);
        match cache {
            Some(c) => b.block_cache_bytes(c),
            None => b,
        }
    });
    let mut w = index
        .writer(RunOptions {
            batch_size: 8,
            ..RunOptions::default()
        })
        .expect("writer");
    w.install_codebook(
        Codebook::from_float(Array2::zeros((WORDS, 4))),
        Some(idf.to_vec()),
    )
    .expect("install");
    (dir, index)
}

#[test]
fn searches_never_see_partial_batches() {
    let seed = Rng::seed("searches_never_see_partial_batches");
    let mut rng = Rng::new(seed);
    let idf: Vec<f32> = (0..WORDS)
        .map(|_| 0.5 + rng.below(400) as f32 / 100.0)
        .collect();
    let records: Vec<(String, Vec<u32>)> = (0..300)
        .map(|i| {
            let n = 5 + rng.below(30) as usize;
            (
                format!("r{i}"),
                (0..n).map(|_| rng.below(WORDS as u64) as u32).collect(),
            )
        })
        .collect();
    let queries: Vec<Vec<u32>> = (0..6)
        .map(|_| (0..20).map(|_| rng.below(WORDS as u64) as u32).collect())
        .collect();
    let opts = |mode| SearchOptions {
        top_k: 400,
        mode,
        scoring: None,
        ..SearchOptions::default()
    };

    // Scores in a quiet index holding every record. IDF is frozen per
    // generation, so a record's score does not depend on the others.
    let (_quiet_dir, quiet) = new_index(&idf, u64::MAX, None);
    let mut w = quiet.writer(RunOptions::default()).expect("writer");
    w.add_words(
        records
            .iter()
            .map(|(id, ws)| (RecordId::from(id.as_str()), ws.clone()))
            .collect(),
    )
    .expect("add");
    drop(w);
    let qs = quiet.searcher().expect("searcher");
    let expected: Vec<HashMap<String, u32>> = queries
        .iter()
        .map(|q| {
            qs.search_words(q, &opts(SearchMode::Inverted))
                .expect("search")
                .into_iter()
                .map(|h| (h.id.to_string_lossy(), h.score.to_bits()))
                .collect()
        })
        .collect();

    // Seals every few batches: the searches meet posting blocks written
    // while they run, and the block cache's entries (as read and decoded)
    // going stale under them.
    let (_dir, index) = new_index(&idf, 256, None);
    let mut w = index
        .writer(RunOptions {
            batch_size: 8,
            ..RunOptions::default()
        })
        .expect("writer");
    w.add_words(
        records[..50]
            .iter()
            .map(|(id, ws)| (RecordId::from(id.as_str()), ws.clone()))
            .collect(),
    )
    .expect("seed records");

    let stop = Arc::new(AtomicBool::new(false));
    let searches = Arc::new(AtomicUsize::new(0));
    let expected = Arc::new(expected);
    let queries = Arc::new(queries);
    let searchers: Vec<_> = (0..3)
        .map(|t| {
            let (s, stop, searches) = (
                index.searcher().expect("searcher"),
                stop.clone(),
                searches.clone(),
            );
            let (expected, queries) = (expected.clone(), queries.clone());
            std::thread::spawn(move || {
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let qi = i % queries.len();
                    let mode = if i % 2 == 0 {
                        SearchMode::Inverted
                    } else {
                        SearchMode::Sequential
                    };
                    let hits = s
                        .search_words(&queries[qi], &opts(mode))
                        .expect("search never fails");
                    for h in hits {
                        let id = h.id.to_string_lossy();
                        let want = expected[qi].get(&id).copied();
                        assert_eq!(
                            want,
                            Some(h.score.to_bits()),
                            "query {qi} {mode:?}: {id} scored {}",
                            h.score
                        );
                    }
                    searches.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();

    // The writer: add the rest in small batches, remove and re-add some
    // (same words, so the same expected score).
    let mut present: HashSet<usize> = (0..50).collect();
    for chunk in (50..records.len()).collect::<Vec<_>>().chunks(10) {
        let batch = chunk
            .iter()
            .map(|&i| (RecordId::from(records[i].0.as_str()), records[i].1.clone()))
            .collect();
        w.add_words(batch).expect("add");
        present.extend(chunk);
        let victims: Vec<usize> = (0..3)
            .map(|_| rng.below(records.len() as u64) as usize)
            .collect();
        w.remove(victims.iter().map(|&i| records[i].0.as_str()))
            .expect("remove");
        for v in &victims {
            present.remove(v);
        }
        let back = victims[0];
        w.add_words(vec![(
            RecordId::from(records[back].0.as_str()),
            records[back].1.clone(),
        )])
        .expect("re-add");
        present.insert(back);
    }
    stop.store(true, Ordering::Relaxed);
    for t in searchers {
        t.join().expect("searcher thread");
    }
    assert!(
        searches.load(Ordering::Relaxed) >= 3,
        "searches ran during ingest"
    );
    drop(w);
    let v = index.verify().expect("verify");
    assert!(v.is_ok(), "{:?}", v.violations);
    assert_eq!(index.stats().expect("stats").records, present.len() as u64);
}

/// Query extraction on one thread while ingestion extracts on others.
/// OpenCV's thread count is process-global: ingestion must not change it
/// around a bulk run, because a query inside OpenCV's thread pool at that
/// moment can hang or crash.
#[test]
fn queries_extract_while_ingestion_runs() {
    let photos = common::photos();
    let source = |p: &std::path::PathBuf| common::photo_source(p);
    let (_dir, index) = common::temp_index(|b| b.feature(Feature::Sift).words(16));
    let opts = RunOptions {
        workers: 2,
        batch_size: 2,
        ..RunOptions::default()
    };
    let mut w = index.writer(opts.clone()).expect("writer");
    w.build(photos.iter().take(4).map(source).collect())
        .expect("build");
    drop(w);
    // Many short ingestion runs: many starts and ends of a run, where a
    // change of the count would meet the queries.
    let stop = Arc::new(AtomicBool::new(false));
    let ingester = {
        let (index, stop, opts) = (index.clone(), stop.clone(), opts.clone());
        let small = photos
            .iter()
            .find(|p| common::photo_id(p).starts_with("micro"))
            .expect("the small photo")
            .clone();
        std::thread::spawn(move || {
            let mut runs = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut w = index.writer(opts.clone()).expect("writer");
                let report = w
                    .add(vec![mmindex::Source::path("small", small.clone())])
                    .expect("add");
                assert!(report.failed.is_empty(), "{report:?}");
                runs += 1;
            }
            runs
        })
    };
    let s = index.searcher().expect("searcher");
    for p in photos.iter().take(4) {
        for _ in 0..8 {
            let hits = s.search(&mmindex::Query::path(p), 1).expect("search");
            assert_eq!(hits[0].id.to_string_lossy(), common::photo_id(p));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let runs = ingester.join().expect("ingester thread");
    assert!(runs > 0);
}

/// Searches read a word's posting blocks while seals merge them and
/// removals move them. A seal deletes a word's last blocks and rewrites
/// them as one, and removing a block's first doc moves the block to its
/// next doc's key: a read that met a word's early keys before such a
/// transaction and its later keys after it would miss a block or see one
/// twice. Every record holds every word once, so every hit scores the
/// same, and every record added before a search and not removed by its
/// end is a hit. No block cache, so every search reads the store.
#[test]
fn searches_read_whole_lists_while_seals_and_removals_move_blocks() {
    const N: usize = 1000;
    let idf = vec![1.0f32; WORDS];
    let (_dir, index) = new_index(&idf, 3 * WORDS as u64, Some(0));
    let all: Vec<u32> = (0..WORDS as u32).collect();
    let added = Arc::new(AtomicUsize::new(0));
    let removed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let searchers: Vec<_> = (0..2)
        .map(|_| {
            let (s, stop, added, removed, all) = (
                index.searcher().expect("searcher"),
                stop.clone(),
                added.clone(),
                removed.clone(),
                all.clone(),
            );
            std::thread::spawn(move || {
                let opts = SearchOptions {
                    top_k: N,
                    mode: SearchMode::Inverted,
                    ..SearchOptions::default()
                };
                let mut searches = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let before = added.load(Ordering::SeqCst);
                    let hits = s.search_words(&all, &opts).expect("search");
                    let gone = removed.load(Ordering::SeqCst);
                    assert!(
                        hits.len() + gone >= before,
                        "{} hits, {before} records added before the search, {gone} removed by its end",
                        hits.len()
                    );
                    if let Some(h) = hits.iter().find(|h| h.score != hits[0].score) {
                        panic!("{} scored {}, {} {}", h.id, h.score, hits[0].id, hits[0].score);
                    }
                    searches += 1;
                }
                searches
            })
        })
        .collect();
    let mut w = index.writer(RunOptions::default()).expect("writer");
    let mut oldest = 0;
    for i in 0..N {
        w.add_words(vec![(RecordId::from(format!("r{i}")), all.clone())])
            .expect("add");
        added.store(i + 1, Ordering::SeqCst);
        // The oldest record is the first doc of every word's first block.
        // Counted before it starts: a search may see it from then on.
        if i % 4 == 3 {
            removed.store(oldest + 1, Ordering::SeqCst);
            w.remove([format!("r{oldest}").as_str()]).expect("remove");
            oldest += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let searches: usize = searchers
        .into_iter()
        .map(|t| t.join().expect("searcher thread"))
        .sum();
    assert!(searches >= 2, "searches ran during ingest");
    assert_eq!(index.stats().expect("stats").records, (N - oldest) as u64);
}

/// Re-ranking reads a candidate's geometry, then its histogram: a record
/// replaced between the two reads (both deleted in one transaction) is a
/// candidate gone, not a damaged index. Searches with re-ranking run while
/// a writer replaces every record again and again; none may fail. Reading
/// a record (`Index::record`: its doc, then the doc's entry and histogram)
/// meanwhile always finds it, with its words.
#[test]
fn reranking_searches_and_record_reads_survive_records_replaced_under_them() {
    let photos = common::photos();
    let sources: Vec<mmindex::Source> = photos.iter().map(|p| common::photo_source(p)).collect();
    let (_dir, index) = common::temp_index(|b| b.feature(Feature::Sift).words(16));
    let mut w = index.writer(RunOptions::default()).expect("writer");
    w.build(sources.clone()).expect("build");
    drop(w);
    let v = index.export_vocabulary().expect("export");
    // Described once: each replacement is then only a commit.
    let extracted: Vec<_> = sources
        .iter()
        .map(|s| v.extract(s).expect("extract"))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let searchers: Vec<_> = (0..2)
        .map(|t| {
            let (s, stop) = (index.searcher().expect("searcher"), stop.clone());
            let q = s
                .prepare(&mmindex::Query::path(&photos[t]))
                .expect("prepare");
            std::thread::spawn(move || {
                let opts = SearchOptions {
                    top_k: 5,
                    ..SearchOptions::default()
                };
                let mut searches = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    s.search_prepared(&q, &opts)
                        .expect("a search during replacements");
                    searches += 1;
                }
                searches
            })
        })
        .collect();
    let ids: Vec<String> = photos.iter().map(|p| common::photo_id(p)).collect();
    let quiet: Vec<_> = ids
        .iter()
        .map(|id| index.record(id).expect("record").expect("stored"))
        .collect();
    let reader = {
        let (index, stop) = (index.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0usize;
            while !stop.load(Ordering::Relaxed) {
                for (id, q) in ids.iter().zip(&quiet) {
                    let r = index.record(id).expect("record");
                    let r = r.unwrap_or_else(|| panic!("{id} not found while replaced"));
                    assert_eq!((r.words, r.features), (q.words, q.features), "{id}");
                    reads += 1;
                }
            }
            reads
        })
    };
    let mut w = index.writer(RunOptions::default()).expect("writer");
    for _ in 0..300 {
        let report = w.add_extracted(extracted.clone()).expect("replace");
        assert!(report.is_complete(), "{report:?}");
    }
    stop.store(true, Ordering::Relaxed);
    let searches: usize = searchers
        .into_iter()
        .map(|t| t.join().expect("searcher thread"))
        .sum();
    assert!(searches >= 2, "searches ran during the replacements");
    assert!(reader.join().expect("reader thread") > 0);

    // A doc whose geometry is there and histogram is not is damage, and
    // still reported as such.
    w.seal().expect("seal");
    drop(w);
    let s = index.searcher().expect("searcher");
    let q = s
        .prepare(&mmindex::Query::path(&photos[0]))
        .expect("prepare");
    let opts = SearchOptions {
        top_k: 5,
        ..SearchOptions::default()
    };
    let top = s.search_prepared(&q, &opts).expect("search");
    index
        .__tamper(
            "g1.hist",
            &mmindex::store::codec::keys::doc(top[0].doc),
            None,
        )
        .expect("tamper");
    let e = s
        .search_prepared(&q, &opts)
        .expect_err("damage is reported");
    assert!(matches!(e, mmindex::Error::Corruption { .. }), "{e:?}");
}
