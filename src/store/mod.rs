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
mod compact;
mod inspect;
mod ledger;
mod lock;
mod posting_blocks;
mod seal;
mod space;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sled::{Db, Transactional, Tree};

use crate::config::IndexConfig;
use crate::error::{Error, Result};
use crate::vocab::Codebook;
use codec::codebook as cbc;
use codec::{keys, meta, DecodeError, FORMAT_VERSION, MAGIC, OLDEST_FORMAT};

pub(crate) use batch::{Batch, NewDoc};
pub use codec::doc::DocRecord;
pub use codec::geometry::Geometry;
pub use codec::hist::Histogram;
pub use codec::tail::TailState;
pub(crate) use compact::compact;
pub(crate) use inspect::verify_copy;
pub(crate) use posting_blocks::PostingBlock;
pub use space::Space;
pub(crate) use verify::verify;

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        match e {
            // sled's only word for a checksum mismatch or an unreadable
            // snapshot: damage, not a passing storage failure.
            sled::Error::Corruption { .. } => Error::Damaged {
                reason: format!("the storage engine reports {e}"),
            },
            e => Error::Storage(e.to_string()),
        }
    }
}

/// Names of a generation's trees.
pub(crate) fn gen_tree(n: u32, what: &str) -> String {
    format!("g{n}.{what}")
}

