//! Scale harness: fills an index with N synthetic records (word histograms
//! with Zipf-distributed word frequencies, added through the public API, no
//! image extraction), then times searches in both modes and reports size.
//!
//! `scale --index DIR --records N [--words K] [--features F] [--zipf S]
//!        [--queries Q] [--batch B] [--seed X] [--no-sequential]`
//!
//! Defaults: 10^5 words, 1,000 features per record, Zipf exponent 0.6,
//! 100 queries, batches of 1,000. Prints one JSON object.

use std::process::ExitCode;
use std::time::Instant;

use mmindex::vocab::Codebook;
use mmindex::{Feature, Index, RecordId, RunOptions, SearchMode, SearchOptions};
use ndarray::Array2;

#[allow(dead_code)]
#[path = "../tests/common/rng.rs"]
mod rng;
use rng::Rng;

/// Draws words with P(w) ∝ 1/(w+1)^s by inverting the cumulative table.
struct Zipf(Vec<f64>);
impl Zipf {
    fn new(k: usize, s: f64) -> Zipf {
        let mut acc = 0.0;
        let mut c: Vec<f64> = (0..k)
            .map(|w| {
                acc += 1.0 / ((w + 1) as f64).powf(s);
                acc
            })
            .collect();
        for v in &mut c {
            *v /= acc;
        }
        Zipf(c)
    }
    fn draw(&self, rng: &mut Rng) -> u32 {
        let u = rng.unit();
        self.0.partition_point(|&c| c < u).min(self.0.len() - 1) as u32
    }
}

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
    let k: usize = arg(&args, "--words", 100_000);
    let f: usize = arg(&args, "--features", 1_000);
    let s: f64 = arg(&args, "--zipf", 0.6);
    let q: usize = arg(&args, "--queries", 100);
    let batch: usize = arg(&args, "--batch", 1_000);
    let mut rng = Rng::new(arg(&args, "--seed", 1u64));
    let sequential = !args.iter().any(|a| a == "--no-sequential");
    let zipf = Zipf::new(k, s);
    // Words are shuffled so that frequent words are not all small numbers.
    let mut perm: Vec<u32> = (0..k as u32).collect();
    for i in (1..k).rev() {
        perm.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    let record =
        |rng: &mut Rng| -> Vec<u32> { (0..f).map(|_| perm[zipf.draw(rng) as usize]).collect() };

    let reuse =
        args.iter().any(|a| a == "--reuse") && std::path::Path::new(&dir).join("conf").exists();
    let mut fill = || -> mmindex::Result<f64> {
        let index = Index::builder().feature(Feature::Sift).open(&dir)?;
        let mut w = index.writer(RunOptions {
            batch_size: batch,
            ..RunOptions::default()
        })?;
        // IDF from a sample of records, as training would compute it.
        let mut df = vec![0u32; k];
        let sample = 1_000.min(n.max(1));
        for _ in 0..sample {
            let mut ws = record(&mut rng);
            ws.sort_unstable();
            ws.dedup();
            for w in ws {
                df[w as usize] += 1;
            }
        }
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| (((1 + sample) as f64 / (1 + d) as f64).ln() + 1.0) as f32)
            .collect();
        w.install_codebook(Codebook::from_float(Array2::zeros((k, 1))), Some(idf))?;
        let started = Instant::now();
        let mut done = 0;
        while done < n {
            let m = batch.min(n - done);
            let recs = (0..m)
                .map(|i| (RecordId::from(format!("r{}", done + i)), record(&mut rng)))
                .collect();
            w.add_words(recs)?;
            done += m;
        }
        Ok(started.elapsed().as_secs_f64())
    };
    let measure = |ingest: f64| -> mmindex::Result<serde_json::Value> {
        let mut rng = Rng::new(7);
        let started = Instant::now();
        let index = Index::open(&dir)?;
        let searcher = index.searcher()?;
        let queries: Vec<Vec<u32>> = (0..q).map(|_| record(&mut rng)).collect();
        let opts = |mode| SearchOptions {
            top_k: 10,
            mode,
            scoring: None,
            ..SearchOptions::default()
        };
        searcher.search_words(&queries[0], &opts(SearchMode::Inverted))?;
        let first = started.elapsed().as_secs_f64();
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
            "words": k,
            "features": f,
            "zipf": s,
            "postings": st.postings,
            "bytes_on_disk": st.bytes_on_disk,
            "bytes_per_record": st.bytes_on_disk as f64 / st.records.max(1) as f64,
            "ingest_seconds": ingest,
            "open_and_first_query_seconds": first,
            "inverted_ms_p50": percentile(&mut inv.clone(), 0.5),
            "inverted_ms_p99": percentile(&mut inv, 0.99),
            "sequential_ms_p50": if seq.is_empty() { serde_json::Value::Null } else { percentile(&mut seq, 0.5).into() },
        }))
    };
    let mut run = || -> mmindex::Result<serde_json::Value> {
        let mut ingest = 0.0;
        if !reuse {
            ingest = fill()?;
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
