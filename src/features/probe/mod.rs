//! Image headers read without decoding: the format, and the size the
//! decoder will allocate.
//!
//! OpenCV sizes every buffer from what its decoder reads in the header, so
//! each probe reads the same fields the same way that decoder does (libjpeg's
//! marker walk, libtiff's first directory, libwebp's features, ...). A header
//! a probe cannot read that way is refused rather than passed on: an image
//! whose size is unknown never reaches a decoder. OpenCV's own limit
//! (`OPENCV_IO_MAX_IMAGE_PIXELS`) is read once, when its library is loaded,
//! so it cannot be set from inside the process; these probes are the limit.

mod jpeg;
mod jpeg2000;
mod png;
mod pnm;
mod tiff;
mod webp;

use std::fmt;

pub(crate) use jpeg::{scans as jpeg_scans, MAX_SCANS as MAX_JPEG_SCANS};

/// The image formats handed to OpenCV, recognised by their signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageFormat {
    /// JPEG (libjpeg).
    Jpeg,
    /// PNG (libpng).
    Png,
    /// Windows and OS/2 bitmaps (OpenCV's own reader).
    Bmp,
    /// TIFF, classic (not BigTIFF), first page (libtiff).
    Tiff,
    /// WebP, still images (libwebp).
    WebP,
    /// PBM, PGM and PPM (OpenCV's own reader).
    Pnm,
    /// JPEG 2000, as a JP2 file or a bare codestream (OpenJPEG).
    Jpeg2000,
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Png => "PNG",
            ImageFormat::Bmp => "BMP",
            ImageFormat::Tiff => "TIFF",
            ImageFormat::WebP => "WebP",
            ImageFormat::Pnm => "PNM",
            ImageFormat::Jpeg2000 => "JPEG 2000",
        })
    }
}

/// A block of pixels a decoder allocates at once when it is larger than the
/// image: OpenCV sizes its TIFF buffer from one tile or strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// Tiles of this width and height.
    Tiles(u32, u32),
    /// Strips of the image's width and this many rows.
    Strips(u32, u32),
}

impl Block {
    fn pixels(self) -> u64 {
        let (Block::Tiles(w, h) | Block::Strips(w, h)) = self;
        u64::from(w) * u64::from(h)
    }
}

impl fmt::Display for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Block::Tiles(w, h) => write!(f, "{w}x{h} tiles"),
            Block::Strips(w, h) => write!(f, "{w}x{h} strips"),
        }
    }
}

/// What an image's header declares, as its decoder will read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// The format, from the signature.
    pub format: ImageFormat,
    /// Width in pixels (at least 1).
    pub width: u32,
    /// Height in pixels (at least 1).
    pub height: u32,
    /// A block the decoder allocates that is larger than the whole image.
    pub block: Option<Block>,
}

impl ImageHeader {
    /// Width × height.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Pixels of the largest buffer the decoder allocates from this header:
    /// the image, or a larger block.
    pub fn buffer_pixels(&self) -> u64 {
        self.block.map_or(0, Block::pixels).max(self.pixels())
    }
}

/// Why a header is not passed to a decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No signature of a format handed to OpenCV.
    Unknown,
    /// A format, or a variant of one, that is not decoded.
    Unsupported(String),
    /// The header cannot be read the way its decoder reads it.
    Malformed(ImageFormat, String),
    /// The header declares no pixels.
    ZeroSize,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Unknown => f.write_str(
                "not a decodable image (not JPEG, PNG, BMP, TIFF, WebP, PNM or JPEG 2000)",
            ),
            Refusal::Unsupported(what) => f.write_str(what),
            Refusal::Malformed(format, why) => write!(f, "unreadable {format} header: {why}"),
            Refusal::ZeroSize => f.write_str("header declares a zero-sized image"),
        }
    }
}

fn malformed(format: ImageFormat, why: impl Into<String>) -> Refusal {
    Refusal::Malformed(format, why.into())
}

