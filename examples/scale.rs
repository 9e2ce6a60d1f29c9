//! Scale harness: fills an index with N synthetic records (word histograms
//! with Zipf-distributed word frequencies, added through the public API, no
//! image extraction), then times searches in both modes and reports size.
//!
//! `scale --index DIR --records N [--words K] [--features F] [--zipf S]
//!        [--queries Q] [--batch B] [--seed X] [--seal P] [--no-sequential]
//!        [--reuse | --grow] [--warmup W] [--warm] [--threads T]
//!        [--block-cache BYTES] [--top-k K] [--share S] [--known M]
//!        [--word-counts FILE]`
//!
//! Defaults: 10^5 words, 1,000 features per record, Zipf exponent 0.6,
//! 100 queries, batches of 1,000, the library's seal threshold (`--seal`
//! sets `IndexBuilder::seal_postings` for the fill). `--reuse` searches an index filled
//! before (in this fresh process: the cold-open figure). `--grow` adds to
//! an index filled (or grown) before, with the same shape and at least
//! 1,000 records, the records a fill of N would add after them, then
//! searches it as `--reuse` does (fills when there is no index yet): one
//! index measured at 10^6, 2·10^6, ... holds at each size the records a
//! fill of that size would (batches restart where it stood, so its blocks
//! may be cut elsewhere). `--warmup W` first
//! runs W untimed queries from another generator, as a long-lived process
//! has answered earlier queries (default 0: every figure is from a fresh
//! process). `--warm` calls `Searcher::warm` after the first query (timed
//! apart: `warm.seconds`), as a server would at start. `--top-k` sets the
//! hits asked (default 10). `--share S` also runs every query with
//! `SearchOptions::query_share` = S, right after its exact search, and
//! reports those timings and the recall of the exact top-k (the share of
//! its docs the approximate top-k holds). `--known M` adds M known-item
//! queries: records `r0`, `r50`, ... each with every other feature swapped
//! for a random word, and reports how many find their record in the top-k,
//! exact and (with `--share`) approximate. `--word-counts FILE` draws
//! words with the weights in FILE (one count per line, word by word, as
//! `python/bench/pruning_ceiling.py word-counts` writes the occurrences of
//! a real vocabulary's words) instead of the Zipf law (`--words` and
//! `--zipf` are then ignored; a fill and its `--reuse` runs must be given
//! the same file). Prints one JSON
//! object. The records come from `benches/support/synthetic.rs`, which
//! `benches/search.rs` shares.

use std::process::ExitCode;
use std::time::Instant;

use mmindex::{Index, SearchMode, SearchOptions};

