use super::*;
use proptest::prelude::*;

#[test]
fn png_headers_give_sizes_and_gif_is_refused() {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend_from_slice(&60000u32.to_be_bytes());
    png.extend_from_slice(&7u32.to_be_bytes());
    png.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(dims(&png), Some((60000, 7)));
    assert!(matches!(
        probe(b"GIF89a\x10\x00\x20\x00\0\0\0;"),
        Err(Refusal::Unsupported(_))
    ));
    assert_eq!(probe(b"hello"), Err(Refusal::Unknown));
}

#[test]
fn only_known_signatures_reach_a_decoder() {
    assert_eq!(sniff(b"\xff\xd8\xff\xe0"), Some(ImageFormat::Jpeg));
    assert_eq!(sniff(b"P5 10 10 255\n"), Some(ImageFormat::Pnm));
    assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageFormat::WebP));
    assert_eq!(sniff(b"hello"), None);
    // Found by fuzzing: DICOM data (`DICM` at offset 128) aborted the
    // process inside OpenCV's DICOM reader, which OpenCV tries before
    // OpenJPEG's and after a reader that turns a file down.
    let mut dicom = vec![0u8; 128];
    dicom.extend_from_slice(b"DICM\xff");
    assert_eq!(sniff(&dicom), None);
    let mut j2k = vec![0xFF, 0x4F, 0xFF, 0x51];
    j2k.resize(128, 0);
    j2k.extend_from_slice(b"DICM");
    assert!(matches!(probe(&j2k), Err(Refusal::Unsupported(_))));
    let mut webp = b"RIFF\0\0\0\0WEBPVP8L".to_vec();
    webp.resize(140, 0);
    webp.extend_from_slice(b"DTED");
    assert!(matches!(probe(&webp), Err(Refusal::Unsupported(_))));
}

#[test]
fn zero_sizes_and_unreadable_headers_are_refused() {
    assert_eq!(probe(b"P5 0 10 255 "), Err(Refusal::ZeroSize));
    for bad in [
        &b"P5 10"[..],
        b"P5 10 10 0 ",
        b"P5 10 x 255 ",
        b"II*\0\x08\0\0\0\x01\0",
        b"RIFF\0\0\0\0WEBPVP8L\x05\0\0\0\x2e\0\0\0\0",
        b"BM\0\0\0\0\0\0\0\0\0\0\0\0\x20\0\0\0",
        &[0xFF, 0x4F, 0xFF, 0x51, 0, 41],
    ] {
        assert!(
            matches!(probe(bad), Err(Refusal::Malformed(..))),
            "{bad:02x?}: {:?}",
            probe(bad)
        );
    }
}

#[test]
fn tiff_blocks_larger_than_the_image_are_reported() {
    let tiles = tiff_le(&[
        (256, 4, 100),
        (257, 4, 100),
        (322, 4, 16384),
        (323, 4, 16384),
    ]);
    assert_eq!(
        probe(&tiles).map(|h| h.block),
        Ok(Some(Block::Tiles(16384, 16384)))
    );
    let strips = tiff_le(&[(256, 4, 100), (257, 4, 100), (278, 4, 4_000_000)]);
    assert_eq!(probe(&strips).map(|h| h.buffer_pixels()), Ok(400_000_000));
    // Small tiles, one strip, "one strip" written as 2^32 - 1.
    for t in [
        tiff_le(&[(256, 4, 100), (257, 4, 100), (322, 3, 16), (323, 3, 16)]),
        tiff_le(&[(256, 4, 100), (257, 4, 100), (278, 4, 100)]),
        tiff_le(&[(256, 4, 100), (257, 4, 100), (278, 4, u32::MAX)]),
    ] {
        assert_eq!(probe(&t).map(|h| h.block), Ok(None));
    }
    let twice = tiff_le(&[(256, 4, 100), (256, 4, 90_000), (257, 4, 100)]);
    assert!(probe(&twice).is_err());
    let rational = tiff_le(&[(256, 5, 100), (257, 4, 100)]);
    assert!(probe(&rational).is_err());
}