/// Generation number of a tree name `g{N}.*`.
fn gen_of(name: &[u8]) -> Option<u32> {
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
    /// Tail postings that trigger a seal (see [`seal`]).
    seal_postings: AtomicU64,
    /// Moves twice around every transaction that writes a posting tree
    /// (odd while one runs): what [`crate::search::blocks`] checks before
    /// trusting posting blocks it read earlier. Only this process writes
    /// (sled locks the directory).
    postings_epoch: AtomicU64,
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

/// Default of [`Store::set_seal_postings`]: about 4,000 records of 1,000
/// features. Searches hold the tail inverted in memory (8 bytes a posting,
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
    /// generations with a tail (format 3), varints before.
    pub layout: codec::Layout,
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
/// Stats key of the tail state ([`codec::tail`]); present in generations
/// created by format 3.
const STAT_TAIL: &[u8] = b"tail";
/// Stats key of a seal in progress: the watermark it moves to, u64 BE.
const STAT_SEALING: &[u8] = b"sealing";

impl Store {
    /// Opens the index at `path`; creates it with `create` when the directory
    /// is absent or empty. Returns the stored configuration.
    ///
    /// Waits up to [`LOCK_WAIT`] for another holder of the index (an open
    /// index, a compaction), then fails with [`Error::Locked`].
    pub(crate) fn open(path: &Path, create: Option<&IndexConfig>) -> Result<(Store, IndexConfig)> {
        let lock = lock::DirLock::acquire(&lock::canonical(path)?, LOCK_WAIT)?;
        Store::open_holding(path, create, Arc::new(lock))
    }

    /// [`open`](Self::open) with the index's lock already held: finishes or
    /// undoes an interrupted compaction first, which only the holder may.
    pub(crate) fn open_holding(
        path: &Path,
        create: Option<&IndexConfig>,
        lock: Arc<lock::DirLock>,
    ) -> Result<(Store, IndexConfig)> {
        compact::recover(&lock::canonical(path)?)?;
        Store::open_with(path, create, Some(lock), LedgerCheck::Enforce)
    }

    pub(crate) fn open_with(
        path: &Path,
        create: Option<&IndexConfig>,
        lock: Option<Arc<lock::DirLock>>,
        check: LedgerCheck,
    ) -> Result<(Store, IndexConfig)> {
        let exists = path.exists();
        if exists && !path.is_dir() {
            return Err(Error::NotAnIndex {
                path: path.into(),
                reason: "not a directory".into(),
            });
        }
        let empty_dir = exists
            && std::fs::read_dir(path)
                .map_err(|e| Error::io(path, e))?
                .next()
                .is_none();
        if (!exists || empty_dir) && create.is_none() {
            return Err(Error::NotAnIndex {
                path: path.into(),
                reason: "no index there".into(),
            });
        }
        if exists && !empty_dir && !path.join("conf").exists() {
            return Err(Error::NotAnIndex {
                path: path.into(),
                reason: "directory holds other files".into(),
            });
        }
        // Read before sled recovers its log, which is what the ledger
        // checks.
        let acknowledged = ledger::read(path)?;
        let db = open_db(path)?;
        let meta = db.open_tree("meta")?;
        let records = db.open_tree("records")?;
        let docs = db.open_tree("docs")?;
        let commits = match meta.get(meta::COMMITS)? {
            None => 0,
            Some(v) => meta::u64_from(&v).map_err(|e| e.at("meta", meta::COMMITS))?,
        };
        if let ledger::Reading::Commits(n) = acknowledged {
            if commits < n && check == LedgerCheck::Enforce {
                return Err(Error::Damaged {
                    reason: lost_commits(path, commits, n),
                });
            }
        }
        if let ledger::Reading::Unreadable(why) = &acknowledged {
            tracing::warn!(path = %path.display(), reason = %why, "the commit ledger is unreadable; it is written anew");
        }
        let ledger = ledger::Ledger::open(path)?;
        let log_path = path.join("db");
        let log = std::fs::File::open(&log_path).map_err(|e| Error::io(&log_path, e))?;
        // Never moved forward here: what this process read from `meta` may
        // not be on disk yet (a crash left it in the page cache), and a
        // ledger ahead of the disk would refuse a healthy index after a
        // power loss. The next flush moves it. A new ledger starts from
        // what is on disk.
        if matches!(
            acknowledged,
            ledger::Reading::Absent | ledger::Reading::Unreadable(_)
        ) {
            log.sync_all().map_err(|e| Error::io(&log_path, e))?;
            ledger.record(commits)?;
        }
        let mut store = Store {
            db,
            meta,
            records,
            docs,
            path: path.into(),
            seal_postings: AtomicU64::new(DEFAULT_SEAL_POSTINGS),
            postings_epoch: AtomicU64::new(0),
            _lock: lock,
            ledger,
            log,
            created: None,
            commits: std::sync::Mutex::new(commits),
        };
        let config = match store.meta.get(meta::MAGIC)? {
            None => {
                let Some(cfg) = create else {
                    return Err(Error::NotAnIndex {
                        path: path.into(),
                        reason: "no mmindex header".into(),
                    });
                };
                cfg.validate()?;
                let writes = [
                    (meta::MAGIC, MAGIC.to_vec()),
                    (meta::FORMAT, FORMAT_VERSION.to_be_bytes().to_vec()),
                    (meta::CONFIG, meta::encode_config(cfg)),
                    (meta::NEXT_DOC, 0u64.to_be_bytes().to_vec()),
                ];
                store
                    .meta
                    .transaction(|m| {
                        for (k, v) in &writes {
                            m.insert(*k, v.as_slice())?;
                        }
                        Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                    })
                    .map_err(tx_err)?;
                store.flush()?;
                store.created = Some(exists);
                cfg.clone()
            }
            Some(m) => {
                if m.as_ref() != MAGIC {
                    return Err(Error::NotAnIndex {
                        path: path.into(),
                        reason: "wrong magic bytes".into(),
                    });
                }
                let v = store
                    .get_meta(meta::FORMAT)?
                    .ok_or_else(|| missing("meta", meta::FORMAT))?;
                let found = meta::u32_from(&v).map_err(|e| e.at("meta", meta::FORMAT))?;
                if !(OLDEST_FORMAT..=FORMAT_VERSION).contains(&found) {
                    return Err(Error::IncompatibleFormat {
                        found,
                        oldest: OLDEST_FORMAT,
                        supported: FORMAT_VERSION,
                    });
                }
                let c = store
                    .get_meta(meta::CONFIG)?
                    .ok_or_else(|| missing("meta", meta::CONFIG))?;
                meta::decode_config(&c).map_err(|e| e.at("meta", meta::CONFIG))?
            }
        };
        store.drop_stale_generations()?;
        store.finish_interrupted_seal()?;
        Ok((store, config))
    }

    fn get_meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get(key)?.map(|v| v.to_vec()))
    }

    /// Drops the trees of every generation but the active one.
    fn drop_stale_generations(&self) -> Result<()> {
        let active = self.active()?;
        for name in self.db.tree_names() {
            if let Some(n) = gen_of(&name) {
                if Some(n) != active {
                    tracing::info!(tree = %String::from_utf8_lossy(&name), "dropping leftover generation tree");
                    self.db.drop_tree(&name)?;
                }
            }
        }
        Ok(())
    }

    /// The directory of the database.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The active generation, if a codebook has been trained.
    pub(crate) fn active(&self) -> Result<Option<u32>> {
        match self.meta.get(meta::ACTIVE)? {
            None => Ok(None),
            Some(v) => meta::u32_from(&v)
                .map(Some)
                .map_err(|e| e.at("meta", meta::ACTIVE)),
        }
    }

    /// The next doc id to assign.
    pub(crate) fn next_doc(&self) -> Result<u64> {
        let v = self
            .meta
            .get(meta::NEXT_DOC)?
            .ok_or_else(|| missing("meta", meta::NEXT_DOC))?;
        meta::u64_from(&v).map_err(|e| e.at("meta", meta::NEXT_DOC))
    }

    /// The trees of generation `n` (created empty when absent).
    pub(crate) fn generation(&self, n: u32) -> Result<Generation> {
        let stats = self.db.open_tree(gen_tree(n, "stats"))?;
        let layout = if stats.get(STAT_TAIL)?.is_some() {
            codec::Layout::Packed
        } else {
            codec::Layout::Varint
        };
        Ok(Generation {
            n,
            codebook: self.db.open_tree(gen_tree(n, "codebook"))?,
            hist: self.db.open_tree(gen_tree(n, "hist"))?,
            postings: self.db.open_tree(gen_tree(n, "postings"))?,
            stats,
            geometry: self.db.open_tree(gen_tree(n, "geometry"))?,
            norms: self.db.open_tree(gen_tree(n, "norms"))?,
            layout,
        })
    }

    /// Writes a new generation's codebook and IDF, then makes it the active
    /// generation and drops the previous one: the path of `train` on an
    /// index without records.
    pub(crate) fn install_generation(
        &self,
        codebook: &Codebook,
        idf: &[f32],
    ) -> Result<Generation> {
        let g = self.prepare_generation(codebook, idf)?;
        self.activate(&g, None)?;
        self.drop_stale_generations()?;
        Ok(g)
    }

    /// Writes the codebook, IDF and zero counts of the next generation, not
    /// yet active (invisible to searches), and flushes them.
    ///
    /// A crash before [`activate`](Self::activate) leaves the old state; the
    /// half-written trees are dropped on the next open.
    pub(crate) fn prepare_generation(
        &self,
        codebook: &Codebook,
        idf: &[f32],
    ) -> Result<Generation> {
        let newest = self
            .db
            .tree_names()
            .iter()
            .filter_map(|n| gen_of(n))
            .chain(self.active()?)
            .max();
        let n = newest.map_or(1, |p| p + 1);
        let mut g = self.generation(n)?;
        for (k, v) in cbc::entries(codebook) {
            g.codebook.insert(k, v)?;
        }
        for (k, v) in cbc::encode_idf(idf) {
            g.stats.insert(k, v)?;
        }
        g.stats.insert(STAT_DOCS, &0u64.to_be_bytes())?;
        g.stats.insert(STAT_POSTINGS, &0u64.to_be_bytes())?;
        g.stats.insert(STAT_NORMS, &[1u8])?;
        g.stats
            .insert(STAT_TAIL, &codec::tail::encode(&TailState::default()))?;
        g.layout = codec::Layout::Packed;
        self.flush()?;
        Ok(g)
    }

    /// Makes `g` the active generation (and stores `config`, when given) in
    /// one transaction, durably. The previous generation's trees stay until
    /// [`drop_generation`](Self::drop_generation) or the next open.
    pub(crate) fn activate(&self, g: &Generation, config: Option<&IndexConfig>) -> Result<()> {
        let mut writes: Vec<Write> = vec![
            (0, meta::ACTIVE.to_vec(), Some(g.n.to_be_bytes().to_vec())),
            (
                0,
                meta::FORMAT.to_vec(),
                Some(FORMAT_VERSION.to_be_bytes().to_vec()),
            ),
        ];
        if let Some(c) = config {
            writes.push((0, meta::CONFIG.to_vec(), Some(meta::encode_config(c))));
        }
        self.write(&[&self.meta], &writes)?;
        self.flush()?;
        Ok(())
    }

    /// Drops the trees of generation `n`.
    pub(crate) fn drop_generation(&self, n: u32) -> Result<()> {
        for what in ["codebook", "hist", "postings", "stats", "geometry", "norms"] {
            self.db.drop_tree(gen_tree(n, what))?;
        }
        Ok(())
    }

    /// Every stored doc, in doc order.
    pub(crate) fn docs(&self) -> impl Iterator<Item = Result<(u64, DocRecord)>> + '_ {
        self.docs.iter().map(|kv| {
            let (k, v) = kv?;
            let id = keys::doc_from(&k).map_err(|e| e.at("docs", &k))?;
            let d = codec::doc::decode(&v).map_err(|e| e.at("docs", &k))?;
            Ok((id, d))
        })
    }

    /// Loads generation `g`'s codebook and IDF weights.
    pub(crate) fn load_vocabulary(&self, g: &Generation) -> Result<(Codebook, Vec<f32>)> {
        let tree = gen_tree(g.n, "codebook");
        let cb = match g.codebook.get(codec::tree::HEADER)? {
            Some(h) => {
                let at = |e: DecodeError| e.at(&tree, codec::tree::HEADER);
                let header = codec::tree::decode_header(&h).map_err(at)?;
                let nodes = collect_chunks(&g.codebook, codec::tree::NODES)?;
                let centroids = collect_chunks(&g.codebook, codec::tree::CENTROIDS)?;
                Codebook::Tree(codec::tree::decode(&header, &nodes, &centroids).map_err(at)?)
            }
            None => {
                let h = g
                    .codebook
                    .get(cbc::HEADER)?
                    .ok_or_else(|| missing(&tree, cbc::HEADER))?;
                let header = cbc::decode_header(&h).map_err(|e| e.at(&tree, cbc::HEADER))?;
                let chunks = collect_chunks(&g.codebook, cbc::CENTROIDS)?;
                cbc::decode(&header, &chunks).map_err(|e| e.at(&tree, cbc::CENTROIDS))?
            }
        };
        let idf_chunks = collect_chunks(&g.stats, cbc::IDF)?;
        let idf = cbc::decode_idf(&idf_chunks, cb.words())
            .map_err(|e| e.at(&gen_tree(g.n, "stats"), cbc::IDF))?;
        Ok((cb, idf))
    }

    /// The doc id of a record.
    pub(crate) fn doc_of(&self, record_id: &[u8]) -> Result<Option<u64>> {
        match self.records.get(record_id)? {
            None => Ok(None),
            Some(v) => meta::u64_from(&v)
                .map(Some)
                .map_err(|e| e.at("records", record_id)),
        }
    }

    /// The metadata of a doc.
    pub(crate) fn doc(&self, id: u64) -> Result<Option<DocRecord>> {
        let k = keys::doc(id);
        match self.docs.get(k)? {
            None => Ok(None),
            Some(v) => codec::doc::decode(&v)
                .map(Some)
                .map_err(|e| e.at("docs", &k)),
        }
    }

    /// The histogram of a doc in generation `g`.
    pub(crate) fn histogram(&self, g: &Generation, id: u64) -> Result<Option<Histogram>> {
        let k = keys::doc(id);
        match g.hist.get(k)? {
            None => Ok(None),
            Some(v) => codec::hist::decode_as(g.layout, &v)
                .map(Some)
                .map_err(|e| e.at(&gen_tree(g.n, "hist"), &k)),
        }
    }

    /// The stored features of a doc in generation `g`, if it has any.
    pub(crate) fn geometry(&self, g: &Generation, id: u64) -> Result<Option<Geometry>> {
        let k = keys::doc(id);
        match g.geometry.get(k)? {
            None => Ok(None),
            Some(v) => codec::geometry::decode(&v)
                .map(Some)
                .map_err(|e| e.at(&gen_tree(g.n, "geometry"), &k)),
        }
    }

    /// Tail postings at which a batch's commit seals the tail.
    pub(crate) fn set_seal_postings(&self, n: u64) {
        self.seal_postings.store(n.max(1), Ordering::Relaxed);
    }

    fn seal_postings(&self) -> u64 {
        self.seal_postings.load(Ordering::Relaxed)
    }

    /// The tail state of generation `g`; `None` for a generation of formats
    /// 1 and 2, whose postings are all in blocks.
    pub(crate) fn tail_state(&self, g: &Generation) -> Result<Option<TailState>> {
        match g.stats.get(STAT_TAIL)? {
            None => Ok(None),
            Some(v) => codec::tail::decode(&v)
                .map(Some)
                .map_err(|e| e.at(&gen_tree(g.n, "stats"), STAT_TAIL)),
        }
    }

    /// Whether `g{N}.norms` holds every doc of generation `g`.
    pub(crate) fn has_norms(&self, g: &Generation) -> Result<bool> {
        Ok(g.stats.get(STAT_NORMS)?.is_some())
    }

    /// The norms of every doc in `from..to` present in generation `g`, in
    /// doc order: from `g{N}.norms` when it is complete (8 bytes a doc),
    /// otherwise from the head of each histogram (which sled reads whole).
    pub(crate) fn norms_range(
        &self,
        g: &Generation,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, (f32, f32))>> {
        let (tree, name, decode): (&Tree, &str, fn(&[u8]) -> _) = if self.has_norms(g)? {
            (&g.norms, "norms", codec::hist::decode_norms_value)
        } else {
            (&g.hist, "hist", codec::hist::decode_norms)
        };
        let mut out = Vec::new();
        for kv in tree.range(keys::doc(from)..keys::doc(to)) {
            let (k, v) = kv?;
            let at = |e: DecodeError| e.at(&gen_tree(g.n, name), &k);
            let id = keys::doc_from(&k).map_err(at)?;
            out.push((id, decode(&v).map_err(at)?));
        }
        Ok(out)
    }

    /// Every (doc, histogram) of generation `g`, in doc order.
    pub(crate) fn histograms<'a>(
        &self,
        g: &'a Generation,
    ) -> impl Iterator<Item = Result<(u64, Histogram)>> + 'a {
        g.hist.iter().map(move |kv| {
            let (k, v) = kv?;
            let tree = || gen_tree(g.n, "hist");
            let id = keys::doc_from(&k).map_err(|e| e.at(&tree(), &k))?;
            let h = codec::hist::decode_as(g.layout, &v).map_err(|e| e.at(&tree(), &k))?;
            Ok((id, h))
        })
    }

    /// Every (doc, histogram) of generation `g` with a doc in `from..to`, in
    /// doc order.
    pub(crate) fn histograms_range<'a>(
        &self,
        g: &'a Generation,
        from: u64,
        to: u64,
    ) -> impl Iterator<Item = Result<(u64, Histogram)>> + 'a {
        g.hist.range(keys::doc(from)..keys::doc(to)).map(move |kv| {
            let (k, v) = kv?;
            let tree = || gen_tree(g.n, "hist");
            let id = keys::doc_from(&k).map_err(|e| e.at(&tree(), &k))?;
            let h = codec::hist::decode_as(g.layout, &v).map_err(|e| e.at(&tree(), &k))?;
            Ok((id, h))
        })
    }

    /// See the `postings_epoch` field: even while no transaction writes
    /// a posting tree.
    pub(crate) fn postings_epoch(&self) -> u64 {
        self.postings_epoch.load(Ordering::SeqCst)
    }

    /// Applies a write set in one transaction; one that writes a posting
    /// tree moves the postings epoch before and after it.
    fn write(&self, trees: &[&Tree], writes: &[Write]) -> Result<()> {
        let postings = |i: usize| {
            trees
                .get(i)
                .is_some_and(|t| t.name().ends_with(b".postings"))
        };
        if !writes.iter().any(|w| postings(w.0)) {
            return apply(trees, writes);
        }
        self.postings_epoch.fetch_add(1, Ordering::SeqCst);
        let r = apply(trees, writes);
        self.postings_epoch.fetch_add(1, Ordering::SeqCst);
        r
    }

    /// Number of records in generation `g`.
    pub(crate) fn doc_count(&self, g: &Generation) -> Result<u64> {
        self.stat(g, STAT_DOCS)
    }

    /// Number of postings in generation `g`.
    pub(crate) fn posting_count(&self, g: &Generation) -> Result<u64> {
        self.stat(g, STAT_POSTINGS)
    }

    fn stat(&self, g: &Generation, key: &[u8]) -> Result<u64> {
        let tree = gen_tree(g.n, "stats");
        let v = g.stats.get(key)?.ok_or_else(|| missing(&tree, key))?;
        meta::u64_from(&v).map_err(|e| e.at(&tree, key))
    }

    /// Every external record id, in key order.
    pub(crate) fn record_ids(&self) -> impl Iterator<Item = Result<(Vec<u8>, u64)>> + '_ {
        self.records.iter().map(|kv| {
            let (k, v) = kv?;
            let id = meta::u64_from(&v).map_err(|e| e.at("records", &k))?;
            Ok((k.to_vec(), id))
        })
    }

    /// Bytes the database occupies on disk.
    pub(crate) fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    /// Writes everything durable now, as one more commit: the counter in
    /// `meta` first (so that it lands after everything this flush covers),
    /// then sled's flush, then the ledger ([`ledger`]).
    pub(crate) fn flush(&self) -> Result<()> {
        let mut commits = self.commits.lock().unwrap_or_else(|p| p.into_inner());
        let next = *commits + 1;
        self.meta.insert(meta::COMMITS, &next.to_be_bytes())?;
        self.db.flush()?;
        self.log
            .sync_all()
            .map_err(|e| Error::io(self.path.join("db"), e))?;
        self.ledger.record(next)?;
        *commits = next;
        Ok(())
    }

    /// Closes the index and, when this open created it, removes what it
    /// created (the directory, or its contents when it existed empty),
    /// under the index's lock, after sled has finished writing: for a
    /// command that created an index and then failed. Returns whether it
    /// removed anything.
    pub(crate) fn discard_created(self) -> Result<bool> {
        let Some(existed) = self.created else {
            return Ok(false);
        };
        let path = self.path.clone();
        let lock = self._lock.clone();
        drop(self);
        // sled's background thread may still be writing; its lock on `db`
        // goes only when it has finished.
        let log = lock::hold_sled_log(&path, LOCK_WAIT)?;
        let removed = if existed {
            std::fs::read_dir(&path).and_then(|entries| {
                entries.into_iter().try_for_each(|e| {
                    let p = e?.path();
                    if p.is_dir() {
                        std::fs::remove_dir_all(p)
                    } else {
                        std::fs::remove_file(p)
                    }
                })
            })
        } else {
            std::fs::remove_dir_all(&path)
        };
        drop(log);
        drop(lock);
        removed.map_err(|e| Error::io(&path, e))?;
        Ok(true)
    }

    /// Raw access for tests that damage an index on purpose.
    #[doc(hidden)]
    pub(crate) fn raw_tree(&self, name: &str) -> Result<Tree> {
        Ok(self.db.open_tree(name)?)
    }
}

