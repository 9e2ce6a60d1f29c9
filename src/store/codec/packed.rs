//! Frames of bit-packed (gap, tf) pairs: how format-3 generations store
//! posting blocks and histograms (format 1 and 2 use varints).
//!
//! A sequence of n pairs is cut into frames of [`FRAME`] pairs (the last one
//! shorter); n itself is stored by the caller.
//!
//! ```text
//! per frame of m pairs:
//!   u8   bg, bits per gap: the bit length of the frame's largest gap (0–64)
//!   u8   bt, bits per tf − 1: the bit length of the largest tf − 1 (0–32)
//!   ⌈m·bg / 8⌉ bytes  the m gaps, bg bits each, least significant bit first
//!   ⌈m·bt / 8⌉ bytes  the m values tf − 1, likewise
//! ```
//!
//! Unused bits of a field's last byte are zero. Only the canonical encoding
//! decodes (the widths are exactly the bit lengths, padding is zero), so
//! every sequence has one byte form.
//!
//! Why this and not varints: a posting's doc gap at 100k records and 10^5
//! words is typically 60–250 (8 bits) and its tf is usually 1, which varints
//! store in 2–3 bytes and a frame in about 9–10 bits; frames also decode
//! without a branch per byte (docs/STORAGE.md, "Codec").

use super::DecodeError;

/// Pairs per frame.
pub const FRAME: usize = 128;

fn bits(v: u64) -> u32 {
    64 - v.leading_zeros()
}

/// Appends `values`, `width` bits each, least significant bit first.
fn pack(out: &mut Vec<u8>, values: impl Iterator<Item = u64>, width: u32) {
    if width == 0 {
        return;
    }
    let mut acc: u128 = 0;
    let mut have = 0u32;
    for v in values {
        acc |= u128::from(v) << have;
        have += width;
        while have >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            have -= 8;
        }
    }
    if have > 0 {
        out.push(acc as u8);
    }
}

/// Appends the frames of `pairs` (gap, tf ≥ 1).
pub fn put(out: &mut Vec<u8>, pairs: &[(u64, u32)]) {
    for frame in pairs.chunks(FRAME) {
        let bg = bits(frame.iter().fold(0, |a, p| a | p.0));
        let bt = bits(frame.iter().fold(0, |a, p| a | u64::from(p.1 - 1)));
        out.push(bg as u8);
        out.push(bt as u8);
        pack(out, frame.iter().map(|p| p.0), bg);
        pack(out, frame.iter().map(|p| u64::from(p.1 - 1)), bt);
    }
}

/// Reads `out.len()` values of `width` bits at `*pos`, advancing it past
/// the field; returns the OR of the values (to check the width).
#[inline(always)]
fn unpack(b: &[u8], pos: &mut usize, width: u32, out: &mut [u64]) -> Result<u64, DecodeError> {
    let m = out.len().min(FRAME);
    let total_bits = m * width as usize;
    let len = total_bits.div_ceil(8);
    let field = b
        .get(*pos..*pos + len)
        .ok_or_else(|| DecodeError::new("packed frame runs past the end of the value"))?;
    *pos += len;
    if width == 0 {
        out.fill(0);
        return Ok(0);
    }
    // The field copied into a zero-padded buffer, so that every value is one
    // unaligned 8-byte load at a known-valid offset (no per-value bounds
    // branch beyond the slice check the compiler can hoist).
    let mut padded = [0u8; FRAME * 8 + 16];
    padded[..len].copy_from_slice(field);
    let mut or = 0;
    if width <= 56 {
        let mask = (1u64 << width) - 1;
        for (i, o) in out[..m].iter_mut().enumerate() {
            let bit = i * width as usize;
            let byte = bit >> 3;
            let mut w = [0u8; 8];
            w.copy_from_slice(&padded[byte..byte + 8]);
            let v = (u64::from_le_bytes(w) >> (bit & 7)) & mask;
            *o = v;
            or |= v;
        }
    } else {
        let mask = if width == 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        for (i, o) in out[..m].iter_mut().enumerate() {
            let bit = i * width as usize;
            let byte = bit >> 3;
            let mut w = [0u8; 16];
            w.copy_from_slice(&padded[byte..byte + 16]);
            let v = ((u128::from_le_bytes(w) >> (bit & 7)) as u64) & mask;
            *o = v;
            or |= v;
        }
    }
    if total_bits % 8 != 0 {
        let used = (total_bits % 8) as u32;
        if field[len - 1] >> used != 0 {
            return Err(DecodeError::new("packed frame has non-zero padding bits"));
        }
    }
    Ok(or)
}

