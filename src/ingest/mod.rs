//! Getting records in: sources, the extraction pipeline, batched
//! transactional commits, and training.

mod build;
mod exported;
mod pipeline;
pub mod source;
pub(crate) mod spill;
mod stream;
mod trainer;
mod training;
mod writer;

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::RecordId;
pub use exported::{ExportedVocabulary, ExtractedRecord};
pub use source::Source;
pub use trainer::VocabularyTrainer;
pub use writer::IndexWriter;

/// A record that could not be indexed, and why. The rest of its batch goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The record's id.
    pub id: RecordId,
    /// The image file (or records file) concerned.
    pub path: PathBuf,
    /// Why, for a person.
    pub reason: String,
}

impl RecordError {
    pub(crate) fn new(id: RecordId, path: &Path, reason: impl Into<String>) -> RecordError {
        RecordError {
            id,
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    fn from_error(source: &Source, e: Error) -> RecordError {
        let reason = match &e {
            Error::Image { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        RecordError {
            id: source.id.clone(),
            path: source.input.display_path(),
            reason,
        }
    }
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// What an ingest call did. Every record given is in exactly one of: added,
/// replaced, failed (`empty` records are also counted as added or replaced).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddReport {
    /// New records stored.
    pub added: usize,
    /// Existing records replaced (same id given again).
    pub replaced: usize,
    /// Records stored with no features (the image gave no keypoints even at
    /// the lowest thresholds): findable by id, never a search hit.
    pub empty: Vec<RecordId>,
    /// Records not stored, with the reason.
    pub failed: Vec<RecordError>,
}

impl AddReport {
    /// Whether every record given was stored.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// What training did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainReport {
    /// Images the codebook was trained on: every image, or the training
    /// subset of a larger collection (`RunOptions::training_images`).
    pub images: usize,
    /// Descriptors extracted from them.
    pub descriptors: u64,
    /// Descriptors in the training sample.
    pub sampled: usize,
    /// Words in the trained codebook.
    pub words: usize,
    /// The generation installed.
    pub generation: u32,
    /// Seconds spent extracting, training, and quantizing.
    pub seconds: [f64; 3],
    /// The most bytes held in temporary files at once (descriptors and
    /// words spilled between phases); 0 when the codebook was trained on a
    /// subset and the other images streamed (`RunOptions::training_images`).
    pub scratch_bytes: u64,
    /// Images that could not be used.
    pub failed: Vec<RecordError>,
}

/// Receives progress of long operations (for progress bars). Every method
/// has a no-op default.
pub trait Progress: Send + Sync {
    /// A phase begins with `total` steps (images).
    fn start(&self, _phase: &str, _total: u64) {}
    /// `n` more steps are done.
    fn advance(&self, _n: u64) {}
    /// The phase ended.
    fn finish(&self) {}
}

struct NoProgress;
impl Progress for NoProgress {}

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RebuildReport {
    /// Training of the new codebook.
    pub train: TrainReport,
    /// Records carried over into the new generation.
    pub records: u64,
    /// The generation that was active before.
    pub previous: u32,
}
