//! The commit ledger: how many durable commits the index has acknowledged,
//! kept in a file of its own so that it survives whatever sled's recovery
//! does to sled's log.
//!
//! sled 0.34 recovers at open by replaying its log up to the first entry it
//! cannot read, and discards the rest. After a crash that is the torn,
//! unacknowledged end of the last write; after damage (a flipped byte in the
//! middle of the log) it is every later write, acknowledged or not, and sled
//! opens the shorter index without a word. Every durable flush therefore
//! first stores its commit number in `meta` (a write that lands after all
//! the flush covers) and then, once sled's flush returns, in this file. An
//! open that finds fewer commits in `meta` than the ledger holds knows that
//! acknowledged writes were discarded and refuses the index
//! ([`Error::Damaged`]) instead of serving or extending what is left.
//!
//! A crash between sled's flush and the ledger's write leaves the ledger one
//! behind `meta`, which is harmless: the check only fails when `meta` is
//! behind. Layout: [`codec::ledger`](super::codec::ledger).

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::codec::ledger as layout;
use crate::error::{Error, Result};

/// The ledger's file name inside the index directory.
pub(crate) const FILE: &str = "mmindex-ledger";

/// What a directory's ledger says, read without writing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reading {
    /// No ledger: an index written before the ledger existed, or a new one.
    Absent,
    /// The acknowledged commit count.
    Commits(u64),
    /// A ledger that does not decode (torn or damaged): no count is known.
    Unreadable(String),
}

/// Reads the ledger of the index directory `dir`.
pub(crate) fn read(dir: &Path) -> Result<Reading> {
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Ok(b) => Ok(match layout::decode(&b) {
            Ok(n) => Reading::Commits(n),
            Err(e) => Reading::Unreadable(e.0),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Reading::Absent),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The open ledger of an open index.
#[derive(Debug)]
pub(crate) struct Ledger {
    file: File,
    path: PathBuf,
}

impl Ledger {
    /// Opens (creating when absent) the ledger of `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Ledger> {
        let path = dir.join(FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Ok(Ledger { file, path })
    }

    /// Records `commits` durably. One write of 28 bytes at offset 0 (one
    /// sector), then a data sync.
    pub(crate) fn record(&self, commits: u64) -> Result<()> {
        let mut f = &self.file;
        f.seek(SeekFrom::Start(0))
            .and_then(|_| f.write_all(&layout::encode(commits)))
            .and_then(|()| self.file.set_len(layout::LEN as u64))
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read(dir.path()).ok(), Some(Reading::Absent));
        let l = Ledger::open(dir.path()).expect("open");
        l.record(3).expect("record");
        l.record(4).expect("record");
        assert_eq!(read(dir.path()).ok(), Some(Reading::Commits(4)));
        std::fs::write(dir.path().join(FILE), b"MMLEDGER").expect("write");
        assert!(matches!(read(dir.path()), Ok(Reading::Unreadable(_))));
    }
}
