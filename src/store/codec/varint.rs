//! LEB128 variable-length unsigned integers.

use super::DecodeError;

/// Appends `v` in 1–10 bytes.
pub fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads one varint at `*pos`, advancing it.
#[inline]
pub fn get(b: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    // Most values in posting blocks and histograms (small deltas, tf 1)
    // take one byte.
    if let Some(&byte) = b.get(*pos) {
        if byte < 0x80 {
            *pos += 1;
            return Ok(u64::from(byte));
        }
    }
    get_long(b, pos)
}

/// The general case of [`get`].
#[cold]
fn get_long(b: &[u8], pos: &mut usize) -> Result<u64, DecodeError> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b
            .get(*pos)
            .ok_or_else(|| DecodeError::new("varint runs past the end of the value"))?;
        *pos += 1;
        let bits = u64::from(byte & 0x7F);
        if shift == 63 && bits > 1 {
            return Err(DecodeError::new("varint overflows 64 bits"));
        }
        // Only the shortest encoding is valid, so that every value has one
        // byte form (else `83 00` would also decode as 3).
        if shift > 0 && byte == 0 {
            return Err(DecodeError::new("overlong varint"));
        }
        v |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(DecodeError::new("varint longer than 10 bytes"))
}

/// Reads a varint that must fit in a u32.
#[inline]
pub fn get_u32(b: &[u8], pos: &mut usize) -> Result<u32, DecodeError> {
    let v = get(b, pos)?;
    u32::try_from(v).map_err(|_| DecodeError::new(format!("value {v} exceeds 32 bits")))
}

/// Appends the pairs of a [`Layout::Varint`](super::Layout) histogram or
/// posting block: for each (value, tf), in increasing value order, the
/// value minus the previous one (the first: minus `start`), then the tf,
/// each a varint.
pub fn put_gaps(out: &mut Vec<u8>, start: u64, pairs: impl IntoIterator<Item = (u64, u32)>) {
    let mut prev = start;
    for (value, tf) in pairs {
        put(out, value - prev);
        put(out, u64::from(tf));
        prev = value;
    }
}

/// Reads one (gap, tf) pair that [`put_gaps`] wrote at `*pos`, advancing
/// it. A tf must be at least 1; `what` names the value in that error
/// ("histogram", "posting").
#[inline]
pub fn get_gap(b: &[u8], pos: &mut usize, what: &str) -> Result<(u64, u32), DecodeError> {
    let gap = get(b, pos)?;
    let tf = get_u32(b, pos)?;
    if tf == 0 {
        return Err(DecodeError::new(format!("{what} term frequency 0")));
    }
    Ok((gap, tf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn overlong_encodings_are_refused() {
        for b in [&[0x83u8, 0x00][..], &[0x80, 0x80, 0x00], &[0xFF, 0x00]] {
            assert!(get(b, &mut 0).is_err(), "{b:?}");
        }
        assert_eq!(get(&[0x80, 0x01], &mut 0), Ok(128));
    }

    proptest! {
        #[test]
        fn round_trip(v: u64) {
            let mut b = Vec::new();
            put(&mut b, v);
            let mut pos = 0;
            prop_assert_eq!(get(&b, &mut pos).unwrap(), v);
            prop_assert_eq!(pos, b.len());
        }

        #[test]
        fn never_panics(b: Vec<u8>) {
            let mut pos = 0;
            let _ = get(&b, &mut pos);
        }

        #[test]
        fn what_decodes_re_encodes_identically(b: Vec<u8>) {
            let mut pos = 0;
            if let Ok(v) = get(&b, &mut pos) {
                let mut out = Vec::new();
                put(&mut out, v);
                prop_assert_eq!(&out[..], &b[..pos]);
            }
        }
    }
}
