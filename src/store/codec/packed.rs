//! Frames of bit-packed (gap, tf) pairs with exceptions: how format-3
//! generations store posting blocks and histograms (formats 1 and 2 use
//! varints).
//!
//! A sequence of n pairs is cut into frames of [`FRAME`] pairs (the last one
//! shorter); n itself is stored by the caller. Each frame holds two streams,
//! the gaps and the values tf − 1, each as low bits plus exceptions:
//!
//! ```text
//! per frame of m pairs:
//!   u8   bg: low bits per gap (0–64)
//!   u8   eg: gap exceptions (≤ m / 8)
//!   u8   bt: low bits per tf − 1 (0–32)
//!   u8   et: tf exceptions (≤ m / 8)
//!   ⌈m·bg / 8⌉ bytes   the low bg bits of each gap, least significant bit first
//!   ⌈m·bt / 8⌉ bytes   the low bt bits of each tf − 1, likewise
//!   eg × (u8 index, varint gap >> bg)       indexes strictly increasing
//!   et × (u8 index, varint (tf − 1) >> bt)  likewise
//! ```
//!
//! A stream's width is the smallest b for which at most m / 8 values reach
//! 2^b; exactly those values are exceptions. Unused bits of a field's last
//! byte are zero. The decoder checks all of it, so only this encoding
//! decodes and every sequence has one byte form.
//!
//! Why: a posting's doc gap at 100k records and 10^5 words is typically
//! 60–250 and its tf usually 1. Varints spend 2–3 bytes on that; a frame
//! whose width covers its largest value spends about 9–10 bits; with
//! exceptions the width follows the bulk of the values instead of the
//! largest one, and a frame with a few tf > 1 among many tf = 1 spends two
//! bytes per such tf instead of a bit or more on every pair
//! (docs/STORAGE.md, "Codec").

use super::DecodeError;

/// Pairs per frame.
pub const FRAME: usize = 128;

/// A stream may have at most (frame length) / `EXCEPTION_SHARE`
/// exceptions.
const EXCEPTION_SHARE: usize = 8;

fn bits(v: u64) -> u32 {
    64 - v.leading_zeros()
}

/// The smallest width b for which at most `len / 8` of `vals` reach 2^b.
fn width(vals: impl Iterator<Item = u64>, len: usize) -> u32 {
    let allowed = len / EXCEPTION_SHARE;
    let mut by_bits = [0usize; 65];
    for v in vals {
        by_bits[bits(v) as usize] += 1;
    }
    // At step b, `above` counts the values with more than b bits (≥ 2^b).
    let mut above = 0;
    for b in (0..=64usize).rev() {
        if above > allowed {
            return b as u32 + 1;
        }
        above += by_bits[b];
    }
    0
}

