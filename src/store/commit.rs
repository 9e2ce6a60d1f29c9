//! Transaction plumbing: a write set names its trees by [`TreeId`] and is
//! applied in one sled transaction; [`Store::flush`] makes it durable as one
//! more commit of the ledger.

use std::sync::atomic::Ordering;

use sled::{Transactional, Tree};

use super::codec::meta;
use super::{Generation, Store};
use crate::error::{Error, Result};

/// A tree a write set writes: the index's own trees, or one of a
/// generation's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TreeId {
    Meta,
    Records,
    Docs,
    Hist,
    Postings,
    Stats,
    Geometry,
    Norms,
}

impl TreeId {
    const ALL: [TreeId; 8] = [
        TreeId::Meta,
        TreeId::Records,
        TreeId::Docs,
        TreeId::Hist,
        TreeId::Postings,
        TreeId::Stats,
        TreeId::Geometry,
        TreeId::Norms,
    ];

    /// The tree itself; `None` for a generation's tree without a generation.
    fn tree<'a>(self, store: &'a Store, g: Option<&'a Generation>) -> Option<&'a Tree> {
        Some(match self {
            TreeId::Meta => &store.meta,
            TreeId::Records => &store.records,
            TreeId::Docs => &store.docs,
            TreeId::Hist => &g?.hist,
            TreeId::Postings => &g?.postings,
            TreeId::Stats => &g?.stats,
            TreeId::Geometry => &g?.geometry,
            TreeId::Norms => &g?.norms,
        })
    }
}

/// One write of a write set: tree, key, value (`None` removes).
pub(super) type Write = (TreeId, Vec<u8>, Option<Vec<u8>>);

impl Store {
    /// Applies a write set to the trees it names (those of a generation
    /// are `g`'s) in one transaction; one that writes a posting tree moves
    /// the postings epoch before and after it, and excludes reads of
    /// posting blocks meanwhile.
    pub(super) fn write(&self, g: Option<&Generation>, writes: &[Write]) -> Result<()> {
        // The trees written, and each one's place among them.
        let mut trees: Vec<&Tree> = Vec::with_capacity(TreeId::ALL.len());
        let mut place = [usize::MAX; TreeId::ALL.len()];
        for id in TreeId::ALL {
            if writes.iter().any(|w| w.0 == id) {
                let Some(t) = id.tree(self, g) else {
                    return Err(Error::Storage(
                        format!("a write to a generation's {id:?} tree without a generation")
                            .into(),
                    ));
                };
                place[id as usize] = trees.len();
                trees.push(t);
            }
        }
        if trees.is_empty() {
            return Ok(());
        }
        let postings = place[TreeId::Postings as usize] != usize::MAX;
        if !postings {
            return apply(&trees, &place, writes);
        }
        let _writing = self
            .postings_writes
            .write()
            .unwrap_or_else(|p| p.into_inner());
        self.postings_epoch.fetch_add(1, Ordering::SeqCst);
        // Moves the epoch back to even on the way out, even if `apply`
        // panics: an epoch left odd would stop the posting cache keeping
        // anything until the index is reopened.
        let _even = EpochStep(&self.postings_epoch);
        apply(&trees, &place, writes)
    }

    /// Writes everything durable now, as one more commit: the counter in
    /// `meta` first (so that it lands after everything this flush covers),
    /// then sled's flush, then the ledger ([`super::ledger`]).
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
}

/// Moves the postings epoch once when dropped.
struct EpochStep<'a>(&'a std::sync::atomic::AtomicU64);

impl Drop for EpochStep<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

pub(super) fn tx_err<E: std::fmt::Debug>(e: sled::transaction::TransactionError<E>) -> Error {
    match e {
        sled::transaction::TransactionError::Storage(s) => Error::from(s),
        sled::transaction::TransactionError::Abort(a) => {
            Error::Storage(format!("transaction aborted: {a:?}").into())
        }
    }
}

/// Applies a write set to several trees in one transaction.
/// `place[id]` is the index in `trees` of the tree `id`, for every tree
/// `writes` names.
fn apply(trees: &[&Tree], place: &[usize], writes: &[Write]) -> Result<()> {
    trees
        .transaction(|t| {
            for (id, k, v) in writes {
                let t = &t[place[*id as usize]];
                match v {
                    Some(v) => t.insert(k.as_slice(), v.as_slice())?,
                    None => t.remove(k.as_slice())?,
                };
            }
            Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
        })
        .map_err(tx_err)
}
