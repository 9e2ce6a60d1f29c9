//! Codebook training: k-means (linfa-clustering, k-means++ initialisation,
//! seeded) over a bounded sample of descriptors.

use linfa::prelude::*;
use linfa::DatasetBase;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::Array2;
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;

use super::Codebook;
use crate::error::{Error, Result};
use crate::features::Descriptors;

/// Trains a codebook of at most `words` words on `sample`.
///
/// Fewer words are trained when the sample has fewer rows than `words`
/// (a cluster needs at least one member). Binary descriptors are clustered as
/// 0/1 vectors, where squared Euclidean distance equals Hamming distance, and
/// each centroid is rounded to the majority bit of its cluster.
pub(crate) fn train(sample: &Descriptors, words: usize, iterations: u32, seed: u64) -> Result<Codebook> {
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
            Array2::from_shape_vec((rows, *dim), data.clone()).map_err(|e| Error::Training(e.to_string()))?,
            None,
        ),
        Descriptors::Binary { bytes, data } => (unpack_bits(data, *bytes, rows), Some(*bytes)),
    };
    let rng = Xoshiro256Plus::seed_from_u64(seed);
    let model = KMeans::params_with_rng(k, rng)
        .n_runs(1)
        .max_n_iterations(u64::from(iterations))
        .tolerance(1e-4)
        .init_method(KMeansInit::KMeansPlusPlus)
        .fit(&DatasetBase::from(x))
        .map_err(|e| Error::Training(e.to_string()))?;
    let centroids = model.centroids().clone();
    Ok(match bytes {
        None => Codebook::from_float(centroids),
        Some(bytes) => Codebook::Binary {
            bytes,
            centroids: pack_majority(&centroids, bytes),
        },
    })
}

/// Bit i of a row is byte i/8, bit 7 - i%8 (most significant first, as
/// OpenCV's Hamming norm counts them; the order only has to be consistent).
fn unpack_bits(data: &[u8], bytes: usize, rows: usize) -> Array2<f32> {
    let mut x = Array2::<f32>::zeros((rows, bytes * 8));
    for (mut out, row) in x.outer_iter_mut().zip(data.chunks_exact(bytes)) {
        for (i, v) in out.iter_mut().enumerate() {
            *v = f32::from((row[i / 8] >> (7 - i % 8)) & 1);
        }
    }
    x
}

fn pack_majority(centroids: &Array2<f32>, bytes: usize) -> Vec<u8> {
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
        let a = train(&d, 2, 20, 1).unwrap();
        assert_eq!(a.words(), 2);
        let words = a.quantize(&d).unwrap();
        assert_ne!(words[0], words[1]);
        assert!(words.iter().step_by(2).all(|w| *w == words[0]));
        assert_eq!(a, train(&d, 2, 20, 1).unwrap());
    }

    #[test]
    fn binary_training_gives_majority_bits() {
        let mut data = Vec::new();
        for i in 0..100 {
            data.extend_from_slice(if i % 2 == 0 { &[0x00, 0x01] } else { &[0xFF, 0xFE] });
        }
        let d = Descriptors::Binary { bytes: 2, data };
        let cb = train(&d, 2, 20, 3).unwrap();
        let Codebook::Binary { centroids, .. } = &cb else {
            panic!("expected a binary codebook")
        };
        let mut rows: Vec<&[u8]> = centroids.chunks(2).collect();
        rows.sort();
        assert_eq!(rows, vec![&[0x00, 0x01][..], &[0xFF, 0xFE][..]]);
    }

    #[test]
    fn too_few_rows_is_an_error() {
        let d = Descriptors::Float { dim: 2, data: vec![1.0, 2.0] };
        assert!(matches!(train(&d, 10, 5, 0), Err(Error::TooFewDescriptors { .. })));
    }
}
