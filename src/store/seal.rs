//! Sealing: moving a generation's unsealed docs (docs with histograms but no
//! postings yet) into posting blocks.
//!
//! Format-3 generations do not append to posting blocks per batch: a batch
//! writes histograms only, and searches invert the unsealed docs' histograms in
//! memory (`shared::unsealed`). Once the unsealed docs hold
//! [`Store::set_seal_postings`] postings, the commit that crossed it seals:
//! every word of the unsealed docs gets one new block, merged with the word's last
//! blocks while they are no larger than what is being written (so a word has
//! O(log n) blocks and a posting is rewritten O(log n) times), up to
//! [`SEALED_BLOCK_CAP`] postings per block.
//!
//! Why: appending to a word's last block would rewrite it on every batch,
//! and sled keeps every rewritten copy until it cleans the segment (at 100k
//! records, 9× the logical size on disk); small blocks would also mean ~8
//! sled reads per query word (CHANGELOG.md, format 3).
//!
//! # Crash safety
//! The seal first records its target watermark (`sealing`), then writes
//! blocks word by word, each word's deletions and insertion in one
//! transaction, so a word's blocks are whole at every instant; they may hold
//! docs at or above the old watermark, which searches and verification
//! ignore until the final transaction moves the watermark and removes the
//! marker. Opening an index with the marker present runs the seal again:
//! blocks keyed at or above the old watermark are deleted and docs at or
//! above it are cut from the last block (of every word: records may have
//! been removed since), then the words are sealed afresh. A seal that fails
//! with an error inside a commit does not fail the commit (the batch is
//! durable); the next commit cleans the same way and seals again.

use std::collections::BTreeMap;

use super::codec::{self, keys, postings};
use super::{
    gen_tree, Generation, Store, TreeId, UnsealedState, Write, STAT_SEALING, STAT_UNSEALED,
};
use crate::error::Result;

/// Most postings a seal merges into one block. Bounds the rewrite of a
/// removal (which edits the block holding the doc) and the memory of a
/// merge; at 100k records only the most frequent words reach it.
pub const SEALED_BLOCK_CAP: usize = 32_768;

/// Writes of one seal are committed every this many operations, at word
/// boundaries: sled writes small transactions with less overhead on disk
/// than one huge one (1.4× against 2.5–3× the logical bytes, measured).
const WRITES_PER_TRANSACTION: usize = 2_048;

impl Store {
    /// Seals generation `g`'s unsealed docs below `to` (the doc counter when called):
    /// afterwards every doc below `to` has its postings in blocks.
    pub(crate) fn seal(&self, g: &Generation, to: u64) -> Result<()> {
        let Some(unsealed) = self.unsealed_state(g)? else {
            return Ok(());
        };
        if to <= unsealed.sealed_below {
            return Ok(());
        }
        let started = std::time::Instant::now();
        // A seal that failed earlier in this process (the marker is still
        // there) may have left blocks for docs that were removed since.
        if g.stats.get(STAT_SEALING)?.is_some() {
            self.clean_beyond(g, unsealed.sealed_below)?;
        }
        g.stats.insert(STAT_SEALING, &to.to_be_bytes())?;
        self.flush()?;
        self.seal_words(g, unsealed, to, started)
    }

    /// Removes every posting at or above `from` from the blocks: blocks
    /// keyed there are deleted, and a block reaching past it is cut. Reads
    /// the whole postings tree; only run after a seal failed.
    fn clean_beyond(&self, g: &Generation, from: u64) -> Result<()> {
        let tree = gen_tree(g.n, "postings");
        let mut writes: Vec<Write> = Vec::new();
        for kv in g.postings.iter() {
            let (k, v) = kv?;
            let (_, first) = keys::posting_from(&k).map_err(|e| e.at(&tree, &k))?;
            if first >= from {
                writes.push((TreeId::Postings, k.to_vec(), None));
            } else {
                let mut p = postings::decode(g.layout, first, &v).map_err(|e| e.at(&tree, &k))?;
                let stored = p.len();
                p.retain(|&(d, _)| d < from);
                if p.len() != stored {
                    writes.push((
                        TreeId::Postings,
                        k.to_vec(),
                        Some(postings::encode(g.layout, first, &p)),
                    ));
                }
            }
            if writes.len() >= WRITES_PER_TRANSACTION {
                self.write(Some(g), &writes)?;
                writes.clear();
            }
        }
        self.write(Some(g), &writes)
    }

