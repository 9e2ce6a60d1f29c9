//! Image transforms for tests, demos and evaluation: the same photo rotated,
//! scaled, cropped or recompressed, re-encoded as image bytes.

use opencv::core::{Mat, Point2f, Rect, Scalar, Size, Vector, BORDER_REFLECT, DECOMP_LU};
use opencv::imgcodecs::{imdecode, imencode, IMREAD_COLOR, IMWRITE_JPEG_QUALITY};
use opencv::imgproc::{
    cvt_color_def, gaussian_blur, get_perspective_transform, get_rotation_matrix_2d, resize,
    warp_affine, warp_perspective, COLOR_BGR2RGB, INTER_AREA, INTER_LINEAR,
};
use opencv::prelude::*;

use super::{PixelFormat, Pixels};
use crate::error::{Error, Result};

/// One transform of an image.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Transform {
    /// Rotation about the centre by this many degrees (counter-clockwise),
    /// same canvas size, borders reflected.
    Rotate(f64),
    /// Both sides multiplied by this factor.
    Scale(f64),
    /// JPEG re-encoding at this quality (1–100).
    Jpeg(u8),
    /// The centred crop keeping this fraction of each side, in (0, 1].
    Crop(f64),
    /// The crop at left `x`, top `y`, width `w`, height `h`, all fractions
    /// of the image's sides; clamped to the image.
    Region {
        /// Left edge, fraction of the width.
        x: f64,
        /// Top edge, fraction of the height.
        y: f64,
        /// Width, fraction of the width.
        w: f64,
        /// Height, fraction of the height.
        h: f64,
    },
    /// A viewpoint change: the top edge pulled in by this fraction of the
    /// width on each side (0 = none, below 0.5), as if the camera tilted
    /// back; borders reflected.
    Perspective(f64),
    /// Each pixel value `v` becomes `contrast · v + brightness`, saturated
    /// to 0–255.
    Photometric {
        /// Gain, in (0, 4].
        contrast: f64,
        /// Offset, in grey levels.
        brightness: f64,
    },
    /// Gaussian blur with this standard deviation in pixels, in (0, 20].
    Blur(f64),
}

impl Transform {
    /// A short name for file names and reports, such as `rot20`.
    pub fn label(&self) -> String {
        match self {
            Transform::Rotate(d) => format!("rot{d}"),
            Transform::Scale(s) => format!("scale{s}"),
            Transform::Jpeg(q) => format!("jpeg{q}"),
            Transform::Crop(f) => format!("crop{f}"),
            Transform::Region { x, y, w, h } => format!("region{x:.2}_{y:.2}_{w:.2}_{h:.2}"),
            Transform::Perspective(f) => format!("persp{f:.2}"),
            Transform::Photometric {
                contrast,
                brightness,
            } => format!("photo{contrast:.2}_{brightness:+.0}"),
            Transform::Blur(s) => format!("blur{s:.1}"),
        }
    }
}

