//! Reading and decoding images, with limits applied before pixels are
//! allocated.

use std::path::Path;

use opencv::core::{Mat, Size, Vector};
use opencv::imgcodecs::{
    imdecode, IMREAD_GRAYSCALE, IMREAD_REDUCED_GRAYSCALE_2, IMREAD_REDUCED_GRAYSCALE_4,
    IMREAD_REDUCED_GRAYSCALE_8,
};
use opencv::imgproc::{resize, INTER_AREA};
use opencv::prelude::*;

use crate::error::{Error, Result};

pub(crate) struct ImageLimits {
    pub max_side: u32,
    pub max_pixels: u64,
}

pub(super) fn load_bytes(bytes: &[u8], limits: &ImageLimits, path: &Path) -> Result<Mat> {
    // Every extraction enters OpenCV here first.
    super::threads::single_threaded();
    if bytes.is_empty() {
        return Err(Error::image(path, "empty file"));
    }
    let dims = probe_dimensions(bytes);
    if let Some((w, h)) = dims {
        let pixels = u64::from(w) * u64::from(h);
        if w == 0 || h == 0 {
            return Err(Error::image(path, "header declares a zero-sized image"));
        }
        if limits.max_pixels != 0 && pixels > limits.max_pixels {
            return Err(Error::image(
                path,
                format!(
                    "{w}x{h} pixels exceeds the limit of {} pixels",
                    limits.max_pixels
                ),
            ));
        }
    }
    if sniff(bytes).is_none() {
        return Err(Error::image(
            path,
            "not a decodable image (not JPEG, PNG, BMP, TIFF, WebP, PNM, GIF or JPEG 2000)",
        ));
    }
    if is_jpeg(bytes) && !jpeg_is_complete(bytes) {
        return Err(Error::image(
            path,
            "truncated JPEG (no end-of-image marker)",
        ));
    }
    // JPEG decoders can downscale by 2, 4 or 8 while decoding, far cheaper
    // than decoding in full and resizing.
    let flag = match (dims, limits.max_side) {
        (Some((w, h)), m) if m > 0 && is_jpeg(bytes) => {
            let side = w.max(h);
            if side >= m * 8 {
                IMREAD_REDUCED_GRAYSCALE_8
            } else if side >= m * 4 {
                IMREAD_REDUCED_GRAYSCALE_4
            } else if side >= m * 2 {
                IMREAD_REDUCED_GRAYSCALE_2
            } else {
                IMREAD_GRAYSCALE
            }
        }
        _ => IMREAD_GRAYSCALE,
    };
    let buf = Vector::<u8>::from_slice(bytes);
    let img = imdecode(&buf, flag)
        .map_err(|e| Error::image(path, format!("cannot decode: {}", e.message)))?;
    if img.empty() || img.cols() <= 0 || img.rows() <= 0 {
        return Err(Error::image(
            path,
            "not a decodable image (unknown format or damaged data)",
        ));
    }
    downscale(img, limits.max_side)
        .map_err(|e| Error::image(path, format!("cannot resize: {}", e.message)))
}

pub(super) fn downscale(img: Mat, max_side: u32) -> opencv::Result<Mat> {
    let side = img.cols().max(img.rows()) as u32;
    if max_side == 0 || side <= max_side {
        return Ok(img);
    }
    let scale = f64::from(max_side) / f64::from(side);
    let w = ((f64::from(img.cols()) * scale).round() as i32).max(1);
    let h = ((f64::from(img.rows()) * scale).round() as i32).max(1);
    let mut out = Mat::default();
    resize(&img, &mut out, Size::new(w, h), 0.0, 0.0, INTER_AREA)?;
    Ok(out)
}

/// The image formats handed to OpenCV, recognised by their signature.
///
/// OpenCV tries every decoder it was built with, and some of Debian's are
/// not safe on hostile input: fuzzing found a file with `DICM` at offset 128
/// that makes the DICOM reader (GDCM) abort the whole process. Only these
/// common formats reach a decoder; anything else is refused as undecodable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Jpeg,
    Png,
    Bmp,
    Tiff,
    WebP,
    Pnm,
    Gif,
    Jpeg2000,
}

