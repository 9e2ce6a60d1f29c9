//! The codebook: `k` centroids, each descriptor mapped to its nearest
//! (flat), or a vocabulary tree for large vocabularies.

use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::VocabTree;
use crate::error::{Error, Result};
use crate::features::Descriptors;

/// Descriptors quantized per matrix product: bounds the distance matrix to
/// `ROWS × k` floats.
const ROWS: usize = 256;

/// A flat codebook of visual words.
///
/// Float codebooks (SIFT, RootSIFT) compare by Euclidean distance, computed
/// for a block of descriptors at once as `‖c‖² − 2·x·c` (one matrix product,
/// vectorised by ndarray). Binary codebooks (ORB, AKAZE, BRISK) hold
/// bit-string centroids (the per-bit majority of their cluster) and compare by
/// Hamming distance.
#[derive(Debug, Clone, PartialEq)]
pub enum Codebook {
    /// Real-valued centroids.
    Float {
        /// `k × dim` centroids.
        centroids: Array2<f32>,
        /// `‖c‖²` of each centroid.
        sq_norms: Array1<f32>,
    },
    /// Bit-string centroids.
    Binary {
        /// Bytes per centroid.
        bytes: usize,
        /// `k × bytes` centroid bits, row-major.
        centroids: Vec<u8>,
    },
    /// A vocabulary tree (float or binary): each descriptor descends to the
    /// nearest child at every level, `b·L` comparisons instead of `k`; a
    /// descriptor's word is its leaf, not always its nearest leaf.
    Tree(VocabTree),
}

impl Codebook {
    /// A float codebook from its centroids.
    pub fn from_float(centroids: Array2<f32>) -> Codebook {
        let sq_norms = centroids.map_axis(Axis(1), |r| r.dot(&r));
        Codebook::Float {
            centroids,
            sq_norms,
        }
    }

    /// Number of visual words.
    pub fn words(&self) -> usize {
        match self {
            Codebook::Float { centroids, .. } => centroids.nrows(),
            Codebook::Binary { bytes, centroids } => {
                centroids.len().checked_div(*bytes).unwrap_or(0)
            }
            Codebook::Tree(t) => t.words(),
        }
    }

    /// Whether it quantizes binary descriptors (ORB, AKAZE, BRISK).
    pub fn is_binary(&self) -> bool {
        match self {
            Codebook::Float { .. } => false,
            Codebook::Binary { .. } => true,
            Codebook::Tree(t) => t.is_binary(),
        }
    }

    /// Descriptor width: floats per row, or bytes per row.
    pub fn width(&self) -> usize {
        match self {
            Codebook::Float { centroids, .. } => centroids.ncols(),
            Codebook::Binary { bytes, .. } => *bytes,
            Codebook::Tree(t) => t.width(),
        }
    }

    /// The nearest word of every descriptor row (ties to the lower word).
    pub fn quantize(&self, d: &Descriptors) -> Result<Vec<u32>> {
        if self.width() == 0 || self.words() == 0 {
            return Err(Error::InvalidConfig("empty codebook".into()));
        }
        match (self, d) {
            (Codebook::Tree(t), d) => t.quantize(d),
            (
                Codebook::Float {
                    centroids,
                    sq_norms,
                },
                Descriptors::Float { dim, data },
            ) => {
                if *dim != centroids.ncols() {
                    return Err(mismatch(*dim, centroids.ncols()));
                }
                let rows = data.len() / dim;
                let x = ArrayView2::from_shape((rows, *dim), data)
                    .map_err(|e| Error::InvalidConfig(e.to_string()))?;
                let mut out = Vec::with_capacity(rows);
                for block in x.axis_chunks_iter(Axis(0), ROWS) {
                    let dots = block.dot(&centroids.t());
                    for row in dots.outer_iter() {
                        out.push(Codebook::nearest(row.iter().zip(sq_norms.iter())).0);
                    }
                }
                Ok(out)
            }
            (Codebook::Binary { bytes, centroids }, Descriptors::Binary { bytes: b, data }) => {
                if b != bytes {
                    return Err(mismatch(*b, *bytes));
                }
                Ok(data
                    .chunks_exact(*bytes)
                    .map(|row| {
                        let best = centroids
                            .chunks_exact(*bytes)
                            .map(|c| hamming(row, c))
                            .enumerate()
                            .min_by_key(|&(i, d)| (d, i));
                        best.map_or(0, |(i, _)| i as u32)
                    })
                    .collect())
            }
            _ => Err(Error::InvalidConfig(
                "descriptor kind does not match the codebook (float vs binary)".into(),
            )),
        }
    }
}

fn mismatch(found: usize, expected: usize) -> Error {
    Error::InvalidConfig(format!(
        "descriptor width {found} does not match the codebook's {expected}"
    ))
}

impl Codebook {
    /// The nearest centroid from `(x·c, ‖c‖²)` pairs in word order, and its
    /// `‖c‖² − 2·x·c` (the squared distance minus `‖x‖²`). Ties go to the
    /// lower word, so quantization and training agree exactly.
    pub(crate) fn nearest<'a>(pairs: impl Iterator<Item = (&'a f32, &'a f32)>) -> (u32, f32) {
        let mut best = (0u32, f32::INFINITY);
        for (i, (dot, sq)) in pairs.enumerate() {
            let v = sq - 2.0 * dot;
            if v < best.1 {
                best = (i as u32, v);
            }
        }
        best
    }
}

/// Hamming distance between two equal-length bit strings.
pub(crate) fn hamming(a: &[u8], b: &[u8]) -> u32 {
    let mut d = 0;
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        let x = u64::from_le_bytes(x.try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(y.try_into().unwrap_or([0; 8]));
        d += (x ^ y).count_ones();
    }
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        d += (x ^ y).count_ones();
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[test]
    fn float_quantization_picks_nearest_centroid() {
        let cb = Codebook::from_float(array![[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]);
        let d = Descriptors::Float {
            dim: 2,
            data: vec![9.0, 1.0, 1.0, 1.0, 1.0, 8.0],
        };
        assert_eq!(cb.quantize(&d).unwrap(), vec![1, 0, 2]);
    }

    #[test]
    fn binary_quantization_uses_hamming() {
        let cb = Codebook::Binary {
            bytes: 9,
            centroids: [vec![0u8; 9], vec![0xFF; 9]].concat(),
        };
        let mut near_ones = vec![0xFFu8; 9];
        near_ones[8] = 0x0F;
        let d = Descriptors::Binary {
            bytes: 9,
            data: [vec![1u8; 9], near_ones].concat(),
        };
        assert_eq!(cb.quantize(&d).unwrap(), vec![0, 1]);
    }

    #[test]
    fn degenerate_shapes_are_errors_not_panics() {
        let empty = Codebook::from_float(Array2::zeros((3, 0)));
        assert!(empty
            .quantize(&Descriptors::Float {
                dim: 0,
                data: vec![]
            })
            .is_err());
        let no_bytes = Codebook::Binary {
            bytes: 0,
            centroids: vec![],
        };
        assert!(no_bytes
            .quantize(&Descriptors::Binary {
                bytes: 0,
                data: vec![1]
            })
            .is_err());
    }

    #[test]
    fn kind_mismatch_is_an_error() {
        let cb = Codebook::from_float(array![[0.0, 0.0]]);
        let d = Descriptors::Binary {
            bytes: 2,
            data: vec![0, 0],
        };
        assert!(cb.quantize(&d).is_err());
    }
}
