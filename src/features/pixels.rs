//! Decoded pixels as input: an image already in memory as a pixel array (as
//! NumPy, OpenCV and Pillow hold them), converted to grayscale here without
//! being encoded again.
//!
//! The same limits apply as to encoded images: the pixel limit before any
//! work, and the longer-side cap by the same downscaling.

use std::path::Path;

use opencv::core::{Mat, Vec3b, Vec4b};
use opencv::imgproc::{
    cvt_color_def, COLOR_BGR2GRAY, COLOR_BGRA2GRAY, COLOR_RGB2GRAY, COLOR_RGBA2GRAY,
};
use opencv::prelude::*;

use super::decode::{downscale, ImageLimits};
use crate::error::{Error, Result};

/// How the bytes of one pixel are laid out in a [`Pixels`] buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PixelFormat {
    /// One byte: the grey level.
    Gray,
    /// Red, green, blue (Pillow, imageio, scikit-image, matplotlib).
    Rgb,
    /// Blue, green, red (OpenCV's `imread`).
    Bgr,
    /// Red, green, blue, alpha (alpha is ignored).
    Rgba,
    /// Blue, green, red, alpha (alpha is ignored).
    Bgra,
}

impl PixelFormat {
    /// Bytes per pixel.
    pub fn channels(self) -> usize {
        match self {
            PixelFormat::Gray => 1,
            PixelFormat::Rgb | PixelFormat::Bgr => 3,
            PixelFormat::Rgba | PixelFormat::Bgra => 4,
        }
    }
}

/// A decoded 8-bit image: `height` rows of `width` pixels, the top row
/// first, each pixel [`PixelFormat::channels`] bytes, rows without padding
/// (a C-contiguous `H×W` or `H×W×C` `uint8` array).
///
/// Described like an encoded image of the same pixels: converted to grey
/// with OpenCV's weights (0.299 R + 0.587 G + 0.114 B), downscaled to the
/// index's longer-side cap, refused above its pixel limit. A zero-sized
/// image is refused when it is described, as a per-record error.
#[derive(Clone, PartialEq, Eq)]
pub struct Pixels {
    width: u32,
    height: u32,
    format: PixelFormat,
    data: Vec<u8>,
}

impl std::fmt::Debug for Pixels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pixels")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("format", &self.format)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl Pixels {
    /// Pixels from their buffer. Fails with [`Error::InvalidConfig`] when
    /// `data` does not hold exactly `width × height × channels` bytes.
    pub fn new(
        width: u32,
        height: u32,
        format: PixelFormat,
        data: impl Into<Vec<u8>>,
    ) -> Result<Pixels> {
        let data = data.into();
        let expected = u64::from(width) * u64::from(height) * format.channels() as u64;
        if data.len() as u64 != expected {
            return Err(Error::InvalidConfig(format!(
                "a {width}x{height} {format:?} image holds {expected} bytes, not {}",
                data.len()
            )));
        }
        Ok(Pixels {
            width,
            height,
            format,
            data,
        })
    }

    /// Pixels per row.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Rows.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The layout of a pixel.
    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// The buffer, row-major.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The grey image of pixels held elsewhere (`data`, laid out as
    /// `format`). The grey levels are those a search computes from the same
    /// pixels, so the two describe the same features; only a third of the
    /// bytes (a quarter for 4 channels) are kept.
    ///
    /// For callers whose pixels may change once they let go of them (a
    /// NumPy array, once Python runs again): reading them once here is
    /// cheaper than copying them whole. No limit applies here (the pixels
    /// are in memory already); the index's limits apply when the result is
    /// described.
    pub fn gray_from(width: u32, height: u32, format: PixelFormat, data: &[u8]) -> Result<Pixels> {
        let expected = u64::from(width) * u64::from(height) * format.channels() as u64;
        if data.len() as u64 != expected {
            return Err(Error::InvalidConfig(format!(
                "a {width}x{height} {format:?} image holds {expected} bytes, not {}",
                data.len()
            )));
        }
        let code = match format {
            PixelFormat::Gray => return Pixels::new(width, height, PixelFormat::Gray, data),
            PixelFormat::Rgb => COLOR_RGB2GRAY,
            PixelFormat::Bgr => COLOR_BGR2GRAY,
            PixelFormat::Rgba => COLOR_RGBA2GRAY,
            PixelFormat::Bgra => COLOR_BGRA2GRAY,
        };
        let too_large = || Error::InvalidConfig(format!("a {width}x{height} image is too large"));
        let (rows, cols) = match (i32::try_from(height), i32::try_from(width)) {
            (Ok(r), Ok(c)) => (r, c),
            _ => return Err(too_large()),
        };
        let grey =
            usize::try_from(u64::from(width) * u64::from(height)).map_err(|_| too_large())?;
        if grey == 0 {
            return Pixels::new(width, height, PixelFormat::Gray, Vec::new());
        }
        super::threads::single_threaded();
        let fail =
            |e: opencv::Error| Error::InvalidConfig(format!("cannot convert: {}", e.message));
        let mut out = vec![0u8; grey];
        let src = if format.channels() == 3 {
            Mat::new_rows_cols_with_bytes::<Vec3b>(rows, cols, data)
        } else {
            Mat::new_rows_cols_with_bytes::<Vec4b>(rows, cols, data)
        }
        .map_err(fail)?;
        let mut dst =
            Mat::new_rows_cols_with_bytes_mut::<u8>(rows, cols, &mut out).map_err(fail)?;
        let before = dst.data();
        cvt_color_def(&src, &mut dst, code).map_err(fail)?;
        // OpenCV writes into a destination of the right size and type in
        // place (no second copy); had it allocated another, the grey levels
        // are there.
        if dst.data() != before {
            let bytes = dst.data_bytes().map_err(fail)?.to_vec();
            drop(dst);
            out = bytes;
        } else {
            drop(dst);
        }
        Pixels::new(width, height, PixelFormat::Gray, out)
    }
}

