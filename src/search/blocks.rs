//! A cache of posting blocks as read from sled, shared by the searchers of
//! an index.
//!
//! Reading a word's blocks through a sled range costs about a microsecond
//! a block (sled copies a leaf per step), a quarter of an inverted search
//! at 100k records. A query's frequent words recur in almost every query,
//! so a long-lived process keeps their blocks: the encoded bytes, shared
//! with sled's own cache (`IVec`s are reference counted), never decoded
//! copies.
//!
//! A word found in more than half the docs is also kept *dense*: one byte
//! per doc (its tf, 0 where absent). Adding such a word to the accumulators
//! is then a pass over two arrays, about 6× cheaper per posting than
//! decoding its frames; the Zipf head of a vocabulary (the handful of words
//! in nearly every image) is most of a query's postings.
//!
//! Validity: an entry holds a word's blocks as one read saw them, tagged
//! with the store's postings epoch ([`Store::postings_epoch`]) read before
//! that read. The epoch moves before and after every transaction that
//! writes a posting tree, so an entry is used only while the epoch has not
//! moved since, and only entries read while it was even (no transaction
//! running) are kept: a search served from the cache reads exactly what it
//! would have read from sled at the moment the entry was filled, with no
//! write in between. Entries of another generation or epoch are dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::error::Result;
use crate::store::codec::{keys, postings, varint, Layout};
use crate::store::{gen_tree, Generation, Store};

/// A word's postings as a search reads them.
#[derive(Default)]
pub(crate) struct WordPostings {
    /// (first doc, encoded block), in doc order.
    pub blocks: Vec<(u64, sled::IVec)>,
    /// The same postings below some doc, one byte per doc.
    pub dense: Option<Dense>,
}

/// A word's tf for every doc below `upto` (0 where absent).
pub(crate) struct Dense {
    pub upto: u64,
    pub tfs: Vec<u8>,
}

/// A word's postings, shared.
pub(crate) type Blocks = Arc<WordPostings>;

/// Default of [`BlockCache`]'s capacity: 64 MiB of encoded blocks, the
/// blocks of the most frequent words at a few hundred thousand records.
pub const DEFAULT_BLOCK_CACHE_BYTES: u64 = 64 << 20;

struct Entry {
    blocks: Blocks,
    bytes: u64,
    /// Set on use, cleared by an eviction sweep (second chance).
    used: AtomicBool,
}

#[derive(Default)]
struct State {
    generation: u32,
    epoch: u64,
    bytes: u64,
    words: HashMap<u32, Entry>,
}

/// Posting blocks by word, bounded by a byte capacity.
pub(crate) struct BlockCache {
    capacity: u64,
    state: RwLock<State>,
}

impl BlockCache {
    /// A cache holding at most `capacity` bytes of blocks (0 disables it).
    pub(crate) fn new(capacity: u64) -> BlockCache {
        BlockCache {
            capacity,
            state: RwLock::new(State::default()),
        }
    }

    /// `word`'s blocks in generation `g`, from the cache when the postings
    /// epoch is still `epoch` (read by the caller before the search), else
    /// from the store. Only blocks starting below `below` are read from the
    /// store; a cached entry holds all of them, so callers stop at `below`.
    pub(crate) fn get(
        &self,
        store: &Store,
        g: &Generation,
        epoch: u64,
        word: u32,
        below: u64,
    ) -> Result<Blocks> {
        if self.capacity == 0 {
            return Ok(Arc::new(WordPostings {
                blocks: store.blocks(g, word, below)?,
                dense: None,
            }));
        }
        {
            let s = self.state.read().unwrap_or_else(|p| p.into_inner());
            if s.generation == g.n && s.epoch == epoch && store.postings_epoch() == epoch {
                if let Some(e) = s.words.get(&word) {
                    e.used.store(true, Ordering::Relaxed);
                    return Ok(e.blocks.clone());
                }
            }
        }
        // Every block, so that the entry serves any later watermark.
        let blocks = store.blocks(g, word, u64::MAX)?;
        if epoch % 2 != 0 {
            // A posting write is running: nothing read now is kept.
            return Ok(Arc::new(WordPostings {
                blocks,
                dense: None,
            }));
        }
        let dense = if below <= self.capacity / 8 {
            densify(g, word, &blocks, below)?
        } else {
            None
        };
        let p = Arc::new(WordPostings { blocks, dense });
        self.insert(store, g.n, epoch, word, &p);
        Ok(p)
    }

