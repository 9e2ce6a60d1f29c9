//! The crate's one error type.

use std::path::PathBuf;

/// Every error the library returns.
///
/// Errors about a single record (an unreadable or undecodable image) are
/// reported per record inside an [`AddReport`](crate::AddReport) and do not
/// abort a batch; they appear here only where a whole operation depends on one
/// image (a query image, for example).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A filesystem operation outside the storage engine failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The storage engine (sled) reported an error. The engine's own error
    /// is this one's [`source`](std::error::Error::source) (or a message,
    /// where the store itself refused a write).
    #[error("storage error: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// An image could not be read, decoded or described.
    #[error("{}: {reason}", path.display())]
    Image {
        /// The image's path, or `<bytes>` for in-memory input.
        path: PathBuf,
        /// Why it failed, for a person.
        reason: String,
    },
    /// A stored value does not decode: the index is damaged.
    #[error("corrupt value in tree `{tree}` at key {key}: {reason}")]
    Corruption {
        /// The sled tree holding the value.
        tree: String,
        /// The key, hex-encoded.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The directory holds an index written in a format this build cannot read.
    #[error(
        "incompatible index format version {found}; this build reads versions {oldest} to {supported}"
    )]
    IncompatibleFormat {
        /// The version stored in the index.
        found: u32,
        /// The oldest version this build reads.
        oldest: u32,
        /// The newest version this build reads (and the one it writes).
        supported: u32,
    },
    /// The index's storage is damaged: sled found an entry it cannot read,
    /// or its recovery discarded writes that were acknowledged (see the
    /// commit ledger in docs/STORAGE.md). Nothing more is written to it.
    #[error(
        "the index is damaged: {reason}. Run `mmindex verify --index DIR`: it reports what is \
         damaged without changing the index; then restore the index from a backup, or rebuild \
         it from its images"
    )]
    Damaged {
        /// What was found.
        reason: String,
    },
    /// The directory exists but is not an mmindex index.
    #[error("{} is not an mmindex index ({reason})", path.display())]
    NotAnIndex {
        /// The directory.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The operation needs a trained codebook and the index has none yet.
    #[error("the index has no codebook yet: run `build` or `train` first")]
    NoCodebook,
    /// Training found fewer descriptors than it can cluster.
    #[error("not enough descriptors to train a codebook: {found} found, at least {needed} needed")]
    TooFewDescriptors {
        /// Descriptors extracted from the training images.
        found: usize,
        /// The minimum needed.
        needed: usize,
    },
    /// Another process has the index open (sled holds a lock on it).
    #[error("{} is in use by another process", path.display())]
    Locked {
        /// The index directory.
        path: PathBuf,
    },
    /// Another writer holds the index.
    #[error("another writer is active on this index")]
    WriterBusy,
    /// A [`PreparedQuery`](crate::PreparedQuery) was quantized against a
    /// vocabulary the index no longer searches: a rebuild installed a new
    /// generation since it was prepared. Prepare the query again.
    #[error(
        "the query was prepared for generation {prepared}, but the index now searches generation \
         {active} (rebuilt since): prepare the query again"
    )]
    StalePreparedQuery {
        /// The generation whose vocabulary the query was quantized against.
        prepared: u32,
        /// The generation the index searches now.
        active: u32,
    },
    /// An argument or option is out of its documented range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A records file (JSON lines) could not be used at all.
    #[error("records file {}: {reason}", path.display())]
    Records {
        /// The records file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A compaction's copy did not hold what the index holds, so it was
    /// deleted and the index left as it was.
    #[error("compaction refused its copy {}: {reason}; the index was left as it was", path.display())]
    CompactionCheck {
        /// The copy (deleted).
        path: PathBuf,
        /// What differed.
        reason: String,
    },
    /// Bytes given as an exported vocabulary are not one, or are damaged.
    #[error("not a usable exported vocabulary ({origin}): {reason}")]
    BadVocabulary {
        /// The file, or `<bytes>`.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// A record was described with another vocabulary than the index's.
    #[error(
        "the record was described with vocabulary {found:016x}, but the index uses {expected:016x}"
    )]
    VocabularyMismatch {
        /// The index's vocabulary id.
        expected: u64,
        /// The record's.
        found: u64,
    },
    /// Clustering failed inside the k-means implementation.
    #[error("k-means training failed: {0}")]
    Training(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn image(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Image {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
