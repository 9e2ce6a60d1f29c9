//! Index options, their documented defaults, and the memory budget.

use bincode::{Decode, Encode};

use crate::error::{Error, Result};

/// The local feature an index is built on. Fixed when the index is created;
/// `rebuild` may change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
#[non_exhaustive]
pub enum Feature {
    /// SIFT (128 floats per keypoint).
    Sift,
    /// SIFT with the Hellinger kernel (L1-normalise, then square root): same
    /// cost, usually better retrieval (Arandjelović & Zisserman 2012).
    RootSift,
    /// ORB (256-bit binary descriptors).
    Orb,
    /// AKAZE with MLDB (486-bit binary descriptors).
    Akaze,
    /// BRISK (512-bit binary descriptors).
    Brisk,
}

impl Feature {
    /// Every feature type, in a stable order.
    pub const ALL: [Feature; 5] = [
        Feature::Sift,
        Feature::RootSift,
        Feature::Orb,
        Feature::Akaze,
        Feature::Brisk,
    ];

    /// Keypoints kept per image unless set otherwise. SIFT and RootSIFT
    /// keep 700: on the real-photo benchmark (docs/EVALUATION.md) that
    /// holds retrieval at 20,228 images (N-S 3.950, against 3.946 with
    /// 2,000 and 3.917 with 500) while search, re-ranking, extraction and
    /// bytes per record all fall. The binary features keep 2,000: their
    /// descriptors tell words apart less well, and ORB lost group mates
    /// with 700 on the sample photos.
    pub const fn default_max_features(self) -> u32 {
        match self {
            Feature::Sift | Feature::RootSift => 700,
            Feature::Orb | Feature::Akaze | Feature::Brisk => 2_000,
        }
    }

    /// The lowercase name used by the CLI and in stats.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Sift => "sift",
            Feature::RootSift => "rootsift",
            Feature::Orb => "orb",
            Feature::Akaze => "akaze",
            Feature::Brisk => "brisk",
        }
    }

    /// Whether descriptors are bit strings compared by Hamming distance.
    pub fn is_binary(self) -> bool {
        matches!(self, Feature::Orb | Feature::Akaze | Feature::Brisk)
    }
}

impl std::fmt::Display for Feature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Feature {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Feature::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::InvalidConfig(format!(
                    "unknown feature `{s}` (expected sift, rootsift, orb, akaze or brisk)"
                ))
            })
    }
}

/// How a query is compared with a stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Encode, Decode)]
#[non_exhaustive]
pub enum Scoring {
    /// TF-IDF weights, cosine similarity (the original prototype's scoring).
    #[default]
    Cosine,
    /// TF-IDF weights, L1-normalised, scored `1 - ½‖q - d‖₁` as in DBoW2.
    L1,
}

/// The persistent settings of an index: fixed at creation (some may change
/// through `rebuild`), stored in the `meta` tree.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
pub struct IndexConfig {
    /// Local feature. Default = [`Feature::RootSift`].
    pub feature: Feature,
    /// Number of visual words requested for the codebook. Default =
    /// [`DEFAULT_WORDS`]. Training uses fewer when the sample holds fewer
    /// distinct descriptors. Above 16,384 the codebook is a vocabulary
    /// tree (docs/FEATURES.md).
    pub words: u32,
    /// Longer image side, in pixels, above which an image is downscaled before
    /// extraction, so one huge photo cannot dominate a build. 0 = no cap.
    /// Default = 1,024.
    pub max_side: u32,
    /// Images whose header declares more pixels than this are refused before
    /// decoding (decompression bombs). 0 = no limit. Default = 250,000,000.
    pub max_pixels: u64,
    /// Most keypoints kept per image (the strongest by detector response).
    /// `IndexConfig::default()` (RootSIFT) has [`DEFAULT_MAX_FEATURES`];
    /// [`IndexBuilder::feature`](crate::IndexBuilder::feature) sets the
    /// chosen feature's [`Feature::default_max_features`] unless a count
    /// was given. A detector is never asked for more than this many, so
    /// `min_features` above it counts as this.
    pub max_features: u32,
    /// Fewer keypoints than this make the extractor retry with lower detector
    /// thresholds (see `docs/FEATURES.md`). Default = 50.
    pub min_features: u32,
    /// Cap on the number of descriptors sampled for training, before the
    /// memory budget. Default = 200,000.
    pub sample_cap: u32,
    /// Training sample size per word requested: the sample holds at most
    /// `samples_per_word × words` descriptors (then `sample_cap` and the
    /// memory budget apply). k-means costs grow with the sample; 20 per word
    /// trains codebooks that retrieve as well as far larger samples on the
    /// sample photos (docs/FEATURES.md). Default = 20.
    pub samples_per_word: u32,
    /// k-means (Lloyd) iterations at most; training also stops when the
    /// centroids settle. After 10 iterations the inertia is within 0.3% of
    /// its value after 30 (docs/FEATURES.md). Default = 10.
    pub kmeans_iterations: u32,
    /// Seed of every random choice in training. Default = 42.
    pub seed: u64,
    /// Default scoring of searches. Default = [`Scoring::Cosine`].
    pub scoring: Scoring,
}

