//! Quantization speed of flat codebooks against vocabulary trees, and how
//! long a stored tree takes to load from sled. Prints one table.
//!
//! `cargo run --release --example quantize_speed [-- --skip-million]`
//!
//! Descriptors are SIFT-like (128 integers in 0..=255 around 20,000 seeded
//! centres, `benches/support/sift_like.rs`). Flat codebooks take seeded
//! sample rows as centroids (their cost does not depend on training); trees
//! are trained (b = 10, seeded k-means, 10 Lloyd iterations per node) on
//! 2.5 rows per potential leaf. "1 thread" runs inside a one-thread rayon
//! pool; the flat codebook's matrix product is single-threaded anyway.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a measuring tool: a failed set-up ends the run"
)]

use std::time::{Duration, Instant};

use mmindex::features::Descriptors;
use mmindex::vocab::{Centroids, TreeParts, VocabTree, NO_WORD};

#[allow(dead_code)]
#[path = "../benches/support/sift_like.rs"]
mod sift_like;
use sift_like::*;

/// Best of `runs` timings of `f`.
fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn one_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
        .install(f)
}

/// Mean squared distance of each row to the centroid of its word.
fn distortion(t: &VocabTree, d: &Descriptors) -> f64 {
    let p = t.parts();
    let Centroids::Float(c) = &p.centroids else {
        return f64::NAN;
    };
    let mut node_of = vec![0usize; t.words()];
    for (n, &w) in p.word.iter().enumerate() {
        if w != NO_WORD {
            node_of[w as usize] = n;
        }
    }
    let Descriptors::Float { data, .. } = d else {
        return f64::NAN;
    };
    let words = t.quantize(d).expect("quantize");
    let total: f64 = data
        .chunks_exact(DIM)
        .zip(&words)
        .map(|(row, &w)| {
            let n = node_of[w as usize];
            row.iter()
                .zip(&c[n * DIM..(n + 1) * DIM])
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum::<f64>()
        })
        .sum();
    total / words.len() as f64
}

/// The same tree with every centroid moved off the integers, so the codec
/// must store it as f32: the load-time comparison.
fn as_f32(t: &VocabTree) -> VocabTree {
    let p = t.parts();
    let Centroids::Float(c) = &p.centroids else {
        return t.clone();
    };
    VocabTree::from_parts(TreeParts {
        centroids: Centroids::Float(c.iter().map(|v| v + 0.25).collect()),
        ..p.clone()
    })
    .expect("valid")
}

/// The same tree with every centroid `c` as `c / 255` (a RootSIFT-like
/// tree on the codec's unit-byte grid): the load time of the default
/// feature's trees.
fn as_unit(t: &VocabTree) -> VocabTree {
    let p = t.parts();
    let Centroids::Float(c) = &p.centroids else {
        return t.clone();
    };
    VocabTree::from_parts(TreeParts {
        centroids: Centroids::Float(c.iter().map(|v| f32::from(*v as u8) / 255.0).collect()),
        ..p.clone()
    })
    .expect("valid")
}

