//! The [`Index`]: opening, configuration, and access to the writer and
//! searchers.

use std::path::Path;
use std::sync::Arc;

use crate::config::{Feature, IndexConfig, RunOptions, Scoring};
use crate::error::{Error, Result};
use crate::ingest::{ExportedVocabulary, IndexWriter};
use crate::search::Searcher;
use crate::shared::Shared;
use crate::store::{self, Space, Store};
use crate::vocab::Codebook;

/// An image index in one directory.
///
/// Cheap to clone (a handle); `Send + Sync`. One process at a time may open
/// a directory (sled holds a lock on it); within the process, one
/// [`IndexWriter`] at a time and any number of [`Searcher`]s.
#[derive(Clone)]
pub struct Index {
    shared: Arc<Shared>,
}

/// What [`Index::compact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompactReport {
    /// Bytes of the index directory before.
    pub bytes_before: u64,
    /// Bytes of the index directory after.
    pub bytes_after: u64,
    /// Bytes of the copy, kept or not.
    pub copy_bytes: u64,
    /// Whether the copy replaced the index: when it is smaller, or when it
    /// holds at least a quarter fewer posting blocks (a search reads each
    /// block of its words) for at most a tenth more bytes.
    pub kept: bool,
    /// Posting blocks before and in the copy.
    pub posting_blocks: BlockCounts,
}

/// Posting blocks before and after a compaction ([`CompactReport`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlockCounts {
    /// Posting blocks of the index before.
    pub before: u64,
    /// Posting blocks of the copy.
    pub after: u64,
}

/// The shape of a vocabulary tree ([`Stats::tree`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TreeShape {
    /// Children per node.
    pub branching: u32,
    /// Levels below the root.
    pub depth: u32,
}

/// Counts and sizes of an index.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Stats {
    /// Records stored.
    pub records: u64,
    /// Words of the active vocabulary (0 before training).
    pub words: u64,
    /// The active generation (0 before training).
    pub generation: u32,
    /// The feature type.
    pub feature: Feature,
    /// Postings stored (sum over records of distinct words).
    pub postings: u64,
    /// Bytes the database occupies on disk.
    pub bytes_on_disk: u64,
    /// The vocabulary tree's shape, or `None` for a flat codebook (and
    /// before training).
    pub tree: Option<TreeShape>,
    /// Postings of the newest records, not yet sealed into posting blocks
    /// (searches read them from the records' histograms; see
    /// [`IndexBuilder::seal_postings`]). Always 0 for indexes whose
    /// generation predates format 3.
    pub unsealed_postings: u64,
    /// Images the active vocabulary was trained on; `None` before training,
    /// for a generation created before format 4, and for a codebook
    /// installed rather than trained.
    pub trained_images: Option<u64>,
    /// The collection has outgrown its vocabulary: a build of it with the
    /// default options would train on at least twice as many images
    /// ([`DEFAULT_TRAINING_IMAGES`](crate::DEFAULT_TRAINING_IMAGES) at
    /// most). Retrieval quality falls as such an index grows;
    /// [`IndexWriter::rebuild`](crate::IndexWriter::rebuild) trains a new
    /// vocabulary on the stored records.
    pub vocabulary_outgrown: bool,
}

/// What [`Index::record`] tells about one stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordInfo {
    /// The record's id.
    pub id: crate::RecordId,
    /// Where its image came from (a path), or `None` for in-memory bytes.
    pub source: Option<String>,
    /// FNV-1a 64 of the image bytes it was indexed from (the pixel buffer,
    /// for decoded pixels).
    pub content_hash: u64,
    /// Distinct visual words in its histogram.
    pub words: u64,
    /// Features (keypoints) counted in its histogram.
    pub features: u64,
}

/// The outcome of [`Index::verify`] and [`Index::verify_path`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Each invariant violation found, as a sentence.
    pub violations: Vec<String>,
    /// Facts that are not violations by themselves, as sentences: what the
    /// next open's recovery will rewrite, leftovers it will settle.
    pub notes: Vec<String>,
}

impl VerifyReport {
    /// Whether no invariant is violated.
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }
}

impl Index {
    /// Options for creating (or opening) an index.
    pub fn builder() -> IndexBuilder {
        IndexBuilder::default()
    }

