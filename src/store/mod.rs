//! Persistent state: the only module that imports sled.
//!
//! One sled database per index directory, with these trees (layouts in
//! [`codec`]):
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `meta` | fixed names | magic, format version, config, active generation, doc counter |
//! | `records` | external record id | doc id |
//! | `docs` | doc id | [`DocRecord`] |
//! | `g{N}.codebook` | header / chunk | centroids of generation N |
//! | `g{N}.hist` | doc id | sparse histogram with norms |
//! | `g{N}.postings` | word ‖ first doc | block of (doc delta, tf) |
//! | `g{N}.stats` | names / idf chunks | IDF weights, doc and posting counts |
//! | `g{N}.geometry` | doc id | each feature's word and keypoint (optional per doc) |
//! | `g{N}.norms` | doc id | the histogram's two norms (complete when `stats` has `norms`) |
//!
//! Everything derived from a codebook lives under its generation N; trees of
//! any other generation than the active one are leftovers of an interrupted
//! training and are dropped on open.

mod batch;
pub mod codec;
mod commit;
mod compact;
mod generations;
mod inspect;
mod ledger;
mod lock;
mod open;
mod posting_blocks;
mod reads;
mod seal;
mod sled_db;
mod space;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sled::{Db, Tree};

use crate::error::Error;
use codec::DecodeError;

pub(crate) use batch::{Batch, NewDoc};
pub use codec::doc::DocRecord;
pub use codec::geometry::Geometry;
pub use codec::hist::Histogram;
pub use codec::trained::Trained;
pub use codec::unsealed::UnsealedState;
use commit::{TreeId, Write};
pub(crate) use compact::compact;
pub(crate) use inspect::verify_copy;
pub(crate) use posting_blocks::PostingBlock;
pub use space::Space;
pub(crate) use verify::verify;

/// Names of a generation's trees.
pub(crate) fn gen_tree(n: u32, what: &str) -> String {
    format!("g{n}.{what}")
}

/// Generation number of a tree name `g{N}.*`.
pub(super) fn gen_of(name: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(name).ok()?;
    let rest = s.strip_prefix('g')?;
    let (n, _) = rest.split_once('.')?;
    n.parse().ok()
}

/// The open database and its generation-independent trees.
pub(crate) struct Store {
    db: Db,
    meta: Tree,
    records: Tree,
    docs: Tree,
    path: PathBuf,
    /// Unsealed postings that trigger a seal (see [`seal`]).
    seal_postings: AtomicU64,
    /// Moves twice around every transaction that writes a posting tree
    /// (odd while one runs): what the posting cache (`shared::posting_cache`) checks before
    /// trusting posting blocks it read earlier. Only this process writes
    /// (sled locks the directory).
    postings_epoch: AtomicU64,
    /// Held exclusively while a transaction writes a posting tree, shared
    /// while a word's blocks are read ([`Store::blocks`]). A sled range is
    /// not a snapshot: it walks a copy of one leaf at a time and meets the
    /// tree's newer state at the next leaf, so a read that met a word's
    /// first blocks before a seal's merge and its later keys after it would
    /// miss the blocks the merge deleted. Under the lock a read sees each
    /// of the word's transactions whole or not at all.
    postings_writes: std::sync::RwLock<()>,
    /// The index's lock ([`lock`]), held as long as the database is open;
    /// `None` only for a compaction's copy, opened under the index's lock.
    /// Declared after `db`, so it is released after sled is closed.
    _lock: Option<Arc<lock::DirLock>>,
    /// The commit ledger ([`ledger`]).
    ledger: ledger::Ledger,
    /// sled's log file `db`, synced by [`flush`](Store::flush) before the
    /// ledger moves: sled's own flush syncs the written ranges
    /// (`sync_file_range`), not the file's size and allocation, which only
    /// its periodic `fsync` makes durable.
    log: std::fs::File,
    /// Whether this open created the index, and whether its directory
    /// existed (empty) before: what [`discard_created`](Store::discard_created)
    /// may remove.
    created: Option<bool>,
    /// Durable commits so far, as stored in `meta`; held across a whole
    /// [`flush`](Store::flush) so that the counter, sled's flush and the
    /// ledger move together.
    commits: std::sync::Mutex<u64>,
}

