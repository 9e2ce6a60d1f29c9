//! Local features: image decoding and keypoint detection over OpenCV.
//!
//! This is the only module that touches OpenCV types; everything else sees
//! [`Features`]: plain keypoint geometry and a descriptor matrix.

pub mod augment;
mod binary;
mod decode;
mod pixels;
mod sift;
mod threads;

use std::path::{Path, PathBuf};

use opencv::core::{KeyPoint, Mat, Vector};
use opencv::prelude::*;

use crate::config::Feature;
use crate::error::{Error, Result};

pub(crate) use decode::ImageLimits;
pub use pixels::{PixelFormat, Pixels};

/// Where an image comes from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ImageInput {
    /// A file on disk.
    Path(PathBuf),
    /// Encoded image bytes (JPEG, PNG, ...), as they would be on disk.
    Bytes(Vec<u8>),
    /// Decoded pixels, described without being encoded again.
    Pixels(Pixels),
}

impl ImageInput {
    /// The path for messages: the file, or `<bytes>`.
    pub fn display_path(&self) -> PathBuf {
        match self {
            ImageInput::Path(p) => p.clone(),
            ImageInput::Bytes(_) => PathBuf::from("<bytes>"),
            ImageInput::Pixels(_) => PathBuf::from("<pixels>"),
        }
    }
}

/// One detected keypoint's geometry, in pixels of the (possibly downscaled)
/// image that was described.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keypoint {
    /// Column of the centre.
    pub x: f32,
    /// Row of the centre.
    pub y: f32,
    /// Diameter of the described neighbourhood.
    pub size: f32,
    /// Orientation in degrees, or -1 when the detector gives none.
    pub angle: f32,
}

/// A descriptor matrix: one row per keypoint.
#[derive(Debug, Clone, PartialEq)]
pub enum Descriptors {
    /// Real-valued rows of `dim` floats (SIFT, RootSIFT), row-major.
    Float {
        /// Floats per row.
        dim: usize,
        /// `rows × dim` values.
        data: Vec<f32>,
    },
    /// Bit-string rows of `bytes` bytes (ORB, AKAZE, BRISK), row-major.
    Binary {
        /// Bytes per row.
        bytes: usize,
        /// `rows × bytes` values.
        data: Vec<u8>,
    },
}

impl Descriptors {
    /// Number of rows (keypoints).
    pub fn len(&self) -> usize {
        match self {
            Descriptors::Float { dim, data } => data.len().checked_div(*dim).unwrap_or(0),
            Descriptors::Binary { bytes, data } => data.len().checked_div(*bytes).unwrap_or(0),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of memory the matrix holds.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Descriptors::Float { data, .. } => data.len() * 4,
            Descriptors::Binary { data, .. } => data.len(),
        }
    }
}

/// What extraction produced for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// Keypoint geometry, parallel to the descriptor rows.
    pub keypoints: Vec<Keypoint>,
    /// The descriptors.
    pub descriptors: Descriptors,
    /// How many times the detector thresholds were relaxed (0 = defaults).
    pub relaxations: u8,
    /// Width and height of the described image, after any downscaling.
    pub size: (u32, u32),
}

/// Extraction settings, taken from the index configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExtractParams {
    /// The feature family.
    pub feature: Feature,
    /// Longer side cap in pixels (0 = none).
    pub max_side: u32,
    /// Strongest keypoints kept.
    pub max_features: u32,
    /// Fewer keypoints than this trigger lower thresholds.
    pub min_features: u32,
    /// Decoded images above this many pixels are refused before decoding.
    pub max_pixels: u64,
}

impl From<&crate::config::IndexConfig> for ExtractParams {
    fn from(c: &crate::config::IndexConfig) -> Self {
        ExtractParams {
            feature: c.feature,
            max_side: c.max_side,
            max_features: c.max_features,
            min_features: c.min_features,
            max_pixels: c.max_pixels,
        }
    }
}

