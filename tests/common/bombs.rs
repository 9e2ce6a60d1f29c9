// Over 500 lines: one builder per image format, each a few dozen lines of header bytes.
//! Decompression bombs and lying headers, built in memory: tiny files that
//! declare (or decode to) far more pixels than they hold, one builder per
//! format. Nothing here is committed as a file.
//!
//! `scripts/bombs.sh` writes them out (through `examples/bombs.rs`) to
//! measure the memory of `mmindex add` on each.

#![allow(dead_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "the builders fail a test or the bombs example by panicking"
)]

/// A lossless WebP (VP8L) of `w`×`h` pixels, all one colour, in about 40
/// bytes: every prefix code has a single symbol, so a pixel costs no bits.
/// `w` and `h` are 1 to 16384.
pub fn webp_lossless(w: u32, h: u32) -> Vec<u8> {
    riff_webp(&[(*b"VP8L", vp8l(w, h))])
}

/// An extended WebP (VP8X) whose canvas says `canvas` but whose lossless
/// frame is `frame`.
pub fn webp_extended(canvas: (u32, u32), frame: (u32, u32), flags: u8) -> Vec<u8> {
    let mut x = vec![flags, 0, 0, 0];
    x.extend_from_slice(&(canvas.0 - 1).to_le_bytes()[..3]);
    x.extend_from_slice(&(canvas.1 - 1).to_le_bytes()[..3]);
    riff_webp(&[(*b"VP8X", x), (*b"VP8L", vp8l(frame.0, frame.1))])
}

/// A lossy WebP (VP8) key-frame header of `w`×`h` and no picture data.
pub fn webp_lossy_header(w: u16, h: u16) -> Vec<u8> {
    let mut p = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
    p.extend_from_slice(&w.to_le_bytes());
    p.extend_from_slice(&h.to_le_bytes());
    p.resize(32, 0);
    riff_webp(&[(*b"VP8 ", p)])
}

fn vp8l(w: u32, h: u32) -> Vec<u8> {
    let mut b = LsbBits::default();
    b.put(0x2f, 8);
    b.put(w - 1, 14);
    b.put(h - 1, 14);
    b.put(0, 1); // no alpha
    b.put(0, 3); // version 0
    b.put(0, 1); // no transform
    b.put(0, 1); // no colour cache
    b.put(0, 1); // no meta prefix codes

    // Green, red, blue: the single symbol 0; alpha: 255; distance: 0.
    for symbol in [0u32, 0, 0, 255, 0] {
        b.put(1, 1); // simple code
        b.put(0, 1); // one symbol
        if symbol < 2 {
            b.put(0, 1);
            b.put(symbol, 1);
        } else {
            b.put(1, 1);
            b.put(symbol, 8);
        }
    }
    let mut out = b.finish();
    // OpenCV only recognises WebP data of at least 32 bytes.
    out.resize(16, 0);
    out
}

