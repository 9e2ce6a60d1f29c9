//! Decoded pixels as records and queries: described like the same image
//! given as a file, in any channel order, with per-record errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use mmindex::augment::{decode_pixels, Transform};
use mmindex::features::{extract, extract_encoded, ExtractParams, ImageInput};
use mmindex::{Feature, IndexConfig, PixelFormat, Pixels, Query, RunOptions, Source};

fn params() -> ExtractParams {
    ExtractParams::from(&IndexConfig {
        feature: Feature::Sift,
        ..IndexConfig::default()
    })
}

/// A binary PNM file of these pixels (PGM for grey, PPM for RGB): a file
/// that decodes to exactly these pixel values.
fn pnm(p: &Pixels) -> Vec<u8> {
    let magic = match p.format() {
        PixelFormat::Gray => "P5",
        PixelFormat::Rgb => "P6",
        other => panic!("no PNM for {other:?}"),
    };
    let mut out = format!("{magic}\n{} {}\n255\n", p.width(), p.height()).into_bytes();
    out.extend_from_slice(p.data());
    out
}

/// Equal features, compared without printing thousands of numbers.
fn assert_same(a: &mmindex::features::Features, b: &mmindex::features::Features, what: &str) {
    assert_eq!(
        a.keypoints.len(),
        b.keypoints.len(),
        "{what}: keypoint count"
    );
    assert!(a == b, "{what}: features differ");
}

#[test]
fn pixels_are_described_like_the_file_of_the_same_pixels() {
    let photo = std::fs::read(&common::photos()[0]).expect("photo");
    let rgb = decode_pixels(&photo).expect("decode");
    let file = extract_encoded(&pnm(&rgb), "x.ppm".as_ref(), &params()).expect("file");
    assert!(file.keypoints.len() > 50);
    let from_rgb = extract(&ImageInput::Pixels(rgb.clone()), &params()).expect("rgb pixels");
    // OpenCV's PPM reader and its colour conversion round a few pixels
    // (2 in 262,144 here) differently, so nearly every keypoint matches.
    let same = from_rgb
        .keypoints
        .iter()
        .filter(|k| file.keypoints.contains(k))
        .count();
    let swapped = {
        let bgr = Pixels::new(rgb.width(), rgb.height(), PixelFormat::Bgr, rgb.data()).expect("px");
        let f = extract(&ImageInput::Pixels(bgr), &params()).expect("swapped");
        f.keypoints
            .iter()
            .filter(|k| file.keypoints.contains(k))
            .count()
    };
    eprintln!(
        "{same} of {} keypoints as the PPM file; {swapped} with red and blue swapped",
        file.keypoints.len()
    );
    assert!(same * 100 >= file.keypoints.len() * 95);
    // The same image in OpenCV's order, with or without alpha.
    let bgr: Vec<u8> = rgb
        .data()
        .chunks_exact(3)
        .flat_map(|p| [p[2], p[1], p[0]])
        .collect();
    let bgra: Vec<u8> = bgr
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    let (w, h) = (rgb.width(), rgb.height());
    for (format, data) in [(PixelFormat::Bgr, bgr), (PixelFormat::Bgra, bgra)] {
        let px = Pixels::new(w, h, format, data).expect("pixels");
        let f = extract(&ImageInput::Pixels(px), &params()).expect("pixels");
        assert_same(&from_rgb, &f, &format!("{format:?} pixels"));
    }
    // Grey pixels against the PGM file of the same grey levels.
    let grey: Vec<u8> = rgb.data().iter().step_by(3).copied().collect();
    let grey = Pixels::new(w, h, PixelFormat::Gray, grey).expect("grey");
    let file = extract_encoded(&pnm(&grey), "x.pgm".as_ref(), &params()).expect("file");
    let f = extract(&ImageInput::Pixels(grey), &params()).expect("grey pixels");
    assert_same(&file, &f, "grey pixels against the PGM file");
}

#[test]
fn pixel_records_and_queries_find_each_other() {
    let (_dir, index) = common::temp_index(|b| b.feature(Feature::Sift).words(200));
    let photos = common::photos();
    let mut w = index.writer(RunOptions::default()).expect("writer");
    let mut sources = Vec::new();
    let mut hashes = Vec::new();
    for (i, p) in photos.iter().enumerate() {
        let px = decode_pixels(&std::fs::read(p).expect("photo")).expect("decode");
        hashes.push(mmindex::store::codec::doc::content_hash(px.data()));
        sources.push(Source::pixels(format!("px-{i}"), px));
    }
    // A zero-sized image fails alone; the rest of the batch is stored.
    sources.push(Source::pixels(
        "empty",
        Pixels::new(0, 0, PixelFormat::Rgb, Vec::new()).expect("empty"),
    ));
    let (_, report) = w.build(sources).expect("build");
    assert_eq!(report.added, photos.len());
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert_eq!(report.failed[0].id.as_bytes(), b"empty");
    assert!(report.failed[0].reason.contains("zero-sized"));
    let info = index.record("px-0").expect("record").expect("stored");
    assert_eq!((info.source, info.content_hash), (None, hashes[0]));
    // No file to re-extract: a rebuild refuses, changing nothing.
    assert!(w.rebuild(None, None).is_err());
    drop(w);

    let s = index.searcher().expect("searcher");
    for (i, p) in photos.iter().enumerate() {
        let query = common::transformed(p, Transform::Rotate(20.0));
        let px = decode_pixels(&query).expect("decode");
        let hits = s.search(&Query::pixels(px), 3).expect("search");
        if p.ends_with("microaneurysms.jpg") && hits.is_empty() {
            continue;
        }
        assert_eq!(hits[0].id.to_string(), format!("px-{i}"), "{}", p.display());
        // The same pixels given as a file are found with the same scores.
        let by_file = s.search(&Query::bytes(query), 3).expect("search");
        assert_eq!(by_file[0].id, hits[0].id);
    }
}
