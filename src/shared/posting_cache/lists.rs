//! The three forms a word's postings take in the cache, and the decoders
//! that build the dense and decoded forms from a word's blocks.

use crate::error::Result;
use crate::store::codec::{postings, Layout};
use crate::store::{Generation, PostingBlock};

/// A word's postings as a search reads them.
#[derive(Default)]
pub(crate) struct WordPostings {
    /// (first doc, encoded block), in doc order; empty when `decoded`
    /// holds them.
    pub blocks: Vec<PostingBlock>,
    /// The same postings below some doc, one byte per doc.
    pub dense: Option<Dense>,
    /// Every posting of the word's blocks, decoded.
    pub decoded: Option<Decoded>,
}

/// Docs in a tile of a decoded list: `1 << TILE_SHIFT`. A doc is kept as
/// its offset in its tile, two bytes, and a search adds the lists held in
/// memory one tile of docs at a time (a tile of accumulators, 512 KiB,
/// stays in a core's L2 cache). Two bytes a posting, not four, halve what
/// a query streams from memory, which bounds the search at 10^6 docs, and
/// let twice the lists stay decoded (docs/PERFORMANCE.md, "Where the time
/// goes").
pub(crate) const TILE_SHIFT: u32 = 16;

/// A word's postings decoded and grouped by term frequency, so that a
/// search adds one constant over each group: no decoding, no per-posting
/// lookup, about 2 bytes a posting for a list with many postings a tile
/// (the encoded blocks take 3.5); a list of about one posting a tile takes
/// about 10.
///
/// Invariants (kept by [`decode`]): `runs` ends increase to `tiles.len()`,
/// with tf increasing; within a group, `tiles` increase; `ends` increase to
/// `docs.len()`; the docs of one (group, tile) entry increase. A posting's
/// doc is `tile << shift | docs[i]`.
#[derive(Default)]
pub(crate) struct Decoded {
    /// Each posting's offset in its tile; grouped by tf, within a group
    /// by tile.
    pub docs: Vec<u16>,
    /// One entry per (group, tile holding some of its docs): the tile
    /// (`doc >> shift`)...
    pub tiles: Vec<u32>,
    /// ...and the end of that entry's docs in `docs` (it starts where the
    /// previous entry ends).
    pub ends: Vec<u32>,
    /// (tf, end of the group's entries in `tiles`), tf increasing.
    pub runs: Vec<(u32, u32)>,
}

impl Decoded {
    /// The docs of entry `e` (an index into `tiles`), offsets in its tile.
    #[inline(always)]
    pub(crate) fn entry(&self, e: usize) -> &[u16] {
        let start = match e.checked_sub(1) {
            Some(p) => self.ends.get(p).map_or(0, |&x| x as usize),
            None => 0,
        };
        let end = self.ends.get(e).map_or(start, |&x| x as usize);
        self.docs.get(start..end).unwrap_or_default()
    }

    /// The bytes it holds.
    pub(crate) fn bytes(&self) -> u64 {
        self.docs.len() as u64 * 2 + self.tiles.len() as u64 * 8 + self.runs.len() as u64 * 8
    }

    /// The decoded form of (doc, tf) postings, docs distinct, in tiles of
    /// `1 << shift` docs.
    #[cfg(test)]
    pub(crate) fn from_postings(postings: &[(u32, u32)], shift: u32) -> Decoded {
        let mut by_tf: Vec<(u32, u32)> = postings.iter().map(|&(d, tf)| (tf, d)).collect();
        by_tf.sort_unstable();
        let mut d = Decoded::default();
        d.push_groups(&by_tf, shift);
        d
    }

    /// Appends a group of frequency `tf` (above the last group's) holding
    /// `docs` (increasing), in tiles of `1 << shift` docs; nothing when
    /// `docs` is empty.
    fn push_group(&mut self, tf: u32, docs: impl Iterator<Item = u32>, shift: u32) {
        let mut g = GroupWriter::new(shift);
        for doc in docs {
            g.push(self, doc);
        }
        g.finish(self, tf);
    }

