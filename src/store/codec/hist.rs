//! The `g{N}.hist` value: one record's sparse term-frequency histogram.
//!
//! ```text
//! offset 0  f32 LE   cosine norm  ‖tf·idf‖₂ (0 for an empty histogram)
//! offset 4  f32 LE   L1 norm      ‖tf·idf‖₁
//! offset 8  varint   n, the number of distinct words
//! then n ×  varint   word − previous word (the first is the word itself)
//!           varint   tf ≥ 1
//! ```
//! Words are strictly increasing. The norms use the generation's IDF, which is
//! fixed when its codebook is trained, so they never change after insertion.
//!
//! That is [`Layout::Varint`] (formats 1 and 2). [`Layout::Packed`]
//! (format-3 generations) has the same head and count, then (when n > 0)
//! the first word as a varint and the n (word − previous word, tf) pairs as
//! bit-packed frames ([`packed`]), the first pair's gap 0: a first word of
//! up to 17 bits in the first frame would widen its 128 gaps to 17 bits.

use super::{f32_at, packed, varint, DecodeError, Layout};

/// A decoded histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// ‖tf·idf‖₂.
    pub cos_norm: f32,
    /// ‖tf·idf‖₁.
    pub l1_norm: f32,
    /// (word, tf), strictly increasing by word, tf ≥ 1.
    pub entries: Vec<(u32, u32)>,
}

/// Encodes a histogram in [`Layout::Varint`] (see [`encode`]).
fn encode_varint(h: &Histogram) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + 1 + h.entries.len() * 3);
    out.extend_from_slice(&h.cos_norm.to_le_bytes());
    out.extend_from_slice(&h.l1_norm.to_le_bytes());
    varint::put(&mut out, h.entries.len() as u64);
    // The first word is stored as it is: its gap from 0.
    let pairs = h.entries.iter().map(|&(w, tf)| (u64::from(w), tf));
    varint::put_gaps(&mut out, 0, pairs);
    out
}

/// Decodes only the two norms at the head of a histogram value.
pub fn decode_histogram_norms(b: &[u8]) -> Result<(f32, f32), DecodeError> {
    let cos_norm = f32_at(b, 0)?;
    let l1_norm = f32_at(b, 4)?;
    if !(cos_norm.is_finite() && l1_norm.is_finite() && cos_norm >= 0.0 && l1_norm >= 0.0) {
        return Err(DecodeError::new("histogram norm is negative or not finite"));
    }
    Ok((cos_norm, l1_norm))
}

/// The `g{N}.norms` value of a doc: its histogram's two norms, as at the
/// head of the histogram value (8 bytes). A search loads every doc's norms
/// once; reading them from this tree costs 8 bytes a doc instead of the
/// whole histogram.
pub fn encode_norms(cos_norm: f32, l1_norm: f32) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&cos_norm.to_le_bytes());
    out[4..].copy_from_slice(&l1_norm.to_le_bytes());
    out
}

/// Decodes a `g{N}.norms` value: exactly two finite, non-negative norms.
pub fn decode_norms_entry(b: &[u8]) -> Result<(f32, f32), DecodeError> {
    if b.len() != 8 {
        return Err(DecodeError::new(format!(
            "norms value of {} bytes, expected 8",
            b.len()
        )));
    }
    decode_histogram_norms(b)
}

/// Decodes a histogram in [`Layout::Varint`] (see [`decode`]).
fn decode_varint(b: &[u8]) -> Result<Histogram, DecodeError> {
    let (cos_norm, l1_norm) = decode_histogram_norms(b)?;
    let mut pos = 8;
    let n = varint::get(b, &mut pos)?;
    // Each entry takes at least two bytes: refuse counts the value cannot hold
    // before allocating for them.
    if n > (b.len() - pos) as u64 / 2 {
        return Err(DecodeError::new(format!("histogram claims {n} entries")));
    }
    let mut entries = Vec::with_capacity(n as usize);
    let mut word = 0u32;
    for i in 0..n {
        let (delta, tf) = varint::get_gap(b, &mut pos, "histogram")?;
        let delta = u32::try_from(delta)
            .map_err(|_| DecodeError::new(format!("value {delta} exceeds 32 bits")))?;
        if i > 0 && delta == 0 {
            return Err(DecodeError::new("histogram words not strictly increasing"));
        }
        word = word
            .checked_add(delta)
            .ok_or_else(|| DecodeError::new("histogram word overflows"))?;
        entries.push((word, tf));
    }
    if pos != b.len() {
        return Err(DecodeError::new("trailing bytes after histogram"));
    }
    Ok(Histogram {
        cos_norm,
        l1_norm,
        entries,
    })
}