/// Decodes `bytes`, applies `t`, and encodes the result: JPEG at the given
/// quality for [`Transform::Jpeg`], PNG (lossless) otherwise.
pub fn apply(bytes: &[u8], t: Transform) -> Result<Vec<u8>> {
    super::threads::single_threaded();
    let fail =
        |e: opencv::Error| Error::image("<bytes>", format!("transform failed: {}", e.message));
    let img = decode_color(bytes, "transform")?;
    let (w, h) = (img.cols(), img.rows());
    let mut out = Mat::default();
    let mut params = Vector::<i32>::new();
    let mut ext = ".png";
    match t {
        Transform::Rotate(deg) => {
            let centre = Point2f::new(w as f32 / 2.0, h as f32 / 2.0);
            let m = get_rotation_matrix_2d(centre, deg, 1.0).map_err(fail)?;
            warp_affine(
                &img,
                &mut out,
                &m,
                Size::new(w, h),
                INTER_LINEAR,
                BORDER_REFLECT,
                Scalar::default(),
            )
            .map_err(fail)?;
        }
        Transform::Scale(s) => {
            if !(s > 0.0 && s <= 16.0) {
                return Err(Error::InvalidConfig(format!(
                    "scale factor {s} out of (0, 16]"
                )));
            }
            let size = Size::new(
                ((f64::from(w) * s).round() as i32).max(1),
                ((f64::from(h) * s).round() as i32).max(1),
            );
            let interp = if s < 1.0 { INTER_AREA } else { INTER_LINEAR };
            resize(&img, &mut out, size, 0.0, 0.0, interp).map_err(fail)?;
        }
        Transform::Jpeg(q) => {
            out = img;
            ext = ".jpg";
            params.push(IMWRITE_JPEG_QUALITY);
            params.push(i32::from(q.clamp(1, 100)));
        }
        Transform::Crop(f) => {
            if !(f > 0.0 && f <= 1.0) {
                return Err(Error::InvalidConfig(format!(
                    "crop fraction {f} out of (0, 1]"
                )));
            }
            let cw = ((f64::from(w) * f).round() as i32).max(1);
            let ch = ((f64::from(h) * f).round() as i32).max(1);
            let roi =
                Mat::roi(&img, Rect::new((w - cw) / 2, (h - ch) / 2, cw, ch)).map_err(fail)?;
            out = roi.try_clone().map_err(fail)?;
        }
        Transform::Region { x, y, w: rw, h: rh } => {
            let frac = |v: f64| {
                if v.is_finite() {
                    v.clamp(0.0, 1.0)
                } else {
                    0.0
                }
            };
            let left = ((f64::from(w) * frac(x)) as i32).min(w - 1);
            let top = ((f64::from(h) * frac(y)) as i32).min(h - 1);
            let cw = ((f64::from(w) * frac(rw)).round() as i32).clamp(1, w - left);
            let ch = ((f64::from(h) * frac(rh)).round() as i32).clamp(1, h - top);
            let roi = Mat::roi(&img, Rect::new(left, top, cw, ch)).map_err(fail)?;
            out = roi.try_clone().map_err(fail)?;
        }
        Transform::Perspective(f) => {
            if !(0.0..0.5).contains(&f) {
                return Err(Error::InvalidConfig(format!(
                    "perspective fraction {f} out of [0, 0.5)"
                )));
            }
            let (wf, hf) = (w as f32, h as f32);
            let inset = (f as f32) * wf;
            let src = Vector::<Point2f>::from_slice(&[
                Point2f::new(0.0, 0.0),
                Point2f::new(wf, 0.0),
                Point2f::new(wf, hf),
                Point2f::new(0.0, hf),
            ]);
            let dst = Vector::<Point2f>::from_slice(&[
                Point2f::new(inset, 0.0),
                Point2f::new(wf - inset, 0.0),
                Point2f::new(wf, hf),
                Point2f::new(0.0, hf),
            ]);
            let m = get_perspective_transform(&src, &dst, DECOMP_LU).map_err(fail)?;
            warp_perspective(
                &img,
                &mut out,
                &m,
                Size::new(w, h),
                INTER_LINEAR,
                BORDER_REFLECT,
                Scalar::default(),
            )
            .map_err(fail)?;
        }
        Transform::Photometric {
            contrast,
            brightness,
        } => {
            if !(contrast > 0.0 && contrast <= 4.0 && brightness.is_finite()) {
                return Err(Error::InvalidConfig(format!(
                    "contrast {contrast} out of (0, 4] or brightness {brightness} not finite"
                )));
            }
            img.convert_to(&mut out, -1, contrast, brightness)
                .map_err(fail)?;
        }
        Transform::Blur(sigma) => {
            if !(sigma > 0.0 && sigma <= 20.0) {
                return Err(Error::InvalidConfig(format!(
                    "blur sigma {sigma} out of (0, 20]"
                )));
            }
            gaussian_blur(
                &img,
                &mut out,
                Size::new(0, 0),
                sigma,
                sigma,
                BORDER_REFLECT,
            )
            .map_err(fail)?;
        }
    }
    let mut buf = Vector::<u8>::new();
    imencode(ext, &out, &mut buf, &params).map_err(fail)?;
    Ok(buf.to_vec())
}

/// Decodes image bytes in colour, refusing what OpenCV cannot read; `what`
/// names the operation in messages ("transform", "embedding").
fn decode_color(bytes: &[u8], what: &str) -> Result<Mat> {
    // As for extraction, only headers the probe reads reach a decoder.
    if let Err(why) = super::probe::probe(bytes) {
        return Err(Error::image(
            "<bytes>",
            format!("not a decodable image: {why}"),
        ));
    }
    let img = imdecode(&Vector::<u8>::from_slice(bytes), IMREAD_COLOR)
        .map_err(|e| Error::image("<bytes>", format!("{what} failed: {}", e.message)))?;
    if img.empty() {
        return Err(Error::image("<bytes>", "not a decodable image"));
    }
    Ok(img)
}

/// Decodes image bytes to RGB pixels, as Pillow and most of NumPy's
/// ecosystem hold them: for tests and demos of queries given as pixels.
pub fn decode_pixels(bytes: &[u8]) -> Result<Pixels> {
    super::threads::single_threaded();
    let fail =
        |e: opencv::Error| Error::image("<bytes>", format!("decoding failed: {}", e.message));
    let bgr = decode_color(bytes, "decoding")?;
    let mut rgb = Mat::default();
    cvt_color_def(&bgr, &mut rgb, COLOR_BGR2RGB).map_err(fail)?;
    let (w, h) = (rgb.cols() as u32, rgb.rows() as u32);
    let data = if rgb.is_continuous() {
        rgb.data_bytes().map_err(fail)?.to_vec()
    } else {
        rgb.try_clone()
            .map_err(fail)?
            .data_bytes()
            .map_err(fail)?
            .to_vec()
    };
    Pixels::new(w, h, PixelFormat::Rgb, data)
}