/// Why an index whose `meta` holds `found` commits while its ledger
/// acknowledged `acknowledged` is refused.
pub(crate) fn lost_commits(path: &Path, found: u64, acknowledged: u64) -> String {
    format!(
        "{} holds {found} of the {acknowledged} commits it acknowledged: sled's recovery \
         discarded the end of its log, as it does past an entry it cannot read (to open what \
         is left and accept the loss, delete {})",
        path.display(),
        path.join(ledger::FILE).display()
    )
}

/// How long `open` waits for the directory lock. sled finishes its last
/// background writes after a handle is dropped, so a close followed at once
/// by an open in the same process can find the lock still held for a moment.
pub(crate) const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Deletes the snapshot files sled left half-written (`snap.*.generating`).
///
/// sled 0.34.7 writes a snapshot to `snap.<lsn>.generating`, syncs it and
/// renames it to `snap.<lsn>`; but when it opens a directory it takes the
/// highest-sorting `snap.*` file as its snapshot *including* a
/// `.generating` one (it filters only its `.in___motion` suffix), so a
/// process killed while writing a snapshot leaves a directory sled refuses
/// to open ("Read corrupted data at file offset None"; sled issue 1527).
/// Such a file is by construction not a snapshot yet: without it sled
/// recovers from the previous snapshot and its log, as it would had the
/// kill come a moment earlier. Found by the rebuild crash test (1 of 300
/// kills). Called only after sled reported corruption, which it does after
/// taking the directory's lock: no other process is writing a snapshot.
/// Returns whether it removed any.
fn remove_unfinished_snapshots(path: &Path) -> Result<bool> {
    let entries = std::fs::read_dir(path).map_err(|e| Error::io(path, e))?;
    let mut removed = false;
    for e in entries {
        let e = e.map_err(|err| Error::io(path, err))?;
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            tracing::warn!(file = %e.path().display(), "removing a snapshot sled did not finish writing");
            std::fs::remove_file(e.path()).map_err(|err| Error::io(e.path(), err))?;
            removed = true;
        }
    }
    Ok(removed)
}