/// Encodes a histogram in [`Layout::Packed`] (see [`encode`]).
fn encode_packed(h: &Histogram) -> Vec<u8> {
    let mut out = Vec::with_capacity(10 + h.entries.len() * 5 / 4);
    out.extend_from_slice(&h.cos_norm.to_le_bytes());
    out.extend_from_slice(&h.l1_norm.to_le_bytes());
    varint::put(&mut out, h.entries.len() as u64);
    let mut prev = h.entries.first().map_or(0, |e| e.0);
    if !h.entries.is_empty() {
        varint::put(&mut out, u64::from(prev));
    }
    let pairs: Vec<(u64, u32)> = h
        .entries
        .iter()
        .map(|&(w, tf)| {
            let gap = u64::from(w - prev);
            prev = w;
            (gap, tf)
        })
        .collect();
    packed::put(&mut out, &pairs);
    out
}

/// Decodes a histogram in [`Layout::Packed`] (see [`decode`]).
fn decode_packed(b: &[u8]) -> Result<Histogram, DecodeError> {
    let (cos_norm, l1_norm) = decode_histogram_norms(b)?;
    let mut pos = 8;
    let n = varint::get(b, &mut pos)?;
    if n > packed::max_pairs(b.len() - pos) {
        return Err(DecodeError::new(format!("histogram claims {n} entries")));
    }
    let mut entries = Vec::with_capacity(n as usize);
    let (mut gaps, mut tfs) = ([0u64; packed::FRAME], [0u32; packed::FRAME]);
    let mut word = if n > 0 {
        varint::get_u32(b, &mut pos)?
    } else {
        0
    };
    let mut left = n as usize;
    while left > 0 {
        let m = left.min(packed::FRAME);
        packed::get_frame(b, &mut pos, &mut gaps[..m], &mut tfs[..m])?;
        for (&gap, &tf) in gaps[..m].iter().zip(&tfs[..m]) {
            if entries.is_empty() != (gap == 0) {
                return Err(DecodeError::new("histogram words not strictly increasing"));
            }
            word = u32::try_from(gap)
                .ok()
                .and_then(|g| word.checked_add(g))
                .ok_or_else(|| DecodeError::new("histogram word overflows"))?;
            entries.push((word, tf));
        }
        left -= m;
    }
    if pos != b.len() {
        return Err(DecodeError::new("trailing bytes after histogram"));
    }
    Ok(Histogram {
        cos_norm,
        l1_norm,
        entries,
    })
}

/// Encodes a histogram in `layout`; `entries` must be strictly increasing
/// by word.
pub fn encode(layout: Layout, h: &Histogram) -> Vec<u8> {
    match layout {
        Layout::Varint => encode_varint(h),
        Layout::Packed => encode_packed(h),
    }
}

/// Decodes a histogram in `layout`, checking order and bounds.
pub fn decode(layout: Layout, b: &[u8]) -> Result<Histogram, DecodeError> {
    match layout {
        Layout::Varint => decode_varint(b),
        Layout::Packed => decode_packed(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(words in proptest::collection::btree_map(0u32..2_000_000, 1u32..1000, 0..200), n in 0f32..100.0) {
            let h = Histogram { cos_norm: n, l1_norm: n * 2.0, entries: words.into_iter().collect() };
            prop_assert_eq!(decode(Layout::Varint, &encode_varint(&h)).unwrap(), h);
        }

        #[test]
        fn never_panics(b: Vec<u8>) {
            let _ = decode(Layout::Varint, &b);
            let _ = decode(Layout::Packed, &b);
        }

        #[test]
        fn packed_round_trip(words in proptest::collection::btree_map(0u32..=u32::MAX, 1u32..1000, 0..400), n in 0f32..100.0) {
            let h = Histogram { cos_norm: n, l1_norm: n * 2.0, entries: words.into_iter().collect() };
            prop_assert_eq!(decode(Layout::Packed, &encode_packed(&h)).unwrap(), h);
        }
    }
}
