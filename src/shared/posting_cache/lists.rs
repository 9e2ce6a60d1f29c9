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

/// A word's postings decoded and grouped by term frequency, so that a
/// search adds one constant over each group: no decoding, no per-posting
/// lookup, about 4 bytes a posting (the encoded blocks take 3.5).
pub(crate) struct Decoded {
    /// Docs grouped by tf, each group in doc order.
    pub docs: Vec<u32>,
    /// (tf, end), tf increasing: `docs[previous end..end]` have
    /// frequency tf.
    pub runs: Vec<(u32, u32)>,
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

/// Every posting of a word's blocks, decoded and grouped by tf; `None`
/// when a doc id does not fit 32 bits (the search then decodes the blocks).
pub(super) fn decode(blocks: &[PostingBlock]) -> Result<Option<Decoded>> {
    let mut ones: Vec<u32> = Vec::with_capacity(
        usize::try_from(postings_in(blocks, u64::MAX))
            .unwrap_or(0)
            .min(1 << 24),
    );
    let mut more: Vec<(u32, u32)> = Vec::new();
    let mut fits = true;
    let mut bufs = postings::FrameBuffers::default();
    for b in blocks {
        b.for_each_frame(&mut bufs, |f| {
            let mut doc = f.base;
            for (i, &gap) in f.gaps.iter().enumerate() {
                doc += gap;
                let Ok(d) = u32::try_from(doc) else {
                    fits = false;
                    return false;
                };
                // tf − 1 < u32::MAX, checked by the decoder.
                match f.tf_minus_1.map_or(0, |e| e[i]) {
                    0 => ones.push(d),
                    e => more.push(((e + 1) as u32, d)),
                }
            }
            true
        })?;
        if !fits {
            return Ok(None);
        }
    }
    // Docs increase across blocks, so sorting by (tf, doc) keeps each
    // group in doc order.
    more.sort_unstable();
    let mut runs = Vec::new();
    if !ones.is_empty() {
        runs.push((1, ones.len() as u32));
    }
    let mut docs = ones;
    for (i, &(tf, d)) in more.iter().enumerate() {
        docs.push(d);
        if more.get(i + 1).is_none_or(|n| n.0 != tf) {
            runs.push((tf, docs.len() as u32));
        }
    }
    docs.shrink_to_fit();
    Ok(Some(Decoded { docs, runs }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_groups_docs_by_tf_in_doc_order() {
        let seed = 0x5EED_u64;
        let mut rng = crate::testutil::XorShift::new(seed);
        let mut next = move || rng.next_u64();
        for layout in [Layout::Packed, Layout::Varint] {
            // Three blocks of a word, docs increasing across them.
            let mut postings: Vec<(u64, u32)> = Vec::new();
            let mut doc = 0u64;
            for _ in 0..700 {
                doc += 1 + next() % 50;
                postings.push((
                    doc,
                    1 + (next() % 5) as u32 / 3 + u32::from(next() % 97 == 0) * 300,
                ));
            }
            let blocks: Vec<PostingBlock> = postings
                .chunks(250)
                .map(|c| {
                    PostingBlock::new(layout, 1, 7, c[0].0, postings::encode(layout, c[0].0, c))
                })
                .collect();
            let d = decode(&blocks).expect("decodes").expect("docs fit u32");
            let mut got = Vec::new();
            let mut start = 0;
            let mut last_tf = 0;
            for &(tf, end) in &d.runs {
                assert!(tf > last_tf, "seed {seed:#x}: tfs increase");
                last_tf = tf;
                let group = &d.docs[start..end as usize];
                assert!(group.windows(2).all(|w| w[0] < w[1]), "seed {seed:#x}");
                got.extend(group.iter().map(|&doc| (u64::from(doc), tf)));
                start = end as usize;
            }
            got.sort_unstable();
            assert_eq!(got, postings, "seed {seed:#x}, {layout:?}");
        }
        // A doc past u32: left to the block decoder.
        let far = 1u64 << 33;
        let block = PostingBlock::new(
            Layout::Packed,
            1,
            7,
            far,
            postings::encode(Layout::Packed, far, &[(far, 1), (far + 2, 3)]),
        );
        assert!(decode(&[block]).expect("decodes").is_none());
    }
}
