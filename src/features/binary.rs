//! The binary-descriptor families: ORB, AKAZE (MLDB) and BRISK.

use opencv::core::{no_array, KeyPoint, Mat, Vector};
use opencv::features2d::{
    AKAZE_DescriptorType, KAZE_DiffusivityType, KeyPointsFilter, ORB_ScoreType, AKAZE, BRISK, ORB,
};
use opencv::prelude::*;

use crate::config::Feature;

/// FAST thresholds for ORB (OpenCV default 20 first).
const ORB_FAST: [i32; 4] = [20, 10, 5, 2];
/// AKAZE detector response thresholds (OpenCV default 0.001 first).
const AKAZE_THRESHOLD: [f32; 4] = [0.001, 0.0003, 0.0001, 0.00003];
/// BRISK AGAST thresholds (OpenCV default 30 first).
const BRISK_THRESHOLD: [i32; 4] = [30, 15, 8, 4];

/// Bytes per descriptor row.
pub(super) fn descriptor_bytes(feature: Feature) -> usize {
    match feature {
        Feature::Orb => 32,
        Feature::Akaze => 61,
        _ => 64,
    }
}

/// The shortest image side a detector takes; below it OpenCV fails an
/// assertion instead of finding nothing. ORB's coarsest pyramid level
/// (scale 1/1.2^7) rounds a 1-pixel side to 0 pixels, BRISK's coarsest layer
/// (3 octaves, about 1/6) does so below 6 pixels, and AKAZE's derivative
/// images have side − 2 pixels. No keypoint fits in such an image anyway
/// (ORB and AKAZE keep a border around every keypoint).
fn min_side(feature: Feature) -> i32 {
    match feature {
        Feature::Orb | Feature::Akaze => 2,
        _ => 6,
    }
}

pub(super) fn detect(
    image: &Mat,
    feature: Feature,
    max_features: u32,
    level: u8,
) -> opencv::Result<(Vector<KeyPoint>, Mat)> {
    let l = usize::from(level).min(3);
    let mut kps = Vector::new();
    let mut desc = Mat::default();
    if image.cols().min(image.rows()) < min_side(feature) {
        return Ok((kps, desc));
    }
    match feature {
        Feature::Orb => {
            let mut orb = ORB::create(
                super::opencv_count(max_features),
                1.2,
                8,
                31,
                0,
                2,
                ORB_ScoreType::HARRIS_SCORE,
                31,
                ORB_FAST[l],
            )?;
            orb.detect_and_compute(image, &no_array(), &mut kps, &mut desc, false)?;
        }
        Feature::Akaze => {
            let mut akaze = AKAZE::create(
                AKAZE_DescriptorType::DESCRIPTOR_MLDB,
                0,
                3,
                AKAZE_THRESHOLD[l],
                4,
                4,
                KAZE_DiffusivityType::DIFF_PM_G2,
            )?;
            akaze.detect(image, &mut kps, &no_array())?;
            KeyPointsFilter::retain_best(&mut kps, super::opencv_count(max_features))?;
            akaze.compute(image, &mut kps, &mut desc)?;
        }
        _ => {
            let mut brisk = BRISK::create(BRISK_THRESHOLD[l], 3, 1.0)?;
            brisk.detect(image, &mut kps, &no_array())?;
            KeyPointsFilter::retain_best(&mut kps, super::opencv_count(max_features))?;
            brisk.compute(image, &mut kps, &mut desc)?;
        }
    }
    Ok((kps, desc))
}