    /// Finishes a seal of the active generation interrupted by a crash.
    pub(super) fn finish_interrupted_seal(&self) -> Result<()> {
        let Some(n) = self.active()? else {
            return Ok(());
        };
        let g = self.generation(n)?;
        let Some(v) = g.stats.get(STAT_SEALING)? else {
            return Ok(());
        };
        let to =
            codec::meta::u64_from(&v).map_err(|e| e.at(&gen_tree(n, "stats"), STAT_SEALING))?;
        let Some(unsealed) = self.unsealed_state(&g)? else {
            return Ok(());
        };
        tracing::info!(generation = n, to, "finishing an interrupted seal");
        // Records may have been removed after a seal failed and before the
        // process ended: clean every word, not only the unsealed docs'.
        self.clean_beyond(&g, unsealed.sealed_below)?;
        self.seal_words(&g, unsealed, to, std::time::Instant::now())
    }

    fn seal_words(
        &self,
        g: &Generation,
        unsealed: UnsealedState,
        to: u64,
        started: std::time::Instant,
    ) -> Result<()> {
        let from = unsealed.sealed_below;
        let tree = gen_tree(g.n, "postings");
        let mut by_word: BTreeMap<u32, Vec<(u64, u32)>> = BTreeMap::new();
        let mut moved = 0u64;
        for item in self.histograms_range(g, from, to) {
            let (doc, h) = item?;
            moved += h.entries.len() as u64;
            for (w, tf) in h.entries {
                by_word.entry(w).or_default().push((doc, tf));
            }
        }
        let words = by_word.len();
        let mut writes: Vec<Write> = Vec::new();
        let mut merged_blocks = 0usize;
        for (w, new) in by_word {
            // Blocks keyed at or above the watermark: an interrupted seal's.
            for k in g
                .postings
                .range(keys::posting(w, from)..=keys::posting(w, u64::MAX))
                .keys()
            {
                writes.push((TreeId::Postings, k?.to_vec(), None));
            }
            // Merge the last blocks while each is no larger than the total so
            // far (and the total stays within the cap).
            let mut parts: Vec<Vec<(u64, u32)>> = Vec::new();
            let mut total = new.len();
            for kv in g
                .postings
                .range(keys::posting(w, 0)..keys::posting(w, from))
                .rev()
            {
                let (k, v) = kv?;
                let (_, first) = keys::posting_from(&k).map_err(|e| e.at(&tree, &k))?;
                let mut p = postings::decode(g.layout, first, &v).map_err(|e| e.at(&tree, &k))?;
                let stored = p.len();
                // Docs at or above the watermark: merged by an interrupted seal.
                p.retain(|&(d, _)| d < from);
                if p.len() > total || p.len() + total > SEALED_BLOCK_CAP {
                    if p.len() != stored {
                        writes.push((
                            TreeId::Postings,
                            k.to_vec(),
                            Some(postings::encode(g.layout, first, &p)),
                        ));
                    }
                    break;
                }
                writes.push((TreeId::Postings, k.to_vec(), None));
                total += p.len();
                parts.push(p);
                merged_blocks += 1;
            }
            let mut block = Vec::with_capacity(total);
            for p in parts.into_iter().rev() {
                block.extend(p);
            }
            block.extend(new);
            for chunk in block.chunks(SEALED_BLOCK_CAP) {
                writes.push((
                    TreeId::Postings,
                    keys::posting(w, chunk[0].0).to_vec(),
                    Some(postings::encode(g.layout, chunk[0].0, chunk)),
                ));
            }
            if writes.len() >= WRITES_PER_TRANSACTION {
                self.write(Some(g), &writes)?;
                writes.clear();
            }
        }
        self.write(Some(g), &writes)?;
        let after = UnsealedState {
            sealed_below: to,
            epoch: unsealed.epoch,
            postings: unsealed.postings.saturating_sub(moved),
        };
        let stats: Vec<Write> = vec![
            (
                TreeId::Stats,
                STAT_UNSEALED.to_vec(),
                Some(codec::unsealed::encode(&after).to_vec()),
            ),
            (TreeId::Stats, STAT_SEALING.to_vec(), None),
        ];
        self.write(Some(g), &stats)?;
        self.flush()?;
        tracing::debug!(
            generation = g.n,
            from,
            to,
            postings = moved,
            words,
            merged_blocks,
            seconds = started.elapsed().as_secs_f64(),
            "sealed the unsealed docs"
        );
        Ok(())
    }

    /// Seals `g` when its unsealed docs have reached the seal threshold.
    pub(crate) fn seal_if_due(&self, g: &Generation, to: u64) -> Result<()> {
        match self.unsealed_state(g)? {
            Some(t) if t.postings >= self.seal_postings() => self.seal(g, to),
            _ => Ok(()),
        }
    }
}
