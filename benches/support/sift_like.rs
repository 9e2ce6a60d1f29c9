//! Shared by `benches/quantize.rs` and `examples/quantize_speed.rs`:
//! seeded SIFT-like descriptors, the vocabularies they are quantized
//! against, and storing/loading a vocabulary tree through sled.
//!
//! Descriptors: 128 integers in 0..=255 (as OpenCV's SIFT gives them),
//! drawn around `clusters` random centres. A centre has about a third of
//! its dimensions near zero and the rest uniform in 0..=160 (SIFT histograms
//! are sparse and clipped); a row is its centre plus uniform noise in
//! ±24 per dimension, rounded and clamped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark support: a failed set-up ends the run"
)]

use std::time::{Duration, Instant};

use mmindex::features::Descriptors;
use mmindex::store::codec::vocab_tree as codec;
use mmindex::vocab::{Codebook, VocabTree};
use ndarray::Array2;

#[allow(dead_code)]
#[path = "../../tests/common/rng.rs"]
mod rng;
pub use rng::Rng;

/// Floats per SIFT descriptor.
pub const DIM: usize = 128;

/// Cluster centres of the synthetic distribution.
pub struct Centres(Vec<f32>);

impl Centres {
    /// `clusters` seeded centres.
    pub fn new(seed: u64, clusters: usize) -> Centres {
        let mut rng = Rng::new(seed);
        Centres(
            (0..clusters * DIM)
                .map(|_| {
                    if rng.below(3) == 0 {
                        rng.below(8) as f32
                    } else {
                        rng.below(161) as f32
                    }
                })
                .collect(),
        )
    }

    /// `rows` descriptors drawn with their own seed.
    pub fn draw(&self, seed: u64, rows: usize) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        let clusters = self.0.len() / DIM;
        let mut out = Vec::with_capacity(rows * DIM);
        for _ in 0..rows {
            let c = rng.below(clusters as u64) as usize;
            for v in &self.0[c * DIM..(c + 1) * DIM] {
                let noise = rng.below(49) as f32 - 24.0;
                out.push((v + noise).clamp(0.0, 255.0));
            }
        }
        out
    }
}

/// Wraps rows as float descriptors.
pub fn descriptors(data: Vec<f32>) -> Descriptors {
    Descriptors::Float { dim: DIM, data }
}

/// A flat codebook whose `words` centroids are seeded picks among `rows`
/// (quantization cost does not depend on how centroids were trained).
pub fn flat(seed: u64, rows: &[f32], words: usize) -> Codebook {
    let mut rng = Rng::new(seed);
    let n = rows.len() / DIM;
    let mut c = Vec::with_capacity(words * DIM);
    for _ in 0..words {
        let r = rng.below(n as u64) as usize;
        c.extend_from_slice(&rows[r * DIM..(r + 1) * DIM]);
    }
    Codebook::from_float(Array2::from_shape_vec((words, DIM), c).expect("shape"))
}

/// A tree trained on `rows_per_leaf × branching^depth` rows of `centres`,
/// with `iterations` Lloyd iterations per node; returns it with its
/// training time.
pub fn trained_tree(
    centres: &Centres,
    branching: usize,
    depth: usize,
    rows_per_leaf: f64,
    iterations: u32,
) -> (VocabTree, Duration) {
    let rows = (rows_per_leaf * (branching as f64).powi(depth as i32)) as usize;
    let sample = descriptors(centres.draw(7, rows));
    let started = Instant::now();
    let t = VocabTree::build(&sample, branching, depth, iterations, 1).expect("build");
    (t, started.elapsed())
}

/// A sled database holding an encoded tree in tree `g1.codebook`, as the
/// index stores its vocabulary.
pub struct Stored {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
    /// Bytes of the encoded values.
    pub bytes: usize,
}

/// Encodes `t` into a fresh sled database, flushed.
pub fn store(t: &VocabTree) -> Stored {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sled::open(dir.path().join("db")).expect("sled");
    let tree = db.open_tree("g1.codebook").expect("tree");
    let (h, entries) = codec::encode(t);
    let mut bytes = h.len();
    tree.insert(codec::HEADER, h).expect("insert");
    for (k, v) in entries {
        bytes += v.len();
        tree.insert(k, v).expect("insert");
    }
    db.flush().expect("flush");
    Stored { dir, bytes }
}

/// Opens the database of `s`, then loads (scans and decodes) its tree;
/// returns the tree, the open time and the load time.
pub fn load(s: &Stored) -> (VocabTree, Duration, Duration) {
    let started = Instant::now();
    let db = sled::open(s.dir.path().join("db")).expect("sled");
    let tree = db.open_tree("g1.codebook").expect("tree");
    let opened = started.elapsed();
    let started = Instant::now();
    let t = load_from(&tree);
    (t, opened, started.elapsed())
}

/// Header, node chunks and centroid chunks from `tree`, decoded: what
/// the index does to load a vocabulary.
pub fn load_from(tree: &sled::Tree) -> VocabTree {
    let h = tree.get(codec::HEADER).expect("get").expect("header");
    let h = codec::decode_header(&h).expect("header");
    let scan = |prefix: &[u8]| -> Vec<sled::IVec> {
        tree.scan_prefix(prefix)
            .map(|kv| kv.expect("scan").1)
            .collect()
    };
    codec::decode(&h, &scan(codec::NODES), &scan(codec::CENTROIDS)).expect("decode")
}

/// Descriptors per second.
pub fn rate(rows: usize, d: Duration) -> f64 {
    rows as f64 / d.as_secs_f64()
}
