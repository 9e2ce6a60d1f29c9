//! The visual vocabulary: codebook training and quantization of descriptors
//! to visual words, by a flat codebook or a vocabulary tree.

mod codebook;
mod lloyd;
mod sample;
mod train;
mod tree;

pub use codebook::Codebook;
pub(crate) use sample::Sampler;
pub(crate) use train::train;
pub use tree::{Centroids, TreeParts, VocabTree, NO_WORD};
