//! JPEG 2000: the size from the SIZ marker segment, which OpenJPEG
//! allocates from, in a bare codestream or in a JP2 file's codestream box
//! (`jp2c`). A JP2's image header box (`ihdr`) is not what is allocated:
//! OpenJPEG refuses a file whose `ihdr` differs from its SIZ.
//!
//! OpenJPEG holds every component as 4-byte samples, and OpenCV decodes one
//! to four components, all at full resolution, so more components or
//! subsampled ones are refused before decoding.

use super::{be16, be32, be64, malformed, ImageFormat, Refusal};

pub(super) fn probe(b: &[u8]) -> Result<(u32, u32), Refusal> {
    if b.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        return siz(b);
    }
    siz(codestream(b)?)
}

fn bad(why: &str) -> Refusal {
    malformed(ImageFormat::Jpeg2000, why)
}

/// The payload of the first `jp2c` box, walking the top-level boxes as
/// OpenJPEG does: a 32-bit length covering the 8-byte header, 1 for a
/// 64-bit length after the header, 0 for "to the end of the file".
fn codestream(b: &[u8]) -> Result<&[u8], Refusal> {
    let mut at = 0usize;
    loop {
        let len = be32(b, at).ok_or_else(|| bad("no codestream box"))?;
        let kind = b.get(at + 4..at + 8).ok_or_else(|| bad("truncated box"))?;
        let (header, size) = match len {
            0 => (8, (b.len() - at) as u64),
            1 => (16, be64(b, at + 8).ok_or_else(|| bad("truncated box"))?),
            n => (8, u64::from(n)),
        };
        if size < header {
            return Err(bad("a box shorter than its header"));
        }
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| at.checked_add(s))
            .unwrap_or(usize::MAX);
        if kind == b"jp2c" {
            return Ok(&b[(at + header as usize).min(b.len())..end.min(b.len())]);
        }
        at = end;
    }
}

/// SOC, then SIZ: length, capabilities, Xsiz, Ysiz, XOsiz, YOsiz, tile
/// size and offset, Csiz, and per component its depth and subsampling.
fn siz(cs: &[u8]) -> Result<(u32, u32), Refusal> {
    if !cs.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        return Err(bad("the codestream does not start with SOC and SIZ"));
    }
    let field = |at: usize| be32(cs, at).ok_or_else(|| bad("truncated SIZ marker"));
    let (x1, y1, x0, y0) = (field(8)?, field(12)?, field(16)?, field(20)?);
    let comps = be16(cs, 40).ok_or_else(|| bad("truncated SIZ marker"))?;
    if x0 >= x1 || y0 >= y1 {
        return Err(bad("the image offset lies outside the image"));
    }
    if comps == 0 {
        return Err(bad("no components"));
    }
    if comps > 4 {
        return Err(Refusal::Unsupported(format!(
            "JPEG 2000 with {comps} components (at most 4 are decoded)"
        )));
    }
    if be16(cs, 4) != Some(38 + 3 * comps) {
        return Err(bad("the SIZ length does not match its components"));
    }
    for c in 0..usize::from(comps) {
        let sub = cs
            .get(43 + 3 * c..45 + 3 * c)
            .ok_or_else(|| bad("truncated SIZ marker"))?;
        if sub != [1, 1] {
            return Err(Refusal::Unsupported(
                "JPEG 2000 with subsampled components is not supported".into(),
            ));
        }
    }
    Ok((x1 - x0, y1 - y0))
}