#[allow(dead_code)]
#[path = "../benches/support/synthetic.rs"]
mod synthetic;
use synthetic::{Corpus, Shape};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(((v.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args
        .iter()
        .position(|a| a == "--index")
        .and_then(|i| args.get(i + 1))
        .cloned()
    else {
        eprintln!("usage: scale --index DIR --records N [--words K] [--features F] [--zipf S] [--queries Q]");
        return ExitCode::from(2);
    };
    let n: usize = arg(&args, "--records", 10_000);
    let counts_file = args
        .iter()
        .position(|a| a == "--word-counts")
        .and_then(|i| args.get(i + 1));
    let counts: Option<&'static [f64]> = match counts_file {
        None => None,
        Some(path) => {
            let parsed: Option<Vec<f64>> = std::fs::read_to_string(path).ok().and_then(|t| {
                t.lines()
                    .map(|l| {
                        l.trim()
                            .parse::<f64>()
                            .ok()
                            .filter(|c| c.is_finite() && *c >= 0.0)
                    })
                    .collect()
            });
            match parsed {
                Some(c) if c.iter().any(|&x| x > 0.0) => Some(Vec::leak(c)),
                _ => {
                    eprintln!(
                        "--word-counts {path}: needs one finite, non-negative count per line, not all 0"
                    );
                    return ExitCode::from(2);
                }
            }
        }
    };
    let shape = Shape {
        words: counts.map_or_else(|| arg(&args, "--words", 100_000), <[f64]>::len),
        features: arg(&args, "--features", 1_000),
        zipf: arg(&args, "--zipf", 0.6),
        seed: arg(&args, "--seed", 1u64),
        counts,
    };
    let q: usize = arg(&args, "--queries", 100);
    let batch: usize = arg(&args, "--batch", 1_000);
    let seal: Option<u64> = args
        .iter()
        .position(|a| a == "--seal")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok());
    let block_cache: Option<u64> = args
        .iter()
        .position(|a| a == "--block-cache")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok());
    let threads: usize = arg(&args, "--threads", 0);
    let top_k: usize = arg(&args, "--top-k", 10);
    let share: Option<f32> = match args.iter().position(|a| a == "--share") {
        None => None,
        Some(i) => match args.get(i + 1).and_then(|v| v.parse().ok()) {
            Some(s) => Some(s),
            None => {
                eprintln!("--share needs a number in (0, 1]");
                return ExitCode::from(2);
            }
        },
    };
    let warmup: usize = arg(&args, "--warmup", 0);
    let warm = args.iter().any(|a| a == "--warm");
    let sequential = !args.iter().any(|a| a == "--no-sequential");
    let exists = std::path::Path::new(&dir).join("conf").exists();
    let reuse = args.iter().any(|a| a == "--reuse") && exists;
    let grow = args.iter().any(|a| a == "--grow") && exists;

    let measure = |ingest: f64, from: Option<usize>| -> mmindex::Result<serde_json::Value> {
        let queries = Corpus::new(shape).queries(q);
        let started = Instant::now();
        let index = match block_cache {
            Some(n) => Index::builder().block_cache_bytes(n).open(&dir)?,
            None => Index::open(&dir)?,
        };
        let searcher = index.searcher()?;
        let opts = |mode| SearchOptions {
            top_k,
            mode,
            scoring: None,
            threads,
            ..SearchOptions::default()
        };
        searcher.search_words(&queries[0], &opts(SearchMode::Inverted))?;
        let first = started.elapsed().as_secs_f64();
        // After the first query, so that `first` stays a cold start.
        let mut warmed = serde_json::Value::Null;
        if warm {
            let t = Instant::now();
            let r = searcher.warm(u64::MAX)?;
            warmed = serde_json::json!({"seconds": t.elapsed().as_secs_f64(), "words": r.words, "bytes": r.bytes});
        }
        for qw in Corpus::new(shape).queries_seeded(warmup, 8) {
            searcher.search_words(&qw, &opts(SearchMode::Inverted))?;
        }
        let mut inv = Vec::new();
        let (mut approx, mut found, mut wanted) = (Vec::new(), 0usize, 0usize);
        for qw in &queries {
            let t = Instant::now();
            let exact = searcher.search_words(qw, &opts(SearchMode::Inverted))?;
            inv.push(t.elapsed().as_secs_f64() * 1e3);
            if let Some(query_share) = share {
                let o = SearchOptions {
                    query_share,
                    ..opts(SearchMode::Inverted)
                };
                let t = Instant::now();
                let got = searcher.search_words(qw, &o)?;
                approx.push(t.elapsed().as_secs_f64() * 1e3);
                wanted += exact.len();
                found += exact
                    .iter()
                    .filter(|h| got.iter().any(|g| g.doc == h.doc))
                    .count();
            }
        }
        let known: usize = arg(&args, "--known", 0);
        let (mut known_exact, mut known_approx) = (0usize, 0usize);
        if known > 0 {
            // The fill draws the IDF sample, then r0, r1, ... from one stream.
            let mut corpus = Corpus::new(shape);
            corpus.idf(n);
            let noise = Corpus::new(shape).queries_seeded(known, 11);
            let mut i = 0;
            for (m, noise) in noise.iter().enumerate() {
                let target = m * 50;
                let mut words = corpus.record();
                while i < target {
                    words = corpus.record();
                    i += 1;
                }
                i += 1;
                for (j, w) in words.iter_mut().enumerate() {
                    if j % 2 == 1 {
                        *w = noise[j];
                    }
                }
                let id = mmindex::RecordId::from(format!("r{target}"));
                let has = |hits: &[mmindex::Hit]| hits.iter().any(|h| h.id == id);
                known_exact += usize::from(has(
                    &searcher.search_words(&words, &opts(SearchMode::Inverted))?
                ));
                if let Some(query_share) = share {
                    let o = SearchOptions {
                        query_share,
                        ..opts(SearchMode::Inverted)
                    };
                    known_approx += usize::from(has(&searcher.search_words(&words, &o)?));
                }
            }
        }
        let mut seq = Vec::new();
        if sequential {
            for qw in queries.iter().take(10) {
                let t = Instant::now();
                searcher.search_words(qw, &opts(SearchMode::Sequential))?;
                seq.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let st = index.stats()?;
        Ok(serde_json::json!({
            "records": st.records,
            "words": shape.words,
            "features": shape.features,
            "zipf": shape.zipf,
            "word_counts": counts_file,
            "postings": st.postings,
            "unsealed_postings": st.unsealed_postings,
            "bytes_on_disk": st.bytes_on_disk,
            "bytes_per_record": st.bytes_on_disk as f64 / st.records.max(1) as f64,
            "ingest_seconds": ingest,
            "grown_from": from,
            "open_and_first_query_seconds": first,
            "warmup_queries": warmup,
            "warm": warmed,
            "inverted_ms_p50": percentile(&mut inv.clone(), 0.5),
            "inverted_ms_p99": percentile(&mut inv, 0.99),
            "top_k": top_k,
            "known_items": known,
            "known_found_exact": known_exact,
            "known_found_approximate": known_approx,
            "share": share,
            "approximate_ms_p50": if approx.is_empty() { serde_json::Value::Null } else { percentile(&mut approx.clone(), 0.5).into() },
            "approximate_ms_p99": if approx.is_empty() { serde_json::Value::Null } else { percentile(&mut approx, 0.99).into() },
            "approximate_recall": if wanted == 0 { serde_json::Value::Null } else { (found as f64 / wanted as f64).into() },
            "sequential_ms_p50": if seq.is_empty() { serde_json::Value::Null } else { percentile(&mut seq, 0.5).into() },
        }))
    };
    let run = || -> mmindex::Result<serde_json::Value> {
        let mut ingest = 0.0;
        let mut from = None;
        if grow {
            let (had, seconds) =
                synthetic::grow(std::path::Path::new(&dir), n, shape, batch, seal)?;
            (from, ingest) = (Some(had), seconds);
        } else if !reuse {
            ingest = synthetic::fill(std::path::Path::new(&dir), n, shape, batch, seal)?;
        }
        measure(ingest, from)
    };
    match run() {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
