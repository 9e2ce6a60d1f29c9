//! Compaction: rewriting an index into a fresh sled directory, to give back
//! the space sled's log still holds for values that were rewritten or
//! deleted (sled reclaims a log segment only once at most half of it is
//! live, and never shrinks the file below its last live segment).
//!
//! The copy also joins each word's sealed posting blocks of format-3
//! generations into as few as the block cap allows: seals leave a word a
//! handful of blocks (merged geometrically), and a search pays for each
//! block it reads, about a microsecond in sled, while most words hold only
//! a few hundred postings.
//!
//! Offline: the index must not be open. The copy goes to the sibling
//! `<dir>.mmindex-compact`; once it is complete and durable a marker file is
//! written into it, and the two directories are swapped by two renames
//! (`<dir>` → `<dir>.mmindex-compact-old`, the copy → `<dir>`), then the old
//! one is deleted.
//!
//! # Crash safety
//! Every open of `<dir>` first calls [`recover`]: before the marker exists
//! the copy is incomplete and is deleted (the index is untouched); between
//! the two renames `<dir>` is missing and the marked copy is renamed into
//! place; after them the old directory is deleted. So a crash at any
//! instant leaves the old index or the compacted one, whole.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use super::codec::{keys, postings, Layout};
use super::lock::{canonical, sibling, DirLock};
use super::seal::SEALED_BLOCK_CAP;
use super::sled_db::open_db;
use super::{gen_of, gen_tree, Generation, Store, LOCK_WAIT};
use crate::error::{Error, Result};

const NEW_SUFFIX: &str = ".mmindex-compact";
const OLD_SUFFIX: &str = ".mmindex-compact-old";
/// Written into the copy once it is complete and durable.
const COMPLETE: &str = "mmindex-compact-complete";
/// Keys per batch written to the copy: sled stores batches of about a
/// thousand keys most compactly (docs/STORAGE.md, "Sealing").
const KEYS_PER_BATCH: usize = 1_000;

/// Bytes of the files under `path`.
pub(crate) fn dir_bytes(path: &Path) -> Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
        let e = e.map_err(|e| Error::io(path, e))?;
        let m = e.metadata().map_err(|err| Error::io(e.path(), err))?;
        total += if m.is_dir() {
            dir_bytes(&e.path())?
        } else {
            m.len()
        };
    }
    Ok(total)
}