/// Whether an open compares `meta`'s commit counter with the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LedgerCheck {
    /// Refuse the index ([`Error::Damaged`]) when acknowledged commits are
    /// missing.
    Enforce,
    /// Open it anyway: for inspecting a copy, which reports the loss itself.
    Skip,
}

/// Default of [`IndexBuilder::seal_postings`](crate::IndexBuilder::seal_postings): about 4,000 records of 1,000
/// features. Searches hold the unsealed docs inverted in memory (8 bytes a posting,
/// so up to 32 MiB), and each seal adds at most one block per word.
pub const DEFAULT_SEAL_POSTINGS: u64 = 4 << 20;

/// The trees of one generation.
#[derive(Clone)]
pub(crate) struct Generation {
    pub n: u32,
    pub codebook: Tree,
    pub hist: Tree,
    pub postings: Tree,
    pub stats: Tree,
    pub geometry: Tree,
    pub norms: Tree,
    /// How its posting blocks and histograms are encoded: packed in
    /// generations that seal (format 3), varints before.
    pub layout: codec::Layout,
    /// How its geometry values are encoded: narrow in generations created
    /// by format 5, packed by format 4 (both marked by [`STAT_GEOMETRY`]),
    /// listed before.
    pub geometry_form: codec::geometry::Form,
}

/// Stats key of the doc count, u64 BE.
const STAT_DOCS: &[u8] = b"docs";
/// Stats key of the posting count, u64 BE.
const STAT_POSTINGS: &[u8] = b"postings";
/// Stats key present (value `[1]`) when `g{N}.norms` holds every doc of the
/// generation: set when the generation is created. Generations created
/// before the norms tree existed (format 1, early format 2) lack it, and
/// their norms are read from the histograms.
const STAT_NORMS: &[u8] = b"norms";
/// Stats key of the unsealed docs' state ([`codec::unsealed`]); present in generations
/// created by format 3.
const STAT_UNSEALED: &[u8] = b"tail";
/// Stats key naming the geometry form of generations created by format 4
/// (`[1]`, [`codec::geometry::Form::Packed`]) or 5 (`[2]`,
/// [`codec::geometry::Form::Narrow`]); absent: listed.
const STAT_GEOMETRY: &[u8] = b"geometry";
/// Stats key of what the vocabulary was trained on ([`codec::trained`]);
/// present in generations created by format 4 from a training run.
const STAT_TRAINED: &[u8] = b"trained";
/// Stats key of a seal in progress: the watermark it moves to, u64 BE.
const STAT_SEALING: &[u8] = b"sealing";

impl Store {
    /// The directory of the database.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Unsealed postings at which a batch's commit seals the unsealed docs.
    pub(crate) fn set_seal_postings(&self, n: u64) {
        self.seal_postings.store(n.max(1), Ordering::Relaxed);
    }

    pub(super) fn seal_postings(&self) -> u64 {
        self.seal_postings.load(Ordering::Relaxed)
    }

    /// See the `postings_epoch` field: even while no transaction writes
    /// a posting tree.
    pub(crate) fn postings_epoch(&self) -> u64 {
        self.postings_epoch.load(Ordering::SeqCst)
    }
}

/// How long `open` waits for the directory lock. sled finishes its last
/// background writes after a handle is dropped, so a close followed at once
/// by an open in the same process can find the lock still held for a moment.
pub(crate) const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

pub(super) fn missing(tree: &str, key: &[u8]) -> Error {
    DecodeError::new("required value is missing").at(tree, key)
}
