//! Codebook training: seeded k-means++ seeding, then Lloyd iterations
//! ([`super::lloyd`]) over a bounded sample of descriptors.

use ndarray::parallel::prelude::*;
use ndarray::{Array2, Axis};
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;

use super::{lloyd, Codebook};
use crate::error::{Error, Result};
use crate::features::Descriptors;

/// Trains a codebook of at most `words` words on `sample`.
///
/// Fewer words are trained when the sample has fewer rows than `words`
/// (a cluster needs at least one member). Binary descriptors are clustered as
/// 0/1 vectors, where squared Euclidean distance equals Hamming distance, and
/// each centroid is rounded to the majority bit of its cluster.
pub(crate) fn train_flat(
    sample: &Descriptors,
    words: usize,
    iterations: u32,
    seed: u64,
) -> Result<Codebook> {
    let rows = sample.len();
    let k = words.min(rows);
    if k < 2 {
        return Err(Error::TooFewDescriptors {
            found: rows,
            needed: 2,
        });
    }
    let (x, bytes) = match sample {
        Descriptors::Float { dim, data } => (
            Array2::from_shape_vec((rows, *dim), data.clone())
                .map_err(|e| Error::Training(e.to_string()))?,
            None,
        ),
        Descriptors::Binary { bytes, data } => (unpack_bits(data, *bytes, rows), Some(*bytes)),
    };
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    let started = std::time::Instant::now();
    let (centroids, run) = kmeans(&x, k, iterations, &mut rng);
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        iterations = run.iterations,
        inertia = run.inertia,
        rows,
        words = k,
        "k-means"
    );
    Ok(match bytes {
        None => Codebook::from_float(centroids),
        Some(bytes) => Codebook::Binary {
            bytes,
            centroids: pack_majority(&centroids, bytes),
        },
    })
}

/// k-means of the rows of `x` into `k` (≤ rows) centroids: k-means++ seeding
/// (on a seeded subset when `x` is large, see [`SEED_ROWS_PER_WORD`]), then
/// at most `iterations` Lloyd iterations. The result depends only on `x`,
/// `k`, `iterations` and the state of `rng`, not on the thread count. Shared
/// by the flat codebook and every node of a [`super::VocabTree`].
pub(super) fn kmeans(
    x: &Array2<f32>,
    k: usize,
    iterations: u32,
    rng: &mut Xoshiro256Plus,
) -> (Array2<f32>, lloyd::LloydRun) {
    let mut centroids = match seeding_rows(x.nrows(), k, rng) {
        None => plus_plus(x, k, rng),
        Some(picked) => plus_plus(&x.select(Axis(0), &picked), k, rng),
    };
    let run = lloyd::refine(x.view(), &mut centroids, iterations, tolerance(x, k));
    (centroids, run)
}

/// Convergence threshold: Lloyd stops when the Frobenius norm of the
/// centroids' shift falls below it: an average shift per centroid of
/// 0.1% of the mean descriptor norm. Later iterations only polish centroids
/// and barely change which word a descriptor gets.
fn tolerance(x: &Array2<f32>, k: usize) -> f32 {
    let n = x.nrows().max(1) as f32;
    let mean_norm = x.outer_iter().map(|r| r.dot(&r).sqrt()).sum::<f32>() / n;
    1e-3 * mean_norm * (k as f32).sqrt()
}

/// Rows per word that k-means++ seeding looks at.
///
/// Seeding is a sequential pass over the rows per chosen centre, bound by
/// memory bandwidth: 0.28 s of a 500-image build for 20,000 SIFT rows and
/// 1,000 words. Lloyd's iterations then run on the whole sample and repair
/// what a smaller seeding sample misses; docs/FEATURES.md ("Training") has
/// the inertia and retrieval figures this was chosen by.
const SEED_ROWS_PER_WORD: usize = 5;

/// Rows seeding looks at whatever the number of words: with few words, a
/// subset of 5 per word can miss a whole cluster.
const SEED_ROWS_MIN: usize = 2048;