    /// Appends `more`'s (tf, doc) pairs, sorted, as one group per tf.
    fn push_groups(&mut self, more: &[(u32, u32)], shift: u32) {
        for group in more.chunk_by(|a, b| a.0 == b.0) {
            if let Some(&(tf, _)) = group.first() {
                self.push_group(tf, group.iter().map(|p| p.1), shift);
            }
        }
    }
}

/// A word's tf for every doc below `upto` (0 where absent).
pub(crate) struct Dense {
    pub upto: u64,
    pub tfs: Vec<u8>,
}

/// The dense form of a word's postings below `below`, when the word is in
/// more than half of those docs and every tf fits a byte (format-3 blocks
/// only; blocks of formats 1 and 2 are small and left as they are). Half,
/// not a quarter: dense from a quarter of the docs measures slower
/// (docs/PERFORMANCE.md), though it would take no more room than decoded
/// docs.
pub(super) fn densify(
    g: &Generation,
    blocks: &[PostingBlock],
    below: u64,
) -> Result<Option<Dense>> {
    if g.layout != Layout::Packed || below == 0 {
        return Ok(None);
    }
    if postings_in(blocks, below) <= below / 2 {
        return Ok(None);
    }
    let Ok(n) = usize::try_from(below) else {
        return Ok(None);
    };
    let mut tfs = vec![0u8; n];
    let mut fits = true;
    let mut bufs = postings::FrameBuffers::default();
    for b in blocks.iter().take_while(|b| b.first < below) {
        let mut more = true;
        b.for_each_frame(&mut bufs, |f| {
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
        })?;
        if !more {
            break;
        }
    }
    Ok(fits.then_some(Dense { upto: below, tfs }))
}

/// Postings in the blocks starting below `below`, as their headers
/// claim (each block starts with its posting count).
pub(super) fn postings_in(blocks: &[PostingBlock], below: u64) -> u64 {
    blocks
        .iter()
        .take_while(|b| b.first < below)
        .map(PostingBlock::claimed_postings)
        .fold(0u64, u64::saturating_add)
}

/// Every posting of a word's blocks, decoded and grouped by tf, in tiles
/// of `1 << shift` docs (`shift` at most 16; searches use [`TILE_SHIFT`]);
/// `None` when a doc id does not fit 32 bits, or when a block's docs do
/// not all follow the previous block's (a damaged index, which `verify`
/// reports): the search then adds the blocks as stored.
///
/// One pass over the blocks, whose docs increase, so that each tf's docs
/// come in doc order. Those of tf 1, most of a list's, go straight into
/// the first group; those of tf 2 to [`BUCKETED`] into one list per tf;
/// higher tfs, rare, as (tf, doc) pairs sorted at the end.
pub(super) fn decode(blocks: &[PostingBlock], shift: u32) -> Result<Option<Decoded>> {
    let shift = shift.min(16);
    let mut d = Decoded {
        docs: Vec::with_capacity(
            usize::try_from(postings_in(blocks, u64::MAX))
                .unwrap_or(0)
                .min(1 << 24),
        ),
        ..Decoded::default()
    };
    let mut ones = GroupWriter::new(shift);
    let mut bucketed: [Vec<u32>; BUCKETED as usize - 1] = Default::default();
    let mut more: Vec<(u32, u32)> = Vec::new();
    // False once a doc is past u32 or does not follow the doc before.
    let mut usable = true;
    let mut bufs = postings::FrameBuffers::default();
    // The last doc decoded: a block's docs increase (its decoder checks),
    // this checks that they also follow the block before.
    let mut last: Option<u64> = None;
    for b in blocks {
        b.for_each_frame(&mut bufs, |f| {
            // Docs increase within a frame: its last is its largest.
            let first = f.base + f.gaps.first().copied().unwrap_or(0);
            if f.last > u64::from(u32::MAX) || last.is_some_and(|l| first <= l) {
                usable = false;
                return false;
            }
            last = Some(f.last);
            let mut doc = f.base;
            match f.tf_minus_1 {
                None => {
                    for &gap in f.gaps {
                        doc += gap;
                        ones.push(&mut d, doc as u32);
                    }
                }
                Some(extra) => {
                    for (&gap, &e) in f.gaps.iter().zip(extra) {
                        doc += gap;
                        // tf − 1 < u32::MAX, checked by the block decoder.
                        let tf = (e + 1) as u32;
                        if tf == 1 {
                            ones.push(&mut d, doc as u32);
                        } else if let Some(g) = bucketed.get_mut(tf as usize - 2) {
                            g.push(doc as u32);
                        } else {
                            more.push((tf, doc as u32));
                        }
                    }
                }
            }
            true
        })?;
        if !usable {
            return Ok(None);
        }
    }
    ones.finish(&mut d, 1);
    for (tf, docs) in (2..).zip(&bucketed) {
        d.push_group(tf, docs.iter().copied(), shift);
    }
    // Docs are distinct: sorted by (tf, doc), each group is in doc order.
    more.sort_unstable();
    d.push_groups(&more, shift);
    d.docs.shrink_to_fit();
    d.tiles.shrink_to_fit();
    d.ends.shrink_to_fit();
    Ok(Some(d))
}

