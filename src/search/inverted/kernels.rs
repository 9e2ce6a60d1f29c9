//! The scoring kernels: one query word's constants, and the loops that add
//! its terms from encoded blocks, unsealed runs, tf groups and dense lists.

use super::InMemoryList;
use crate::config::Scoring;
use crate::error::Result;
use crate::scoring::{fixed, term};
use crate::store::codec::postings::{self, Frame};
use crate::store::PostingBlock;

/// Docs per tile of round 2: 1 MiB of accumulator, which stays in a
/// core's L2 cache (2 MiB on the reference machine) while every word of
/// the share adds its postings in that range. At a million docs an
/// accumulator is 8 MB, and adding word after word over all of it would
/// miss the L2 cache at nearly every posting (docs/PERFORMANCE.md, "Where
/// the time goes", compares tile sizes).
pub(super) const TILE: usize = 1 << 17;

/// Adds the words of `share` to `acc`, one doc range of `tile` docs at a
/// time ([`TILE`] in searches), keeping a cursor in each tf group.
pub(super) fn add_tiled(share: &[&InMemoryList<'_>], acc: &mut [u64], in_blocks: u64, tile: usize) {
    let m = acc
        .len()
        .min(usize::try_from(in_blocks).unwrap_or(usize::MAX));
    let groups: usize = share
        .iter()
        .map(|h| h.postings.decoded.as_ref().map_or(0, |d| d.runs.len()))
        .sum();
    let mut cursors = vec![0usize; groups];
    let mut lo = 0;
    while lo < m {
        let hi = (lo + tile.max(1)).min(m);
        let tile = &mut acc[lo..hi];
        let mut c = cursors.iter_mut();
        for h in share {
            match (&h.postings.dense, &h.postings.decoded) {
                (Some(d), _) => {
                    if let Some(tfs) = d.tfs.get(lo..hi) {
                        h.word.add_dense(tile, tfs, lo);
                    }
                }
                (None, Some(d)) => {
                    let mut start = 0;
                    for (&(tf, end), cursor) in d.runs.iter().zip(&mut c) {
                        let group = d.docs.get(start..end as usize).unwrap_or_default();
                        start = end as usize;
                        *cursor += h.word.add_group(
                            tile,
                            lo,
                            group.get(*cursor..).unwrap_or_default(),
                            tf,
                        );
                    }
                }
                // Not held (round 1 added it).
                (None, None) => {}
            }
        }
        lo = hi;
    }
}

/// Adds `value(doc)` to `tile[doc − lo]` for the docs of `group`
/// (increasing) below `lo + tile.len()`; returns how many.
#[inline(always)]
pub(super) fn add_below(
    tile: &mut [u64],
    lo: usize,
    group: &[u32],
    value: impl Fn(u32) -> u64,
) -> usize {
    let hi = lo + tile.len();
    let mut added = 0;
    for &doc in group {
        let d = doc as usize;
        if d >= hi {
            break;
        }
        if let Some(a) = tile.get_mut(d.wrapping_sub(lo)) {
            *a = a.wrapping_add(value(doc));
        }
        added += 1;
    }
    added
}

/// Term frequencies whose cosine terms are tabulated per word.
pub(super) const TABULATED: usize = 16;

/// One query word's constants.
pub(super) struct QueryTerm<'a> {
    scoring: Scoring,
    qv: f32,
    idf: f32,
    norms: &'a [(f32, f32)],
    /// `fixed(term(Cosine, qv, tf, idf))` at index tf − 1.
    cosine: [u64; TABULATED],
}