/// The rows seeding draws from when the sample holds more than
/// [`SEED_ROWS_PER_WORD`] per word (and [`SEED_ROWS_MIN`]): a seeded uniform subset in row order,
/// or `None` for all rows.
fn seeding_rows(rows: usize, k: usize, rng: &mut Xoshiro256Plus) -> Option<Vec<usize>> {
    let m = k.saturating_mul(SEED_ROWS_PER_WORD).max(SEED_ROWS_MIN);
    if rows <= m {
        return None;
    }
    // Partial Fisher-Yates: the first m slots end up a uniform m-subset.
    let mut idx: Vec<usize> = (0..rows).collect();
    for i in 0..m {
        // Multiply-high keeps the draw in the generator's strong high bits
        // (xoshiro256+'s lowest bits are weak; a modulus would use them).
        let span = (rows - i) as u128;
        let j = i + ((u128::from(rng.next_u64()) * span) >> 64) as usize;
        idx.swap(i, j);
    }
    idx.truncate(m);
    idx.sort_unstable();
    Some(idx)
}

/// k-means++ seeding (Arthur & Vassilvitskii 2007): each next centre is a
/// row drawn with probability proportional to its squared distance to the
/// nearest centre so far.
///
/// A textbook k-means++ (linfa's, for one) recomputes every row's distance
/// to *all* chosen centres at each step, O(n·k²·d); keeping each row's
/// running minimum makes it O(n·k·d): for 1,000 words about 500 times less
/// work. The running minima are updated in parallel; the draws are
/// sequential, so the result depends only on the seed.
fn plus_plus(x: &Array2<f32>, k: usize, rng: &mut Xoshiro256Plus) -> Array2<f32> {
    let n = x.nrows();
    let mut centres = Array2::<f32>::zeros((k, x.ncols()));
    let mut uniform = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let first = ((uniform() * n as f64) as usize).min(n - 1);
    centres.row_mut(0).assign(&x.row(first));
    let mut dists = vec![f32::INFINITY; n];
    for c in 1..=k {
        let centre = centres.row(c - 1).to_owned();
        let centre = centre.as_slice().unwrap_or(&[]);
        dists
            .par_iter_mut()
            .zip(x.axis_iter(Axis(0)).into_par_iter())
            .for_each(|(d, row)| {
                let v = match row.as_slice() {
                    Some(r) => sq_l2(r, centre),
                    None => f32::INFINITY,
                };
                if v < *d {
                    *d = v;
                }
            });
        if c == k {
            break;
        }
        let total: f64 = dists.iter().map(|d| f64::from(*d)).sum();
        let pick = if total > 0.0 {
            let target = uniform() * total;
            let mut acc = 0f64;
            dists
                .iter()
                .position(|d| {
                    acc += f64::from(*d);
                    acc > target
                })
                .unwrap_or(n - 1)
        } else {
            // Every row coincides with a centre: any row will do.
            ((uniform() * n as f64) as usize).min(n - 1)
        };
        centres.row_mut(c).assign(&x.row(pick));
    }
    centres
}

/// Squared Euclidean distance between two rows, in eight lanes the
/// compiler vectorises (k-means++ seeding's inner loop).
#[inline]
pub(super) fn sq_l2(x: &[f32], y: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let mut cx = x.chunks_exact(8);
    let mut cy = y.chunks_exact(8);
    for (a, b) in (&mut cx).zip(&mut cy) {
        for i in 0..8 {
            let d = a[i] - b[i];
            lanes[i] += d * d;
        }
    }
    let mut s: f32 = lanes.iter().sum();
    for (a, b) in cx.remainder().iter().zip(cy.remainder()) {
        s += (a - b) * (a - b);
    }
    s
}