#[test]
fn webp_animation_and_mismatched_frames_are_refused() {
    let mut vp8x = vec![0x02, 0, 0, 0, 9, 0, 0, 9, 0, 0];
    assert!(matches!(
        probe(&riff(b"VP8X", &vp8x)),
        Err(Refusal::Unsupported(_))
    ));
    vp8x[0] = 0;
    let mut x = riff(b"VP8X", &vp8x);
    let bits: u32 = 99 | (99 << 14);
    let mut vp8l = vec![0x2f];
    vp8l.extend_from_slice(&bits.to_le_bytes());
    x.extend_from_slice(b"VP8L\x05\0\0\0");
    x.extend_from_slice(&vp8l);
    x.push(0);
    let e = probe(&x).map_err(|e| e.to_string());
    assert_eq!(
        e,
        Err("unreadable WebP header: canvas 10x10 differs from its frame 100x100".into())
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Any bytes, and any bytes after each signature: a header or a
    /// refusal, never a panic; a header is never zero-sized.
    #[test]
    fn probes_never_panic(
        sig in 0usize..9,
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        const SIGNATURES: [&[u8]; 9] = [
            b"\xff\xd8\xff",
            b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR",
            b"BM",
            b"II*\0",
            b"MM\0*",
            b"RIFF\0\0\0\0WEBP",
            b"P5 ",
            b"\0\0\0\x0cjP  \r\n\x87\n",
            b"\xff\x4f\xff\x51",
        ];
        let mut b = SIGNATURES[sig].to_vec();
        b.extend_from_slice(&tail);
        for bytes in [&b[..], &tail[..]] {
            if let Ok(h) = probe(bytes) {
                prop_assert!(h.width > 0 && h.height > 0);
                prop_assert!(h.buffer_pixels() >= h.pixels());
            }
            let _ = jpeg::is_complete(bytes);
        }
    }
}

/// Width and height as the header probe reads them; `None` when it
/// refuses the header or cannot read it.
fn dims(b: &[u8]) -> Option<(u32, u32)> {
    probe(b).ok().map(|h| (h.width, h.height))
}

/// A little-endian TIFF header with one directory of `(tag, type,
/// value)` entries, each of count 1.
fn tiff_le(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut b = b"II*\0".to_vec();
    b.extend_from_slice(&8u32.to_le_bytes());
    b.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for &(tag, typ, v) in entries {
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&typ.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        if typ == 3 {
            b.extend_from_slice(&(v as u16).to_le_bytes());
            b.extend_from_slice(&[0, 0]);
        } else {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    b.extend_from_slice(&0u32.to_le_bytes());
    b
}

#[test]
fn tiff_sizes_come_from_the_first_directory_in_both_byte_orders() {
    let le = tiff_le(&[(256, 4, 20000), (257, 4, 15000), (258, 3, 1)]);
    assert_eq!(dims(&le), Some((20000, 15000)));
    let le_short = tiff_le(&[(256, 3, 640), (257, 3, 480)]);
    assert_eq!(dims(&le_short), Some((640, 480)));
    let mut be = b"MM\0*".to_vec();
    be.extend_from_slice(&8u32.to_be_bytes());
    be.extend_from_slice(&2u16.to_be_bytes());
    for (tag, typ, v) in [(256u16, 3u16, 300u16), (257, 3, 200)] {
        be.extend_from_slice(&tag.to_be_bytes());
        be.extend_from_slice(&typ.to_be_bytes());
        be.extend_from_slice(&1u32.to_be_bytes());
        be.extend_from_slice(&v.to_be_bytes());
        be.extend_from_slice(&[0, 0]);
    }
    be.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(dims(&be), Some((300, 200)));
    let mut be_long = b"MM\0*\0\0\0\x08\0\x02".to_vec();
    for (tag, v) in [(256u16, 70000u32), (257, 5)] {
        be_long.extend_from_slice(&tag.to_be_bytes());
        be_long.extend_from_slice(&4u16.to_be_bytes());
        be_long.extend_from_slice(&1u32.to_be_bytes());
        be_long.extend_from_slice(&v.to_be_bytes());
    }
    be_long.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(dims(&be_long), Some((70000, 5)));
}

fn riff(tag: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut b = b"RIFF".to_vec();
    b.extend_from_slice(&(12 + payload.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WEBP");
    b.extend_from_slice(tag);
    b.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    b.extend_from_slice(payload);
    b
}

#[test]
fn webp_sizes_from_lossy_lossless_and_extended_headers() {
    // VP8: key frame tag, start code, 14-bit sizes (top 2 bits: scale).
    let mut vp8 = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
    vp8.extend_from_slice(&(16000u16 | 0x4000).to_le_bytes());
    vp8.extend_from_slice(&9000u16.to_le_bytes());
    vp8.resize(20, 0);
    assert_eq!(dims(&riff(b"VP8 ", &vp8)), Some((16000, 9000)));
    // VP8L: signature, then width-1 and height-1 in 14 bits each.
    let bits: u32 = (16000 - 1) | ((16000 - 1) << 14);
    let mut vp8l = vec![0x2f];
    vp8l.extend_from_slice(&bits.to_le_bytes());
    vp8l.resize(20, 0);
    assert_eq!(dims(&riff(b"VP8L", &vp8l)), Some((16000, 16000)));
    // VP8X: flags, reserved, canvas width-1 and height-1 in 24 bits each,
    // then the frame, of the same size.
    let mut vp8x = vec![0, 0, 0, 0];
    vp8x.extend_from_slice(&(16000u32 - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(16000u32 - 1).to_le_bytes()[..3]);
    let mut x = riff(b"VP8X", &vp8x);
    x.extend_from_slice(b"VP8L");
    x.extend_from_slice(&(vp8l.len() as u32).to_le_bytes());
    x.extend_from_slice(&vp8l);
    assert_eq!(dims(&x), Some((16000, 16000)));
}

#[test]
fn pnm_sizes_skip_comments_and_whitespace() {
    let pgm = b"P5\n# 1 1\n20000 #2 2\n# 3 3\n\t15000\r255\n\x80\x80";
    assert_eq!(dims(pgm), Some((20000, 15000)));
    assert_eq!(dims(b"P1 3 2\n0 1 0\n1 0 1\n"), Some((3, 2)));
    assert_eq!(dims(b"P6 4 4 65535 "), Some((4, 4)));
}

fn j2k(w: u32, h: u32) -> Vec<u8> {
    let mut b = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
    for v in [w, h, 0, 0, w, h, 0, 0] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(&[0, 1, 7, 1, 1, 0xFF, 0xD9]);
    b
}

#[test]
fn jpeg2000_sizes_from_the_siz_marker_in_codestreams_and_jp2_files() {
    assert_eq!(dims(&j2k(20000, 15000)), Some((20000, 15000)));
    let mut jp2 = b"\0\0\0\x0cjP  \r\n\x87\n\0\0\0\x14ftypjp2 \0\0\0\0jp2 ".to_vec();
    jp2.extend_from_slice(b"\0\0\0\x1ejp2h\0\0\0\x16ihdr\0\0\0\x64\0\0\0\x64\0\x01\x07\x07\0\0");
    let cs = j2k(20000, 15000);
    jp2.extend_from_slice(&(8 + cs.len() as u32).to_be_bytes());
    jp2.extend_from_slice(b"jp2c");
    jp2.extend_from_slice(&cs);
    assert_eq!(dims(&jp2), Some((20000, 15000)));
}

#[test]
fn bmp_core_headers_have_16_bit_sizes() {
    let mut b = b"BM\0\0\0\0\0\0\0\0\x1a\0\0\0\x0c\0\0\0".to_vec();
    b.extend_from_slice(&100u16.to_le_bytes());
    b.extend_from_slice(&80u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    assert_eq!(dims(&b), Some((100, 80)));
}

/// A frame header (SOF0, one component) of `w`×`h`.
fn sof(w: u16, h: u16) -> Vec<u8> {
    let mut b = vec![0xFF, 0xC0, 0x00, 0x0B, 0x08];
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&[0x01, 0x01, 0x11, 0x00]);
    b
}

#[test]
fn jpeg_walk_skips_standalone_markers_like_libjpeg() {
    // TEM has no length. Read as if it had one, `FF 01 FF E1` jumps
    // 0xFFE1 bytes into the APP1 payload, onto a fake 100x100 frame.
    let mut b = vec![0xFF, 0xD8, 0xFF, 0x01, 0xFF, 0xE1, 0xFF, 0xFD];
    b.resize(8 + 0xFFFD - 2, 0);
    let fake = 4 + 0xFFE1;
    b[fake..fake + 13].copy_from_slice(&sof(100, 100));
    b.extend_from_slice(&sof(20000, 15000));
    b.extend_from_slice(&[0xFF, 0xD9]);
    assert_eq!(dims(&b), Some((20000, 15000)));
    // Restart markers are standalone too.
    let mut rst = vec![0xFF, 0xD8, 0xFF, 0xD0, 0xFF, 0xD7];
    rst.extend_from_slice(&sof(640, 480));
    assert_eq!(dims(&rst), Some((640, 480)));
    // Fill bytes and stray bytes between segments are skipped.
    let mut junk = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0xAA, 0xBB, 0x00, 0x13, 0xFF,
    ];
    junk.extend_from_slice(&[0xFF, 0xFF]);
    junk.extend_from_slice(&sof(20000, 15000));
    assert_eq!(dims(&junk), Some((20000, 15000)));
    // A frame header inside an APPn payload is not read.
    let mut app = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x0F];
    app.extend_from_slice(&sof(100, 100));
    app.extend_from_slice(&sof(20000, 15000));
    assert_eq!(dims(&app), Some((20000, 15000)));
}