fn riff_webp(chunks: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = b"WEBP".to_vec();
    for (tag, payload) in chunks {
        body.extend_from_slice(tag);
        body.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        body.extend_from_slice(payload);
        if payload.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

#[derive(Default)]
struct LsbBits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl LsbBits {
    fn put(&mut self, v: u32, bits: u32) {
        self.acc |= u64::from(v) << self.n;
        self.n += bits;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// CCITT Group 4 data for `rows` all-white rows: one bit (vertical mode,
/// offset 0) per row, then the end-of-block code.
fn g4_white(rows: u32) -> Vec<u8> {
    let mut bits: Vec<bool> = vec![true; rows as usize];
    for _ in 0..2 {
        bits.extend(std::iter::repeat_n(false, 11));
        bits.push(true);
    }
    bits.chunks(8)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u8, |acc, (i, &b)| acc | (u8::from(b) << (7 - i)))
        })
        .collect()
}

/// One TIFF directory entry: tag, type (3 SHORT, 4 LONG), value.
type Entry = (u16, u16, u32);

/// A little-endian TIFF with one directory per page; each page's image data
/// is placed after the directories and its offset patched into the entry
/// with tag 273 (strips) or 324 (tiles).
fn tiff(pages: &[(Vec<Entry>, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    let dir_len = |n: usize| 2 + 12 * n + 4;
    let mut data_at = 8 + pages.iter().map(|(e, _)| dir_len(e.len())).sum::<usize>();
    let mut dir_at = 8;
    for (i, (entries, data)) in pages.iter().enumerate() {
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for &(tag, typ, value) in entries {
            let value = match tag {
                273 | 324 => data_at as u32,
                279 | 325 => data.len() as u32,
                _ => value,
            };
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&typ.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            if typ == 3 {
                out.extend_from_slice(&(value as u16).to_le_bytes());
                out.extend_from_slice(&[0, 0]);
            } else {
                out.extend_from_slice(&value.to_le_bytes());
            }
        }
        dir_at += dir_len(entries.len());
        let next = if i + 1 < pages.len() {
            dir_at as u32
        } else {
            0
        };
        out.extend_from_slice(&next.to_le_bytes());
        data_at += data.len();
    }
    for (_, data) in pages {
        out.extend_from_slice(data);
    }
    out
}

fn bilevel(w: u32, h: u32) -> Vec<Entry> {
    vec![
        (256, 4, w),
        (257, 4, h),
        (258, 3, 1),
        (259, 3, 4), // CCITT Group 4
        (262, 3, 0), // white is zero
    ]
}

/// A bilevel `w`×`h` TIFF, all white, in one Group 4 strip: a few KB for
/// hundreds of megapixels.
pub fn tiff_g4(w: u32, h: u32) -> Vec<u8> {
    tiff(&[(tiff_g4_page(w, h), g4_white(h))])
}

fn tiff_g4_page(w: u32, h: u32) -> Vec<Entry> {
    let mut e = bilevel(w, h);
    e.extend([(273, 4, 0), (277, 3, 1), (278, 4, h), (279, 4, 0)]);
    e
}

/// A TIFF whose first page is `first` and second page `second` (both all
/// white, Group 4).
pub fn tiff_two_pages(first: (u32, u32), second: (u32, u32)) -> Vec<u8> {
    tiff(&[
        (tiff_g4_page(first.0, first.1), g4_white(first.1)),
        (tiff_g4_page(second.0, second.1), g4_white(second.1)),
    ])
}

/// A `w`×`h` TIFF stored as one `tw`×`th` Group 4 tile: OpenCV sizes its
/// tile buffer from the tile, not the image.
pub fn tiff_tiled(w: u32, h: u32, tw: u32, th: u32) -> Vec<u8> {
    let mut e = bilevel(w, h);
    e.extend([
        (277, 3, 1),
        (322, 4, tw),
        (323, 4, th),
        (324, 4, 0),
        (325, 4, 0),
    ]);
    tiff(&[(e, g4_white(th))])
}

/// A `w`×`h` TIFF header whose strips are `rows` rows high (no data).
pub fn tiff_strips(w: u32, h: u32, rows: u32) -> Vec<u8> {
    let mut e = bilevel(w, h);
    e.extend([(273, 4, 0), (277, 3, 1), (278, 4, rows), (279, 4, 0)]);
    tiff(&[(e, g4_white(1))])
}

/// A big-endian TIFF header declaring `w`×`h` with SHORT fields.
pub fn tiff_be_short(w: u16, h: u16) -> Vec<u8> {
    let mut out = b"MM\0*".to_vec();
    out.extend_from_slice(&8u32.to_be_bytes());
    out.extend_from_slice(&2u16.to_be_bytes());
    for (tag, v) in [(256u16, w), (257, h)] {
        out.extend_from_slice(&tag.to_be_bytes());
        out.extend_from_slice(&3u16.to_be_bytes());
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&v.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
    }
    out.extend_from_slice(&0u32.to_be_bytes());
    out
}

/// The segments of a well-formed JPEG (as OpenCV writes them), as
/// (marker, offset of the marker) up to the start of scan.
fn segments(jpeg: &[u8]) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let m = jpeg[i + 1];
        out.push((m, i));
        if m == 0xDA {
            break;
        }
        i += 2 + usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
    }
    out
}

/// `jpeg` with its frame header patched to `w`×`h`. libjpeg decodes the
/// whole declared frame even when the data ends early (it only warns and
/// fills the rest), so a small JPEG patched this way is a bomb.
pub fn jpeg_resized(jpeg: &[u8], w: u16, h: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let (_, at) = *segments(jpeg)
        .iter()
        .find(|(m, _)| *m == 0xC0 || *m == 0xC2)
        .expect("a frame header");
    out[at + 5..at + 7].copy_from_slice(&h.to_be_bytes());
    out[at + 7..at + 9].copy_from_slice(&w.to_be_bytes());
    out
}

/// `jpeg` patched to `w`×`h`, with a TEM marker (standalone, no length)
/// and then an APP1 segment right after SOI. A walker that reads a length
/// after TEM jumps 0xFFE1 bytes ahead, into the APP1 payload, where it finds
/// a 100×100 frame header, a scan header, and later the real end of image.
pub fn jpeg_tem_fake_frame(jpeg: &[u8], w: u16, h: u16) -> Vec<u8> {
    let real = jpeg_resized(jpeg, w, h);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0x01, 0xFF, 0xE1];
    let len: u16 = 0xFFFD;
    out.extend_from_slice(&len.to_be_bytes());
    let payload_at = out.len();
    out.resize(payload_at + usize::from(len) - 2, 0);
    // Where `FF 01` read as a segment of length 0xFFE1 ends.
    let fake = 2 + 2 + 0xFFE1;
    let sof = [
        0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x64, 0x00, 0x64, 0x01, 0x01, 0x11, 0x00,
    ];
    out[fake..fake + sof.len()].copy_from_slice(&sof);
    let sos = fake + sof.len();
    out[sos..sos + 4].copy_from_slice(&[0xFF, 0xDA, 0x00, 0x02]);
    out.extend_from_slice(&real[2..]);
    out
}

