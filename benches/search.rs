//! Inverted and sequential search over synthetic collections of 10k, 100k
//! and 1M records (1,000 features each, Zipf(0.6) over 10^5 words; see
//! `benches/support/synthetic.rs`), excluding query feature extraction.
//!
//! `cargo bench --bench search`
//!
//! Indexes live in `$MMINDEX_BENCH_INDEXES` (default
//! `target/bench-indexes`) as `scale-{N}` and are reused across runs. A
//! missing one is filled when N ≤ `$MMINDEX_BENCH_FILL` (default 10,000:
//! the 100k fill takes about 1.5 minutes, the 1M one about 15); otherwise
//! its benchmarks are skipped with the command that fills it:
//! `cargo run --release --example scale -- --index DIR --records N`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use mmindex::{Index, SearchMode, SearchOptions};

#[allow(dead_code)]
#[path = "support/synthetic.rs"]
mod synthetic;
use synthetic::{Corpus, Shape};

fn index_dir(n: usize) -> PathBuf {
    let base = std::env::var_os("MMINDEX_BENCH_INDEXES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-indexes"));
    base.join(format!("scale-{n}"))
}

fn search(c: &mut Criterion) {
    let fill_up_to: usize = std::env::var("MMINDEX_BENCH_FILL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let shape = Shape::default();
    let queries = Corpus::new(shape).queries(20);
    for n in [10_000usize, 100_000, 1_000_000] {
        let dir = index_dir(n);
        if !dir.join("conf").exists() {
            if n > fill_up_to {
                eprintln!(
                    "skipping {n} records: no index at {} (fill it with `cargo run --release --example scale -- --index {} --records {n}`, or set MMINDEX_BENCH_FILL={n})",
                    dir.display(),
                    dir.display()
                );
                continue;
            }
            let _ = std::fs::remove_dir_all(&dir);
            if let Err(e) = synthetic::fill(&dir, n, shape, 1_000, None) {
                eprintln!(
                    "skipping {n} records: filling {} failed: {e}",
                    dir.display()
                );
                continue;
            }
        }
        let index = match Index::open(&dir) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("skipping {n} records: {e}");
                continue;
            }
        };
        let Ok(searcher) = index.searcher() else {
            eprintln!("skipping {n} records: no codebook in {}", dir.display());
            continue;
        };
        let mut g = c.benchmark_group(format!("search_{n}"));
        g.sample_size(20);
        g.warm_up_time(Duration::from_secs(1));
        let mut modes = vec![("inverted", SearchMode::Inverted)];
        if n <= 100_000 {
            modes.push(("sequential", SearchMode::Sequential));
        }
        for (name, mode) in modes {
            if mode == SearchMode::Sequential {
                g.sample_size(10);
            }
            let opts = SearchOptions {
                top_k: 10,
                mode,
                ..SearchOptions::default()
            };
            let mut i = 0;
            g.bench_function(name, |b| {
                b.iter(|| {
                    i = (i + 1) % queries.len();
                    searcher.search_words(black_box(&queries[i]), &opts)
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, search);
criterion_main!(benches);
