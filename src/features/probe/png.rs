//! PNG: the size from IHDR, and a bound on the metadata libpng inflates.

use super::{be32, malformed, ImageFormat, Refusal};

/// libpng's limit on one chunk's inflated size (`PNG_USER_CHUNK_MALLOC_MAX`
/// in its default build, Debian's included): a chunk that inflates further
/// is dropped. Measured: ten 20 MB zTXt chunks left the peak memory of a
/// decode unchanged, ten 7 MB ones added 70 MB.
const CHUNK_LIMIT: u64 = 8_000_000;

/// Deflate's largest expansion: 258 bytes from 2 bits.
const DEFLATE_RATIO: u64 = 1032;

/// The inflated text libpng may hold for one image.
pub(super) const TEXT_LIMIT: u64 = 64 << 20;

/// Width and height from IHDR, which libpng requires as the first chunk,
/// 13 bytes long.
///
/// libpng inflates every compressed text chunk (zTXt, and iTXt with its
/// compression flag set) before and after the image data, and keeps the
/// text for the whole decode: a few MB of such chunks hold gigabytes. Their
/// inflated size is bounded by the compressed size and libpng's per-chunk
/// limit, and an image whose bound exceeds [`TEXT_LIMIT`] is refused.
pub(super) fn probe(b: &[u8]) -> Result<(u32, u32), Refusal> {
    let png = ImageFormat::Png;
    if b.len() < 33 {
        return Err(malformed(png, "truncated header"));
    }
    if be32(b, 8) != Some(13) || &b[12..16] != b"IHDR" {
        return Err(malformed(png, "the first chunk is not a 13-byte IHDR"));
    }
    let (w, h) = (be32(b, 16).unwrap_or(0), be32(b, 20).unwrap_or(0));
    let mut text = 0u64;
    let mut at = 33usize;
    while let Some(len) = be32(b, at) {
        let Some(kind) = b.get(at + 4..at + 8) else {
            break;
        };
        let body_at = at + 8;
        let end = body_at.saturating_add(len as usize);
        let body = &b[body_at.min(b.len())..end.min(b.len())];
        let compressed = match kind {
            b"zTXt" => true,
            // Keyword, NUL, then the compression flag.
            b"iTXt" => body
                .iter()
                .position(|&c| c == 0)
                .is_none_or(|nul| body.get(nul + 1) != Some(&0)),
            _ => false,
        };
        if compressed {
            text += (u64::from(len) * DEFLATE_RATIO).min(CHUNK_LIMIT);
        }
        if kind == b"IEND" {
            break;
        }
        at = end.saturating_add(4);
    }
    if text > TEXT_LIMIT {
        return Err(Refusal::Unsupported(format!(
            "PNG compressed metadata (zTXt, iTXt) can inflate to {text} bytes, over the limit of {TEXT_LIMIT}"
        )));
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut c = (body.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(body);
        c.extend_from_slice(&[0; 4]);
        c
    }

    fn png(extra: &[Vec<u8>]) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = 640u32.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&480u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
        b.extend(chunk(b"IHDR", &ihdr));
        for c in extra {
            b.extend_from_slice(c);
        }
        b.extend(chunk(b"IEND", &[]));
        b
    }

    #[test]
    fn compressed_text_is_bounded() {
        assert_eq!(probe(&png(&[])), Ok((640, 480)));
        // 8 KB of zTXt can inflate to libpng's 8 MB limit: eight pass.
        let z = chunk(b"zTXt", &[b'k', 0, 0].repeat(2700));
        assert_eq!(probe(&png(&vec![z.clone(); 8])), Ok((640, 480)));
        assert!(matches!(
            probe(&png(&vec![z; 9])),
            Err(Refusal::Unsupported(_))
        ));
        // Uncompressed iTXt costs its own size only; a compressed one counts.
        let plain = chunk(b"iTXt", &[b"k\0\0\0".as_slice(), &[b'x'; 9000]].concat());
        assert_eq!(probe(&png(&vec![plain; 20])), Ok((640, 480)));
        let packed = chunk(b"iTXt", &[b"k\0\x01\0".as_slice(), &[b'x'; 9000]].concat());
        assert!(probe(&png(&vec![packed; 9])).is_err());
    }

    #[test]
    fn ihdr_must_come_first() {
        let mut b = png(&[]);
        b[12..16].copy_from_slice(b"tEXt");
        assert!(matches!(probe(&b), Err(Refusal::Malformed(..))));
        assert!(probe(&b[..30]).is_err());
    }
}
