//! Local features: image decoding and keypoint detection over OpenCV.
//!
//! This is the only module that touches OpenCV types; everything else sees
//! [`Features`]: plain keypoint geometry and a descriptor matrix.

pub mod augment;
mod binary;
mod decode;
pub mod file;
mod pixels;
mod probe;
mod sift;
mod threads;

use std::path::{Path, PathBuf};

use opencv::core::{KeyPoint, Mat, Vector};
use opencv::prelude::*;

use crate::config::Feature;
use crate::error::{Error, Result};

pub(crate) use decode::ImageLimits;
pub use file::read_file;
pub use pixels::{PixelFormat, Pixels};
pub use probe::{Block, ImageFormat, ImageHeader};

/// Where an image comes from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ImageInput {
    /// A file on disk.
    Path(PathBuf),
    /// A file that must lie inside `root` once symlinks are resolved: read
    /// by `features::file::read_within`, which checks the descriptor it
    /// reads.
    Within {
        /// The folder the file must lie in.
        root: PathBuf,
        /// The file: absolute, or relative to `root`.
        path: PathBuf,
    },
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
            ImageInput::Within { root, path } => file::join_within(root, path),
            ImageInput::Bytes(_) => PathBuf::from("<bytes>"),
            ImageInput::Pixels(_) => PathBuf::from("<pixels>"),
        }
    }

    /// The encoded bytes: a file's read under `max_file_bytes`, or the
    /// bytes given. Decoded pixels have none: an [`Error::Image`].
    pub fn read(&self, max_file_bytes: u64) -> Result<std::borrow::Cow<'_, [u8]>> {
        use std::borrow::Cow;
        Ok(match self {
            ImageInput::Path(p) => Cow::Owned(read_file(p, max_file_bytes)?),
            ImageInput::Within { root, path } => {
                Cow::Owned(file::read_within(root, path, max_file_bytes)?)
            }
            ImageInput::Bytes(b) => Cow::Borrowed(b),
            ImageInput::Pixels(_) => {
                return Err(Error::image(
                    "<pixels>",
                    "decoded pixels have no encoded bytes",
                ))
            }
        })
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
    /// Image files larger than this many bytes are refused before reading
    /// (see [`RunOptions::max_file_bytes`](crate::RunOptions::max_file_bytes)).
    pub max_file_bytes: u64,
}

impl From<&crate::config::IndexConfig> for ExtractParams {
    fn from(c: &crate::config::IndexConfig) -> Self {
        ExtractParams {
            feature: c.feature,
            max_side: c.max_side,
            max_features: c.max_features,
            min_features: c.min_features,
            max_pixels: c.max_pixels,
            max_file_bytes: crate::config::DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// Decodes and describes one image.
///
/// A file that cannot be read or decoded gives [`Error::Image`] naming it.
/// An image that yields no keypoints even at the lowest thresholds is not an
/// error: it gives empty [`Features`], stored as an empty record.
/// Width of `feature`'s descriptor rows: floats for SIFT and RootSIFT,
/// bytes for the binary features.
pub fn descriptor_width(feature: Feature) -> usize {
    if feature.is_binary() {
        binary::descriptor_bytes(feature)
    } else {
        sift::DIM
    }
}

pub fn extract(input: &ImageInput, params: &ExtractParams) -> Result<Features> {
    if let ImageInput::Pixels(p) = input {
        return extract_pixels(p, params);
    }
    let bytes = input.read(params.max_file_bytes)?;
    extract_encoded(&bytes, &input.display_path(), params)
}

/// Describes decoded pixels (see [`Pixels`]); errors name them `<pixels>`.
pub fn extract_pixels(pixels: &Pixels, params: &ExtractParams) -> Result<Features> {
    let path = Path::new("<pixels>");
    let image = pixels::to_gray(pixels, &limits(params), path)?;
    describe_image(&image, path, params)
}

/// Reads the header of encoded image bytes without decoding them: the
/// format, and the size its decoder will allocate. `path` names the bytes
/// in errors.
///
/// Bytes that are not one of the decoded formats, or whose header cannot be
/// read the way its decoder reads it, give [`Error::Image`]; no bytes make
/// it panic. [`extract_encoded`] applies `max_pixels` to this header before
/// any pixel is allocated.
pub fn read_header(bytes: &[u8], path: &Path) -> Result<ImageHeader> {
    probe::probe(bytes).map_err(|r| Error::image(path, r.to_string()))
}

/// Decodes and describes encoded image bytes; `path` names them in errors.
pub fn extract_encoded(bytes: &[u8], path: &Path, params: &ExtractParams) -> Result<Features> {
    let image = decode::load_bytes(bytes, &limits(params), path)?;
    describe_image(&image, path, params)
}

/// The decoding limits of `params`.
fn limits(params: &ExtractParams) -> ImageLimits {
    ImageLimits {
        max_side: params.max_side,
        max_pixels: params.max_pixels,
    }
}

/// [`describe`], its OpenCV error as an [`Error::Image`] naming `path`.
fn describe_image(image: &Mat, path: &Path, params: &ExtractParams) -> Result<Features> {
    describe(image, params)
        .map_err(|e| Error::image(path, format!("feature extraction failed: {}", e.message)))
}

/// A keypoint count as OpenCV takes it (an `int`): counts past its range
/// mean "no cap" there too.
fn opencv_count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Relaxation ladder length: the default thresholds plus three lower ones.
const LEVELS: u8 = 4;

fn describe(image: &Mat, params: &ExtractParams) -> opencv::Result<Features> {
    let size = (image.cols() as u32, image.rows() as u32);
    // A detector never returns more than `max_features`: asking for more
    // would relax every image to the lowest thresholds for nothing.
    let min_features = params.min_features.min(params.max_features);
    if !params.feature.is_binary() {
        let (kps, mut data, level) =
            sift::detect_relaxed(image, params.max_features, min_features)?;
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
        if n >= min_features as usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A cap below `min_features` is reached at the default thresholds:
    /// the image is not relaxed (before, every image ran the whole ladder).
    #[test]
    fn a_cap_below_min_features_does_not_relax() {
        let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/photos/astronaut.jpg");
        for feature in [Feature::RootSift, Feature::Orb] {
            let params = ExtractParams {
                feature,
                max_side: 1_024,
                max_features: 40,
                min_features: 50,
                max_pixels: 250_000_000,
                max_file_bytes: crate::config::DEFAULT_MAX_FILE_BYTES,
            };
            let f = extract(&ImageInput::Path(photo.clone()), &params).expect("extract");
            assert_eq!(f.relaxations, 0, "{feature:?}");
            assert!(
                !f.keypoints.is_empty() && f.keypoints.len() <= 40,
                "{feature:?}: {}",
                f.keypoints.len()
            );
        }
    }
}
