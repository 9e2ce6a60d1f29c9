//! A bounded, seeded, uniform sample of descriptor rows (reservoir sampling).

use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::features::Descriptors;

/// Keeps a uniform random sample of at most `cap` descriptor rows out of all
/// rows offered (Vitter's algorithm R).
///
/// Invariant: the sample depends only on the seed and on the order rows are
/// offered, so a build that offers images in a fixed order trains the same
/// codebook every time, whatever the thread count.
pub(crate) struct Sampler {
    cap: usize,
    seen: u64,
    width: usize,
    binary: bool,
    floats: Vec<f32>,
    bytes: Vec<u8>,
    rng: Xoshiro256PlusPlus,
}

impl Sampler {
    pub(crate) fn new(cap: usize, seed: u64) -> Sampler {
        Sampler {
            cap,
            seen: 0,
            width: 0,
            binary: false,
            floats: Vec::new(),
            bytes: Vec::new(),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }

    /// Rows currently held.
    pub(crate) fn len(&self) -> usize {
        if self.width == 0 {
            0
        } else if self.binary {
            self.bytes.len() / self.width
        } else {
            self.floats.len() / self.width
        }
    }

    pub(crate) fn offer(&mut self, d: &Descriptors) {
        if d.is_empty() {
            return;
        }
        match d {
            Descriptors::Float { dim, data } => {
                self.binary = false;
                self.width = *dim;
                for row in data.chunks_exact(*dim) {
                    if let Some(slot) = self.slot() {
                        if slot == usize::MAX {
                            self.floats.extend_from_slice(row);
                        } else {
                            self.floats[slot * dim..(slot + 1) * dim].copy_from_slice(row);
                        }
                    }
                }
            }
            Descriptors::Binary { bytes, data } => {
                self.binary = true;
                self.width = *bytes;
                for row in data.chunks_exact(*bytes) {
                    if let Some(slot) = self.slot() {
                        if slot == usize::MAX {
                            self.bytes.extend_from_slice(row);
                        } else {
                            self.bytes[slot * bytes..(slot + 1) * bytes].copy_from_slice(row);
                        }
                    }
                }
            }
        }
    }

    /// Where the next offered row goes: `usize::MAX` appends, `Some(i)`
    /// replaces row i, `None` drops it.
    fn slot(&mut self) -> Option<usize> {
        self.seen += 1;
        if self.len() < self.cap {
            return Some(usize::MAX);
        }
        let j = self.rng.next_u64() % self.seen;
        (j < self.cap as u64).then_some(j as usize)
    }

    /// The sampled rows.
    pub(crate) fn into_descriptors(self) -> Descriptors {
        if self.binary {
            Descriptors::Binary {
                bytes: self.width,
                data: self.bytes,
            }
        } else {
            Descriptors::Float {
                dim: self.width.max(1),
                data: self.floats,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_bounded_and_seeded() {
        let rows: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
        let d = Descriptors::Float { dim: 1, data: rows };
        let run = |seed| {
            let mut s = Sampler::new(100, seed);
            s.offer(&d);
            s.into_descriptors()
        };
        let a = run(7);
        assert_eq!(a.len(), 100);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
    }
}
