//! The image entry point: arbitrary bytes through header checks, decoding
//! and feature extraction never panic or crash; they describe the image or
//! return an `Image` error.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mmindex::features::{extract_encoded, ExtractParams};
use mmindex::{Error, Feature, IndexConfig};

fuzz_target!(|data: &[u8]| {
    let cfg = IndexConfig {
        feature: if data.first().is_some_and(|b| b & 1 == 1) { Feature::Orb } else { Feature::Sift },
        max_pixels: 16_000_000,
        max_side: 256,
        ..IndexConfig::default()
    };
    match extract_encoded(data, Path::new("<fuzz>"), &ExtractParams::from(&cfg)) {
        Ok(f) => assert_eq!(f.keypoints.len(), f.descriptors.len()),
        Err(Error::Image { .. }) => {}
        Err(e) => panic!("unexpected error kind: {e}"),
    }
});
