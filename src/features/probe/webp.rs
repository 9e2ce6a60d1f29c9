//! WebP: the size libwebp reports (`WebPGetFeatures`), which OpenCV
//! allocates from, checked against the frame libwebp decodes.
//!
//! - `VP8 ` (lossy): a key frame's 14-bit width and height (the top two
//!   bits of each are a scale hint);
//! - `VP8L` (lossless): width − 1 and height − 1 in 14 bits each;
//! - `VP8X` (extended): the canvas, width − 1 and height − 1 in 24 bits
//!   each; the frame chunk that follows must be the same size (libwebp
//!   refuses a still image whose frame differs from its canvas). Animations
//!   are refused: OpenCV 4.6 does not decode them.

use super::{le32, malformed, ImageFormat, Refusal};

pub(super) fn probe(b: &[u8]) -> Result<(u32, u32), Refusal> {
    let bad = |why: &str| malformed(ImageFormat::WebP, why);
    let (tag, payload, next) = chunk(b, 12).ok_or_else(|| bad("truncated header"))?;
    match tag {
        b"VP8 " | b"VP8L" => frame(tag, payload).map_err(bad),
        b"VP8X" => {
            if payload.len() < 10 {
                return Err(bad("truncated VP8X chunk"));
            }
            if payload[0] & 0x02 != 0 {
                return Err(Refusal::Unsupported(
                    "animated WebP images are not supported".into(),
                ));
            }
            let u24 = |at: usize| {
                u32::from_le_bytes([payload[at], payload[at + 1], payload[at + 2], 0]) + 1
            };
            let canvas = (u24(4), u24(7));
            let mut at = next;
            let found = loop {
                let (tag, payload, next) =
                    chunk(b, at).ok_or_else(|| bad("no image chunk after VP8X"))?;
                if tag == b"VP8 " || tag == b"VP8L" {
                    break frame(tag, payload).map_err(bad)?;
                }
                at = next;
            };
            if found != canvas {
                return Err(malformed(
                    ImageFormat::WebP,
                    format!(
                        "canvas {}x{} differs from its frame {}x{}",
                        canvas.0, canvas.1, found.0, found.1
                    ),
                ));
            }
            Ok(canvas)
        }
        _ => Err(bad("the first chunk is not VP8, VP8L or VP8X")),
    }
}

/// The chunk at `at`: its tag, its payload (cut short where the data
/// ends), and where the next chunk starts (payloads are padded to even
/// length).
fn chunk(b: &[u8], at: usize) -> Option<(&[u8; 4], &[u8], usize)> {
    let tag: &[u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    let len = le32(b, at + 4)? as usize;
    let start = at + 8;
    let end = start.saturating_add(len);
    let payload = &b[start.min(b.len())..end.min(b.len())];
    Some((tag, payload, end.saturating_add(len & 1)))
}

fn frame(tag: &[u8; 4], p: &[u8]) -> Result<(u32, u32), &'static str> {
    if tag == b"VP8 " {
        if p.len() < 10 {
            return Err("truncated VP8 frame header");
        }
        if p[0] & 1 != 0 {
            return Err("the first VP8 frame is not a key frame");
        }
        if p[3..6] != [0x9d, 0x01, 0x2a] {
            return Err("no VP8 start code");
        }
        let w = u16::from_le_bytes([p[6], p[7]]) & 0x3fff;
        let h = u16::from_le_bytes([p[8], p[9]]) & 0x3fff;
        Ok((u32::from(w), u32::from(h)))
    } else {
        if p.len() < 5 || p[0] != 0x2f {
            return Err("no VP8L signature");
        }
        let bits = u32::from_le_bytes([p[1], p[2], p[3], p[4]]);
        if bits >> 29 != 0 {
            return Err("unknown VP8L version");
        }
        Ok(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
    }
}