/// Bit i of a row is byte i/8, bit 7 - i%8 (most significant first, as
/// OpenCV's Hamming norm counts them; the order only has to be consistent).
pub(super) fn unpack_bits(data: &[u8], bytes: usize, rows: usize) -> Array2<f32> {
    let mut x = Array2::<f32>::zeros((rows, bytes * 8));
    for (mut out, row) in x.outer_iter_mut().zip(data.chunks_exact(bytes)) {
        for (i, v) in out.iter_mut().enumerate() {
            *v = f32::from((row[i / 8] >> (7 - i % 8)) & 1);
        }
    }
    x
}

/// Rounds 0/1-vector centroids to bit strings: bit i set when more than
/// half of the cluster has it (the bit order of [`unpack_bits`]).
pub(super) fn pack_majority(centroids: &Array2<f32>, bytes: usize) -> Vec<u8> {
    let mut out = vec![0u8; centroids.nrows() * bytes];
    for (c, row) in centroids.outer_iter().zip(out.chunks_exact_mut(bytes)) {
        for (i, v) in c.iter().enumerate() {
            if *v > 0.5 {
                row[i / 8] |= 1 << (7 - i % 8);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_training_separates_clusters_and_is_seeded() {
        let mut data = Vec::new();
        for i in 0..200 {
            let c = if i % 2 == 0 { 0.0 } else { 100.0 };
            data.extend_from_slice(&[c + (i % 7) as f32 * 0.1, c]);
        }
        let d = Descriptors::Float { dim: 2, data };
        let a = train_flat(&d, 2, 20, 1).unwrap();
        assert_eq!(a.words(), 2);
        let words = a.quantize(&d).unwrap();
        assert_ne!(words[0], words[1]);
        assert!(words.iter().step_by(2).all(|w| *w == words[0]));
        assert_eq!(a, train_flat(&d, 2, 20, 1).unwrap());
    }

    #[test]
    fn binary_training_gives_majority_bits() {
        let mut data = Vec::new();
        for i in 0..100 {
            data.extend_from_slice(if i % 2 == 0 {
                &[0x00, 0x01]
            } else {
                &[0xFF, 0xFE]
            });
        }
        let d = Descriptors::Binary { bytes: 2, data };
        let cb = train_flat(&d, 2, 20, 3).unwrap();
        let Codebook::Binary { centroids, .. } = &cb else {
            panic!("expected a binary codebook")
        };
        let mut rows: Vec<&[u8]> = centroids.chunks(2).collect();
        rows.sort();
        assert_eq!(rows, vec![&[0x00, 0x01][..], &[0xFF, 0xFE][..]]);
    }

    #[test]
    fn seeding_subset_is_sorted_distinct_and_seeded() {
        let mut rng = Xoshiro256Plus::seed_from_u64(4);
        assert_eq!(seeding_rows(5 * 1000, 1000, &mut rng), None);
        assert_eq!(seeding_rows(SEED_ROWS_MIN, 10, &mut rng), None);
        let picked = seeding_rows(9000, 1000, &mut rng).unwrap();
        assert_eq!(picked.len(), 5 * 1000);
        assert!(picked.windows(2).all(|w| w[0] < w[1]));
        assert!(picked.iter().all(|&i| i < 9000));
        let draw = |seed| seeding_rows(9000, 1000, &mut Xoshiro256Plus::seed_from_u64(seed));
        assert_eq!(draw(9), draw(9));
        assert_ne!(draw(9), draw(10));
    }

    #[test]
    fn sq_l2_matches_naive() {
        let x: Vec<f32> = (0..131).map(|i| (i as f32 * 0.37).sin()).collect();
        let y: Vec<f32> = (0..131).map(|i| (i as f32 * 0.11).cos()).collect();
        let naive: f32 = x.iter().zip(&y).map(|(a, b)| (a - b) * (a - b)).sum();
        assert!((sq_l2(&x, &y) - naive).abs() < 1e-3);
    }

    #[test]
    fn too_few_rows_is_an_error() {
        let d = Descriptors::Float {
            dim: 2,
            data: vec![1.0, 2.0],
        };
        assert!(matches!(
            train_flat(&d, 10, 5, 0),
            Err(Error::TooFewDescriptors { .. })
        ));
    }
}