/// Appends `values`, `width` bits each (the low bits), least significant
/// bit first.
fn pack(out: &mut Vec<u8>, values: impl Iterator<Item = u64>, width: u32) {
    if width == 0 {
        return;
    }
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    let mut acc: u128 = 0;
    let mut have = 0u32;
    for v in values {
        acc |= u128::from(v & mask) << have;
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

/// Appends the exceptions of a stream: (index, value >> width) of every
/// value that reaches 2^width.
fn put_exceptions(out: &mut Vec<u8>, values: impl Iterator<Item = u64>, width: u32) {
    for (i, v) in values.enumerate() {
        let high = if width == 64 { 0 } else { v >> width };
        if high != 0 {
            out.push(i as u8);
            super::varint::put(out, high);
        }
    }
}

fn exceptions(values: impl Iterator<Item = u64>, width: u32) -> usize {
    values.filter(|&v| width < 64 && v >> width != 0).count()
}

/// Appends the frames of `pairs` (gap, tf ≥ 1).
pub fn put(out: &mut Vec<u8>, pairs: &[(u64, u32)]) {
    for frame in pairs.chunks(FRAME) {
        let gaps = || frame.iter().map(|p| p.0);
        let tfs = || frame.iter().map(|p| u64::from(p.1 - 1));
        let bg = width(gaps(), frame.len());
        let bt = width(tfs(), frame.len());
        out.push(bg as u8);
        out.push(exceptions(gaps(), bg) as u8);
        out.push(bt as u8);
        out.push(exceptions(tfs(), bt) as u8);
        pack(out, gaps(), bg);
        pack(out, tfs(), bt);
        put_exceptions(out, gaps(), bg);
        put_exceptions(out, tfs(), bt);
    }
}

/// Reads `out.len()` values of `width` bits at `*pos`, advancing it past
/// the field; returns how many have their top bit (bit `width − 1`) set,
/// for the canonical-width check.
#[inline(always)]
fn unpack(
    b: &[u8],
    pos: &mut usize,
    width: u32,
    out: &mut [u64],
    padded: &mut [u8; PADDED],
) -> Result<usize, DecodeError> {
    let m = out.len().min(FRAME);
    let total_bits = m * width as usize;
    let len = total_bits.div_ceil(8);
    let start = *pos;
    let field = b
        .get(start..start + len)
        .ok_or_else(|| DecodeError::new("packed frame runs past the end of the value"))?;
    *pos += len;
    if width == 0 {
        out.fill(0);
        return Ok(0);
    }
    if let Some(top) = unpack_fast(&b[start..], width, &mut out[..m]) {
        check_padding(field, total_bits)?;
        return Ok(top);
    }
    // The field copied into a buffer with room after it, so that every
    // value is one unaligned load at a known-valid offset. Whatever the
    // bytes past the field hold lands above the value's bits and is masked
    // off.
    padded[..len].copy_from_slice(field);
    let mut top = 0u64;
    if width <= 56 {
        let mask = (1u64 << width) - 1;
        for (i, o) in out[..m].iter_mut().enumerate() {
            let bit = i * width as usize;
            let byte = bit >> 3;
            let mut w = [0u8; 8];
            w.copy_from_slice(&padded[byte..byte + 8]);
            let v = (u64::from_le_bytes(w) >> (bit & 7)) & mask;
            top += v >> (width - 1);
            *o = v;
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
            top += v >> (width - 1);
            *o = v;
        }
    }
    check_padding(field, total_bits)?;
    Ok(top as usize)
}

/// The unused bits of a field's last byte must be zero.
#[inline(always)]
fn check_padding(field: &[u8], total_bits: usize) -> Result<(), DecodeError> {
    let used = (total_bits % 8) as u32;
    match field.last() {
        Some(&last) if used != 0 && last >> used != 0 => {
            Err(DecodeError::new("packed frame has non-zero padding bits"))
        }
        _ => Ok(()),
    }
}

/// A field of `out.len()` ≤ [`FRAME`] values of `width` ≤ 32 bits,
/// unpacked by a loop specialised for that width, reading `rest` (the
/// field and the bytes after it in the value); `None` for wider fields or
/// when fewer than 8 bytes follow the field.
#[inline(always)]
fn unpack_fast(rest: &[u8], width: u32, out: &mut [u64]) -> Option<usize> {
    macro_rules! widths {
        ($($w:literal)*) => {
            match width {
                $($w => unpack_const::<$w>(rest, out),)*
                _ => None,
            }
        };
    }
    widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
}

/// Unpacks `out.len()` values of `W` bits, each by one unaligned 8-byte
/// load straight from `src` (bits past the field are masked off). With `W`
/// a constant, every offset, shift and mask within a group of 8 values is a
/// constant, so the loop compiles to straight code: no copy into a
/// buffer, whose narrow stores read back by wide loads would stall the
/// pipeline.
#[inline(always)]
fn unpack_const<const W: usize>(src: &[u8], out: &mut [u64]) -> Option<usize> {
    let mut top = 0u64;
    if out.len() == FRAME {
        // Lengths the compiler knows: no bounds checks in the loop.
        let src = src.get(..16 * W + 8)?;
        for (g, o) in out.chunks_exact_mut(8).enumerate() {
            for (j, v) in o.iter_mut().enumerate() {
                *v = value::<W>(src, g * 8 + j);
                top += *v >> (W - 1);
            }
        }
    } else {
        let src = src.get(..(out.len() * W).div_ceil(8) + 8)?;
        for (i, v) in out.iter_mut().enumerate() {
            *v = value::<W>(src, i);
            top += *v >> (W - 1);
        }
    }
    Some(top as usize)
}

/// Value `i` of a field of `W`-bit values; `src` holds 8 bytes from the
/// value's first byte.
#[inline(always)]
fn value<const W: usize>(src: &[u8], i: usize) -> u64 {
    let bit = i * W;
    let mut w = [0u8; 8];
    w.copy_from_slice(&src[bit / 8..bit / 8 + 8]);
    (u64::from_le_bytes(w) >> (bit % 8)) & ((1u64 << W) - 1)
}

/// Applies `count` exceptions at `*pos` to `vals` (low `width` bits each,
/// `top` of them with bit `width − 1` set), and checks that `width` is the
/// canonical one.
#[inline(always)]
fn patch(
    b: &[u8],
    pos: &mut usize,
    count: usize,
    width: u32,
    mut top: usize,
    vals: &mut [u64],
) -> Result<(), DecodeError> {
    let m = vals.len();
    let mut next = 0usize;
    for _ in 0..count {
        let i = usize::from(
            *b.get(*pos)
                .ok_or_else(|| DecodeError::new("packed exception runs past the end"))?,
        );
        *pos += 1;
        if i < next || i >= m {
            return Err(DecodeError::new("packed exception indexes out of order"));
        }
        next = i + 1;
        let high = super::varint::get(b, pos)?;
        // The value high·2^width must fit in 64 bits.
        if high == 0 || width == 64 || (width > 0 && high >> (64 - width) != 0) {
            return Err(DecodeError::new("packed exception out of range"));
        }
        if width > 0 {
            // Counted again below, as an exception.
            top -= (vals[i] >> (width - 1)) as usize;
        }
        vals[i] |= high << width;
    }
    // Canonical width: at most m / 8 exceptions, and one bit less would
    // have needed more (the values reaching 2^(width − 1): those with the
    // top low bit set, and every exception).
    let allowed = m / EXCEPTION_SHARE;
    if count > allowed || (width > 0 && top + count <= allowed) {
        return Err(DecodeError::new(
            "packed frame width is not the canonical one",
        ));
    }
    Ok(())
}

/// Room for the widest field (128 values of 64 bits) and one 16-byte load
/// past it.
const PADDED: usize = FRAME * 8 + 16;

/// Buffers that frame decoding reuses from frame to frame: kept by the
/// caller so that no frame pays for initialising them.
pub struct Scratch {
    padded: [u8; PADDED],
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            padded: [0; PADDED],
        }
    }
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
    let m = gaps.len();
    if m > FRAME || tfs.len() != m {
        return Err(DecodeError::new("frame buffers of the wrong size"));
    }
    let mut extra = [0u64; FRAME];
    if get_frame_raw(b, pos, gaps, &mut extra[..m], &mut Scratch::default())? {
        tfs.fill(1);
    } else {
        for (t, &e) in tfs.iter_mut().zip(extra.iter()) {
            *t = (e + 1) as u32;
        }
    }
    Ok(())
}

