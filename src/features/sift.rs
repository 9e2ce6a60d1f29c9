//! SIFT and RootSIFT.

use opencv::core::{no_array, KeyPoint, Mat, Vector};
use opencv::features2d::SIFT;
use opencv::prelude::*;

/// Contrast thresholds tried in turn; 0.04 is OpenCV's default. A
/// motion-blurred landscape gives 0 keypoints at 0.04 and dozens at 0.01.
const CONTRAST: [f64; 4] = [0.04, 0.02, 0.01, 0.005];

/// Scale-space layers per octave (OpenCV's default).
const LAYERS: i32 = 3;

/// SIFT with the relaxation ladder in at most two passes.
///
/// The contrast threshold only filters extrema after the scale space is
/// built (OpenCV keeps a keypoint when `|contrast| · layers ≥ threshold`
/// and stores `|contrast|` as its response). The first pass uses the default
/// threshold, which is all most photos need. When it finds fewer than
/// `min_features` keypoints, a second pass at the lowest threshold (keeping
/// the strongest `max_features`) contains the result of every lower ladder
/// step, and the highest threshold that still leaves `min_features`
/// keypoints is applied by filtering on the response: two scale spaces at
/// most instead of four. (A single pass at the lowest threshold is slower on
/// ordinary photos: it assigns orientations to many more weak extrema.)
///
/// Returns the keypoints, their descriptor rows (row-major, 128 floats) and
/// the ladder level applied.
pub(super) fn detect_relaxed(
    image: &Mat,
    max_features: u32,
    min_features: u32,
) -> opencv::Result<(Vector<KeyPoint>, Vec<f32>, u8)> {
    let (kps, desc) = run(image, max_features, CONTRAST[0])?;
    if kps.len() >= min_features as usize {
        let rows = rows_of(&kps, &desc)?.to_vec();
        return Ok((kps, rows, 0));
    }
    // Detection only at the lowest threshold: descriptors are computed
    // afterwards for the kept keypoints alone. Computing all `max_features`
    // of them here cost three times an ordinary image's extraction on
    // low-texture crops, where thousands of weak extrema exist and only a few
    // hundred are kept.
    let mut sift = create(max_features, CONTRAST[CONTRAST.len() - 1])?;
    let mut all = Vector::new();
    sift.detect(image, &mut all, &no_array())?;
    let responses: Vec<f32> = all.iter().map(|k| k.response()).collect();
    let passes = |level: usize, r: f32| f64::from(r) * f64::from(LAYERS) >= CONTRAST[level];
    let level = (1..CONTRAST.len())
        .find(|&l| responses.iter().filter(|&&r| passes(l, r)).count() >= min_features as usize)
        .unwrap_or(CONTRAST.len() - 1);
    let mut kept: Vector<KeyPoint> = all
        .iter()
        .zip(&responses)
        .filter(|(_, &r)| passes(level, r))
        .map(|(k, _)| k)
        .collect();
    if kept.is_empty() {
        return Ok((kept, Vec::new(), level as u8));
    }
    let mut desc = Mat::default();
    sift.detect_and_compute(image, &no_array(), &mut kept, &mut desc, true)?;
    let rows = rows_of(&kept, &desc)?.to_vec();
    Ok((kept, rows, level as u8))
}

fn create(max_features: u32, contrast: f64) -> opencv::Result<opencv::core::Ptr<SIFT>> {
    SIFT::create(max_features as i32, LAYERS, contrast, 10.0, 1.6)
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
