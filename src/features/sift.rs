//! SIFT and RootSIFT.

use opencv::core::{no_array, KeyPoint, Mat, Vector};
use opencv::features2d::SIFT;
use opencv::prelude::*;

/// Contrast thresholds tried in turn; 0.04 is OpenCV's default. A
/// motion-blurred landscape gives 0 keypoints at 0.04 and dozens at 0.01.
const CONTRAST: [f64; 4] = [0.04, 0.02, 0.01, 0.005];

pub(super) fn detect(
    image: &Mat,
    max_features: u32,
    level: u8,
) -> opencv::Result<(Vector<KeyPoint>, Mat)> {
    let contrast = CONTRAST[usize::from(level).min(CONTRAST.len() - 1)];
    let mut sift = SIFT::create(max_features as i32, 3, contrast, 10.0, 1.6)?;
    let mut kps = Vector::new();
    let mut desc = Mat::default();
    sift.detect_and_compute(image, &no_array(), &mut kps, &mut desc, false)?;
    Ok((kps, desc))
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
