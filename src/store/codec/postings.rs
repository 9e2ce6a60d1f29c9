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
/// starts a new block. Small enough that the read-modify-write of a tail
/// block per batch stays cheap, large enough that the per-key overhead of
/// sled is amortised.
pub const BLOCK_CAP: usize = 128;

/// Encodes a block of (doc, tf), strictly increasing by doc, relative to
/// `first_doc` (which must equal the first doc).
pub fn encode(first_doc: u64, postings: &[(u64, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + postings.len() * 3);
    varint::put(&mut out, postings.len() as u64);
    let mut prev = first_doc;
    for &(doc, tf) in postings {
        varint::put(&mut out, doc - prev);
        varint::put(&mut out, u64::from(tf));
        prev = doc;
    }
    out
}

/// Decodes a block whose key names `first_doc`, appending to `out`.
#[inline]
pub fn decode_into(first_doc: u64, b: &[u8], out: &mut Vec<(u64, u32)>) -> Result<(), DecodeError> {
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
        let delta = varint::get(b, &mut pos)?;
        if (i == 0) != (delta == 0) {
            return Err(DecodeError::new(
                "posting block docs not strictly increasing from its key",
            ));
        }
        doc = doc
            .checked_add(delta)
            .ok_or_else(|| DecodeError::new("posting doc id overflows"))?;
        let tf = varint::get_u32(b, &mut pos)?;
        if tf == 0 {
            return Err(DecodeError::new("posting term frequency 0"));
        }
        out.push((doc, tf));
    }
    if pos != b.len() {
        return Err(DecodeError::new("trailing bytes after posting block"));
    }
    Ok(())
}

/// Decodes a block into a new vector.
pub fn decode(first_doc: u64, b: &[u8]) -> Result<Vec<(u64, u32)>, DecodeError> {
    let mut v = Vec::new();
    decode_into(first_doc, b, &mut v)?;
    Ok(v)
}

/// Encodes a block as frames (see the module comment).
pub fn encode_packed(first_doc: u64, postings: &[(u64, u32)]) -> Vec<u8> {
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

/// Decodes a block of frames whose key names `first_doc`, appending to
/// `out` (the checks of [`for_each_run`], which it collects).
#[inline]
pub fn decode_packed_into(
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
/// stops (without checking the rest) when `f` returns false. The search's
/// hot path.
#[inline]
pub fn for_each_run(
    layout: Layout,
    first_doc: u64,
    b: &[u8],
    mut f: impl FnMut(&[u64], Tfs<'_>) -> bool,
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
    let (mut docs, mut tfs) = ([0u64; packed::FRAME], [0u32; packed::FRAME]);
    let mut doc = first_doc;
    let mut left = n as usize;
    let mut first = true;
    while left > 0 {
        let m = left.min(packed::FRAME);
        let ones = match layout {
            Layout::Packed => packed::get_frame_ones(b, &mut pos, &mut docs[..m], &mut tfs[..m])?,
            Layout::Varint => {
                for i in 0..m {
                    docs[i] = varint::get(b, &mut pos)?;
                    tfs[i] = varint::get_u32(b, &mut pos)?;
                    if tfs[i] == 0 {
                        return Err(DecodeError::new("posting term frequency 0"));
                    }
                }
                false
            }
        };
        // Gaps to docs, in place. Only the block's first gap is 0. One OR
        // over the frame (vectorised) proves every other gap is in
        // [1, 2^55]: then, with the doc below 2^62, 128 of them cannot
        // overflow and the sum needs no check per posting.
        let (head, rest) = docs[..m].split_at(usize::from(first));
        let bad_head = head.iter().any(|&g| g != 0);
        let ored = rest.iter().fold(0, |a, &g| a | g.wrapping_sub(1));
        if bad_head || ored >> 55 != 0 || doc >= 1 << 62 {
            for (i, d) in docs[..m].iter_mut().enumerate() {
                if (*d == 0) != (first && i == 0) {
                    return Err(DecodeError::new(
                        "posting block docs not strictly increasing from its key",
                    ));
                }
                doc = doc
                    .checked_add(*d)
                    .ok_or_else(|| DecodeError::new("posting doc id overflows"))?;
                *d = doc;
            }
        } else {
            for d in docs[..m].iter_mut() {
                doc += *d;
                *d = doc;
            }
        }
        first = false;
        let tfs = if ones {
            Tfs::Ones
        } else {
            Tfs::Listed(&tfs[..m])
        };
        if !f(&docs[..m], tfs) {
            return Ok(());
        }
        left -= m;
    }
    if pos != b.len() {
        return Err(DecodeError::new("trailing bytes after posting block"));
    }
    Ok(())
}

/// Encodes a block in `layout`.
pub fn encode_as(layout: Layout, first_doc: u64, postings: &[(u64, u32)]) -> Vec<u8> {
    match layout {
        Layout::Varint => encode(first_doc, postings),
        Layout::Packed => encode_packed(first_doc, postings),
    }
}

/// Decodes a block in `layout`, appending to `out`.
#[inline]
pub fn decode_into_as(
    layout: Layout,
    first_doc: u64,
    b: &[u8],
    out: &mut Vec<(u64, u32)>,
) -> Result<(), DecodeError> {
    match layout {
        Layout::Varint => decode_into(first_doc, b, out),
        Layout::Packed => decode_packed_into(first_doc, b, out),
    }
}

/// Decodes a block in `layout` into a new vector.
pub fn decode_as(layout: Layout, first_doc: u64, b: &[u8]) -> Result<Vec<(u64, u32)>, DecodeError> {
    let mut v = Vec::new();
    decode_into_as(layout, first_doc, b, &mut v)?;
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
            prop_assert_eq!(decode(first, &encode(first, &p)).unwrap(), p);
        }

        #[test]
        fn never_panics(first: u64, b: Vec<u8>) {
            let _ = decode(first, &b);
            let _ = decode_as(Layout::Packed, first, &b);
        }

        #[test]
        fn runs_equal_decoding(docs in proptest::collection::btree_map(0u64..1 << 40, 1u32..500, 1..700), packed in any::<bool>()) {
            let layout = if packed { Layout::Packed } else { Layout::Varint };
            let p: Vec<(u64, u32)> = docs.into_iter().collect();
            let first = p[0].0;
            let b = encode_as(layout, first, &p);
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
            prop_assert_eq!(decode_as(Layout::Packed, first, &encode_packed(first, &p)).unwrap(), p);
        }
    }
}
