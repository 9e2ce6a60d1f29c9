//! Scale harness: fills an index with N synthetic records (word histograms
//! with Zipf-distributed word frequencies, added through the public API, no
//! image extraction), then times searches in both modes and reports size.
//!
//! `scale --index DIR --records N [--words K] [--features F] [--zipf S]
//!        [--queries Q] [--batch B] [--seed X] [--seal P] [--no-sequential]
//!        [--reuse] [--warmup W] [--warm] [--threads T] [--block-cache BYTES]`
//!
//! Defaults: 10^5 words, 1,000 features per record, Zipf exponent 0.6,
//! 100 queries, batches of 1,000, the library's seal threshold (`--seal`
//! sets `IndexBuilder::seal_postings` for the fill). `--reuse` searches an index filled
//! before (in this fresh process: the cold-open figure). `--warmup W` first
//! runs W untimed queries from another generator, as a long-lived process
//! has answered earlier queries (default 0: every figure is from a fresh
//! process). `--warm` calls `Searcher::warm` after the first query (timed
//! apart: `warm.seconds`), as a server would at start. Prints one JSON
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
    let shape = Shape {
        words: arg(&args, "--words", 100_000),
        features: arg(&args, "--features", 1_000),
        zipf: arg(&args, "--zipf", 0.6),
        seed: arg(&args, "--seed", 1u64),
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
    let warmup: usize = arg(&args, "--warmup", 0);
    let warm = args.iter().any(|a| a == "--warm");
    let sequential = !args.iter().any(|a| a == "--no-sequential");
    let reuse =
        args.iter().any(|a| a == "--reuse") && std::path::Path::new(&dir).join("conf").exists();

    let measure = |ingest: f64| -> mmindex::Result<serde_json::Value> {
        let queries = Corpus::new(shape).queries(q);
        let started = Instant::now();
        let index = match block_cache {
            Some(n) => Index::builder().block_cache_bytes(n).open(&dir)?,
            None => Index::open(&dir)?,
        };
        let searcher = index.searcher()?;
        let opts = |mode| SearchOptions {
            top_k: 10,
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
        for qw in &queries {
            let t = Instant::now();
            searcher.search_words(qw, &opts(SearchMode::Inverted))?;
            inv.push(t.elapsed().as_secs_f64() * 1e3);
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
            "postings": st.postings,
            "unsealed_postings": st.unsealed_postings,
            "bytes_on_disk": st.bytes_on_disk,
            "bytes_per_record": st.bytes_on_disk as f64 / st.records.max(1) as f64,
            "ingest_seconds": ingest,
            "open_and_first_query_seconds": first,
            "warmup_queries": warmup,
            "warm": warmed,
            "inverted_ms_p50": percentile(&mut inv.clone(), 0.5),
            "inverted_ms_p99": percentile(&mut inv, 0.99),
            "sequential_ms_p50": if seq.is_empty() { serde_json::Value::Null } else { percentile(&mut seq, 0.5).into() },
        }))
    };
    let run = || -> mmindex::Result<serde_json::Value> {
        let mut ingest = 0.0;
        if !reuse {
            ingest = synthetic::fill(std::path::Path::new(&dir), n, shape, batch, seal)?;
        }
        measure(ingest)
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