fn main() {
    let skip_million = std::env::args().any(|a| a == "--skip-million");
    let centres = Centres::new(1, 20_000);
    let queries = descriptors(centres.draw(2, 20_000));
    let pool = centres.draw(3, 200_000);
    let row = |k: &str, v: String| println!("{k:<52} {v}");

    let flat1k = flat(4, &pool, 1_000);
    let d = best(3, || drop(flat1k.quantize(&queries)));
    row(
        "flat 1,000 words (desc/s)",
        format!("{:.0}", rate(queries.len(), d)),
    );

    let flat100k = flat(5, &pool, 100_000);
    let few = descriptors(centres.draw(6, 256));
    let d = best(2, || drop(flat100k.quantize(&few)));
    let flat_rate = rate(few.len(), d);
    row(
        "flat 100,000 words, exhaustive (desc/s)",
        format!("{flat_rate:.0}"),
    );
    drop(flat100k);

    let (t5, train5) = trained_tree(&centres, 10, 5, 2.5, 10);
    row(
        "tree b=10 L=5: words / nodes / training s",
        format!(
            "{} / {} / {:.1}",
            t5.words(),
            t5.nodes(),
            train5.as_secs_f64()
        ),
    );
    let d = best(3, || drop(t5.quantize(&queries)));
    let tree_rate = rate(queries.len(), d);
    row(
        "tree ~10^5 words, all threads (desc/s)",
        format!("{tree_rate:.0}"),
    );
    let d1 = one_thread(|| best(3, || drop(t5.quantize(&queries))));
    let tree_rate1 = rate(queries.len(), d1);
    row(
        "tree ~10^5 words, 1 thread (desc/s)",
        format!("{tree_rate1:.0}"),
    );
    row(
        "speedup tree/exhaustive at 10^5, 1 thread",
        format!("{:.0}x", tree_rate1 / flat_rate),
    );
    row(
        "speedup tree/exhaustive at 10^5, all threads",
        format!("{:.0}x", tree_rate / flat_rate),
    );
    let s5 = store(&t5);
    let (back, open5, load5) = load(&s5);
    assert_eq!(back, t5);
    row(
        "load ~10^5 tree from sled: MB / open s / load s",
        format!(
            "{:.1} / {:.3} / {:.3}",
            s5.bytes as f64 / 1e6,
            open5.as_secs_f64(),
            load5.as_secs_f64()
        ),
    );
    // Rounding SIFT centroids to integers: quantization quality against a
    // tree trained on the same rows moved off the integers by 0.001 (so
    // nothing is rounded).
    let (t5f, _) = {
        let rows = (2.5 * 1e5) as usize;
        let mut data = centres.draw(7, rows);
        data.iter_mut().for_each(|v| *v += 0.001);
        let started = Instant::now();
        let t = VocabTree::build(&descriptors(data), 10, 5, 10, 1).expect("train");
        (t, started.elapsed())
    };
    row(
        "leaf distortion on queries: rounded / f32 tree",
        format!(
            "{:.0} / {:.0}",
            distortion(&t5, &queries),
            distortion(&t5f, &queries)
        ),
    );
    drop((t5, t5f, s5));

    if skip_million {
        return;
    }
    let (t6, train6) = trained_tree(&centres, 10, 6, 2.5, 10);
    row(
        "tree b=10 L=6: words / nodes / training s",
        format!(
            "{} / {} / {:.1}",
            t6.words(),
            t6.nodes(),
            train6.as_secs_f64()
        ),
    );
    let d = best(3, || drop(t6.quantize(&queries)));
    row(
        "tree ~10^6 words, all threads (desc/s)",
        format!("{:.0}", rate(queries.len(), d)),
    );
    let d1 = one_thread(|| best(3, || drop(t6.quantize(&queries))));
    row(
        "tree ~10^6 words, 1 thread (desc/s)",
        format!("{:.0}", rate(queries.len(), d1)),
    );
    let s6 = store(&t6);
    let (back, open6, load6) = load(&s6);
    assert_eq!(back, t6);
    row(
        "load ~10^6 tree (u8) from sled: MB / open s / load s",
        format!(
            "{:.1} / {:.3} / {:.3}",
            s6.bytes as f64 / 1e6,
            open6.as_secs_f64(),
            load6.as_secs_f64()
        ),
    );
    drop(s6);
    let t6u = as_unit(&t6);
    let s6u = store(&t6u);
    drop(t6u);
    let (_, open6u, load6u) = load(&s6u);
    row(
        "load ~10^6 tree (unit bytes, RootSIFT) from sled: MB / open s / load s",
        format!(
            "{:.1} / {:.3} / {:.3}",
            s6u.bytes as f64 / 1e6,
            open6u.as_secs_f64(),
            load6u.as_secs_f64()
        ),
    );
    drop(s6u);
    let t6f = as_f32(&t6);
    drop(t6);
    let s6f = store(&t6f);
    let (_, open6f, load6f) = load(&s6f);
    row(
        "load ~10^6 tree (f32) from sled: MB / open s / load s",
        format!(
            "{:.1} / {:.3} / {:.3}",
            s6f.bytes as f64 / 1e6,
            open6f.as_secs_f64(),
            load6f.as_secs_f64()
        ),
    );
}