fn open_db(path: &Path) -> Result<Db> {
    let started = std::time::Instant::now();
    let mut cleaned = false;
    loop {
        match sled::Config::new().path(path).open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if started.elapsed() >= LOCK_WAIT {
                    return Err(Error::Locked { path: path.into() });
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(sled::Error::Corruption { .. })
                if !cleaned && remove_unfinished_snapshots(path)? =>
            {
                cleaned = true;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn collect_chunks(tree: &Tree, name: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for (i, kv) in tree.scan_prefix(name).enumerate() {
        let (k, v) = kv?;
        if k.as_ref() != keys::chunk(name, i as u32).as_slice() {
            return Err(
                DecodeError::new(format!("chunk {i} missing or out of order")).at("codebook", &k),
            );
        }
        out.push(v.to_vec());
    }
    Ok(out)
}

fn missing(tree: &str, key: &[u8]) -> Error {
    DecodeError::new("required value is missing").at(tree, key)
}

fn tx_err<E: std::fmt::Debug>(e: sled::transaction::TransactionError<E>) -> Error {
    match e {
        sled::transaction::TransactionError::Storage(s) => Error::from(s),
        sled::transaction::TransactionError::Abort(a) => {
            Error::Storage(format!("transaction aborted: {a:?}"))
        }
    }
}

/// One write of a write set: tree index, key, value (`None` removes).
type Write = (usize, Vec<u8>, Option<Vec<u8>>);

/// Applies a write set to several trees in one transaction.
fn apply(trees: &[&Tree], writes: &[Write]) -> Result<()> {
    trees
        .transaction(|t| {
            for (i, k, v) in writes {
                match v {
                    Some(v) => t[*i].insert(k.as_slice(), v.as_slice())?,
                    None => t[*i].remove(k.as_slice())?,
                };
            }
            Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
        })
        .map_err(tx_err)
}
