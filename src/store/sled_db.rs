//! sled itself: its errors as the crate's, and opening its database, with
//! the wait for its directory lock and the workaround for half-written
//! snapshots.

use std::path::Path;

use sled::Db;

use super::LOCK_WAIT;
use crate::error::{Error, Result};

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        match e {
            // sled's only word for a checksum mismatch or an unreadable
            // snapshot: damage, not a passing storage failure.
            sled::Error::Corruption { .. } => Error::Damaged {
                reason: format!("the storage engine reports {e}"),
            },
            e => Error::Storage(Box::new(e)),
        }
    }
}

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
/// kill come a moment earlier. The rebuild crash test's kills can leave
/// such a file (`tests/corruption.rs` plants one). Called only after sled
/// reported corruption, which it does after taking the directory's lock:
/// no other process is writing a snapshot.
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

pub(super) fn open_db(path: &Path) -> Result<Db> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sled_error_is_the_source_of_a_storage_error() {
        let e = Error::from(sled::Error::Unsupported("a test".into()));
        assert!(matches!(e, Error::Storage(_)), "{e:?}");
        let source = std::error::Error::source(&e).expect("a storage error has a source");
        assert!(
            source.downcast_ref::<sled::Error>().is_some(),
            "the source is not sled's error: {source:?}"
        );
    }
}
