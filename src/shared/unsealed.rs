//! The unsealed docs of a format-3 generation, inverted in memory.
//!
//! Docs at or above the sealed watermark have histograms but no posting
//! blocks yet (`store::seal`). The inverted path gets their postings from
//! this cache: the unsealed docs' histograms inverted into a few immutable chunks,
//! shared by every searcher of the index. The cache grows as docs become
//! visible (one chunk per growth, all chunks merged into one when there are
//! more than [`MAX_CHUNKS`]) and starts over when the watermark moves (a
//! seal) or an unsealed doc is removed (the unsealed docs' epoch changes). Its size is
//! bounded by the seal threshold: 8 bytes a posting.

use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::store::{Generation, Store, UnsealedState};

/// Chunks kept before they are merged into one: a query looks each of its
/// words up in every chunk.
const MAX_CHUNKS: usize = 8;

/// Postings handed out per call, as posting blocks do.
const RUN: usize = 128;

/// Postings of the unsealed docs in `base..` grouped by word: compressed sparse
/// rows, words increasing, each word's docs increasing.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    base: u64,
    words: Vec<u32>,
    /// `starts[i]..starts[i + 1]` indexes `docs` and `tfs` for `words[i]`.
    starts: Vec<u32>,
    /// Doc id minus `base`.
    docs: Vec<u32>,
    tfs: Vec<u32>,
}

impl Chunk {
    /// Builds a chunk from (word, doc − base, tf) triples listed in doc
    /// order: a counting sort by word (stable, so each word's docs stay in
    /// doc order), O(triples + largest word).
    fn from_triples(base: u64, t: Vec<(u32, u32, u32)>) -> Chunk {
        let top = t.iter().map(|e| e.0 as usize + 1).max().unwrap_or(0);
        let mut count = vec![0u32; top + 1];
        for e in &t {
            count[e.0 as usize + 1] += 1;
        }
        let mut c = Chunk {
            base,
            ..Chunk::default()
        };
        for (w, &n) in count.iter().enumerate().skip(1) {
            if n > 0 {
                c.words.push((w - 1) as u32);
            }
        }
        // count[w] becomes the first slot of word w.
        for w in 1..count.len() {
            count[w] += count[w - 1];
        }
        c.starts = c.words.iter().map(|&w| count[w as usize]).collect();
        c.starts.push(t.len() as u32);
        c.docs = vec![0; t.len()];
        c.tfs = vec![0; t.len()];
        for (w, d, tf) in t {
            let slot = &mut count[w as usize];
            c.docs[*slot as usize] = d;
            c.tfs[*slot as usize] = tf;
            *slot += 1;
        }
        c
    }

    /// Calls `f` with `word`'s postings in doc order, as runs of at most
    /// [`RUN`] (docs, tfs); stops when `f` returns false.
    #[inline]
    pub(crate) fn for_word(&self, word: u32, mut f: impl FnMut(&[u64], &[u32]) -> bool) {
        let Ok(i) = self.words.binary_search(&word) else {
            return;
        };
        let (s, e) = (self.starts[i] as usize, self.starts[i + 1] as usize);
        let mut docs = [0u64; RUN];
        for (d, t) in self.docs[s..e].chunks(RUN).zip(self.tfs[s..e].chunks(RUN)) {
            for (o, &x) in docs.iter_mut().zip(d) {
                *o = self.base + u64::from(x);
            }
            if !f(&docs[..d.len()], t) {
                return;
            }
        }
    }

    fn postings(&self) -> usize {
        self.docs.len()
    }
}

/// The chunks of the unsealed docs, in doc order.
pub(crate) type UnsealedChunks = Arc<Vec<Arc<Chunk>>>;

struct Cached {
    generation: u32,
    state: (u64, u64),
    /// Docs below this have been read.
    upto: u64,
    chunks: UnsealedChunks,
}

/// The shared cache of the active generation's unsealed docs.
#[derive(Default)]
pub(crate) struct UnsealedCache(Mutex<Option<Cached>>);

