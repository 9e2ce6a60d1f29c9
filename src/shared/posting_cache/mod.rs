//! A cache of posting lists, shared by the searchers of an index.
//!
//! Reading a word's blocks through a sled range costs about a microsecond
//! a block (sled copies a leaf per step), and decoding them about as much
//! again as adding them. A query's frequent words recur in almost every
//! query, so a long-lived process keeps its lists in one of three forms:
//!
//! - *decoded* ([`Decoded`]): the docs grouped by tf and by tile of 2^16
//!   docs, each as its offset in its tile, so that a search adds one
//!   constant over each group with no decoding (about 2 bytes a posting
//!   for long lists). A word is decoded on its first use while the cache
//!   has room, and once it is full on its second use only: most of a
//!   query's words are rare, and would be evicted before they were asked
//!   for again;
//! - *dense* ([`Dense`]), for a word in more than half the docs: one byte
//!   per doc (its tf, 0 where absent), added in one branch-free pass;
//! - *encoded*: the blocks as sled returned them (`IVec`s, shared with
//!   sled's own cache), for a word seen once while the cache is full.
//!
//! The capacity bounds the bytes of all entries; when an insert needs room,
//! a clock hand evicts entries not used since it last passed them.
//! [`PostingCache::warm`] fills the cache ahead of queries.
//!
//! Validity: an entry holds a word's blocks as one read saw them, tagged
//! with the store's postings epoch ([`Store::postings_epoch`]) read before
//! that read. The epoch moves before and after every transaction that
//! writes a posting tree, so an entry is used only while the epoch has not
//! moved since, and only entries read while it was even (no transaction
//! running) are kept: a search served from the cache reads exactly what it
//! would have read from sled at the moment the entry was filled, with no
//! write in between. A read from sled is itself whole: [`Store::blocks`]
//! sees each transaction writing postings entirely or not at all. Entries
//! of another generation or epoch are dropped.

mod clock;
pub(crate) mod lists;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::config::RunOptions;
use crate::error::Result;
use crate::store::{Generation, PostingBlock, Store};
use clock::make_room;
pub(crate) use lists::WordPostings;
use lists::{decode, densify, postings_in, TILE_SHIFT};

/// The block cache's default capacity: an eighth of the default memory
/// budget ([`RunOptions::memory_budget`]: 80% of the RAM available when the
/// index is opened), at least [`MIN_BLOCK_CACHE_BYTES`]. A long-lived
/// process then keeps the posting lists its queries read most, decoded;
/// at 100k records of 1,000 features every list fits in about 400 MB
/// (docs/PERFORMANCE.md).
pub fn default_block_cache_bytes() -> u64 {
    (RunOptions::default().memory_budget() / 8).max(MIN_BLOCK_CACHE_BYTES)
}

/// Words [`PostingCache::warm`] reads at a time.
const WARM_CHUNK: usize = 256;

/// The least default capacity of the block cache: 64 MiB.
pub const MIN_BLOCK_CACHE_BYTES: u64 = 64 << 20;

struct Entry {
    blocks: Arc<WordPostings>,
    bytes: u64,
    /// Set on use, cleared when the clock hand passes (a second chance).
    used: AtomicBool,
}

#[derive(Default)]
struct State {
    generation: u32,
    epoch: u64,
    bytes: u64,
    words: HashMap<u32, Entry>,
    /// Every word of `words`, in the order the clock hand visits them.
    ring: Vec<u32>,
    /// The clock hand: the next index of `ring` to visit.
    hand: usize,
}

/// Posting lists by word, bounded by a byte capacity.
pub(crate) struct PostingCache {
    capacity: u64,
    state: RwLock<State>,
}