/// Default keypoints kept per image with the default feature (RootSIFT);
/// [`Feature::default_max_features`] gives every feature's.
pub const DEFAULT_MAX_FEATURES: u32 = Feature::RootSift.default_max_features();

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            feature: Feature::RootSift,
            words: DEFAULT_WORDS,
            max_side: 1_024,
            max_pixels: 250_000_000,
            max_features: DEFAULT_MAX_FEATURES,
            min_features: 50,
            sample_cap: 200_000,
            samples_per_word: 20,
            kmeans_iterations: 10,
            seed: 42,
            scoring: Scoring::Cosine,
        }
    }
}

impl IndexConfig {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidConfig(m.to_string()));
        if self.words < 2 {
            return bad("words must be at least 2");
        }
        if self.words > 1 << 24 {
            return bad("words must be at most 16,777,216");
        }
        if self.max_side != 0 && self.max_side < 32 {
            return bad("max_side must be 0 (no cap) or at least 32");
        }
        if self.max_features == 0 {
            return bad("max_features must be at least 1");
        }
        if self.sample_cap < self.words {
            return bad("sample_cap must be at least the number of words");
        }
        if self.samples_per_word == 0 {
            return bad("samples_per_word must be at least 1");
        }
        if self.kmeans_iterations == 0 {
            return bad("kmeans_iterations must be at least 1");
        }
        Ok(())
    }
}

/// Largest [`RunOptions::workers`]: each worker is a thread with its own
/// image in flight, and beyond a few per core they only add memory and
/// contention (2,000 workers made a 0.2 s build take 19 s).
pub const MAX_WORKERS: usize = 256;

/// Default cap on an image file's size, in bytes (256 MiB): far above any
/// photograph, low enough that one file cannot take a large share of the
/// memory of a server reading several at once. See [`RunOptions::max_file_bytes`].
pub const DEFAULT_MAX_FILE_BYTES: u64 = 256 << 20;

/// Run-time settings of a writer: not persisted, chosen per process.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// Extraction threads, at most [`MAX_WORKERS`]. Default = 0, meaning
    /// one per core.
    pub workers: usize,
    /// Records per batch: one batch is one transaction. Default = 50 (as the
    /// original prototype).
    pub batch_size: usize,
    /// Share of the currently available RAM the writer may use, in (0, 1].
    /// Default = 0.8.
    pub memory_fraction: f64,
    /// Absolute cap on the memory budget in bytes, applied after the
    /// fraction. Default = `None`.
    pub memory_limit: Option<u64>,
    /// Largest image file read, in bytes: a larger file is a per-record
    /// [`Error::Image`] found with `fstat` before any byte is read, and no
    /// read takes more than this many bytes (plus one, to notice a file that
    /// grew). At least 1. Default = [`DEFAULT_MAX_FILE_BYTES`].
    pub max_file_bytes: u64,
    /// Builds, trainings and rebuilds of more images than this train the
    /// codebook and count IDF on this many of them, chosen at random with
    /// the index's seed (described a second time when stored), and describe
    /// every other image once while its record is stored: no temporary
    /// file grows with the collection. Up to this many, every image is
    /// described once and its descriptors are spilled to a temporary file
    /// until the codebook exists. 0 = always the latter. Default =
    /// [`DEFAULT_TRAINING_IMAGES`].
    pub training_images: usize,
}