pub(crate) fn sniff(b: &[u8]) -> Option<Format> {
    let pnm =
        b.len() >= 3 && b[0] == b'P' && (b'1'..=b'6').contains(&b[1]) && b[2].is_ascii_whitespace();
    if is_jpeg(b) {
        Some(Format::Jpeg)
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if b.starts_with(b"BM") {
        Some(Format::Bmp)
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        Some(Format::Tiff)
    } else if b.len() >= 12 && b.starts_with(b"RIFF") && &b[8..12] == b"WEBP" {
        Some(Format::WebP)
    } else if pnm {
        Some(Format::Pnm)
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some(Format::Gif)
    } else if b.starts_with(b"\0\0\0\x0cjP  \r\n\x87\n") || b.starts_with(&[0xFF, 0x4F, 0xFF, 0x51])
    {
        Some(Format::Jpeg2000)
    } else {
        None
    }
}

fn is_jpeg(b: &[u8]) -> bool {
    b.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// Width and height from a JPEG, PNG, GIF, BMP or WebP header, when the
/// header is readable; `None` leaves the decision to the decoder.
pub(crate) fn probe_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") && b.len() >= 24 && &b[12..16] == b"IHDR" {
        let w = u32::from_be_bytes(b[16..20].try_into().ok()?);
        let h = u32::from_be_bytes(b[20..24].try_into().ok()?);
        return Some((w, h));
    }
    if is_jpeg(b) {
        return jpeg_dimensions(b);
    }
    if (b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a")) && b.len() >= 10 {
        let w = u16::from_le_bytes([b[6], b[7]]);
        let h = u16::from_le_bytes([b[8], b[9]]);
        return Some((u32::from(w), u32::from(h)));
    }
    if b.starts_with(b"BM") && b.len() >= 26 {
        let w = i32::from_le_bytes(b[18..22].try_into().ok()?);
        let h = i32::from_le_bytes(b[22..26].try_into().ok()?);
        return Some((w.unsigned_abs(), h.unsigned_abs()));
    }
    None
}

/// Walks JPEG marker segments up to the first start-of-frame.
fn jpeg_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 4 <= b.len() {
        if b[i] != 0xFF {
            return None;
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        let is_sof = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            if i + 9 > b.len() {
                return None;
            }
            let h = u16::from_be_bytes([b[i + 5], b[i + 6]]);
            let w = u16::from_be_bytes([b[i + 7], b[i + 8]]);
            return Some((u32::from(w), u32::from(h)));
        }
        if marker == 0xDA || len < 2 {
            return None;
        }
        i += 2 + len;
    }
    None
}

/// Whether a JPEG's entropy-coded data reaches an end-of-image marker.
///
/// libjpeg only warns about a truncated file and fills the missing rows with
/// grey, so truncation must be caught here. Data after the EOI (camera
/// trailers, appended videos) is allowed.
fn jpeg_is_complete(b: &[u8]) -> bool {
    let mut i = 2;
    // Marker segments up to the first start-of-scan.
    loop {
        if i + 4 > b.len() || b[i] != 0xFF {
            return false;
        }
        let marker = b[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        i += 2 + len;
        if marker == 0xDA {
            break;
        }
    }
    // Entropy-coded data: 0xFF is followed by 0x00 (stuffing), a restart
    // marker, or a real marker (another scan's segments in progressive files).
    while i + 1 < b.len() {
        if b[i] == 0xFF {
            match b[i + 1] {
                0xD9 => return true,
                _ => i += 2,
            }
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_and_gif_headers_give_dimensions() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&60000u32.to_be_bytes());
        png.extend_from_slice(&7u32.to_be_bytes());
        assert_eq!(probe_dimensions(&png), Some((60000, 7)));
        assert_eq!(probe_dimensions(b"GIF89a\x10\x00\x20\x00"), Some((16, 32)));
        assert_eq!(probe_dimensions(b"hello"), None);
    }

    #[test]
    fn only_known_signatures_reach_a_decoder() {
        assert_eq!(sniff(b"\xff\xd8\xff\xe0"), Some(Format::Jpeg));
        assert_eq!(sniff(b"P5 10 10 255\n"), Some(Format::Pnm));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Format::WebP));
        assert_eq!(sniff(b"hello"), None);
        // Found by fuzzing: DICOM data (`DICM` at offset 128) aborted the
        // process inside OpenCV's DICOM reader.
        let mut dicom = vec![0u8; 128];
        dicom.extend_from_slice(b"DICM\xff");
        assert_eq!(sniff(&dicom), None);
        let limits = ImageLimits {
            max_side: 0,
            max_pixels: 0,
        };
        assert!(load_bytes(&dicom, &limits, Path::new("x.dcm")).is_err());
    }

    #[test]
    fn jpeg_without_eoi_is_incomplete() {
        // SOI, a SOS segment of length 2, two data bytes, EOI.
        let full = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0x34, 0xFF, 0xD9];
        assert!(jpeg_is_complete(&full));
        assert!(!jpeg_is_complete(&full[..8]));
        assert!(!jpeg_is_complete(&full[..5]));
    }
}