impl PostingCache {
    /// A cache holding at most `capacity` bytes of blocks (0 disables it).
    pub(crate) fn new(capacity: u64) -> PostingCache {
        PostingCache {
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
    ) -> Result<Arc<WordPostings>> {
        Ok(self
            .read(store, g, epoch, word, below, None)?
            .unwrap_or_default())
    }

    /// [`PostingCache::get`]; with a `limit`, a word not cached yet is kept
    /// only if the cache then holds at most `limit` bytes, and `None` is
    /// returned when it is not.
    fn read(
        &self,
        store: &Store,
        g: &Generation,
        epoch: u64,
        word: u32,
        below: u64,
        limit: Option<u64>,
    ) -> Result<Option<Arc<WordPostings>>> {
        if self.capacity == 0 {
            return Ok(Some(Arc::new(WordPostings {
                blocks: store.blocks(g, word, below)?,
                ..WordPostings::default()
            })));
        }
        {
            let s = self.state.read().unwrap_or_else(|p| p.into_inner());
            if serves(&s, store, g.n, epoch) {
                if let Some(e) = s.words.get(&word) {
                    e.used.store(true, Ordering::Relaxed);
                    return Ok(Some(e.blocks.clone()));
                }
            }
        }
        // Every block, so that the entry serves any later watermark.
        let blocks = store.blocks(g, word, u64::MAX)?;
        if !epoch.is_multiple_of(2) {
            // A posting write is running: nothing read now is kept.
            return Ok(Some(Arc::new(WordPostings {
                blocks,
                ..WordPostings::default()
            })));
        }
        let dense = if below <= self.capacity / 8 {
            densify(g, &blocks, below)?
        } else {
            None
        };
        // Decoded at once while the cache has room for it; once the cache
        // is full, only on a second use (see `upgrade`).
        let decoded = if dense.is_none()
            && self
                .decoded_size(&blocks)
                .is_some_and(|b| self.bytes().saturating_add(b) <= self.capacity)
        {
            decode(&blocks, TILE_SHIFT)?
        } else {
            None
        };
        let p = Arc::new(WordPostings {
            blocks: if decoded.is_some() {
                Vec::new()
            } else {
                blocks
            },
            dense,
            decoded,
        });
        if limit.is_some_and(|l| self.bytes().saturating_add(entry_bytes(&p)) > l) {
            return Ok(None);
        }
        self.insert(store, g.n, epoch, word, &p);
        Ok(Some(p))
    }

    /// The bytes `blocks` would take decoded, when a list that size may be
    /// kept decoded at all (one word never takes over the cache: at most an
    /// eighth of it).
    fn decoded_size(&self, blocks: &[PostingBlock]) -> Option<u64> {
        let postings = postings_in(blocks, u64::MAX);
        // A tile entry (8 bytes) per tile up to its last block's first doc,
        // for one tf group: an estimate (entries of other tfs are counted
        // when the entry is kept).
        let tiles = blocks.last().map_or(0, |b| (b.first >> TILE_SHIFT) + 1);
        let bytes = postings
            .saturating_mul(2)
            .saturating_add(postings.min(tiles).saturating_mul(8));
        (bytes <= self.capacity / 8).then_some(bytes)
    }

    /// Bytes held now.
    pub(crate) fn bytes(&self) -> u64 {
        self.state.read().unwrap_or_else(|p| p.into_inner()).bytes
    }

    /// Reads the lists of generation `g`'s words into the cache, lowest IDF
    /// (most frequent in training) first, until the next would take it past
    /// `limit` bytes (at most its capacity) or every word was read; returns
    /// the words read. Never evicts: entries are only added while they fit
    /// (the clock would otherwise evict the first, most frequent, words for
    /// the last). Each chunk of words is read on the rayon pool, a chunk
    /// after the other, so that the most frequent words are read first.
    pub(crate) fn warm(
        &self,
        store: &Store,
        g: &Generation,
        idf: &[f32],
        limit: u64,
    ) -> Result<u64> {
        use rayon::prelude::*;
        let limit = limit.min(self.capacity);
        let mut order: Vec<u32> = (0..idf.len())
            .filter_map(|w| u32::try_from(w).ok())
            .collect();
        order.sort_by(|&a, &b| idf[a as usize].total_cmp(&idf[b as usize]).then(a.cmp(&b)));
        let mut read = 0u64;
        let full = AtomicBool::new(false);
        for chunk in order.chunks(WARM_CHUNK) {
            if full.load(Ordering::Relaxed) || self.bytes() >= limit {
                break;
            }
            // As a search would see the index now.
            let epoch = store.postings_epoch();
            let visible = store.next_doc()?;
            let below = match store.unsealed_state(g)? {
                Some(t) => visible.min(t.sealed_below),
                None => visible,
            };
            let kept = chunk
                .par_iter()
                .map(|&w| {
                    let kept = self.read(store, g, epoch, w, below, Some(limit))?.is_some();
                    if !kept {
                        full.store(true, Ordering::Relaxed);
                    }
                    Ok(u64::from(kept))
                })
                .sum::<Result<u64>>()?;
            read += kept;
        }
        Ok(read)
    }

    /// The decoded form of `p`, an entry the cache returned holding
    /// encoded blocks, kept in its place; `None` when `p` is not such an
    /// entry or is too large to keep decoded. Once the cache is full, a
    /// word is decoded on its second use, not its first: most words of a
    /// query are rare and are not asked for again before they are evicted,
    /// and decoding them would only cost time and room.
    pub(crate) fn upgrade(
        &self,
        store: &Store,
        g: &Generation,
        epoch: u64,
        word: u32,
        p: &Arc<WordPostings>,
    ) -> Result<Option<Arc<WordPostings>>> {
        if p.dense.is_some()
            || p.decoded.is_some()
            || p.blocks.is_empty()
            || self.decoded_size(&p.blocks).is_none()
        {
            return Ok(None);
        }
        let Some(decoded) = decode(&p.blocks, TILE_SHIFT)? else {
            return Ok(None);
        };
        let new = Arc::new(WordPostings {
            blocks: Vec::new(),
            dense: None,
            decoded: Some(decoded),
        });
        self.insert(store, g.n, epoch, word, &new);
        Ok(Some(new))
    }

    /// The cached postings of each of `words` (`None` where not cached or
    /// no longer valid), under one lock. Also reads the first byte of each
    /// word's data: the lookups do not depend on one another, so the
    /// processor overlaps their cache misses, where a search that looked a
    /// word up only when it came to it would wait for each in turn (four
    /// dependent loads a word: map slot, entry, block list, block bytes).
    pub(crate) fn lookup(
        &self,
        store: &Store,
        g: &Generation,
        epoch: u64,
        words: &[u32],
        out: &mut Vec<Option<Arc<WordPostings>>>,
    ) {
        out.clear();
        let s = self.state.read().unwrap_or_else(|p| p.into_inner());
        let valid = self.capacity > 0 && serves(&s, store, g.n, epoch);
        let mut touched = 0u8;
        for w in words {
            let hit = if valid { s.words.get(w) } else { None };
            out.push(hit.map(|e| {
                e.used.store(true, Ordering::Relaxed);
                let p = e.blocks.clone();
                touched ^= match (&p.dense, &p.decoded) {
                    (Some(d), _) => d.tfs.first().copied().unwrap_or(0),
                    (None, Some(d)) => d.docs.first().copied().unwrap_or(0) as u8,
                    (None, None) => p
                        .blocks
                        .first()
                        .and_then(|b| b.bytes().first().copied())
                        .unwrap_or(0),
                };
                p
            }));
        }
        std::hint::black_box(touched);
    }

    /// Keeps `blocks`, read after the postings epoch was `epoch` (even: no
    /// posting write was running), unless a posting write began since.
    fn insert(
        &self,
        store: &Store,
        generation: u32,
        epoch: u64,
        word: u32,
        blocks: &Arc<WordPostings>,
    ) {
        let bytes = entry_bytes(blocks);
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
        let old = match s.words.get(&word) {
            // Only a decoded entry replaces one (holding the same postings).
            Some(_) if blocks.decoded.is_none() => return,
            Some(e) => e.bytes,
            None => 0,
        };
        let mut evicted = make_room(&mut s, bytes.saturating_sub(old), self.capacity, word);
        s.bytes = s.bytes - old + bytes;
        let entry = Entry {
            blocks: blocks.clone(),
            bytes,
            used: AtomicBool::new(false),
        };
        match s.words.insert(word, entry) {
            Some(replaced) => evicted.push(replaced),
            None => s.ring.push(word),
        }
        drop(s);
        // Freeing large lists can take a while: not under the lock.
        drop(evicted);
    }
}

/// Whether the entries of `s` may serve a search of `generation` that read
/// the postings epoch `epoch` before anything else: they were read in that
/// epoch, and no posting write has begun since.
fn serves(s: &State, store: &Store, generation: u32, epoch: u64) -> bool {
    s.generation == generation && s.epoch == epoch && store.postings_epoch() == epoch
}

/// The bytes an entry holding `p` counts against the capacity.
fn entry_bytes(p: &WordPostings) -> u64 {
    p.blocks
        .iter()
        .map(|b| b.bytes().len() as u64 + 24)
        .sum::<u64>()
        + p.dense.as_ref().map_or(0, |d| d.tfs.len() as u64)
        + p.decoded.as_ref().map_or(0, |d| d.bytes() + 96)
        + 64
}