/// The grey image to describe: limits checked first, then converted and
/// downscaled like a decoded file.
pub(super) fn to_gray(p: &Pixels, limits: &ImageLimits, path: &Path) -> Result<Mat> {
    // Every extraction enters OpenCV through here or `decode`.
    super::threads::single_threaded();
    let (w, h) = (p.width, p.height);
    if w == 0 || h == 0 {
        return Err(Error::image(path, "zero-sized image"));
    }
    let pixels = u64::from(w) * u64::from(h);
    if limits.max_pixels != 0 && pixels > limits.max_pixels {
        return Err(Error::image(
            path,
            format!(
                "{w}x{h} pixels exceeds the limit of {} pixels",
                limits.max_pixels
            ),
        ));
    }
    let (rows, cols) = match (i32::try_from(h), i32::try_from(w)) {
        (Ok(r), Ok(c)) => (r, c),
        _ => return Err(Error::image(path, format!("{w}x{h} pixels is too large"))),
    };
    let fail = |e: opencv::Error| Error::image(path, format!("cannot convert: {}", e.message));
    let gray = match p.format {
        PixelFormat::Gray => Mat::new_rows_cols_with_bytes::<u8>(rows, cols, &p.data)
            .and_then(|m| m.try_clone())
            .map_err(fail)?,
        PixelFormat::Rgb | PixelFormat::Bgr => {
            let code = if p.format == PixelFormat::Rgb {
                COLOR_RGB2GRAY
            } else {
                COLOR_BGR2GRAY
            };
            let src = Mat::new_rows_cols_with_bytes::<Vec3b>(rows, cols, &p.data).map_err(fail)?;
            let mut out = Mat::default();
            cvt_color_def(&src, &mut out, code).map_err(fail)?;
            out
        }
        PixelFormat::Rgba | PixelFormat::Bgra => {
            let code = if p.format == PixelFormat::Rgba {
                COLOR_RGBA2GRAY
            } else {
                COLOR_BGRA2GRAY
            };
            let src = Mat::new_rows_cols_with_bytes::<Vec4b>(rows, cols, &p.data).map_err(fail)?;
            let mut out = Mat::default();
            cvt_color_def(&src, &mut out, code).map_err(fail)?;
            out
        }
    };
    downscale(gray, limits.max_side)
        .map_err(|e| Error::image(path, format!("cannot resize: {}", e.message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_side: u32, max_pixels: u64) -> ImageLimits {
        ImageLimits {
            max_side,
            max_pixels,
        }
    }

    #[test]
    fn the_buffer_must_match_the_shape() {
        assert!(Pixels::new(4, 3, PixelFormat::Rgb, vec![0; 36]).is_ok());
        assert!(Pixels::new(4, 3, PixelFormat::Rgb, vec![0; 35]).is_err());
        assert!(Pixels::new(4, 3, PixelFormat::Gray, vec![0; 36]).is_err());
        assert!(Pixels::new(0, 3, PixelFormat::Bgra, Vec::new()).is_ok());
    }

    #[test]
    fn colour_orders_give_the_same_grey() {
        // A red-to-blue gradient: red and blue weigh differently in grey,
        // so a swapped order would show.
        let (w, h) = (16u32, 8u32);
        let mut rgb = Vec::new();
        let mut bgr = Vec::new();
        let mut bgra = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let (r, g, b) = ((x * 16) as u8, (y * 30) as u8, 255 - (x * 16) as u8);
                rgb.extend_from_slice(&[r, g, b]);
                bgr.extend_from_slice(&[b, g, r]);
                bgra.extend_from_slice(&[b, g, r, 7]);
            }
        }
        let l = limits(0, 0);
        let p = Path::new("<pixels>");
        let grey = |px: Pixels| {
            let m = to_gray(&px, &l, p).unwrap();
            assert_eq!((m.cols(), m.rows(), m.channels()), (16, 8, 1));
            m.data_bytes().unwrap().to_vec()
        };
        let a = grey(Pixels::new(w, h, PixelFormat::Rgb, rgb.clone()).unwrap());
        assert_eq!(a, grey(Pixels::new(w, h, PixelFormat::Bgr, bgr).unwrap()));
        assert_eq!(a, grey(Pixels::new(w, h, PixelFormat::Bgra, bgra).unwrap()));
        // Taken the wrong way round, the same bytes give another image.
        assert_ne!(a, grey(Pixels::new(w, h, PixelFormat::Bgr, rgb).unwrap()));
        // Pure red: 0.299 · 255.
        let red = Pixels::new(1, 1, PixelFormat::Rgb, vec![255, 0, 0]).unwrap();
        let m = to_gray(&red, &l, p).unwrap();
        assert_eq!(m.data_bytes().unwrap(), &[76]);
    }

    #[test]
    fn limits_apply_before_conversion() {
        let px = Pixels::new(40, 20, PixelFormat::Gray, vec![9; 800]).unwrap();
        let p = Path::new("<pixels>");
        let e = to_gray(&px, &limits(0, 799), p).unwrap_err().to_string();
        assert!(e.contains("exceeds the limit of 799 pixels"), "{e}");
        let m = to_gray(&px, &limits(32, 0), p).unwrap();
        assert_eq!((m.cols(), m.rows()), (32, 16));
        let empty = Pixels::new(0, 5, PixelFormat::Rgb, Vec::new()).unwrap();
        let e = to_gray(&empty, &limits(0, 0), p).unwrap_err().to_string();
        assert!(e.contains("zero-sized"), "{e}");
    }

    #[test]
    fn grey_made_ahead_is_the_grey_a_search_makes() {
        let seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rng = crate::testutil::XorShift::new(seed);
        let mut next = move || rng.next_u64() as u8;
        let l = limits(0, 0);
        let p = Path::new("<pixels>");
        let (w, h) = (37u32, 23u32);
        for format in [
            PixelFormat::Gray,
            PixelFormat::Rgb,
            PixelFormat::Bgr,
            PixelFormat::Rgba,
            PixelFormat::Bgra,
        ] {
            let data: Vec<u8> = (0..w * h * format.channels() as u32)
                .map(|_| next())
                .collect();
            let searched = to_gray(&Pixels::new(w, h, format, data.clone()).unwrap(), &l, p)
                .unwrap()
                .data_bytes()
                .unwrap()
                .to_vec();
            let ahead = Pixels::gray_from(w, h, format, &data).unwrap();
            assert_eq!(ahead.format(), PixelFormat::Gray);
            assert_eq!(ahead.data(), &searched[..], "{format:?}, seed {seed:#x}");
            let again = to_gray(&ahead, &l, p).unwrap();
            assert_eq!(again.data_bytes().unwrap(), &searched[..]);
        }
        let e = Pixels::gray_from(4, 3, PixelFormat::Rgb, &[0; 35]).unwrap_err();
        assert!(e.to_string().contains("holds 36 bytes"), "{e}");
        let empty = Pixels::gray_from(0, 3, PixelFormat::Rgb, &[]).unwrap();
        assert_eq!((empty.width(), empty.height()), (0, 3));
    }
}