/// Decodes one frame of `gaps.len()` pairs (≤ [`FRAME`]) at `*pos`: the
/// gaps into `gaps` and each tf − 1 into `tf_minus_1` (checked to fit: tf
/// ≤ u32::MAX), unless every tf is 1, which returns true and leaves
/// `tf_minus_1` untouched.
#[inline(always)]
pub fn get_frame_raw(
    b: &[u8],
    pos: &mut usize,
    gaps: &mut [u64],
    tf_minus_1: &mut [u64],
    scratch: &mut Scratch,
) -> Result<bool, DecodeError> {
    let m = gaps.len();
    if m > FRAME || tf_minus_1.len() != m {
        return Err(DecodeError::new("frame buffers of the wrong size"));
    }
    let Some(h) = b.get(*pos..*pos + 4) else {
        return Err(DecodeError::new("packed frame header missing"));
    };
    let (bg, eg, bt, et) = (
        u32::from(h[0]),
        usize::from(h[1]),
        u32::from(h[2]),
        usize::from(h[3]),
    );
    *pos += 4;
    if bg > 64 || bt > 32 {
        return Err(DecodeError::new(format!(
            "packed frame widths {bg}/{bt} out of range"
        )));
    }
    let gtop = unpack(b, pos, bg, gaps, &mut scratch.padded)?;
    if bt == 0 && et == 0 {
        patch(b, pos, eg, bg, gtop, gaps)?;
        return Ok(true);
    }
    let ttop = unpack(b, pos, bt, tf_minus_1, &mut scratch.padded)?;
    patch(b, pos, eg, bg, gtop, gaps)?;
    patch(b, pos, et, bt, ttop, tf_minus_1)?;
    // e ≥ 2^32, or e = 2^32 − 1 (so that e + 1 does not fit): one OR over
    // the frame, which vectorises where a maximum of u64s does not.
    if tf_minus_1
        .iter()
        .fold(0, |a, &e| a | (e >> 32) | (e.wrapping_add(1) >> 32))
        != 0
    {
        return Err(DecodeError::new("term frequency overflows"));
    }
    Ok(false)
}

/// Most pairs a value of `remaining` bytes can hold: every frame takes at
/// least its four header bytes. Checked before allocating.
pub fn max_pairs(remaining: usize) -> u64 {
    (remaining / 4) as u64 * FRAME as u64
}

#[cfg(test)]
mod tests;