    /// Opens an existing index.
    pub fn open(path: impl AsRef<Path>) -> Result<Index> {
        let (store, config) = Store::open(path.as_ref(), None)?;
        crate::ingest::spill::remove_leftovers(path.as_ref());
        let cache = crate::default_block_cache_bytes();
        Ok(Index::from_parts(store, config, cache))
    }

    fn from_parts(store: Store, config: IndexConfig, block_cache: u64) -> Index {
        Index {
            shared: Arc::new(Shared::new(store, config, block_cache)),
        }
    }

    /// The index's persistent configuration.
    pub fn config(&self) -> IndexConfig {
        self.shared.config()
    }

    /// The writer, with run-time options. Fails with [`Error::WriterBusy`]
    /// while another writer of this index is alive.
    pub fn writer(&self, opts: RunOptions) -> Result<IndexWriter> {
        IndexWriter::new(self.shared.clone(), opts)
    }

    /// A searcher over the active generation; [`Error::NoCodebook`] before
    /// the first training.
    pub fn searcher(&self) -> Result<Searcher> {
        self.shared.active()?.ok_or(Error::NoCodebook)?;
        Ok(Searcher::new(self.shared.clone()))
    }

    /// The active vocabulary exported: codebook, IDF weights and extraction
    /// settings, for describing images on other machines
    /// ([`ExportedVocabulary::extract`]) and for other indexes that must
    /// score alike. [`Error::NoCodebook`] before the first training.
    pub fn export_vocabulary(&self) -> Result<ExportedVocabulary> {
        let a = self.shared.active()?.ok_or(Error::NoCodebook)?;
        Ok(ExportedVocabulary::new(
            a.settings(),
            a.codebook.clone(),
            a.idf.clone(),
        ))
    }

    /// The id of the active vocabulary exported
    /// ([`ExportedVocabulary::id`]).
    pub(crate) fn vocabulary_id(&self) -> Result<u64> {
        Ok(self.shared.active()?.ok_or(Error::NoCodebook)?.id())
    }

    /// Counts and sizes.
    pub fn stats(&self) -> Result<Stats> {
        let store = &self.shared.store;
        let (records, words, generation, postings, tree, unsealed_postings, trained) =
            match self.shared.active()? {
                None => (0, 0, 0, 0, None, 0, None),
                Some(a) => (
                    store.doc_count(&a.generation)?,
                    a.codebook.words() as u64,
                    a.generation.n,
                    store.posting_count(&a.generation)?,
                    match &a.codebook {
                        Codebook::Tree(t) => Some(TreeShape {
                            branching: t.branching() as u32,
                            depth: t.depth() as u32,
                        }),
                        _ => None,
                    },
                    store
                        .unsealed_state(&a.generation)?
                        .map_or(0, |t| t.postings),
                    store.trained(&a.generation)?.map(|t| t.images),
                ),
            };
        Ok(Stats {
            records,
            words,
            generation,
            feature: self.shared.config().feature,
            postings,
            bytes_on_disk: store.size_on_disk()?,
            tree,
            unsealed_postings,
            trained_images: trained,
            vocabulary_outgrown: trained
                .is_some_and(|t| crate::config::vocabulary_outgrown(t, records)),
        })
    }

    /// Where the bytes go: logical sizes per kind of data (see [`Space`]).
    /// Reads the whole index, so it costs time in proportion to its size;
    /// [`Index::stats`] is the cheap call.
    pub fn space(&self) -> Result<Space> {
        let active = self.shared.active()?;
        self.shared
            .store
            .space(active.as_ref().map(|a| &a.generation))
    }

    /// Rewrites the index at `path` into a fresh directory and swaps it in,
    /// giving back the space sled's log still holds for rewritten and
    /// deleted values (after heavy ingestion, seals and removals, typically
    /// a third of the directory; the index is left as it is when the copy
    /// would not be smaller). Offline: fails with [`Error::Locked`]
    /// while the index is open, in this process or another. A crash at any
    /// instant leaves the old index or the compacted one, whole (the next
    /// open finishes or undoes the swap). Needs free disk space for a copy.
    /// See docs/STORAGE.md, "Compaction".
    pub fn compact(path: impl AsRef<Path>) -> Result<CompactReport> {
        let c = crate::store::compact(path.as_ref())?;
        Ok(CompactReport {
            bytes_before: c.before,
            bytes_after: if c.kept { c.copy } else { c.before },
            copy_bytes: c.copy,
            kept: c.kept,
            posting_blocks: BlockCounts {
                before: c.blocks_before,
                after: c.blocks_after,
            },
        })
    }