/// `jpeg` patched to `w`×`h`, with bytes libjpeg skips (with a warning)
/// before its frame header: stray data and fill bytes.
pub fn jpeg_garbage_before_frame(jpeg: &[u8], w: u16, h: u16) -> Vec<u8> {
    let real = jpeg_resized(jpeg, w, h);
    let (_, at) = *segments(&real)
        .iter()
        .find(|(m, _)| *m == 0xC0 || *m == 0xC2)
        .expect("a frame header");
    let mut out = real[..at].to_vec();
    out.extend_from_slice(&[0x00, 0x12, 0xFF, 0x00, 0xFF, 0xFF]);
    out.extend_from_slice(&real[at..]);
    out
}

/// `jpeg` with `extra` more scans before its end-of-image marker, each a
/// scan header for one coefficient of one component and one byte of data:
/// the shape of a progressive file that makes libjpeg pass over the whole
/// frame once per scan.
pub fn jpeg_many_scans(jpeg: &[u8], extra: usize) -> Vec<u8> {
    let eoi = jpeg
        .windows(2)
        .rposition(|w| w == [0xFF, 0xD9])
        .expect("an end-of-image marker");
    let mut out = jpeg[..eoi].to_vec();
    for _ in 0..extra {
        out.extend_from_slice(&[
            0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x01, 0x01, 0x00, 0x00,
        ]);
    }
    out.extend_from_slice(&jpeg[eoi..]);
    out
}

/// A standalone restart marker (no length) right after SOI, then `jpeg`.
pub fn jpeg_rst_after_soi(jpeg: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xD3];
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A binary PGM header declaring `w`×`h`, with comments where the parser
/// must skip them, and `data` bytes of pixels.
pub fn pgm(w: u32, h: u32, data: usize) -> Vec<u8> {
    let mut out = format!("P5\n# 1 1\n{w} #2 2\n# 3 3\n\t{h}\r255\n").into_bytes();
    out.resize(out.len() + data, 0x80);
    out
}