    /// Keeps `blocks`, read after the postings epoch was `epoch` (even: no
    /// posting write was running), unless a posting write began since.
    fn insert(&self, store: &Store, generation: u32, epoch: u64, word: u32, blocks: &Blocks) {
        let bytes: u64 = blocks
            .blocks
            .iter()
            .map(|(_, v)| v.len() as u64 + 24)
            .sum::<u64>()
            + blocks.dense.as_ref().map_or(0, |d| d.tfs.len() as u64)
            + 64;
        if bytes > self.capacity / 8 {
            // One word never takes over the cache.
            return;
        }
        let mut s = self.state.write().unwrap_or_else(|p| p.into_inner());
        if store.postings_epoch() != epoch {
            return;
        }
        if s.generation != generation || s.epoch != epoch {
            *s = State {
                generation,
                epoch,
                ..State::default()
            };
        }
        if s.words.contains_key(&word) {
            return;
        }
        if s.bytes + bytes > self.capacity {
            sweep(&mut s, self.capacity - bytes);
        }
        s.bytes += bytes;
        s.words.insert(
            word,
            Entry {
                blocks: blocks.clone(),
                bytes,
                used: AtomicBool::new(false),
            },
        );
    }
}

/// The dense form of a word's postings below `below`, when the word is in
/// more than half of those docs and every tf fits a byte (format-3 blocks
/// only; blocks of formats 1 and 2 are small and left as they are).
fn densify(
    g: &Generation,
    word: u32,
    blocks: &[(u64, sled::IVec)],
    below: u64,
) -> Result<Option<Dense>> {
    if g.layout != Layout::Packed || below == 0 {
        return Ok(None);
    }
    // Each block starts with its posting count.
    let mut total = 0u64;
    for (_, v) in blocks.iter().take_while(|b| b.0 < below) {
        let mut pos = 0;
        total += varint::get(v, &mut pos).unwrap_or(0);
    }
    if total <= below / 2 {
        return Ok(None);
    }
    let Ok(n) = usize::try_from(below) else {
        return Ok(None);
    };
    let mut tfs = vec![0u8; n];
    let mut fits = true;
    let mut bufs = postings::FrameBuffers::default();
    for (first, v) in blocks.iter().take_while(|b| b.0 < below) {
        let mut more = true;
        postings::for_each_frame(g.layout, *first, v, &mut bufs, |f| {
            let mut doc = f.base;
            for (i, &gap) in f.gaps.iter().enumerate() {
                doc += gap;
                let Some(slot) = tfs.get_mut(doc as usize) else {
                    // At or past `below`: a seal in progress wrote it.
                    more = false;
                    return false;
                };
                let tf = f.tf_minus_1.map_or(1, |e| e[i] + 1);
                match u8::try_from(tf) {
                    Ok(t) => *slot = t,
                    Err(_) => {
                        fits = false;
                        more = false;
                        return false;
                    }
                }
            }
            true
        })
        .map_err(|e| e.at(&gen_tree(g.n, "postings"), &keys::posting(word, *first)))?;
        if !more {
            break;
        }
    }
    Ok(fits.then_some(Dense { upto: below, tfs }))
}

/// Drops the entries not used since the last sweep and marks the others
/// unused (a second chance); then, while more than `target` bytes remain,
/// drops entries in whatever order the map holds them.
fn sweep(s: &mut State, target: u64) {
    let mut freed = 0;
    s.words.retain(|_, e| {
        let keep = e.used.swap(false, Ordering::Relaxed);
        if !keep {
            freed += e.bytes;
        }
        keep
    });
    s.bytes -= freed;
    if s.bytes > target {
        let mut drop = Vec::new();
        let mut left = s.bytes;
        for (&w, e) in &s.words {
            if left <= target {
                break;
            }
            left -= e.bytes;
            drop.push(w);
        }
        for w in drop {
            s.words.remove(&w);
        }
        s.bytes = left;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(bytes: u64, used: bool) -> Entry {
        Entry {
            blocks: Arc::new(WordPostings::default()),
            bytes,
            used: AtomicBool::new(used),
        }
    }

    #[test]
    fn sweeps_give_used_entries_a_second_chance() {
        let mut s = State::default();
        s.words.insert(1, entry(10, true));
        s.words.insert(2, entry(20, false));
        s.bytes = 30;
        sweep(&mut s, 100);
        assert_eq!(s.words.keys().copied().collect::<Vec<_>>(), vec![1]);
        assert_eq!(s.bytes, 10);
        // Now unused: the next sweep drops it.
        sweep(&mut s, 100);
        assert!(s.words.is_empty());
        assert_eq!(s.bytes, 0);
    }

    #[test]
    fn sweeps_reach_the_target_when_every_entry_was_used() {
        let mut s = State::default();
        for w in 0..10 {
            s.words.insert(w, entry(10, true));
        }
        s.bytes = 100;
        sweep(&mut s, 35);
        assert!(s.bytes <= 35, "{}", s.bytes);
        assert_eq!(s.bytes, 10 * s.words.len() as u64);
    }
}