/// The format of `b`, from its signature, when it is one handed to OpenCV.
///
/// OpenCV picks the first of its decoders whose signature matches, and some
/// of Debian's are not safe on hostile input: a file with `DICM` at offset
/// 128 makes the DICOM reader (GDCM) abort the whole process. The signatures here are those of OpenCV's decoders for these
/// formats, none of which overlap; see [`probe`] for the files that could
/// still reach another reader.
pub(crate) fn sniff(b: &[u8]) -> Option<ImageFormat> {
    let pnm =
        b.len() >= 3 && b[0] == b'P' && (b'1'..=b'6').contains(&b[1]) && b[2].is_ascii_whitespace();
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if b.starts_with(b"BM") {
        Some(ImageFormat::Bmp)
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        Some(ImageFormat::Tiff)
    } else if b.len() >= 12 && b.starts_with(b"RIFF") && &b[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else if pnm {
        Some(ImageFormat::Pnm)
    } else if b.starts_with(b"\0\0\0\x0cjP  \r\n\x87\n") || b.starts_with(&[0xFF, 0x4F, 0xFF, 0x51])
    {
        Some(ImageFormat::Jpeg2000)
    } else {
        None
    }
}

/// Reads the header of `b` the way the decoder OpenCV will choose reads it.
///
/// Never panics, whatever the bytes.
pub(crate) fn probe(b: &[u8]) -> Result<ImageHeader, Refusal> {
    // Readers OpenCV tries after the ones for these formats, chosen when a
    // file's own reader turns it down (libwebp's check is stricter than
    // `sniff`, and OpenJPEG's reader comes after GDCM's): DICOM (GDCM, which
    // aborted the process in fuzzing) and DTED (GDAL).
    if b.get(128..132) == Some(b"DICM") {
        return Err(Refusal::Unsupported(
            "a DICOM signature at offset 128: OpenCV's DICOM reader is not used".into(),
        ));
    }
    if b.get(140..144) == Some(b"DTED") {
        return Err(Refusal::Unsupported(
            "a DTED signature at offset 140: OpenCV's GDAL reader is not used".into(),
        ));
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Err(Refusal::Unsupported(
            "GIF images are not supported (OpenCV 4.6 has no GIF decoder)".into(),
        ));
    }
    let format = sniff(b).ok_or(Refusal::Unknown)?;
    let (width, height, block) = match format {
        ImageFormat::Jpeg => {
            let (w, h) = jpeg::frame_size(b).map_err(|e| malformed(format, e))?;
            (w, h, None)
        }
        ImageFormat::Png => {
            let (w, h) = png::probe(b)?;
            (w, h, None)
        }
        ImageFormat::Bmp => {
            let (w, h) = bmp(b).map_err(|e| malformed(format, e))?;
            (w, h, None)
        }
        ImageFormat::Tiff => tiff::probe(b).map_err(|e| malformed(format, e))?,
        ImageFormat::WebP => {
            let (w, h) = webp::probe(b)?;
            (w, h, None)
        }
        ImageFormat::Pnm => {
            let (w, h) = pnm::probe(b).map_err(|e| malformed(format, e))?;
            (w, h, None)
        }
        ImageFormat::Jpeg2000 => {
            let (w, h) = jpeg2000::probe(b)?;
            (w, h, None)
        }
    };
    if width == 0 || height == 0 {
        return Err(Refusal::ZeroSize);
    }
    Ok(ImageHeader {
        format,
        width,
        height,
        block,
    })
}

/// A bitmap's size as OpenCV's reader takes it: 32-bit signed sizes from an
/// info header of 36 bytes or more (a negative height flips the rows),
/// 16-bit unsigned ones from a 12-byte OS/2 core header; any other header
/// size is refused by the reader, and here.
fn bmp(b: &[u8]) -> Result<(u32, u32), String> {
    let size = le32(b, 14).ok_or("truncated header")?;
    if (36..=0x7FFF_FFFF).contains(&size) {
        let w = le32(b, 18).ok_or("truncated header")? as i32;
        let h = le32(b, 22).ok_or("truncated header")? as i32;
        if w < 0 {
            return Err(format!("negative width {w}"));
        }
        Ok((w.unsigned_abs(), h.unsigned_abs()))
    } else if size == 12 {
        let w = le16(b, 18).ok_or("truncated header")?;
        let h = le16(b, 20).ok_or("truncated header")?;
        Ok((u32::from(w), u32::from(h)))
    } else {
        Err(format!("info header of {size} bytes"))
    }
}

fn bytes<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    bytes(b, at).map(u16::from_le_bytes)
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    bytes(b, at).map(u32::from_le_bytes)
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    bytes(b, at).map(u16::from_be_bytes)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    bytes(b, at).map(u32::from_be_bytes)
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    bytes(b, at).map(u64::from_be_bytes)
}

#[cfg(test)]
mod tests;
