//! The visual vocabulary: codebook training and quantization of descriptors
//! to visual words, by a flat codebook or a vocabulary tree.

mod codebook;
mod lloyd;
mod sample;
mod train;
mod tree;

pub use codebook::Codebook;
pub(crate) use sample::Sampler;
pub(crate) use tree::unit_byte_value;
pub use tree::{Centroids, TreeParts, VocabTree, NO_WORD};

use crate::error::Result;
use crate::features::Descriptors;

/// Vocabularies of more words than this are trained as a vocabulary tree.
///
/// A flat codebook compares each descriptor with every word: at 1,000 words
/// quantization is about 7% of a 500-image SIFT build (docs/PERFORMANCE.md),
/// and it grows linearly, so at 16,384 words it would exceed extraction. A
/// tree compares with `b·L` centroids (60 at 100,000 words), 414 times
/// faster than the flat search at 10^5 words (docs/FEATURES.md,
/// "Vocabulary tree"), at the price of approximate nearest words.
pub const FLAT_MAX_WORDS: usize = 16_384;

/// Branching and depth of the tree trained for `words` words: the fewest
/// levels (at least 2) whose 10-way tree reaches `words`, then the smallest
/// branching that still does (`b^L ≥ words`).
pub fn tree_shape(words: usize) -> (usize, usize) {
    // Exact integer powers: a float root of 10^5 is 10.000000000000002.
    let reaches = |b: usize, l: usize| {
        (0..l)
            .try_fold(1u128, |acc, _| acc.checked_mul(b as u128))
            .is_none_or(|p| p >= words as u128)
    };
    let mut depth = 2;
    while !reaches(10, depth) && depth < tree::MAX_DEPTH {
        depth += 1;
    }
    let mut b = ((words as f64).powf(1.0 / depth as f64).round() as usize).max(2);
    while !reaches(b, depth) {
        b += 1;
    }
    while b > 2 && reaches(b - 1, depth) {
        b -= 1;
    }
    (b, depth)
}

/// Trains a vocabulary of about `words` words on `sample`: a flat codebook
/// up to [`FLAT_MAX_WORDS`], a vocabulary tree of [`tree_shape`] above.
pub(crate) fn train_vocabulary(
    sample: &Descriptors,
    words: usize,
    iterations: u32,
    seed: u64,
) -> Result<Codebook> {
    if words <= FLAT_MAX_WORDS {
        return train::train_flat(sample, words, iterations, seed);
    }
    let (branching, depth) = tree_shape(words);
    Ok(Codebook::Tree(tree::build_tree(
        sample, branching, depth, iterations, seed,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_shapes_reach_the_requested_words() {
        assert_eq!(tree_shape(100_000), (10, 5));
        assert_eq!(tree_shape(1_000_000), (10, 6));
        assert_eq!(tree_shape(20_000), (8, 5));
        for words in [17_000, 50_000, 123_457, 2_000_000] {
            let (b, l) = tree_shape(words);
            assert!(
                (b as f64).powi(l as i32) >= words as f64,
                "{words}: {b}^{l}"
            );
            assert!(
                ((b - 1) as f64).powi(l as i32) < words as f64,
                "{words}: {b}^{l}"
            );
        }
    }
}