fn sync_dir(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Waits until no sled handle holds `path` any more: sled finishes its
/// background work after the last handle is dropped, and the directory must
/// not be renamed under it.
pub(super) fn wait_closed(path: &Path) -> Result<()> {
    drop(open_db(path)?);
    Ok(())
}

/// Finishes or undoes a compaction of `path` (canonical) interrupted by a
/// crash. Only the holder of the index's lock may call it: the lock is
/// what tells a crashed compaction from a live one.
pub(crate) fn recover(path: &Path) -> Result<()> {
    let new = sibling(path, NEW_SUFFIX);
    let old = sibling(path, OLD_SUFFIX);
    if !path.exists() {
        if new.join(COMPLETE).exists() {
            tracing::info!(path = %path.display(), "finishing an interrupted compaction");
            std::fs::rename(&new, path).map_err(|e| Error::io(&new, e))?;
            sync_dir(&parent_of(path))?;
        } else if old.exists() {
            std::fs::rename(&old, path).map_err(|e| Error::io(&old, e))?;
            sync_dir(&parent_of(path))?;
        }
    }
    if path.exists() {
        for leftover in [&new, &old] {
            if leftover.exists() {
                std::fs::remove_dir_all(leftover).map_err(|e| Error::io(leftover, e))?;
            }
        }
        let marker = path.join(COMPLETE);
        if marker.exists() {
            std::fs::remove_file(&marker).map_err(|e| Error::io(&marker, e))?;
        }
    }
    Ok(())
}

/// Writes keys in increasing order in batches of [`KEYS_PER_BATCH`].
struct Writer {
    tree: sled::Tree,
    batch: sled::Batch,
    /// Keys in `batch`.
    n: usize,
    /// Keys inserted in all.
    written: u64,
}

impl Writer {
    fn insert(&mut self, k: impl Into<sled::IVec>, v: impl Into<sled::IVec>) -> Result<()> {
        self.batch.insert(k, v);
        self.n += 1;
        self.written += 1;
        if self.n == KEYS_PER_BATCH {
            self.tree.apply_batch(std::mem::take(&mut self.batch))?;
            self.n = 0;
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        Ok(self.tree.apply_batch(self.batch)?)
    }
}

/// The generation whose posting tree `name` is, with its sealed watermark,
/// when its blocks are in [`Layout::Packed`] (format 3); formats 1 and 2
/// append to blocks of at most 128 postings and are copied as they are.
fn packed_postings(store: &Store, name: &[u8]) -> Result<Option<(Generation, u64)>> {
    let Some(n) = gen_of(name) else {
        return Ok(None);
    };
    if name != gen_tree(n, "postings").as_bytes() {
        return Ok(None);
    }
    let g = store.generation(n)?;
    if g.layout != Layout::Packed {
        return Ok(None);
    }
    Ok(store.unsealed_state(&g)?.map(|t| (g, t.sealed_below)))
}

/// Copies a format-3 posting tree, each word's blocks below the sealed
/// watermark joined and cut again into blocks of [`SEALED_BLOCK_CAP`]
/// postings (the last one shorter); anything else (none after an open,
/// which finishes interrupted seals) is copied as it is.
fn copy_postings(
    g: &Generation,
    sealed_below: u64,
    src: &sled::Tree,
    dst: &mut Writer,
) -> Result<u64> {
    let tree = gen_tree(g.n, "postings");
    let mut read = 0u64;
    let mut word: Option<u32> = None;
    let mut list: Vec<(u64, u32)> = Vec::new();
    let flush = |w: Option<u32>, list: &mut Vec<(u64, u32)>, dst: &mut Writer| -> Result<()> {
        if let Some(w) = w {
            for chunk in list.chunks(SEALED_BLOCK_CAP) {
                dst.insert(
                    keys::posting(w, chunk[0].0).to_vec(),
                    postings::encode(Layout::Packed, chunk[0].0, chunk),
                )?;
            }
        }
        list.clear();
        Ok(())
    };
    for kv in src.iter() {
        let (k, v) = kv?;
        read += 1;
        let (w, first) = keys::posting_from(&k).map_err(|e| e.at(&tree, &k))?;
        if word != Some(w) {
            flush(word, &mut list, dst)?;
            word = Some(w);
        }
        if first >= sealed_below {
            flush(word, &mut list, dst)?;
            dst.insert(k, v)?;
            continue;
        }
        if list.last().is_some_and(|&(last, _)| last >= first) {
            return Err(super::DecodeError::new("posting blocks of a word overlap").at(&tree, &k));
        }
        postings::decode_into(Layout::Packed, first, &v, &mut list).map_err(|e| e.at(&tree, &k))?;
    }
    flush(word, &mut list, dst)?;
    Ok(read)
}

/// What a compaction did.
pub(crate) struct Compacted {
    pub before: u64,
    pub copy: u64,
    pub kept: bool,
    pub blocks_before: u64,
    pub blocks_after: u64,
}

/// Whether the copy replaces the index: when it is smaller, or when it
/// joined blocks (at least a quarter fewer) for at most a tenth more bytes.
fn keep_copy(before: u64, copy: u64, blocks_before: u64, blocks_after: u64) -> bool {
    copy < before || (blocks_after * 4 <= blocks_before * 3 && copy as f64 <= before as f64 * 1.1)
}

/// Compacts the index at `path`: see [`Compacted`] and [`keep_copy`].
///
/// Holds the index's lock throughout, so no other open can run recovery
/// against the copy while it is being filled; and checks the copy (record
/// and doc counts, active generation, [`verify`](super::verify)) before
/// the swap, so that only a whole copy ever replaces the index.
pub(crate) fn compact(path: &Path) -> Result<Compacted> {
    let path = &canonical(path)?;
    let lock = Arc::new(DirLock::acquire(path, LOCK_WAIT)?);
    let (store, _) = Store::open_holding(path, None, lock.clone())?;
    let before = dir_bytes(path)?;
    let (mut blocks_before, mut blocks_after) = (0u64, 0u64);
    let new = sibling(path, NEW_SUFFIX);
    if new.exists() {
        std::fs::remove_dir_all(&new).map_err(|e| Error::io(&new, e))?;
    }
    let expected = Census::of(&store)?;
    {
        let db = sled::Config::new().path(&new).open()?;
        for name in store.db.tree_names() {
            let src = store.db.open_tree(&name)?;
            let mut dst = Writer {
                tree: db.open_tree(&name)?,
                batch: sled::Batch::default(),
                n: 0,
                written: 0,
            };
            match packed_postings(&store, &name)? {
                Some((g, sealed_below)) => {
                    blocks_before += copy_postings(&g, sealed_below, &src, &mut dst)?;
                    blocks_after += dst.written;
                }
                None => {
                    for kv in src.iter() {
                        let (k, v) = kv?;
                        dst.insert(k, v)?;
                    }
                }
            }
            dst.finish()?;
        }
        db.flush()?;
    }
    drop(store);
    wait_closed(&new)?;
    wait_closed(path)?;
    // sled stores small values less compactly when written in bulk than
    // some histories leave them (a 10k-record index whose blocks are not
    // joined: 5.1 MB, its bulk copy 6.0 MB).
    let copy = dir_bytes(&new)?;
    let done = |kept| Compacted {
        before,
        copy,
        kept,
        blocks_before,
        blocks_after,
    };
    if !keep_copy(before, copy, blocks_before, blocks_after) {
        std::fs::remove_dir_all(&new).map_err(|e| Error::io(&new, e))?;
        return Ok(done(false));
    }
    if let Err(e) = check_copy(&new, &expected) {
        std::fs::remove_dir_all(&new).map_err(|e| Error::io(&new, e))?;
        return Err(e);
    }
    let marker = new.join(COMPLETE);
    std::fs::File::create(&marker)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(&marker, e))?;
    sync_dir(&new)?;
    let old = sibling(path, OLD_SUFFIX);
    std::fs::rename(path, &old).map_err(|e| Error::io(path, e))?;
    sync_dir(&parent_of(path))?;
    std::fs::rename(&new, path).map_err(|e| Error::io(&new, e))?;
    sync_dir(&parent_of(path))?;
    recover(path)?;
    drop(lock);
    Ok(done(true))
}

/// What a copy must hold to replace the index.
#[derive(Debug, PartialEq)]
struct Census {
    records: usize,
    docs: usize,
    active: Option<u32>,
    trees: Vec<(Vec<u8>, usize)>,
}

impl Census {
    fn of(store: &Store) -> Result<Census> {
        let mut trees = Vec::new();
        for name in store.db.tree_names() {
            // Posting trees are re-blocked by the copy; their postings are
            // checked against the stats by `verify`.
            if gen_of(&name).is_some() && name.ends_with(b".postings") {
                continue;
            }
            trees.push((name.to_vec(), store.db.open_tree(&name)?.len()));
        }
        trees.sort();
        Ok(Census {
            records: store.records.len(),
            docs: store.docs.len(),
            active: store.active()?,
            trees,
        })
    }
}

/// Opens the copy (under the index's lock, which the caller holds) and
/// refuses it unless its census equals the index's and it verifies clean.
fn check_copy(new: &Path, expected: &Census) -> Result<()> {
    let refuse = |reason: String| Error::CompactionCheck {
        path: new.into(),
        reason,
    };
    let (copy, _) = Store::open_with(new, None, None, super::LedgerCheck::Enforce)
        .map_err(|e| refuse(format!("the copy does not open: {e}")))?;
    let found = Census::of(&copy)?;
    if &found != expected {
        return Err(refuse(format!(
            "the copy holds {} records and {} docs (active generation {:?}), the index {} and {} ({:?})",
            found.records, found.docs, found.active, expected.records, expected.docs, expected.active
        )));
    }
    let violations = super::verify(&copy)?;
    if let Some(first) = violations.first() {
        return Err(refuse(format!(
            "the copy fails verify ({} violations; first: {first})",
            violations.len()
        )));
    }
    drop(copy);
    wait_closed(new)
}
