//! The `g{N}.postings` value: one block of a word's posting list.
//!
//! Key: word (u32 BE) ‖ first doc id of the block (u64 BE); see
//! [`keys::posting`](super::keys::posting). A word's blocks, in key order, hold
//! its postings in strictly increasing doc order, and no two blocks overlap.
//!
//! ```text
//! varint  n ≥ 1, postings in the block
//! n ×     varint  doc − previous doc (the first: doc − key's first doc = 0)
//!         varint  tf ≥ 1
//! ```

use super::{varint, DecodeError};

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
        }
    }
}
