//! Per-descriptor quantization of SIFT-like descriptors: flat codebooks
//! (matrix-product path) against vocabulary trees (greedy descent), and
//! loading a stored tree from sled.
//!
//! `cargo bench --bench quantize` (set `MMINDEX_BENCH_MILLION=0` to skip
//! the 10^6-word tree, which takes a few minutes to train).
//!
//! Data: `benches/support/sift_like.rs`. Trees are trained (b = 10, 10
//! Lloyd iterations per node) on 2.5 rows per potential leaf: 250,000 rows
//! for L = 5, 2,500,000 for L = 6. `examples/quantize_speed.rs` prints the
//! same comparison as one table.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark: a failed set-up ends the run"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[allow(dead_code)]
#[path = "support/sift_like.rs"]
mod sift_like;
use sift_like::*;

fn quantize(c: &mut Criterion) {
    let centres = Centres::new(1, 20_000);
    let queries = descriptors(centres.draw(2, 2_000));
    let few = descriptors(centres.draw(6, 32));
    let pool = centres.draw(3, 200_000);
    let mut g = c.benchmark_group("quantize_sift");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));

    let flat1k = flat(4, &pool, 1_000);
    g.throughput(Throughput::Elements(queries.len() as u64));
    g.bench_function("flat_1000", |b| {
        b.iter(|| flat1k.quantize(black_box(&queries)))
    });

    let flat100k = flat(5, &pool, 100_000);
    g.throughput(Throughput::Elements(few.len() as u64));
    g.bench_function("flat_100000_exhaustive", |b| {
        b.iter(|| flat100k.quantize(black_box(&few)))
    });
    drop(flat100k);

    let (t5, _) = trained_tree(&centres, 10, 5, 2.5, 10);
    g.throughput(Throughput::Elements(queries.len() as u64));
    g.bench_function("tree_b10_l5", |b| {
        b.iter(|| t5.quantize(black_box(&queries)))
    });
    let million = std::env::var("MMINDEX_BENCH_MILLION").map_or(true, |v| v != "0");
    let t6 = million.then(|| trained_tree(&centres, 10, 6, 2.5, 10).0);
    if let Some(t6) = &t6 {
        g.bench_function("tree_b10_l6", |b| {
            b.iter(|| t6.quantize(black_box(&queries)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("load_tree_from_sled");
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(5));
    for (name, t) in [("b10_l5", Some(&t5)), ("b10_l6", t6.as_ref())] {
        let Some(t) = t else { continue };
        let stored = store(t);
        let db = sled::open(stored.dir.path().join("db")).expect("sled");
        let tree = db.open_tree("g1.codebook").expect("tree");
        g.bench_function(name, |b| b.iter(|| load_from(black_box(&tree))));
    }
    g.finish();
}

criterion_group!(benches, quantize);
criterion_main!(benches);
