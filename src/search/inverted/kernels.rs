//! The scoring kernels: one query word's constants, and the loops that add
//! its terms from encoded blocks, unsealed runs, tf groups and dense lists.

use super::InMemoryList;
use crate::config::Scoring;
use crate::error::Result;
use crate::scoring::{fixed, term};
#[cfg(doc)]
use crate::shared::posting_cache::lists::TILE_SHIFT;
use crate::store::codec::postings::{self, Frame};
use crate::store::PostingBlock;

/// Where a walk over the tiles of some held lists stands: for each tf
/// group of each decoded list, in order, its next tile entry.
pub(super) struct Cursors(Vec<usize>);

impl Cursors {
    /// Cursors of a walk over `share` starting at tile `t0`: each group's
    /// first entry of a tile at or past `t0`.
    pub(super) fn at(share: &[&InMemoryList<'_>], t0: u32) -> Cursors {
        let mut cursors = Vec::new();
        for h in share {
            // The lists `add_tile` walks as decoded: a dense form wins.
            if let (None, Some(d)) = (&h.postings.dense, &h.postings.decoded) {
                let mut start = 0;
                for &(_, end) in &d.runs {
                    let entries = d.tiles.get(start..end as usize).unwrap_or_default();
                    cursors.push(start + entries.partition_point(|&t| t < t0));
                    start = end as usize;
                }
            }
        }
        Cursors(cursors)
    }
}

/// Adds the postings of `share` in tile `t` from its doc `lo + from` on
/// (`lo = t << shift`, where the walk of `cursors` stands) to `part`,
/// which holds the accumulators of docs `lo + from..`, up to the tile's
/// end or before (docs past it are left out); the walk then stands at
/// tile `t + 1`. The lists are cut in tiles of `1 << shift` docs
/// ([`TILE_SHIFT`] in searches), so a tile's accumulators (512 KiB) stay in
/// a core's L2 cache while every word adds its postings there: over a
/// million docs' 8 MB, adding word after word would miss it at nearly
/// every posting (docs/PERFORMANCE.md, "Where the time goes").
pub(super) fn add_tile(
    share: &[&InMemoryList<'_>],
    cursors: &mut Cursors,
    part: &mut [u64],
    t: u32,
    lo: usize,
    from: usize,
) {
    let first = lo + from;
    let mut c = cursors.0.iter_mut();
    for h in share {
        match (&h.postings.dense, &h.postings.decoded) {
            (Some(d), _) => {
                let hi = first.saturating_add(part.len()).min(d.tfs.len());
                if let Some(tfs) = d.tfs.get(first..hi) {
                    h.word.add_dense(part, tfs, first);
                }
            }
            (None, Some(d)) => {
                for (&(tf, end), cursor) in d.runs.iter().zip(&mut c) {
                    // Entries of tiles the walk did not visit are passed.
                    while *cursor < end as usize && d.tiles.get(*cursor).is_some_and(|&e| e < t) {
                        *cursor += 1;
                    }
                    if *cursor < end as usize && d.tiles.get(*cursor) == Some(&t) {
                        let docs = d.entry(*cursor);
                        // Offsets below `from` belong to the range before.
                        let skip = if from == 0 {
                            0
                        } else {
                            docs.partition_point(|&o| usize::from(o) < from)
                        };
                        let docs = docs.get(skip..).unwrap_or_default();
                        h.word.add_group(part, first, docs, from, tf);
                        *cursor += 1;
                    }
                }
            }
            // Not held (round 1 added it).
            (None, None) => {}
        }
    }
}

/// Adds `value(first + offset − from)` to `part[offset − from]` for the
/// offsets of `docs` (increasing, none below `from`) while they fall in
/// `part`.
#[inline(always)]
fn add_offsets(
    part: &mut [u64],
    first: usize,
    docs: &[u16],
    from: usize,
    value: impl Fn(u64) -> u64,
) {
    for &o in docs {
        let i = usize::from(o).wrapping_sub(from);
        let Some(a) = part.get_mut(i) else {
            // Past the range or the watermark: so is the rest.
            break;
        };
        *a = a.wrapping_add(value((first + i) as u64));
    }
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

    /// Adds the docs of one tile entry of a tf group, given as offsets in
    /// their tile, `from` or above and increasing, to `part`, which holds
    /// the accumulators of docs from `first` (the offset `from`) on, while
    /// they fall in it.
    #[inline]
    pub(super) fn add_group(
        &self,
        part: &mut [u64],
        first: usize,
        docs: &[u16],
        from: usize,
        tf: u32,
    ) {
        match self.scoring {
            Scoring::Cosine => {
                let c = self.cosine(tf);
                add_offsets(part, first, docs, from, |_| c);
            }
            Scoring::L1 => add_offsets(part, first, docs, from, |doc| self.value(tf, doc)),
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
    use super::*;
    use crate::shared::posting_cache::lists::TILE_SHIFT;
    use crate::testutil::XorShift;

    /// Adds the held lists to `acc` over tiles `t0..t1` of `1 << shift`
    /// docs, below `in_blocks`, as a search's tasks do.
    fn add_tiled(
        share: &[&InMemoryList<'_>],
        acc: &mut [u64],
        in_blocks: u64,
        shift: u32,
        t0: u32,
        t1: u32,
    ) {
        let m = acc.len().min(in_blocks as usize);
        let mut cursors = Cursors::at(share, t0);
        for t in t0..t1 {
            let lo = (t as usize) << shift;
            let hi = (lo + (1 << shift)).min(m);
            if lo < hi {
                // Half a tile, then the rest, as two ranges would.
                let mid = lo + (hi - lo) / 2;
                let mut second = Cursors::at(share, t);
                add_tile(share, &mut second, &mut acc[mid..hi], t, lo, mid - lo);
                add_tile(share, &mut cursors, &mut acc[lo..mid], t, lo, 0);
            }
        }
    }

    #[test]
    fn tiles_add_what_one_pass_adds() {
        for seed in 1..=20u64 {
            let mut rng = XorShift::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            // Every fifth seed spans more than two tiles of a search.
            let n = if seed.is_multiple_of(5) {
                (2 << TILE_SHIFT) + (rng.next_u64() % 70_000) as usize
            } else {
                50 + (rng.next_u64() % 900) as usize
            };
            let norms: Vec<(f32, f32)> = (0..n).map(|i| (1.0 + i as f32, 2.0 + i as f32)).collect();
            for scoring in [Scoring::Cosine, Scoring::L1] {
                let mut lists = Vec::new();
                let mut words = Vec::new();
                for w in 0..4 {
                    words.push(QueryTerm::new(scoring, 0.1 + w as f32 * 0.2, 1.5, &norms));
                    let mut postings = Vec::new();
                    for d in 0..n as u32 {
                        if rng.next_u64().is_multiple_of(3 + 40 * w) {
                            // Past the cosine table too.
                            postings.push((d, 1 + (rng.next_u64() % 20) as u32));
                        }
                    }
                    lists.push(postings);
                }
                let tfs: Vec<u8> = (0..n).map(|_| (rng.next_u64() % 4) as u8).collect();
                for shift in [0, 1, 3, 6, 10, TILE_SHIFT] {
                    let mut held: Vec<InMemoryList<'_>> = words
                        .iter()
                        .zip(&lists)
                        .map(|(word, postings)| {
                            InMemoryList::decoded(
                                QueryTerm::new(scoring, word.qv, word.idf, &norms),
                                postings,
                                shift,
                            )
                        })
                        .collect();
                    held.push(InMemoryList::dense(
                        QueryTerm::new(scoring, 0.7, 2.0, &norms),
                        tfs.clone(),
                    ));
                    let width = 1usize << shift;
                    for in_blocks in [n, n / 2, width.min(n), (3 * width).min(n) - 1] {
                        let in_blocks = in_blocks as u64;
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
                        let tiles = n.div_ceil(width) as u32;
                        // One walk, and walks from a tile in the middle.
                        for from in [0, tiles / 2, tiles.saturating_sub(1)] {
                            let mut got = vec![0u64; n];
                            add_tiled(&share, &mut got, in_blocks, shift, 0, from);
                            add_tiled(&share, &mut got, in_blocks, shift, from, tiles);
                            assert!(
                                got == want,
                                "seed {seed}, {scoring:?}, shift {shift}, below {in_blocks}, from {from}"
                            );
                        }
                    }
                }
            }
        }
    }
}