impl<'a> QueryTerm<'a> {
    pub(super) fn new(
        scoring: Scoring,
        qv: f32,
        idf: f32,
        norms: &'a [(f32, f32)],
    ) -> QueryTerm<'a> {
        let mut cosine = [0u64; TABULATED];
        for (tf, c) in (1u32..).zip(cosine.iter_mut()) {
            *c = fixed(term(Scoring::Cosine, qv, tf, idf, 0.0));
        }
        QueryTerm {
            scoring,
            qv,
            idf,
            norms,
            cosine,
        }
    }

    #[inline(always)]
    pub(super) fn cosine(&self, tf: u32) -> u64 {
        match self.cosine.get((tf as usize).wrapping_sub(1)) {
            Some(&c) => c,
            None => fixed(term(Scoring::Cosine, self.qv, tf, self.idf, 0.0)),
        }
    }

    /// Adds a frame's postings below `below` to `acc` (which is longer than
    /// `below`), summing its gaps on the way; false once a doc at or above
    /// `below` is met. Each posting adds exactly `fixed(term(..))`, as
    /// [`QueryTerm::add`].
    #[inline(always)]
    pub(super) fn add_frame(&self, acc: &mut [u64], f: &Frame<'_>, below: u64) -> bool {
        let mut doc = f.base;
        if f.last >= below || self.scoring != Scoring::Cosine {
            // The frame ends past the watermark, or the scoring needs each
            // doc's norm: one posting at a time, stopping at `below`.
            for (i, &g) in f.gaps.iter().enumerate() {
                doc += g;
                if doc >= below {
                    return false;
                }
                let tf = f
                    .tf_minus_1
                    .map_or(1, |e| e.get(i).map_or(1, |&e| (e + 1) as u32));
                if let Some(a) = acc.get_mut(doc as usize) {
                    *a = a.wrapping_add(self.value(tf, doc));
                }
            }
            return true;
        }
        match f.tf_minus_1 {
            None => {
                let c = self.cosine[0];
                for &g in f.gaps {
                    doc += g;
                    if let Some(a) = acc.get_mut(doc as usize) {
                        *a = a.wrapping_add(c);
                    }
                }
            }
            Some(e) => {
                for (&g, &e) in f.gaps.iter().zip(e) {
                    doc += g;
                    let c = match self.cosine.get(e as usize) {
                        Some(&c) => c,
                        None => self.cosine((e + 1) as u32),
                    };
                    if let Some(a) = acc.get_mut(doc as usize) {
                        *a = a.wrapping_add(c);
                    }
                }
            }
        }
        true
    }

    /// Adds a run of the unsealed docs' postings (docs increasing) below `below`
    /// to `acc`; false once a doc at or above `below` is met.
    #[inline(always)]
    pub(super) fn add(&self, acc: &mut [u64], docs: &[u64], tfs: &[u32], below: u64) -> bool {
        for (&d, &tf) in docs.iter().zip(tfs) {
            if d >= below {
                return false;
            }
            if let Some(a) = acc.get_mut(d as usize) {
                *a = a.wrapping_add(self.value(tf, d));
            }
        }
        true
    }

    /// `fixed(term(..))` of one posting, for any scoring.
    #[inline(always)]
    pub(super) fn value(&self, tf: u32, doc: u64) -> u64 {
        match self.scoring {
            Scoring::Cosine => self.cosine(tf),
            Scoring::L1 => {
                let l1 = self.norms.get(doc as usize).map_or(0.0, |n| n.1);
                fixed(term(Scoring::L1, self.qv, tf, self.idf, l1))
            }
        }
    }

    /// Adds a word's blocks below `in_blocks`.
    pub(super) fn add_blocks(
        &self,
        acc: &mut [u64],
        blocks: &[PostingBlock],
        in_blocks: u64,
        bufs: &mut postings::FrameBuffers,
    ) -> Result<()> {
        for b in blocks.iter().take_while(|b| b.first < in_blocks) {
            let mut more = true;
            b.for_each_frame(bufs, |frame| {
                more = self.add_frame(acc, frame, in_blocks);
                more
            })?;
            if !more {
                break;
            }
        }
        Ok(())
    }

    /// Adds the docs of one tf group below `lo + tile.len()` (from the
    /// group's cursor on, docs increasing) to `tile`, which starts at doc
    /// `lo`; returns how many it added.
    #[inline]
    pub(super) fn add_group(&self, tile: &mut [u64], lo: usize, group: &[u32], tf: u32) -> usize {
        match self.scoring {
            Scoring::Cosine => {
                let c = self.cosine(tf);
                add_below(tile, lo, group, |_| c)
            }
            Scoring::L1 => add_below(tile, lo, group, |doc| self.value(tf, u64::from(doc))),
        }
    }

    /// Adds a word kept dense: `tfs[i]` is its tf in doc `base + i` (0:
    /// absent), added to `acc[i]`. Adding 0 leaves a slot as it was, so the
    /// pass needs no branch.
    pub(super) fn add_dense(&self, acc: &mut [u64], tfs: &[u8], base: usize) {
        match self.scoring {
            Scoring::Cosine => {
                let mut table = [0u64; 256];
                for (tf, c) in (1u32..).zip(table.iter_mut().skip(1)) {
                    *c = self.cosine(tf);
                }
                for (a, &t) in acc.iter_mut().zip(tfs) {
                    *a = a.wrapping_add(table[usize::from(t)]);
                }
            }
            Scoring::L1 => {
                for (d, (a, &t)) in (base..).zip(acc.iter_mut().zip(tfs)) {
                    if t != 0 {
                        *a = a.wrapping_add(self.value(u32::from(t), d as u64));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::shared::posting_cache::lists::{Decoded, Dense};
    use crate::shared::posting_cache::WordPostings;
    use crate::testutil::XorShift;

    fn decoded(postings: &[(u32, u32)]) -> Decoded {
        let mut by_tf: Vec<(u32, u32)> = postings.iter().map(|&(d, tf)| (tf, d)).collect();
        by_tf.sort_unstable();
        let mut docs = Vec::new();
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for (tf, d) in by_tf {
            docs.push(d);
            match runs.last_mut() {
                Some(r) if r.0 == tf => r.1 = docs.len() as u32,
                _ => runs.push((tf, docs.len() as u32)),
            }
        }
        Decoded { docs, runs }
    }

    #[test]
    fn tiles_add_what_one_pass_adds() {
        for seed in 1..=20u64 {
            let mut rng = XorShift::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let n = 50 + (rng.next_u64() % 900) as usize;
            let norms: Vec<(f32, f32)> = (0..n).map(|i| (1.0 + i as f32, 2.0 + i as f32)).collect();
            for scoring in [Scoring::Cosine, Scoring::L1] {
                let mut lists = Vec::new();
                let mut held = Vec::new();
                for w in 0..4 {
                    let word = QueryTerm::new(scoring, 0.1 + w as f32 * 0.2, 1.5, &norms);
                    let mut postings = Vec::new();
                    for d in 0..n as u32 {
                        if rng.next_u64().is_multiple_of(3) {
                            // Past the cosine table too.
                            postings.push((d, 1 + (rng.next_u64() % 20) as u32));
                        }
                    }
                    let p = WordPostings {
                        decoded: Some(decoded(&postings)),
                        ..WordPostings::default()
                    };
                    lists.push(postings);
                    held.push(InMemoryList {
                        word,
                        postings: Arc::new(p),
                        cost: 0,
                    });
                }
                let tfs: Vec<u8> = (0..n).map(|_| (rng.next_u64() % 4) as u8).collect();
                let dense = WordPostings {
                    dense: Some(Dense {
                        upto: n as u64,
                        tfs: tfs.clone(),
                    }),
                    ..WordPostings::default()
                };
                held.push(InMemoryList {
                    word: QueryTerm::new(scoring, 0.7, 2.0, &norms),
                    postings: Arc::new(dense),
                    cost: 0,
                });
                for in_blocks in [n as u64, (n / 2) as u64] {
                    let mut want = vec![0u64; n];
                    for (h, postings) in held.iter().zip(&lists) {
                        for &(d, tf) in postings.iter().filter(|p| u64::from(p.0) < in_blocks) {
                            want[d as usize] =
                                want[d as usize].wrapping_add(h.word.value(tf, u64::from(d)));
                        }
                    }
                    let m = in_blocks as usize;
                    held[4].word.add_dense(&mut want[..m], &tfs[..m], 0);
                    let share: Vec<&InMemoryList<'_>> = held.iter().collect();
                    for tile in [1, 2, 7, 64, n - 1, n, TILE] {
                        let mut got = vec![0u64; n];
                        add_tiled(&share, &mut got, in_blocks, tile);
                        assert_eq!(
                            got, want,
                            "seed {seed}, {scoring:?}, tile {tile}, below {in_blocks}"
                        );
                    }
                }
            }
        }
    }
}