/// Pastes `inset` into `background`, resized by `scale` (1 = its own
/// pixels; shrunk further if needed to fit), placed at fractions (`x`, `y`)
/// of the room left around it: (0, 0) is the top-left corner, (1, 1) the
/// bottom-right. Returns PNG bytes of the background's size: a query in
/// which the inset is only a region.
pub fn embed(background: &[u8], inset: &[u8], scale: f64, x: f64, y: f64) -> Result<Vec<u8>> {
    super::threads::single_threaded();
    let fail =
        |e: opencv::Error| Error::image("<bytes>", format!("embedding failed: {}", e.message));
    if !(scale > 0.0 && scale <= 16.0) {
        return Err(Error::InvalidConfig(format!(
            "inset scale {scale} out of (0, 16]"
        )));
    }
    let mut canvas = decode_color(background, "embedding")?;
    let small = decode_color(inset, "embedding")?;
    let (bw, bh) = (canvas.cols(), canvas.rows());
    let (sw, sh) = (f64::from(small.cols()), f64::from(small.rows()));
    let fit = scale.min(f64::from(bw) / sw).min(f64::from(bh) / sh);
    let iw = ((sw * fit).round() as i32).clamp(1, bw);
    let ih = ((sh * fit).round() as i32).clamp(1, bh);
    let mut scaled = Mat::default();
    resize(&small, &mut scaled, Size::new(iw, ih), 0.0, 0.0, INTER_AREA).map_err(fail)?;
    let at = |f: f64, room: i32| {
        let f = if f.is_finite() {
            f.clamp(0.0, 1.0)
        } else {
            0.0
        };
        ((f64::from(room) * f).round() as i32).clamp(0, room)
    };
    let (left, top) = (at(x, bw - iw), at(y, bh - ih));
    let mut roi = Mat::roi_mut(&mut canvas, Rect::new(left, top, iw, ih)).map_err(fail)?;
    scaled.copy_to(&mut roi).map_err(fail)?;
    let mut buf = Vector::<u8>::new();
    imencode(".png", &canvas, &mut buf, &Vector::new()).map_err(fail)?;
    Ok(buf.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/photos/rocket.jpg");
        std::fs::read(p).unwrap_or_default()
    }

    fn size(bytes: &[u8]) -> (i32, i32) {
        let m = imdecode(&Vector::<u8>::from_slice(bytes), IMREAD_COLOR).unwrap_or_default();
        (m.cols(), m.rows())
    }

    #[test]
    fn geometric_and_photometric_changes_keep_the_canvas() {
        let photo = sample();
        let (w, h) = size(&photo);
        assert!(w > 0 && h > 0);
        for t in [
            Transform::Perspective(0.2),
            Transform::Photometric {
                contrast: 1.3,
                brightness: -20.0,
            },
            Transform::Blur(1.5),
        ] {
            let out = apply(&photo, t).unwrap_or_default();
            assert_eq!(size(&out), (w, h), "{}", t.label());
            assert_ne!(
                out,
                apply(&photo, Transform::Scale(1.0)).unwrap_or_default()
            );
        }
    }

    #[test]
    fn only_known_formats_reach_a_decoder() {
        // DICOM data (`DICM` at offset 128) aborts the process inside
        // OpenCV's DICOM reader.
        let mut dicom = vec![0u8; 128];
        dicom.extend_from_slice(b"DICM\xff");
        assert!(apply(&dicom, Transform::Scale(1.0)).is_err());
        assert!(decode_pixels(&dicom).is_err());
        assert!(embed(&dicom, &sample(), 0.5, 0.0, 0.0).is_err());
    }

    #[test]
    fn decoded_pixels_are_rgb_rows() {
        // A 2x1 PNG: a red pixel, then a blue one (OpenCV encodes BGR).
        let mut img =
            Mat::new_rows_cols_with_default(1, 2, opencv::core::CV_8UC3, Scalar::all(0.0)).unwrap();
        img.data_bytes_mut()
            .unwrap()
            .copy_from_slice(&[0, 0, 255, 255, 0, 0]);
        let mut png = Vector::<u8>::new();
        imencode(".png", &img, &mut png, &Vector::new()).unwrap();
        let p = decode_pixels(png.as_slice()).unwrap();
        assert_eq!(
            (p.width(), p.height(), p.format()),
            (2, 1, PixelFormat::Rgb)
        );
        assert_eq!(p.data(), &[255, 0, 0, 0, 0, 255]);
        assert!(decode_pixels(b"not an image").is_err());
    }

    #[test]
    fn out_of_range_parameters_are_errors() {
        let photo = sample();
        for t in [
            Transform::Perspective(0.5),
            Transform::Perspective(-0.1),
            Transform::Photometric {
                contrast: 0.0,
                brightness: 0.0,
            },
            Transform::Photometric {
                contrast: 1.0,
                brightness: f64::NAN,
            },
            Transform::Blur(0.0),
            Transform::Blur(50.0),
        ] {
            assert!(
                matches!(apply(&photo, t), Err(Error::InvalidConfig(_))),
                "{t:?}"
            );
        }
    }
}