/// A JPEG 2000 codestream header (SOC, SIZ) of `w`×`h`, one 8-bit
/// component, one tile; no tile data.
pub fn j2k_header(w: u32, h: u32, components: u16) -> Vec<u8> {
    let mut out = vec![0xFF, 0x4F, 0xFF, 0x51];
    out.extend_from_slice(&(38 + 3 * components).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    for v in [w, h, 0, 0, w, h, 0, 0] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&components.to_be_bytes());
    for _ in 0..components {
        out.extend_from_slice(&[7, 1, 1]);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A complete JPEG 2000 codestream of `w`×`h` (one 8-bit component, one
/// tile, no wavelet levels) whose only packet is empty: about 80 bytes that
/// decode to a blank image, with OpenJPEG's 4-byte samples for every pixel.
pub fn j2k_blank(w: u32, h: u32) -> Vec<u8> {
    let mut out = j2k_header(w, h, 1);
    out.truncate(out.len() - 2);
    // COD: no precincts given, LRCP, 1 layer, no colour transform, 0 levels,
    // 64x64 code-blocks, style 0, reversible 5/3.
    out.extend_from_slice(&[0xFF, 0x52, 0, 12, 0, 0, 0, 1, 0, 0, 4, 4, 0, 1]);
    // QCD: no quantisation, 1 guard bit; one sub-band, exponent 8.
    out.extend_from_slice(&[0xFF, 0x5C, 0, 4, 0x20, 8 << 3]);
    // SOT: tile 0, tile-part length (SOT to the end of its data), part 0 of 1.
    out.extend_from_slice(&[0xFF, 0x90, 0, 10, 0, 0, 0, 0, 0, 15, 0, 1]);
    // SOD, one empty packet, EOC.
    out.extend_from_slice(&[0xFF, 0x93, 0x00, 0xFF, 0xD9]);
    out
}

/// A JP2 file whose image header box says `ihdr` and whose codestream says
/// `siz`.
pub fn jp2(ihdr: (u32, u32), siz: (u32, u32)) -> Vec<u8> {
    let mut out = b"\0\0\0\x0cjP  \r\n\x87\n".to_vec();
    out.extend_from_slice(b"\0\0\0\x14ftypjp2 \0\0\0\0jp2 ");
    let mut ih = b"\0\0\0\x16ihdr".to_vec();
    ih.extend_from_slice(&ihdr.1.to_be_bytes());
    ih.extend_from_slice(&ihdr.0.to_be_bytes());
    ih.extend_from_slice(&[0, 1, 7, 7, 0, 0]);
    out.extend_from_slice(&((8 + ih.len()) as u32).to_be_bytes());
    out.extend_from_slice(b"jp2h");
    out.extend_from_slice(&ih);
    let cs = j2k_blank(siz.0, siz.1);
    out.extend_from_slice(&((8 + cs.len()) as u32).to_be_bytes());
    out.extend_from_slice(b"jp2c");
    out.extend_from_slice(&cs);
    out
}

/// An OS/2 bitmap (12-byte core header, 16-bit sizes), 24 bits per pixel,
/// grey.
pub fn bmp_core(w: u16, h: u16) -> Vec<u8> {
    let row = (usize::from(w) * 3).div_ceil(4) * 4;
    let data = row * usize::from(h);
    let mut out = b"BM".to_vec();
    out.extend_from_slice(&((26 + data) as u32).to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&26u32.to_le_bytes());
    out.extend_from_slice(&12u32.to_le_bytes());
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&24u16.to_le_bytes());
    out.resize(26 + data, 0x80);
    out
}

/// A Windows bitmap (40-byte info header) of `w`×`h`, 8 bits per pixel,
/// run-length encoded: its only code is end-of-bitmap, which OpenCV's
/// decoder answers by filling the whole image with palette entry 0.
pub fn bmp_rle8(w: i32, h: i32) -> Vec<u8> {
    let mut out = b"BM".to_vec();
    out.extend_from_slice(&(54u32 + 1024 + 2).to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(54u32 + 1024).to_le_bytes());
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8u16.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // RLE8
    out.extend_from_slice(&[0; 20]);
    for i in 0..=255u8 {
        out.extend_from_slice(&[i, i, i, 0]);
    }
    out.extend_from_slice(&[0x00, 0x01]);
    out
}

/// A PNG of `png`'s image with `chunks` zTXt chunks added before the image
/// data, each of which inflates to `text` bytes. libpng inflates and keeps
/// every one.
pub fn png_text_bomb(png: &[u8], chunks: usize, text: usize) -> Vec<u8> {
    let z = zlib_run(b'a', text);
    let mut out = png[..33].to_vec();
    for i in 0..chunks {
        let mut body = b"zTXt".to_vec();
        body.extend_from_slice(format!("Comment{i}").as_bytes());
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&z);
        out.extend_from_slice(&((body.len() - 4) as u32).to_be_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    out.extend_from_slice(&png[33..]);
    out
}

/// A zlib stream inflating to `n` bytes `byte` (n >= 1): one
/// fixed-Huffman block of a literal and then matches at distance 1.
fn zlib_run(byte: u8, n: usize) -> Vec<u8> {
    let mut b = LsbBits::default();
    b.put(1, 1); // final block
    b.put(1, 2); // fixed Huffman codes
    let put_rev = |b: &mut LsbBits, code: u32, len: u32| {
        // Huffman codes are sent most significant bit first.
        let rev = (0..len).fold(0, |acc, i| acc | (((code >> i) & 1) << (len - 1 - i)));
        b.put(rev, len);
    };
    let literal = |b: &mut LsbBits| {
        if byte < 144 {
            put_rev(b, 0x30 + u32::from(byte), 8);
        } else {
            put_rev(b, 0x190 + u32::from(byte) - 144, 9);
        }
    };
    literal(&mut b);
    let mut left = n - 1;
    while left >= 3 {
        let len = left.min(258);
        let len = if left - len > 0 && left - len < 3 {
            len - 3
        } else {
            len
        };
        // Length codes: 258 is symbol 285 (no extra bits); shorter runs use
        // symbols 257.. with extra bits, here only via a table of the few
        // needed.
        let (sym, extra, ebits) = length_code(len);
        if sym < 280 {
            put_rev(&mut b, sym - 256, 7);
        } else {
            put_rev(&mut b, 0xC0 + (sym - 280), 8);
        }
        b.put(extra, ebits);
        put_rev(&mut b, 0, 5); // distance 1
        left -= len;
    }
    for _ in 0..left {
        literal(&mut b);
    }
    put_rev(&mut b, 0, 7); // end of block
    let mut out = vec![0x78, 0x01];
    out.extend(b.finish());
    let adler = {
        let (mut a, mut s) = (1u64, 0u64);
        for _ in 0..n {
            a = (a + u64::from(byte)) % 65521;
            s = (s + a) % 65521;
        }
        ((s << 16) | a) as u32
    };
    out.extend_from_slice(&adler.to_be_bytes());
    out
}

/// Deflate's length symbol, extra bits and their count for a match length.
fn length_code(len: usize) -> (u32, u32, u32) {
    const BASE: [(u32, usize, u32); 29] = [
        (257, 3, 0),
        (258, 4, 0),
        (259, 5, 0),
        (260, 6, 0),
        (261, 7, 0),
        (262, 8, 0),
        (263, 9, 0),
        (264, 10, 0),
        (265, 11, 1),
        (266, 13, 1),
        (267, 15, 1),
        (268, 17, 1),
        (269, 19, 2),
        (270, 23, 2),
        (271, 27, 2),
        (272, 31, 2),
        (273, 35, 3),
        (274, 43, 3),
        (275, 51, 3),
        (276, 59, 3),
        (277, 67, 4),
        (278, 83, 4),
        (279, 99, 4),
        (280, 115, 4),
        (281, 131, 5),
        (282, 163, 5),
        (283, 195, 5),
        (284, 227, 5),
        (285, 258, 0),
    ];
    let &(sym, base, bits) = BASE
        .iter()
        .rev()
        .find(|(_, base, _)| *base <= len)
        .expect("len >= 3");
    (sym, (len - base) as u32, bits)
}

/// A PNG header (signature, IHDR) of `w`×`h`, 8-bit grey, with the
/// chunk's CRC.
pub fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n\0\0\0\x0d".to_vec();
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    out
}

/// `png` with its IHDR size replaced by `w`×`h` (CRC fixed): the image data
/// stays that of the original, larger image.
pub fn png_resized(png: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut out = png.to_vec();
    out[16..20].copy_from_slice(&w.to_be_bytes());
    out[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&out[12..29]);
    out[29..33].copy_from_slice(&crc.to_be_bytes());
    out
}

/// An 8-bit grey PNG of `w`×`h`, all black, its image data one run of
/// zeros: about 1/160 of a byte per pixel.
pub fn png_blank(w: u32, h: u32) -> Vec<u8> {
    let z = zlib_run(0, (w as usize + 1) * h as usize);
    let mut out = png_header(w, h);
    let mut idat = b"IDAT".to_vec();
    idat.extend_from_slice(&z);
    out.extend_from_slice(&((idat.len() - 4) as u32).to_be_bytes());
    out.extend_from_slice(&idat);
    out.extend_from_slice(&crc32(&idat).to_be_bytes());
    out.extend_from_slice(b"\0\0\0\0IEND\xaeB`\x82");
    out
}

/// CRC-32 as PNG uses it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// An 8-bit grey PNG of `w`×`h` with a blocky pseudo-random texture
/// (seeded), its image data in stored (uncompressed) deflate blocks.
pub fn png_texture(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let mut raw = Vec::with_capacity(((w + 1) * h) as usize);
    let mut x = seed;
    for r in 0..h {
        raw.push(0); // filter: none
        for c in 0..w {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let v = (x >> 16) as u8;
            raw.push(if (r / 4 + c / 4) % 2 == 0 {
                v | 0x80
            } else {
                v & 0x7F
            });
        }
    }
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65535).collect();
    for (i, block) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(block);
    }
    if blocks.is_empty() {
        z.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]);
    }
    let (mut a, mut s) = (1u32, 0u32);
    for &b in &raw {
        a = (a + u32::from(b)) % 65521;
        s = (s + a) % 65521;
    }
    z.extend_from_slice(&((s << 16) | a).to_be_bytes());
    let mut out = png_header_typed(w, h, 0);
    let mut idat = b"IDAT".to_vec();
    idat.extend_from_slice(&z);
    out.extend_from_slice(&((idat.len() - 4) as u32).to_be_bytes());
    out.extend_from_slice(&idat);
    out.extend_from_slice(&crc32(&idat).to_be_bytes());
    out.extend_from_slice(b"\0\0\0\0IEND\xaeB`\x82");
    out
}

fn png_header_typed(w: u32, h: u32, colour: u8) -> Vec<u8> {
    let mut out = png_header(w, h);
    out[25] = colour;
    let crc = crc32(&out[12..29]);
    out[29..33].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Width and height of a well-formed JPEG's frame header.
pub fn jpeg_size(jpeg: &[u8]) -> (u16, u16) {
    let (_, at) = *segments(jpeg)
        .iter()
        .find(|(m, _)| *m == 0xC0 || *m == 0xC2)
        .expect("a frame header");
    let h = u16::from_be_bytes([jpeg[at + 5], jpeg[at + 6]]);
    let w = u16::from_be_bytes([jpeg[at + 7], jpeg[at + 8]]);
    (w, h)
}

/// A GIF header (logical screen) of `w`×`h`.
pub fn gif_header(w: u16, h: u16) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, b';']);
    out
}
