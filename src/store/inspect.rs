//! Verifying an index without changing a byte of it.
//!
//! Opening a sled database runs its recovery, which rewrites the log: after
//! the first entry it cannot read it overwrites the rest of that segment
//! and every later one (see [`ledger`](super::ledger)). On a damaged index
//! that destroys the evidence, so [`verify_copy`] never opens the index
//! itself: under the index's lock it copies the directory to the sibling
//! `<dir>.mmindex-verify`, opens and verifies the copy, compares the copy's
//! log with the original's to report what recovery rewrote and where, and
//! deletes the copy. It needs free space for one copy of the index.

use std::path::Path;

use super::compact::wait_closed;
use super::ledger::{self, Reading};
use super::lock::{canonical, hold_sled_log, sibling, DirLock};
use super::open::lost_commits;
use super::{verify, LedgerCheck, Store, LOCK_WAIT};
use crate::error::{Error, Result};

const COPY_SUFFIX: &str = ".mmindex-verify";
/// Changed bytes closer than this are reported as one range.
const RANGE_GAP: u64 = 4096;
/// Ranges named in a report at most.
const RANGES_SHOWN: usize = 5;

/// What [`verify_copy`] found.
#[derive(Debug, Default)]
pub(crate) struct Inspection {
    /// Invariant violations and damage, as sentences.
    pub violations: Vec<String>,
    /// Facts that are not damage by themselves (what the next open's
    /// recovery will rewrite after a crash, for example).
    pub notes: Vec<String>,
}

/// Verifies the index at `path` on a private copy; see the module docs.
pub(crate) fn verify_copy(path: &Path) -> Result<Inspection> {
    let path = &canonical(path)?;
    if !path.is_dir() || !path.join("conf").is_file() {
        return Err(Error::NotAnIndex {
            path: path.clone(),
            reason: if path.exists() {
                "no index there".into()
            } else {
                "no such directory".into()
            },
        });
    }
    let _lock = DirLock::acquire(path, LOCK_WAIT)?;
    // A handle closed a moment ago may still be writing: copy the log at
    // rest.
    let _log = hold_sled_log(path, LOCK_WAIT)?;
    let copy = sibling(path, COPY_SUFFIX);
    if copy.exists() {
        std::fs::remove_dir_all(&copy).map_err(|e| Error::io(&copy, e))?;
    }
    let found = inspect(path, &copy);
    let removed = std::fs::remove_dir_all(&copy).map_err(|e| Error::io(&copy, e));
    let found = found?;
    removed?;
    Ok(found)
}

fn inspect(path: &Path, copy: &Path) -> Result<Inspection> {
    copy_tree(path, copy)?;
    let mut out = Inspection::default();
    for suffix in [".mmindex-compact", ".mmindex-compact-old"] {
        let leftover = sibling(path, suffix);
        if leftover.exists() {
            out.notes.push(format!(
                "{} is left by an interrupted compaction; the next open settles it",
                leftover.display()
            ));
        }
    }
    let acknowledged = ledger::read(copy)?;
    match Store::open_with(copy, None, None, LedgerCheck::Skip) {
        Err(e) => out.violations.push(format!("the index does not open: {e}")),
        Ok((store, _)) => {
            let found = *store.commits.lock().unwrap_or_else(|p| p.into_inner());
            match &acknowledged {
                Reading::Commits(n) if found < *n => {
                    out.violations.push(lost_commits(path, found, *n));
                }
                Reading::Unreadable(why) => out.notes.push(format!(
                    "the commit ledger is unreadable ({why}); the next open writes it anew"
                )),
                _ => {}
            }
            match verify(&store) {
                Ok(v) => out.violations.extend(v),
                Err(e) => out.violations.push(format!("verification stopped: {e}")),
            }
            drop(store);
            // sled finishes its background writes after the handle is gone;
            // the comparison below must see them. A copy sled now refuses
            // was reported above.
            let _ = wait_closed(copy);
        }
    }
    let rewritten = compare(&path.join("db"), &copy.join("db"))?;
    if rewritten.bytes > 0 {
        let shown: Vec<String> = rewritten
            .ranges
            .iter()
            .take(RANGES_SHOWN)
            .map(|(a, b)| format!("{a}..{b}"))
            .collect();
        let more = rewritten.ranges.len().saturating_sub(RANGES_SHOWN);
        out.notes.push(format!(
            "opening the index makes sled's recovery rewrite {} bytes of its log `db` \
             (offsets {}{}), the part after the first entry it cannot read: after a crash, \
             the unacknowledged end of the last write; with lost commits, damaged data (copy \
             the directory before anything opens it)",
            rewritten.bytes,
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more ranges")
            } else {
                String::new()
            }
        ));
    }
    let lost_blobs = missing_files(&path.join("blobs"), &copy.join("blobs"))?;
    if lost_blobs > 0 {
        out.notes.push(format!(
            "opening the index makes sled's recovery delete {lost_blobs} blob files written \
             after the point it recovers to"
        ));
    }
    Ok(out)
}