    /// Checks every invariant between the stored trees (see
    /// `docs/ARCHITECTURE.md`); damage is reported, not returned as an error.
    pub fn verify(&self) -> Result<VerifyReport> {
        Ok(VerifyReport {
            violations: store::verify(&self.shared.store)?,
            notes: Vec::new(),
        })
    }

    /// Closes this handle and, when its open created the index (the
    /// directory was absent or empty), removes what the open created: for a
    /// command that created an index and then failed, so that it leaves the
    /// directory as it found it. Nothing is removed when the index existed
    /// before, or while other handles to it (clones, searchers, a writer)
    /// are alive. Returns whether it removed anything.
    pub fn discard_created(self) -> Result<bool> {
        match Arc::try_unwrap(self.shared) {
            Ok(inner) => inner.store.discard_created(),
            Err(_) => Ok(false),
        }
    }

    /// Checks the index at `path`, which must not be open, without writing
    /// a byte of it: the checks of [`verify`](Self::verify) run on a copy
    /// (`<dir>.mmindex-verify`, deleted afterwards), so that the storage
    /// engine's recovery, which rewrites the end of a damaged log when an
    /// index is opened, cannot destroy the evidence. Reports acknowledged
    /// writes that recovery would discard as violations, and what it would
    /// rewrite (offsets in the log) as notes. Needs free disk space for one
    /// copy of the index. See docs/HARDENING.md, "Damage".
    pub fn verify_path(path: impl AsRef<Path>) -> Result<VerifyReport> {
        let found = store::verify_copy(path.as_ref())?;
        Ok(VerifyReport {
            violations: found.violations,
            notes: found.notes,
        })
    }

    /// Whether a record is stored.
    pub fn contains(&self, id: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.shared.store.doc_of(id.as_ref())?.is_some())
    }

    /// A stored record's metadata, or `None` when no record has this id.
    /// Consistent while a writer commits: the record as one of its
    /// versions was stored, or `None` if it was removed.
    pub fn record(&self, id: impl AsRef<[u8]>) -> Result<Option<RecordInfo>> {
        let store = &self.shared.store;
        let active = self.shared.active()?;
        let mut attempt = 0;
        let (d, hist) = loop {
            let Some(doc) = store.doc_of(id.as_ref())? else {
                return Ok(None);
            };
            let d = store.doc(doc)?;
            let h = match &active {
                Some(a) => store.histogram(&a.generation, doc)?,
                None => None,
            };
            // The reads are separate: a replacement or removal committed
            // between them moves the id off `doc` (doc ids are never
            // reused), and its reads are then taken again.
            attempt += 1;
            if store.doc_of(id.as_ref())? != Some(doc) && attempt <= crate::search::RETRIES {
                continue;
            }
            let Some(d) = d else {
                return Ok(None);
            };
            break (d, h);
        };
        let (words, features) = match hist {
            Some(h) => (
                h.entries.len() as u64,
                h.entries.iter().map(|(_, tf)| u64::from(*tf)).sum(),
            ),
            None => (0, 0),
        };
        Ok(Some(RecordInfo {
            id: crate::RecordId::from(d.record_id),
            source: (!d.source.is_empty()).then(|| String::from_utf8_lossy(&d.source).into_owned()),
            content_hash: d.content_hash,
            words,
            features,
        }))
    }

    /// Every stored record id, in byte order.
    pub fn record_ids(&self) -> Result<Vec<crate::RecordId>> {
        self.shared
            .store
            .record_ids()
            .map(|r| r.map(|(k, _)| crate::RecordId::from(k)))
            .collect()
    }

    /// Writes every change durable now (commits already flush).
    pub fn flush(&self) -> Result<()> {
        self.shared.store.flush()
    }

    /// Test support: overwrite a raw value, to damage an index on purpose.
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn __tamper(&self, tree: &str, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let t = self.shared.store.raw_tree(tree)?;
        match value {
            Some(v) => t.insert(key, v).map(|_| ()).map_err(Error::from)?,
            None => t.remove(key).map(|_| ()).map_err(Error::from)?,
        }
        self.shared.store.flush()
    }

    /// The directory of the index.
    pub fn path(&self) -> &Path {
        self.shared.store.path()
    }
}

