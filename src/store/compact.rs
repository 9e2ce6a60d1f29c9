//! Compaction: rewriting an index into a fresh sled directory, to give back
//! the space sled's log still holds for values that were rewritten or
//! deleted (sled reclaims a log segment only once at most half of it is
//! live, and never shrinks the file below its last live segment).
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

use super::{open_db, Store};
use crate::error::{Error, Result};

const NEW_SUFFIX: &str = ".mmindex-compact";
const OLD_SUFFIX: &str = ".mmindex-compact-old";
/// Written into the copy once it is complete and durable.
const COMPLETE: &str = "mmindex-compact-complete";
/// Keys per batch written to the copy: sled stores batches of about a
/// thousand keys most compactly (docs/STORAGE.md, "Sealing").
const KEYS_PER_BATCH: usize = 1_000;

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

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
fn wait_closed(path: &Path) -> Result<()> {
    drop(open_db(path)?);
    Ok(())
}

/// Finishes or undoes a compaction of `path` interrupted by a crash.
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

/// Compacts the index at `path`; returns its size in bytes before and
/// after. The copy replaces the index only when it is smaller.
pub(crate) fn compact(path: &Path) -> Result<(u64, u64)> {
    let (store, _) = Store::open(path, None)?;
    let before = dir_bytes(path)?;
    let new = sibling(path, NEW_SUFFIX);
    if new.exists() {
        std::fs::remove_dir_all(&new).map_err(|e| Error::io(&new, e))?;
    }
    {
        let db = sled::Config::new().path(&new).open()?;
        for name in store.db.tree_names() {
            let src = store.db.open_tree(&name)?;
            let dst = db.open_tree(&name)?;
            let mut batch = sled::Batch::default();
            let mut n = 0;
            for kv in src.iter() {
                let (k, v) = kv?;
                batch.insert(k, v);
                n += 1;
                if n == KEYS_PER_BATCH {
                    dst.apply_batch(std::mem::take(&mut batch))?;
                    n = 0;
                }
            }
            dst.apply_batch(batch)?;
        }
        db.flush()?;
    }
    drop(store);
    wait_closed(&new)?;
    wait_closed(path)?;
    // sled stores small values less compactly when written in bulk than
    // some histories leave them (measured: 10k records, 5.1 MB -> 6.0 MB):
    // keep the copy only when it is smaller.
    if dir_bytes(&new)? >= before {
        std::fs::remove_dir_all(&new).map_err(|e| Error::io(&new, e))?;
        return Ok((before, before));
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
    Ok((before, dir_bytes(path)?))
}
