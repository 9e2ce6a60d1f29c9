//! PBM, PGM, PPM: the ASCII header as OpenCV's reader parses it
//! (`grfmt_pxm.cpp`, `ReadNumber`): `P1`–`P6`, then width, height and
//! (except for bitmaps, `P1` and `P4`) the maximum value, each a run of
//! digits after C whitespace or `#` comments that run to a CR or LF.

/// C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// Width and height; the maximum value is read and checked the way the
/// reader does, so that what passes here is what it accepts.
pub(super) fn probe(b: &[u8]) -> Result<(u32, u32), &'static str> {
    let mut at = 2;
    let w = number(b, &mut at)?;
    let h = number(b, &mut at)?;
    if !matches!(b[1], b'1' | b'4') {
        let max = number(b, &mut at)?;
        if max == 0 || max > 65535 {
            return Err("maximum value outside 1 to 65535");
        }
    }
    Ok((w, h))
}

/// The next number from `at`, leaving `at` after its first non-digit (the
/// reader consumes that byte too).
fn number(b: &[u8], at: &mut usize) -> Result<u32, &'static str> {
    let mut next = || {
        let c = b.get(*at).copied().ok_or("the header ends early");
        *at += 1;
        c
    };
    let mut c = next()?;
    while !c.is_ascii_digit() {
        if c == b'#' {
            while !matches!(c, b'\n' | b'\r') {
                c = next()?;
            }
            c = next()?;
        } else if is_space(c) {
            while is_space(c) {
                c = next()?;
            }
        } else {
            return Err("a byte that is neither a digit, white space nor a comment");
        }
    }
    let mut v: u64 = 0;
    while c.is_ascii_digit() {
        v = v * 10 + u64::from(c - b'0');
        if v > i32::MAX as u64 {
            return Err("a number above 2^31 - 1");
        }
        c = next()?;
    }
    Ok(v as u32)
}