/// Options of a new index. Each setter documents its default; the values
/// matter only when the index is created (opening an existing index keeps
/// its stored configuration), except
/// [`seal_postings`](IndexBuilder::seal_postings) and
/// [`block_cache_bytes`](IndexBuilder::block_cache_bytes), run-time
/// settings.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct IndexBuilder {
    config: IndexConfig,
    /// `max_features` was set: [`IndexBuilder::feature`] keeps it.
    max_features_set: bool,
    seal_postings: Option<u64>,
    block_cache_bytes: Option<u64>,
}

impl IndexBuilder {
    /// Local feature. Default = RootSIFT. Unless
    /// [`max_features`](IndexBuilder::max_features) was given, also sets
    /// the feature's [`Feature::default_max_features`].
    pub fn feature(mut self, f: Feature) -> Self {
        self.config.feature = f;
        if !self.max_features_set {
            self.config.max_features = f.default_max_features();
        }
        self
    }

    /// Visual words. Default = [`DEFAULT_WORDS`](crate::DEFAULT_WORDS).
    pub fn words(mut self, k: u32) -> Self {
        self.config.words = k;
        if self.config.sample_cap < k {
            self.config.sample_cap = k;
        }
        self
    }

    /// Longer-side cap in pixels (0 = none). Default = 1,024.
    pub fn max_side(mut self, px: u32) -> Self {
        self.config.max_side = px;
        self
    }

    /// Keypoints kept per image. Default = the feature's
    /// [`Feature::default_max_features`].
    pub fn max_features(mut self, n: u32) -> Self {
        self.config.max_features = n;
        self.max_features_set = true;
        self
    }

    /// Scoring of searches. Default = cosine.
    pub fn scoring(mut self, s: Scoring) -> Self {
        self.config.scoring = s;
        self
    }

    /// Seed of training. Default = 42.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// The extraction settings (feature, longer side, pixel limit,
    /// keypoints) and word count of an exported vocabulary: what an index
    /// needs to [`install_vocabulary`](crate::IndexWriter::install_vocabulary)
    /// it.
    pub fn vocabulary(mut self, v: &ExportedVocabulary) -> Self {
        let s = v.settings();
        self.config.feature = s.feature;
        self.config.max_side = s.max_side;
        self.config.max_pixels = s.max_pixels;
        self.config.max_features = s.max_features;
        self.max_features_set = true;
        self.config.min_features = s.min_features;
        // Word counts fit u32: a codebook holds far fewer.
        self = self.words(v.words() as u32);
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, c: IndexConfig) -> Self {
        self.config = c;
        self.max_features_set = true;
        self
    }

    /// Postings the newest records may hold before they are sealed into
    /// posting blocks (a run-time setting, not stored). Until then searches
    /// read them from the records' histograms, inverted in memory (8 bytes
    /// a posting); each seal writes one block per word of those records.
    /// Smaller values bound that memory tighter and seal more often.
    /// Default = [`DEFAULT_SEAL_POSTINGS`](crate::DEFAULT_SEAL_POSTINGS)
    /// (about 4,000 records of 1,000 features). See docs/STORAGE.md,
    /// "Sealing".
    pub fn seal_postings(mut self, n: u64) -> Self {
        self.seal_postings = Some(n);
        self
    }

    /// Bytes of posting lists that searches keep in memory between
    /// queries (a run-time setting, not stored): the lists of the words
    /// queried most, shared by every searcher of the index, decoded (once
    /// full, a word is decoded on its second use, kept as read before);
    /// 0 turns the cache off. Default =
    /// [`default_block_cache_bytes`](crate::default_block_cache_bytes):
    /// an eighth of the memory budget, at least 64 MiB. See
    /// docs/PERFORMANCE.md.
    pub fn block_cache_bytes(mut self, n: u64) -> Self {
        self.block_cache_bytes = Some(n);
        self
    }

    /// Opens the index at `path`, creating it with these options when the
    /// directory is absent or empty.
    pub fn open(self, path: impl AsRef<Path>) -> Result<Index> {
        self.config.validate()?;
        let (store, config) = Store::open(path.as_ref(), Some(&self.config))?;
        if let Some(n) = self.seal_postings {
            store.set_seal_postings(n);
        }
        crate::ingest::spill::remove_leftovers(path.as_ref());
        let cache = self
            .block_cache_bytes
            .unwrap_or_else(crate::default_block_cache_bytes);
        Ok(Index::from_parts(store, config, cache))
    }
}
