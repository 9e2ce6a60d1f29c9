//! SIFT and RootSIFT.

use opencv::core::{no_array, KeyPoint, Mat, Vector};
use opencv::features2d::SIFT;
use opencv::prelude::*;

/// Contrast thresholds tried in turn; 0.04 is OpenCV's default. A
/// motion-blurred landscape gives 0 keypoints at 0.04 and dozens at 0.01.
const CONTRAST: [f64; 4] = [0.04, 0.02, 0.01, 0.005];

/// Floats per SIFT descriptor.
pub(super) const DIM: usize = 128;

/// Scale-space layers per octave (OpenCV's default).
const LAYERS: i32 = 3;

/// SIFT with the relaxation ladder in at most three passes.
///
/// The contrast threshold only filters extrema after the scale space is
/// built (OpenCV keeps a keypoint when `|contrast| · layers ≥ threshold`
/// and stores `|contrast|` as its response), so one pass at a low threshold
/// contains the result of every higher step, and a step is applied by
/// filtering on the response.
///
/// - Pass 1, the default threshold: all most photos need.
/// - Pass 2, the next step (0.02): most images that pass 1 leaves short
///   stop here, in one more ordinary pass.
/// - Pass 3, the lowest threshold with descriptors, then the highest step
///   that still leaves `min_features` keypoints is applied by filtering.
///   Images that get this far have few extrema even at the lowest
///   threshold, so describing them all is cheap.
///
/// Measured on 500 images of which 34 (and on another set 110) fall short of
/// 50 keypoints at the default threshold: the relaxation costs 2% (12%)
/// over plain extraction, against 7% (15%) when pass 2 detected at the
/// lowest threshold and a further pass described the kept keypoints, and
/// 7% (24%) for a single second pass at the lowest threshold
/// (docs/PERFORMANCE.md, "Build").
///
/// Returns the keypoints, their descriptor rows (row-major, 128 floats) and
/// the ladder level applied.
pub(super) fn detect_relaxed(
    image: &Mat,
    max_features: u32,
    min_features: u32,
) -> opencv::Result<(Vector<KeyPoint>, Vec<f32>, u8)> {
    let enough = |kps: &Vector<KeyPoint>| kps.len() >= min_features as usize;
    for (level, &contrast) in CONTRAST.iter().enumerate().take(2) {
        let (kps, desc) = run(image, max_features, contrast)?;
        if enough(&kps) {
            let rows = rows_of(&kps, &desc)?.to_vec();
            return Ok((kps, rows, level as u8));
        }
    }
    let lowest = CONTRAST.len() - 1;
    let (all, desc) = run(image, max_features, CONTRAST[lowest])?;
    let rows = rows_of(&all, &desc)?;
    let passes =
        |level: usize, k: &KeyPoint| f64::from(k.response()) * f64::from(LAYERS) >= CONTRAST[level];
    let level = (2..lowest)
        .find(|&l| all.iter().filter(|k| passes(l, k)).count() >= min_features as usize)
        .unwrap_or(lowest);
    let mut kept = Vector::new();
    let mut kept_rows = Vec::new();
    for (k, row) in all.iter().zip(rows.chunks_exact(DIM)) {
        if passes(level, &k) {
            kept.push(k);
            kept_rows.extend_from_slice(row);
        }
    }
    Ok((kept, kept_rows, level as u8))
}

fn create(max_features: u32, contrast: f64) -> opencv::Result<opencv::core::Ptr<SIFT>> {
    SIFT::create(
        super::opencv_count(max_features),
        LAYERS,
        contrast,
        10.0,
        1.6,
    )
}

fn run(image: &Mat, max_features: u32, contrast: f64) -> opencv::Result<(Vector<KeyPoint>, Mat)> {
    let mut sift = create(max_features, contrast)?;
    let mut kps = Vector::new();
    let mut desc = Mat::default();
    sift.detect_and_compute(image, &no_array(), &mut kps, &mut desc, false)?;
    Ok((kps, desc))
}

fn rows_of<'m>(kps: &Vector<KeyPoint>, desc: &'m Mat) -> opencv::Result<&'m [f32]> {
    if kps.is_empty() || desc.empty() {
        Ok(&[])
    } else {
        desc.data_typed::<f32>()
    }
}

/// RootSIFT: L1-normalise each row, then take element-wise square roots, so
/// that Euclidean distance between rows equals the Hellinger distance
/// between the original histograms.
pub(super) fn root_sift(data: &mut [f32], dim: usize) {
    for row in data.chunks_exact_mut(dim) {
        let l1: f32 = row.iter().map(|v| v.abs()).sum::<f32>() + 1e-7;
        for v in row.iter_mut() {
            *v = (v.abs() / l1).sqrt();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_sift_rows_have_unit_l2_norm() {
        let mut d = vec![1.0, 3.0, 0.0, 4.0, 2.0, 2.0, 2.0, 2.0];
        root_sift(&mut d, 4);
        for row in d.chunks(4) {
            let l2: f32 = row.iter().map(|v| v * v).sum();
            assert!((l2 - 1.0).abs() < 1e-4, "{l2}");
        }
    }
}