/// Default of [`IndexConfig::words`]: an 8^5 vocabulary tree, which training
/// leaves with about 31,000 words on photo collections. On the real-photo
/// benchmark (docs/EVALUATION.md) it holds N-S at 4.000 at 500 images and
/// 3.900 at 20,240, where 1,000 words fall from 3.89 to 3.70, and it leads
/// 1,000 and 100,000 words on the hard benchmark's transformed copies (mean
/// N-S 3.880 against 3.778 and 3.713).
pub const DEFAULT_WORDS: u32 = 20_000;

/// Default of [`RunOptions::training_images`]: the default training sample
/// (200,000 descriptors) draws from about 1,000 images' features, and IDF
/// counted over 1,000 images is within a few percent of the collection's
/// for all but the rarest words.
pub const DEFAULT_TRAINING_IMAGES: usize = 1_000;

/// Whether a vocabulary trained on `trained` images is outgrown by a
/// collection of `records`: a build of the collection with the default
/// options would train on at least twice as many images.
pub(crate) fn vocabulary_outgrown(trained: u64, records: u64) -> bool {
    trained > 0 && records.min(DEFAULT_TRAINING_IMAGES as u64) >= trained.saturating_mul(2)
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: 0,
            batch_size: 50,
            memory_fraction: 0.8,
            memory_limit: None,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            training_images: DEFAULT_TRAINING_IMAGES,
        }
    }
}

impl RunOptions {
    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<()> {
        if self.workers > MAX_WORKERS {
            return Err(Error::InvalidConfig(format!(
                "workers must be at most {MAX_WORKERS} (0 = one per core), not {}",
                self.workers
            )));
        }
        if self.batch_size == 0 {
            return Err(Error::InvalidConfig("batch size must be at least 1".into()));
        }
        if !(self.memory_fraction > 0.0 && self.memory_fraction <= 1.0) {
            return Err(Error::InvalidConfig(
                "memory fraction must be in (0, 1]".into(),
            ));
        }
        if self.max_file_bytes == 0 {
            return Err(Error::InvalidConfig(
                "the file size cap must be at least 1 byte".into(),
            ));
        }
        Ok(())
    }

    /// The worker count with 0 resolved to the number of cores.
    pub fn resolved_workers(&self) -> usize {
        if self.workers == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.workers
        }
    }

    /// The memory budget in bytes: `memory_fraction` of the RAM available now
    /// (sysinfo), capped by `memory_limit`.
    pub fn memory_budget(&self) -> u64 {
        let mut sys = sysinfo::System::new();
        sys.refresh_memory();
        let available = sys.available_memory();
        // Some containers report 0 available; fall back to total so the budget
        // is never zero.
        let base = if available == 0 {
            sys.total_memory()
        } else {
            available
        };
        let mut budget = (base as f64 * self.memory_fraction) as u64;
        if let Some(limit) = self.memory_limit {
            budget = budget.min(limit);
        }
        budget.max(64 << 20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vocabulary_is_outgrown_when_a_build_would_train_on_twice_as_many_images() {
        assert!(!vocabulary_outgrown(500, 999));
        assert!(vocabulary_outgrown(500, 1_000));
        assert!(vocabulary_outgrown(500, 20_000));
        // A build never trains on more than the default sample.
        assert!(!vocabulary_outgrown(1_000, 1_000_000));
        assert!(!vocabulary_outgrown(600, 1_000_000));
        assert!(vocabulary_outgrown(2, 4));
        assert!(!vocabulary_outgrown(0, 10));
    }
}
