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

use super::probe::{jpeg_scans, probe, ImageFormat, ImageHeader, MAX_JPEG_SCANS};
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
    let header = probe(bytes).map_err(|r| Error::image(path, r.to_string()))?;
    if let Some(why) = over_limit(&header, limits.max_pixels) {
        return Err(Error::image(path, why));
    }
    let jpeg = header.format == ImageFormat::Jpeg;
    if jpeg {
        match jpeg_scans(bytes) {
            None => {
                return Err(Error::image(
                    path,
                    "truncated JPEG (no end-of-image marker)",
                ))
            }
            Some(n) if n > MAX_JPEG_SCANS => {
                return Err(Error::image(
                    path,
                    format!("{n} JPEG scans exceed the limit of {MAX_JPEG_SCANS}"),
                ))
            }
            Some(_) => {}
        }
    }
    // JPEG decoders can downscale by 2, 4 or 8 while decoding, far cheaper
    // than decoding in full and resizing.
    let ratio = match limits.max_side {
        m if m > 0 && jpeg => header.width.max(header.height) / m,
        _ => 1,
    };
    let flag = match ratio {
        8.. => IMREAD_REDUCED_GRAYSCALE_8,
        4.. => IMREAD_REDUCED_GRAYSCALE_4,
        2.. => IMREAD_REDUCED_GRAYSCALE_2,
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

/// Why `header` is over `max_pixels` (0 = no limit): the image, or the
/// block its decoder allocates at once.
fn over_limit(header: &ImageHeader, max_pixels: u64) -> Option<String> {
    let (w, h) = (header.width, header.height);
    if max_pixels == 0 {
        None
    } else if header.pixels() > max_pixels {
        Some(format!(
            "{w}x{h} pixels exceeds the limit of {max_pixels} pixels"
        ))
    } else if header.buffer_pixels() > max_pixels {
        let block = header.block.map(|b| b.to_string()).unwrap_or_default();
        Some(format!(
            "{w}x{h} image in {block}: a buffer of {} pixels exceeds the limit of {max_pixels} pixels",
            header.buffer_pixels()
        ))
    } else {
        None
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_headers_never_reach_opencv() {
        let limits = ImageLimits {
            max_side: 0,
            max_pixels: 0,
        };
        // Found by fuzzing: DICOM data (`DICM` at offset 128) aborted the
        // process inside OpenCV's DICOM reader.
        let mut dicom = vec![0u8; 128];
        dicom.extend_from_slice(b"DICM\xff");
        assert!(load_bytes(&dicom, &limits, Path::new("x.dcm")).is_err());
        let mut jp2 = b"\0\0\0\x0cjP  \r\n\x87\n".to_vec();
        jp2.resize(128, 0);
        jp2.extend_from_slice(b"DICM\xff");
        let e = load_bytes(&jp2, &limits, Path::new("x.jp2")).map(|_| ());
        assert!(format!("{e:?}").contains("DICOM signature"), "{e:?}");
    }

    #[test]
    fn limits_cover_the_image_and_its_largest_block() {
        let header = |block| ImageHeader {
            format: ImageFormat::Tiff,
            width: 100,
            height: 100,
            block,
        };
        assert_eq!(over_limit(&header(None), 10_000), None);
        assert_eq!(over_limit(&header(None), 0), None);
        let e = over_limit(&header(None), 9_999).unwrap_or_default();
        assert!(e.contains("100x100 pixels exceeds"), "{e}");
        let tiles = header(Some(super::super::probe::Block::Tiles(256, 256)));
        let e = over_limit(&tiles, 60_000).unwrap_or_default();
        assert!(e.contains("100x100 image in 256x256 tiles"), "{e}");
        assert_eq!(over_limit(&tiles, 65_536), None);
    }
}