/// Copies the regular files and folders under `from` to `to`.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir(to).map_err(|e| Error::io(to, e))?;
    for e in std::fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let e = e.map_err(|err| Error::io(from, err))?;
        let kind = e.file_type().map_err(|err| Error::io(e.path(), err))?;
        let dst = to.join(e.file_name());
        if kind.is_dir() {
            copy_tree(&e.path(), &dst)?;
        } else if kind.is_file() {
            std::fs::copy(e.path(), &dst).map_err(|err| Error::io(e.path(), err))?;
        }
    }
    Ok(())
}

/// Bytes that differ between two versions of a file.
#[derive(Debug, Default, PartialEq)]
struct Rewritten {
    /// Offsets where the original held a byte that the copy no longer
    /// holds (bytes past the original's end count as zeros there: sled
    /// extending its file with zeros rewrites nothing).
    bytes: u64,
    /// Half-open ranges covering them, joined across gaps under
    /// [`RANGE_GAP`].
    ranges: Vec<(u64, u64)>,
}

fn compare(original: &Path, copy: &Path) -> Result<Rewritten> {
    let open = |p: &Path| std::fs::File::open(p).map_err(|e| Error::io(p, e));
    let (mut a, mut b) = (open(original)?, open(copy)?);
    let mut out = Rewritten::default();
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut at = 0u64;
    loop {
        let na = read_full(&mut a, &mut ba).map_err(|e| Error::io(original, e))?;
        let nb = read_full(&mut b, &mut bb).map_err(|e| Error::io(copy, e))?;
        let n = na.max(nb);
        if n == 0 {
            break;
        }
        ba[na..n].fill(0);
        bb[nb..n].fill(0);
        for i in 0..n {
            if ba[i] != bb[i] {
                let off = at + i as u64;
                out.bytes += 1;
                match out.ranges.last_mut() {
                    Some((_, end)) if off < *end + RANGE_GAP => *end = off + 1,
                    _ => out.ranges.push((off, off + 1)),
                }
            }
        }
        at += n as u64;
    }
    Ok(out)
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Files in `original` that `copy` no longer has.
fn missing_files(original: &Path, copy: &Path) -> Result<usize> {
    let Ok(entries) = std::fs::read_dir(original) else {
        return Ok(0);
    };
    let mut n = 0;
    for e in entries {
        let e = e.map_err(|err| Error::io(original, err))?;
        if !copy.join(e.file_name()).exists() {
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_counts_changed_bytes_and_joins_near_ranges() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let original: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8 + 1).collect();
        let mut changed = original.clone();
        changed[10] = 0;
        changed[20] = 0;
        changed[15_000] = 0;
        // Zeros past the original's end rewrite nothing.
        changed.extend_from_slice(&[0u8; 5000]);
        std::fs::write(&a, &original).expect("write");
        std::fs::write(&b, &changed).expect("write");
        let r = compare(&a, &b).expect("compare");
        assert_eq!(r.bytes, 3);
        assert_eq!(r.ranges, vec![(10, 21), (15_000, 15_001)]);
        std::fs::write(&b, &original).expect("write");
        assert_eq!(compare(&a, &b).expect("compare"), Rewritten::default());
    }
}
