//! The visual vocabulary: codebook training and quantization of descriptors
//! to visual words.

mod codebook;
mod lloyd;
mod sample;
mod train;

pub use codebook::Codebook;
pub(crate) use sample::Sampler;
pub(crate) use train::train;