/// The highest tf [`decode`] keeps in a list of its own while decoding:
/// above it, tfs are rare enough to sort.
const BUCKETED: u32 = 16;

/// Writes one tf group into a [`Decoded`] doc by doc, as the docs come
/// (increasing), opening an entry at each new tile.
struct GroupWriter {
    shift: u32,
    /// The tile of the open entry; `u64::MAX`, no doc's tile, before the
    /// first doc.
    tile: u64,
}

impl GroupWriter {
    fn new(shift: u32) -> GroupWriter {
        GroupWriter {
            shift,
            tile: u64::MAX,
        }
    }

    #[inline(always)]
    fn push(&mut self, d: &mut Decoded, doc: u32) {
        let tile = doc >> self.shift;
        if u64::from(tile) != self.tile {
            if self.tile != u64::MAX {
                d.ends.push(d.docs.len() as u32);
            }
            self.tile = u64::from(tile);
            d.tiles.push(tile);
        }
        // Below 1 << shift <= 1 << 16.
        d.docs.push((doc & ((1u32 << self.shift) - 1)) as u16);
    }

    /// Closes the group as tf `tf`, if it holds any doc.
    fn finish(self, d: &mut Decoded, tf: u32) {
        if self.tile != u64::MAX {
            d.ends.push(d.docs.len() as u32);
            d.runs.push((tf, d.tiles.len() as u32));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_groups_docs_by_tf_in_doc_order() {
        let seed = 0x5EED_u64;
        let mut rng = crate::testutil::XorShift::new(seed);
        let mut next = move || rng.next_u64();
        // tfs: 1 and 2 mixed with a few past the tfs kept apart while
        // decoding; mostly 1 (some whole frames of 1s) with a few up to 40,
        // across 16 and 17; every tf to 20.
        for (layout, tfs) in [Layout::Packed, Layout::Varint]
            .into_iter()
            .flat_map(|l| [(l, 0), (l, 1), (l, 2)])
        {
            // Three blocks of a word, docs increasing across them.
            let mut postings: Vec<(u64, u32)> = Vec::new();
            let mut doc = 0u64;
            for _ in 0..700 {
                // Gaps up to 600: the docs span several 2^16-doc tiles.
                doc += 1 + next() % 600;
                let tf = match tfs {
                    0 => 1 + (next() % 5) as u32 / 3 + u32::from(next() % 97 == 0) * 300,
                    1 if next() % 50 == 0 => 1 + (next() % 40) as u32,
                    1 => 1,
                    _ => 1 + (next() % 20) as u32,
                };
                postings.push((doc, tf));
            }
            let blocks: Vec<PostingBlock> = postings
                .chunks(250)
                .map(|c| {
                    PostingBlock::new(layout, 1, 7, c[0].0, postings::encode(layout, c[0].0, c))
                })
                .collect();
            for shift in [0, 3, 6, TILE_SHIFT] {
                let d = decode(&blocks, shift)
                    .expect("decodes")
                    .expect("docs fit u32");
                let mut got = Vec::new();
                let mut entry = 0;
                let mut last_tf = 0;
                for &(tf, end) in &d.runs {
                    assert!(tf > last_tf, "seed {seed:#x}: tfs increase");
                    last_tf = tf;
                    let mut group = Vec::new();
                    let mut last_tile = None;
                    for e in entry..end as usize {
                        let tile = d.tiles[e];
                        assert!(last_tile < Some(tile), "seed {seed:#x}: tiles increase");
                        last_tile = Some(tile);
                        assert!(!d.entry(e).is_empty(), "seed {seed:#x}: no empty entry");
                        group.extend(d.entry(e).iter().map(|&o| {
                            assert!(
                                u32::from(o) < 1 << shift,
                                "seed {seed:#x}: offset in its tile"
                            );
                            (u64::from(tile) << shift) + u64::from(o)
                        }));
                    }
                    entry = end as usize;
                    assert!(group.windows(2).all(|w| w[0] < w[1]), "seed {seed:#x}");
                    got.extend(group.into_iter().map(|doc| (doc, tf)));
                }
                assert_eq!(entry, d.tiles.len(), "seed {seed:#x}");
                assert_eq!(d.docs.len(), postings.len(), "seed {seed:#x}");
                got.sort_unstable();
                assert_eq!(
                    got, postings,
                    "seed {seed:#x}, {layout:?}, tfs {tfs}, shift {shift}"
                );
            }
        }
        let block = |first: u64, postings: &[(u64, u32)]| {
            PostingBlock::new(
                Layout::Packed,
                1,
                7,
                first,
                postings::encode(Layout::Packed, first, postings),
            )
        };
        // A doc past u32: left to the block decoder.
        let far = 1u64 << 33;
        let far = block(far, &[(far, 1), (far + 2, 3)]);
        assert!(decode(&[far], TILE_SHIFT).expect("decodes").is_none());
        // So is a frame of tf-1 docs starting below 2^32 and ending past
        // it, after a block that fits.
        let top = u64::from(u32::MAX);
        let across: Vec<(u64, u32)> = (top - 5..top + 5).map(|d| (d, 1)).collect();
        let blocks = [block(3, &[(3, 1), (9, 2)]), block(top - 5, &across)];
        assert!(decode(&blocks, TILE_SHIFT).expect("decodes").is_none());
        // The last doc that fits is kept, at every tile width.
        let to_top: Vec<(u64, u32)> = (top - 300..=top).map(|d| (d, 1)).collect();
        for shift in [0, 16] {
            let d = decode(&[block(top - 300, &to_top)], shift)
                .expect("decodes")
                .expect("docs fit u32");
            let e = d.tiles.len() - 1;
            let o = d.entry(e).last().copied().map(u64::from);
            assert_eq!(
                o.map(|o| (u64::from(d.tiles[e]) << shift) + o),
                Some(top),
                "shift {shift}"
            );
            assert_eq!(d.docs.len(), 301, "shift {shift}");
        }
        // Blocks that overlap (a damaged index): left to the block decoder.
        let overlapping = [
            block(0, &[(0, 1), (70_000, 2)]),
            block(10, &[(10, 2), (80_000, 1)]),
        ];
        assert!(decode(&overlapping, TILE_SHIFT).expect("decodes").is_none());
    }
}
