//! The index's own lock: an exclusive `flock` on the sibling file
//! `<dir>.mmindex-lock`, held by every open [`Store`](super::Store) for its
//! whole life and by a compaction from before its first read to after its
//! swap.
//!
//! sled locks its own files, but that lock cannot cover what happens around
//! sled: an open first finishes or undoes an interrupted compaction (renames
//! and deletes sibling directories), and a compaction closes sled before it
//! swaps directories. Without a lock spanning both, an open could take a
//! live compaction's half-filled copy for a crashed one and delete it. The
//! lock file lives beside the directory, not in it, because a compaction
//! renames the directory. The file is never removed: removing a lock file
//! races with the next process opening it.
//!
//! The kernel drops the lock when its holder exits, killed or not, so a
//! crashed holder never blocks the next open.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

const SUFFIX: &str = ".mmindex-lock";

/// A held lock (released on drop), or none where the parent directory
/// takes no new file.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: Option<File>,
}

/// The form of an index path that its siblings are named from: absolute,
/// without `.` components or trailing separators, and with symlinks
/// resolved as far as the path exists, so that every spelling of one
/// directory names the same lock.
pub(crate) fn canonical(path: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
    if let Ok(real) = abs.canonicalize() {
        return Ok(real);
    }
    let clean: PathBuf = abs
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if let (Some(parent), Some(name)) = (clean.parent(), clean.file_name()) {
        if let Ok(real) = parent.canonicalize() {
            return Ok(real.join(name));
        }
    }
    Ok(clean)
}

/// `path` (canonical) with `suffix` appended to its last component.
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

impl DirLock {
    /// Takes the lock of the index at `path` (canonical), waiting up to
    /// `wait` for another holder; [`Error::Locked`] after that.
    pub(crate) fn acquire(path: &Path, wait: Duration) -> Result<DirLock> {
        let lock_path = sibling(path, SUFFIX);
        let file = match OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
        {
            Ok(f) => f,
            // A parent that takes no new file takes no compaction's copy
            // either, so there is nothing for the lock to protect; sled's
            // own lock still keeps out a second process.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
                ) =>
            {
                tracing::debug!(path = %lock_path.display(), "no lock file: {e}");
                return Ok(DirLock { _file: None });
            }
            Err(e) => return Err(Error::io(&lock_path, e)),
        };
        lock_within(&file, &lock_path, path, wait)?;
        Ok(DirLock { _file: Some(file) })
    }
}

/// Takes the lock sled itself holds on the index's log file `db` while a
/// database is open (an exclusive `flock`), waiting up to `wait`. sled
/// finishes its background writes after the last handle is dropped and
/// releases this lock only then, so the holder of the returned file sees
/// the log at rest, and no sled opens it meanwhile.
pub(crate) fn hold_sled_log(index: &Path, wait: Duration) -> Result<File> {
    let db = index.join("db");
    let file = File::open(&db).map_err(|e| Error::io(&db, e))?;
    lock_within(&file, &db, index, wait)?;
    Ok(file)
}

fn lock_within(file: &File, file_path: &Path, index: &Path, wait: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {
                if started.elapsed() >= wait {
                    return Err(Error::Locked { path: index.into() });
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(file_path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_whatever_the_spelling() {
        let dir = tempfile::tempdir().expect("temp");
        let idx = dir.path().join("idx");
        std::fs::create_dir(&idx).expect("mkdir");
        let a = canonical(&idx).expect("canonical");
        let mut spelled = idx.clone().into_os_string();
        spelled.push("/./");
        assert_eq!(canonical(Path::new(&spelled)).expect("canonical"), a);
        let held = DirLock::acquire(&a, Duration::ZERO).expect("first");
        match DirLock::acquire(&a, Duration::from_millis(30)) {
            Err(Error::Locked { .. }) => {}
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(held);
        DirLock::acquire(&a, Duration::ZERO).expect("free again");
        assert!(sibling(&a, SUFFIX).exists());
        assert!(!a.join(".mmindex-lock").exists());
    }
}