impl UnsealedCache {
    /// The unsealed docs of generation `g` with state `t`, every doc below
    /// `visible_below` included.
    pub(crate) fn snapshot(
        &self,
        store: &Store,
        g: &Generation,
        t: UnsealedState,
        visible_below: u64,
    ) -> Result<UnsealedChunks> {
        let mut c = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let key = (t.sealed_below, t.epoch);
        let fresh = !matches!(&*c, Some(x) if x.generation == g.n && x.state == key);
        if fresh {
            *c = Some(Cached {
                generation: g.n,
                state: key,
                upto: t.sealed_below,
                chunks: Arc::new(Vec::new()),
            });
        }
        let Some(cached) = c.as_mut() else {
            return Ok(Arc::new(Vec::new()));
        };
        if cached.upto < visible_below {
            let chunk = read(store, g, cached.upto, visible_below)?;
            let chunks = Arc::make_mut(&mut cached.chunks);
            if chunk.postings() > 0 {
                chunks.push(Arc::new(chunk));
            }
            if chunks.len() > MAX_CHUNKS {
                let merged = merge(chunks);
                *chunks = vec![Arc::new(merged)];
            }
            cached.upto = visible_below;
        }
        Ok(cached.chunks.clone())
    }
}

/// Inverts the histograms of the docs in `from..to`.
fn read(store: &Store, g: &Generation, from: u64, to: u64) -> Result<Chunk> {
    let mut t = Vec::new();
    for item in store.histograms_range(g, from, to) {
        let (doc, h) = item?;
        // Chunks of unsealed docs span far fewer than 2^32 doc ids (the seal threshold
        // bounds the unsealed docs' postings, and each doc has at least one).
        let d = (doc - from) as u32;
        t.extend(h.entries.iter().map(|&(w, tf)| (w, d, tf)));
    }
    Ok(Chunk::from_triples(from, t))
}

/// One chunk holding every chunk's postings.
fn merge(chunks: &[Arc<Chunk>]) -> Chunk {
    let base = chunks.first().map_or(0, |c| c.base);
    let mut t = Vec::with_capacity(chunks.iter().map(|c| c.postings()).sum());
    for c in chunks {
        for (i, &w) in c.words.iter().enumerate() {
            let (s, e) = (c.starts[i] as usize, c.starts[i + 1] as usize);
            for j in s..e {
                let doc = c.base + u64::from(c.docs[j]);
                t.push((w, (doc - base) as u32, c.tfs[j]));
            }
        }
    }
    // Per chunk the triples are grouped by word, not in doc order; the
    // stable sort by word then keeps chunk order, which is doc order.
    Chunk::from_triples(base, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect_below(c: &Chunk, w: u32, below: u64) -> Vec<(u64, u32)> {
        let mut v = Vec::new();
        c.for_word(w, |d, t| {
            for (&d, &t) in d.iter().zip(t) {
                if d >= below {
                    return false;
                }
                v.push((d, t));
            }
            true
        });
        v
    }

    fn collect(c: &Chunk, w: u32) -> Vec<(u64, u32)> {
        collect_below(c, w, u64::MAX)
    }

    #[test]
    fn chunks_group_by_word_in_doc_order_and_merge() {
        let a = Chunk::from_triples(10, vec![(5, 0, 1), (2, 0, 3), (5, 1, 2), (2, 2, 1)]);
        assert_eq!(collect(&a, 5), vec![(10, 1), (11, 2)]);
        assert_eq!(collect(&a, 2), vec![(10, 3), (12, 1)]);
        assert!(collect(&a, 3).is_empty());
        let b = Chunk::from_triples(13, vec![(2, 0, 4), (7, 1, 1)]);
        let m = merge(&[Arc::new(a), Arc::new(b)]);
        assert_eq!(collect(&m, 2), vec![(10, 3), (12, 1), (13, 4)]);
        assert_eq!(collect(&m, 7), vec![(14, 1)]);
        assert_eq!(collect_below(&m, 2, 13), vec![(10, 3), (12, 1)]);
        // Runs of RUN postings: a word with more spans several calls.
        let many = Chunk::from_triples(0, (0..300).map(|d| (9, d, 1)).collect());
        assert_eq!(collect(&many, 9).len(), 300);
        assert_eq!(collect_below(&many, 9, 200).len(), 200);
    }
}
