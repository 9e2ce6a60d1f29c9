//! Opening an index: the directory checks, the commit ledger's check, the
//! header (magic, format version) and configuration, creating a new index;
//! and removing what an open created.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::codec::{meta, FORMAT_VERSION, MAGIC, OLDEST_FORMAT};
use super::commit::tx_err;
use super::sled_db::open_db;
use super::{compact, ledger, lock, missing, LedgerCheck, Store, DEFAULT_SEAL_POSTINGS, LOCK_WAIT};
use crate::config::IndexConfig;
use crate::error::{Error, Result};

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
            postings_writes: std::sync::RwLock::new(()),
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
