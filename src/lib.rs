//! # mmindex
//!
//! An embedded image-retrieval storage engine: it indexes the images that a
//! database's records refer to and answers "which stored images look like
//! this one?".
//!
//! - **Features**: local keypoint descriptors from OpenCV (SIFT, RootSIFT,
//!   ORB, AKAZE, BRISK), extracted in parallel, every image decoded once.
//! - **Vocabulary**: a visual-word codebook trained by seeded k-means on a
//!   memory-bounded sample of descriptors.
//! - **Scoring**: per-record bag-of-visual-words histograms, TF-IDF weights,
//!   cosine similarity (or DBoW2's L1 score).
//! - **Two search paths** over the same data, sequential and inverted, that
//!   rank identically.
//! - **Storage**: keyed trees in one sled database per index; each batch of
//!   records is one transaction, durable before the call returns.
//!
//! ```no_run
//! use mmindex::{Feature, Index, Query, RunOptions, Source};
//!
//! # fn main() -> mmindex::Result<()> {
//! let index = Index::builder().feature(Feature::RootSift).words(500).open("photos.idx")?;
//! let mut writer = index.writer(RunOptions::default())?;
//! let (sources, _unreadable) = mmindex::source::folder("photos/".as_ref())?;
//! let (_trained, report) = writer.build(sources)?;
//! for bad in &report.failed {
//!     eprintln!("skipped {bad}");
//! }
//! writer.add(vec![Source::path("new/42.jpg", "incoming/42.jpg")])?;
//! writer.remove(["photos/old.jpg"])?;
//! drop(writer);
//!
//! for hit in index.searcher()?.search(&Query::path("query.jpg"), 5)? {
//!     println!("{} {:.3}", hit.id, hit.score);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! See `docs/ARCHITECTURE.md` for the modules and the data flow, and
//! `docs/SCORING.md` for the IDF policy.

#![warn(missing_docs)]

// The public API is what this file re-exports, plus `config`, `vocab` and
// `source`. Every other module is private; the hidden `internals` feature
// (Cargo.toml) makes the internals that fuzzing, benches and tests reach
// public, undocumented and unstable.
pub mod config;
mod error;
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod eval;
#[cfg(not(feature = "internals"))]
#[allow(dead_code, unused_imports)]
mod eval;
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod features;
#[cfg(not(feature = "internals"))]
#[allow(dead_code, unused_imports)]
mod features;
mod index;
mod ingest;
mod record;
mod scoring;
mod search;
mod sharded;
mod shared;
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod store;
#[cfg(not(feature = "internals"))]
#[allow(dead_code, unused_imports)]
mod store;
#[cfg(test)]
mod testutil;
pub mod vocab;

pub use config::{
    Feature, IndexConfig, RunOptions, Scoring, DEFAULT_MAX_FEATURES, DEFAULT_TRAINING_IMAGES,
    DEFAULT_WORDS, MAX_WORKERS,
};
pub use error::{Error, Result};
#[cfg(feature = "internals")]
#[doc(hidden)]
pub use features::augment;
pub use features::file::NOT_INSIDE;
pub use features::{Descriptors, ImageInput, Keypoint, PixelFormat, Pixels};
pub use index::{
    BlockCounts, CompactReport, Index, IndexBuilder, RecordInfo, Stats, TreeShape, VerifyReport,
};
pub use ingest::{
    source, AddReport, ExportedVocabulary, ExtractedRecord, IndexWriter, Progress, RebuildReport,
    RecordError, Source, TrainReport, VocabularyTrainer,
};
pub use record::RecordId;
pub use search::{
    default_block_cache_bytes, Hit, PreparedQuery, Query, SearchMode, SearchOptions, Searcher,
    WarmReport, DEFAULT_RERANK, DEFAULT_RERANK_PATIENCE, MIN_BLOCK_CACHE_BYTES, MIN_INLIERS,
};
pub use sharded::{shard_of, ShardHit, ShardedSearcher};
pub use store::{Space, DEFAULT_SEAL_POSTINGS};

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