/// Decodes one frame of `gaps.len()` pairs (≤ [`FRAME`]) at `*pos` into
/// `gaps` and `tfs` (tf ≥ 1).
#[inline(always)]
pub fn get_frame(
    b: &[u8],
    pos: &mut usize,
    gaps: &mut [u64],
    tfs: &mut [u32],
) -> Result<(), DecodeError> {
    if gaps.len() > FRAME || tfs.len() != gaps.len() {
        return Err(DecodeError::new("frame buffers of the wrong size"));
    }
    let (Some(&bg), Some(&bt)) = (b.get(*pos), b.get(*pos + 1)) else {
        return Err(DecodeError::new("packed frame header missing"));
    };
    *pos += 2;
    let (bg, bt) = (u32::from(bg), u32::from(bt));
    if bg > 64 || bt > 32 {
        return Err(DecodeError::new(format!(
            "packed frame widths {bg}/{bt} out of range"
        )));
    }
    if bits(unpack(b, pos, bg, gaps)?) != bg {
        return Err(DecodeError::new("packed frame gap width is not minimal"));
    }
    let mut extra = [0u64; FRAME];
    let extra = &mut extra[..tfs.len()];
    let or = unpack(b, pos, bt, extra)?;
    if bits(or) != bt {
        return Err(DecodeError::new("packed frame tf width is not minimal"));
    }
    for (t, &e) in tfs.iter_mut().zip(extra.iter()) {
        // e < 2^32 since bt ≤ 32; tf = e + 1 must fit too.
        *t = u32::try_from(e + 1).map_err(|_| DecodeError::new("term frequency overflows"))?;
    }
    Ok(())
}

/// Most pairs a value of `remaining` bytes can hold: every frame takes at
/// least its two header bytes. Checked before allocating.
pub fn max_pairs(remaining: usize) -> u64 {
    (remaining / 2) as u64 * FRAME as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(b: &[u8], n: usize) -> Result<Vec<(u64, u32)>, DecodeError> {
        let mut pos = 0;
        let mut out = Vec::new();
        let (mut g, mut t) = ([0u64; FRAME], [0u32; FRAME]);
        let mut left = n;
        while left > 0 {
            let m = left.min(FRAME);
            get_frame(b, &mut pos, &mut g[..m], &mut t[..m])?;
            out.extend(g[..m].iter().copied().zip(t[..m].iter().copied()));
            left -= m;
        }
        if pos != b.len() {
            return Err(DecodeError::new("trailing"));
        }
        Ok(out)
    }

    proptest! {
        #[test]
        fn round_trip(pairs in proptest::collection::vec((any::<u64>().prop_map(|v| v >> (v % 64)), 1u32..=u32::MAX), 0..600)) {
            let mut b = Vec::new();
            put(&mut b, &pairs);
            prop_assert_eq!(decode_all(&b, pairs.len()).unwrap(), pairs);
        }

        #[test]
        fn only_canonical_bytes_decode(b: Vec<u8>, n in 0usize..300) {
            if let Ok(p) = decode_all(&b, n) {
                let mut again = Vec::new();
                put(&mut again, &p);
                prop_assert_eq!(again, b);
            }
        }
    }

    #[test]
    fn typical_postings_take_about_ten_bits() {
        // Gaps around 100 with tf 1 and a few tf 2.
        let pairs: Vec<(u64, u32)> = (0..1280u64)
            .map(|i| (60 + (i * 37) % 120, if i % 10 == 0 { 2 } else { 1 }))
            .collect();
        let mut b = Vec::new();
        put(&mut b, &pairs);
        assert_eq!(b.len(), 10 * (2 + 128 * 8 / 8 + 128 / 8));
    }
}
