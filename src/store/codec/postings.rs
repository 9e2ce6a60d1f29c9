//! The `g{N}.postings` value: one block of a word's posting list.
//!
//! Key: word (u32 BE) ‖ first doc id of the block (u64 BE); see
//! [`keys::posting`](super::keys::posting). A word's blocks, in key order, hold
//! its postings in strictly increasing doc order, and no two blocks overlap.
//!
//! [`Layout::Varint`] (formats 1 and 2):
//!
//! ```text
//! varint  n ≥ 1, postings in the block
//! n ×     varint  doc − previous doc (the first: doc − key's first doc = 0)
//!         varint  tf ≥ 1
//! ```
//!
//! [`Layout::Packed`] (format-3 generations):
//!
//! ```text
//! varint  n ≥ 1, postings in the block
//! frames  of (doc − previous doc, tf), as above ([`packed`])
//! ```

use super::{packed, varint, DecodeError, Layout};

/// Most postings per block. Appends go to a word's last block; a full one
/// starts a new block. Small enough that the read-modify-write of a word's last
/// block per batch stays cheap, large enough that the per-key overhead of
/// sled is amortised.
pub const BLOCK_CAP: usize = 128;

/// Encodes a block in [`Layout::Varint`] (see [`encode`]).
fn encode_varint(first_doc: u64, postings: &[(u64, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + postings.len() * 3);
    varint::put(&mut out, postings.len() as u64);
    varint::put_gaps(&mut out, first_doc, postings.iter().copied());
    out
}

/// Decodes a block in [`Layout::Varint`] (see [`decode_into`]).
#[inline]
fn decode_varint_into(
    first_doc: u64,
    b: &[u8],
    out: &mut Vec<(u64, u32)>,
) -> Result<(), DecodeError> {
    let mut pos = 0;
    let n = varint::get(b, &mut pos)?;
    if n == 0 || n > (b.len() - pos) as u64 / 2 {
        return Err(DecodeError::new(format!(
            "posting block claims {n} postings"
        )));
    }
    out.reserve(n as usize);
    let mut doc = first_doc;
    for i in 0..n {
        let (delta, tf) = varint::get_gap(b, &mut pos, "posting")?;
        if (i == 0) != (delta == 0) {
            return Err(DecodeError::new(
                "posting block docs not strictly increasing from its key",
            ));
        }
        doc = doc
            .checked_add(delta)
            .ok_or_else(|| DecodeError::new("posting doc id overflows"))?;
        out.push((doc, tf));
    }
    if pos != b.len() {
        return Err(DecodeError::new("trailing bytes after posting block"));
    }
    Ok(())
}

/// Encodes a block in [`Layout::Packed`] (see [`encode`]).
fn encode_packed(first_doc: u64, postings: &[(u64, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + postings.len() * 5 / 4);
    varint::put(&mut out, postings.len() as u64);
    let mut prev = first_doc;
    let pairs: Vec<(u64, u32)> = postings
        .iter()
        .map(|&(doc, tf)| {
            let gap = doc - prev;
            prev = doc;
            (gap, tf)
        })
        .collect();
    packed::put(&mut out, &pairs);
    out
}

/// Decodes a block in [`Layout::Packed`] (see [`decode_into`]): the
/// checks of [`for_each_run`], whose runs it collects.
#[inline]
fn decode_packed_into(
    first_doc: u64,
    b: &[u8],
    out: &mut Vec<(u64, u32)>,
) -> Result<(), DecodeError> {
    for_each_run(Layout::Packed, first_doc, b, |docs, tfs| {
        match tfs {
            Tfs::Ones => out.extend(docs.iter().map(|&d| (d, 1))),
            Tfs::Listed(tfs) => out.extend(docs.iter().copied().zip(tfs.iter().copied())),
        }
        true
    })
}

/// The term frequencies of a run of postings.
#[derive(Debug, Clone, Copy)]
pub enum Tfs<'a> {
    /// Every tf is 1: how most frames of a posting block decode, which
    /// lets the search add one constant per posting.
    Ones,
    /// One tf (≥ 1) per posting.
    Listed(&'a [u32]),
}

/// Calls `f` with the postings of a block in `layout`, in doc order, as
/// runs of at most [`packed::FRAME`] (docs, tfs), without collecting them;
/// stops (without checking the rest) when `f` returns false.
#[inline]
pub fn for_each_run(
    layout: Layout,
    first_doc: u64,
    b: &[u8],
    mut f: impl FnMut(&[u64], Tfs<'_>) -> bool,
) -> Result<(), DecodeError> {
    let (mut docs, mut tfs) = ([0u64; packed::FRAME], [0u32; packed::FRAME]);
    for_each_frame(layout, first_doc, b, &mut FrameBuffers::default(), |fr| {
        let m = fr.gaps.len();
        let mut doc = fr.base;
        for (d, &g) in docs.iter_mut().zip(fr.gaps) {
            doc += g;
            *d = doc;
        }
        let tfs = match fr.tf_minus_1 {
            None => Tfs::Ones,
            Some(e) => {
                for (t, &e) in tfs.iter_mut().zip(e) {
                    *t = (e + 1) as u32;
                }
                Tfs::Listed(&tfs[..m])
            }
        };
        f(&docs[..m], tfs)
    })
}

/// One frame of a posting block, decoded and checked but not yet summed:
/// the search adds each posting as it sums the gaps, in one pass.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The doc before the frame's first: the frame's docs are `base` plus
    /// the prefix sums of `gaps`.
    pub base: u64,
    /// Doc gaps, each ≥ 1, except the block's very first, which is 0.
    pub gaps: &'a [u64],
    /// tf − 1 of each posting (tf fits a u32); `None` when every tf is 1.
    pub tf_minus_1: Option<&'a [u64]>,
    /// The frame's last doc: the sums cannot overflow.
    pub last: u64,
}

/// What [`for_each_frame`] decodes into: a caller decoding many blocks
/// keeps one, so that no block pays for initialising it.
pub struct FrameBuffers {
    gaps: [u64; packed::FRAME],
    tf_minus_1: [u64; packed::FRAME],
    scratch: packed::Scratch,
}

impl Default for FrameBuffers {
    fn default() -> Self {
        FrameBuffers {
            gaps: [0; packed::FRAME],
            tf_minus_1: [0; packed::FRAME],
            scratch: packed::Scratch::default(),
        }
    }
}

/// Calls `f` with each frame of a block in `layout` (for
/// [`Layout::Varint`], runs of up to [`packed::FRAME`] postings), in doc
/// order, decoding into `bufs`; stops (without checking the rest) when `f`
/// returns false. The search's hot path.
#[inline]
pub fn for_each_frame(
    layout: Layout,
    first_doc: u64,
    b: &[u8],
    bufs: &mut FrameBuffers,
    mut f: impl FnMut(&Frame<'_>) -> bool,
) -> Result<(), DecodeError> {
    let mut pos = 0;
    let n = varint::get(b, &mut pos)?;
    let max = match layout {
        Layout::Varint => (b.len() - pos) as u64 / 2,
        Layout::Packed => packed::max_pairs(b.len() - pos),
    };
    if n == 0 || n > max {
        return Err(DecodeError::new(format!(
            "posting block claims {n} postings"
        )));
    }
    let FrameBuffers {
        gaps,
        tf_minus_1,
        scratch,
    } = bufs;
    let mut doc = first_doc;
    let mut left = n as usize;
    let mut first = true;
    while left > 0 {
        let m = left.min(packed::FRAME);
        let (gaps, extra) = (&mut gaps[..m], &mut tf_minus_1[..m]);
        let ones = match layout {
            Layout::Packed => packed::get_frame_raw(b, &mut pos, gaps, extra, scratch)?,
            Layout::Varint => {
                for (g, e) in gaps.iter_mut().zip(extra.iter_mut()) {
                    let (gap, tf) = varint::get_gap(b, &mut pos, "posting")?;
                    *g = gap;
                    *e = u64::from(tf - 1);
                }
                false
            }
        };
        // Only the block's first gap is 0. One OR over the frame
        // (vectorised) proves every other gap is in [1, 2^55]: then, with
        // the doc below 2^62, 128 of them cannot overflow.
        let (head, rest) = gaps.split_at(usize::from(first));
        let bad_head = head.iter().any(|&g| g != 0);
        let ored = rest.iter().fold(0, |a, &g| a | g.wrapping_sub(1));
        let base = doc;
        if bad_head || ored >> 55 != 0 || doc >= 1 << 62 {
            for (i, &g) in gaps.iter().enumerate() {
                if (g == 0) != (first && i == 0) {
                    return Err(DecodeError::new(
                        "posting block docs not strictly increasing from its key",
                    ));
                }
                doc = doc
                    .checked_add(g)
                    .ok_or_else(|| DecodeError::new("posting doc id overflows"))?;
            }
        } else {
            doc += gaps.iter().sum::<u64>();
        }
        first = false;
        let frame = Frame {
            base,
            gaps,
            tf_minus_1: (!ones).then_some(&*extra),
            last: doc,
        };
        if !f(&frame) {
            return Ok(());
        }
        left -= m;
    }
    if pos != b.len() {
        return Err(DecodeError::new("trailing bytes after posting block"));
    }
    Ok(())
}

/// Encodes a block of (doc, tf), strictly increasing by doc, in `layout`,
/// relative to `first_doc` (the key's first doc, which must equal the
/// first posting's).
pub fn encode(layout: Layout, first_doc: u64, postings: &[(u64, u32)]) -> Vec<u8> {
    match layout {
        Layout::Varint => encode_varint(first_doc, postings),
        Layout::Packed => encode_packed(first_doc, postings),
    }
}

/// Decodes a block in `layout` whose key names `first_doc`, appending its
/// postings to `out`.
#[inline]
pub fn decode_into(
    layout: Layout,
    first_doc: u64,
    b: &[u8],
    out: &mut Vec<(u64, u32)>,
) -> Result<(), DecodeError> {
    match layout {
        Layout::Varint => decode_varint_into(first_doc, b, out),
        Layout::Packed => decode_packed_into(first_doc, b, out),
    }
}

/// Decodes a block in `layout` into a new vector.
pub fn decode(layout: Layout, first_doc: u64, b: &[u8]) -> Result<Vec<(u64, u32)>, DecodeError> {
    let mut v = Vec::new();
    decode_into(layout, first_doc, b, &mut v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(docs in proptest::collection::btree_map(0u64..1 << 40, 1u32..500, 1..BLOCK_CAP)) {
            let p: Vec<(u64, u32)> = docs.into_iter().collect();
            let first = p[0].0;
            prop_assert_eq!(decode(Layout::Varint, first, &encode_varint(first, &p)).unwrap(), p);
        }

        #[test]
        fn never_panics(first: u64, b: Vec<u8>) {
            let _ = decode(Layout::Varint, first, &b);
            let _ = decode(Layout::Packed, first, &b);
        }

        #[test]
        fn runs_equal_decoding(docs in proptest::collection::btree_map(0u64..1 << 40, 1u32..500, 1..700), packed in any::<bool>()) {
            let layout = if packed { Layout::Packed } else { Layout::Varint };
            let p: Vec<(u64, u32)> = docs.into_iter().collect();
            let first = p[0].0;
            let b = encode(layout, first, &p);
            let mut got = Vec::new();
            for_each_run(layout, first, &b, |d, t| {
                match t {
                    Tfs::Ones => got.extend(d.iter().map(|&d| (d, 1))),
                    Tfs::Listed(t) => got.extend(d.iter().copied().zip(t.iter().copied())),
                }
                true
            }).unwrap();
            prop_assert_eq!(got, p);
        }

        #[test]
        fn runs_never_panic(first: u64, b: Vec<u8>) {
            for layout in [Layout::Varint, Layout::Packed] {
                let _ = for_each_run(layout, first, &b, |_, _| true);
            }
        }

        #[test]
        fn packed_round_trip(docs in proptest::collection::btree_map(0u64..1 << 40, 1u32..500, 1..700)) {
            let p: Vec<(u64, u32)> = docs.into_iter().collect();
            let first = p[0].0;
            prop_assert_eq!(decode(Layout::Packed, first, &encode_packed(first, &p)).unwrap(), p);
        }
    }
}