/// Decodes and describes one image.
///
/// A file that cannot be read or decoded gives [`Error::Image`] naming it.
/// An image that yields no keypoints even at the lowest thresholds is not an
/// error: it gives empty [`Features`], stored as an empty record.
pub fn extract(input: &ImageInput, params: &ExtractParams) -> Result<Features> {
    match input {
        ImageInput::Path(p) => extract_encoded(&read_file(p)?, p, params),
        ImageInput::Bytes(b) => extract_encoded(b, Path::new("<bytes>"), params),
        ImageInput::Pixels(p) => extract_pixels(p, params),
    }
}

/// Describes decoded pixels (see [`Pixels`]); errors name them `<pixels>`.
pub fn extract_pixels(pixels: &Pixels, params: &ExtractParams) -> Result<Features> {
    let path = Path::new("<pixels>");
    let limits = ImageLimits {
        max_side: params.max_side,
        max_pixels: params.max_pixels,
    };
    let image = pixels::to_gray(pixels, &limits, path)?;
    describe(&image, params)
        .map_err(|e| Error::image(path, format!("feature extraction failed: {}", e.message)))
}

/// Reads an image file's bytes; a directory or an unreadable file is an
/// [`Error::Image`] naming it.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let meta =
        std::fs::metadata(path).map_err(|e| Error::image(path, format!("cannot read: {e}")))?;
    if meta.is_dir() {
        return Err(Error::image(path, "is a directory, not an image"));
    }
    std::fs::read(path).map_err(|e| Error::image(path, format!("cannot read: {e}")))
}

/// Decodes and describes encoded image bytes; `path` names them in errors.
pub fn extract_encoded(bytes: &[u8], path: &Path, params: &ExtractParams) -> Result<Features> {
    let limits = ImageLimits {
        max_side: params.max_side,
        max_pixels: params.max_pixels,
    };
    let image = decode::load_bytes(bytes, &limits, path)?;
    describe(&image, params)
        .map_err(|e| Error::image(path, format!("feature extraction failed: {}", e.message)))
}

/// Relaxation ladder length: the default thresholds plus three lower ones.
const LEVELS: u8 = 4;

fn describe(image: &Mat, params: &ExtractParams) -> opencv::Result<Features> {
    let size = (image.cols() as u32, image.rows() as u32);
    if !params.feature.is_binary() {
        let (kps, mut data, level) =
            sift::detect_relaxed(image, params.max_features, params.min_features)?;
        if params.feature == Feature::RootSift {
            sift::root_sift(&mut data, 128);
        }
        return Ok(Features {
            keypoints: keypoints_of(&kps),
            descriptors: Descriptors::Float { dim: 128, data },
            relaxations: level,
            size,
        });
    }
    // Binary detectors: the threshold decides detection itself, so each
    // ladder level is a new run.
    let mut best: Option<(Vector<KeyPoint>, Mat, u8)> = None;
    for level in 0..LEVELS {
        let (kps, desc) = binary::detect(image, params.feature, params.max_features, level)?;
        let n = kps.len();
        if best.as_ref().is_none_or(|(b, _, _)| n > b.len()) {
            best = Some((kps, desc, level));
        }
        if n >= params.min_features as usize {
            break;
        }
    }
    let (kps, desc, level) = best.unwrap_or_else(|| (Vector::new(), Mat::default(), 0));
    let keypoints = keypoints_of(&kps);
    let descriptors = to_descriptors(&desc, params.feature, keypoints.len())?;
    Ok(Features {
        keypoints,
        descriptors,
        relaxations: level,
        size,
    })
}

fn keypoints_of(kps: &Vector<KeyPoint>) -> Vec<Keypoint> {
    kps.iter()
        .map(|k| Keypoint {
            x: k.pt().x,
            y: k.pt().y,
            size: k.size(),
            angle: k.angle(),
        })
        .collect()
}

fn to_descriptors(desc: &Mat, feature: Feature, rows: usize) -> opencv::Result<Descriptors> {
    if rows == 0 || desc.empty() {
        return Ok(Descriptors::Binary {
            bytes: binary::descriptor_bytes(feature),
            data: Vec::new(),
        });
    }
    let bytes = desc.cols() as usize;
    let data = if desc.is_continuous() {
        desc.data_bytes()?.to_vec()
    } else {
        desc.try_clone()?.data_bytes()?.to_vec()
    };
    Ok(Descriptors::Binary { bytes, data })
}
