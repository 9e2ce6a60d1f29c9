//! Inputs that fuzzing found harmful, replayed through the public API: each
//! must give a clean error (or round-trip) and nothing else.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use std::path::Path;

use mmindex::store::codec::{doc, geometry, hist, keys, postings, Layout};
use mmindex::{RunOptions, Source};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/fuzz")
            .join(name),
    )
    .expect("fixture")
}

#[test]
fn image_that_aborted_opencvs_dicom_reader_is_refused() {
    let (_dir, index) = common::temp_index(|b| b);
    let mut w = index.writer(RunOptions::default()).expect("writer");
    // Without the format whitelist this aborts the process inside GDCM.
    let r = w.train(vec![Source::bytes(
        "dicom",
        fixture("image-gdcm-abort.bin"),
    )]);
    assert!(r.is_err(), "no descriptors to train on");
}

#[test]
fn stored_value_decoders_reject_fuzz_findings() {
    assert!(doc::decode(&fixture("doc-record-4gb-id.bin")).is_err());
    let h = fixture("hist-overlong-varint.bin");
    for layout in [Layout::Varint, Layout::Packed] {
        if let Ok(v) = hist::decode(layout, &h) {
            assert_eq!(
                hist::encode(layout, &v),
                h,
                "only canonical encodings decode"
            );
        }
    }
    let g = fixture("geometry-empty-unoriented.bin");
    if let Ok(v) = geometry::decode_listed(&g) {
        assert_eq!(
            geometry::encode(geometry::Form::Listed, &v),
            g,
            "only canonical encodings decode"
        );
    }
    for form in [geometry::Form::Packed, geometry::Form::Narrow] {
        if let Ok(v) = geometry::decode_packed(form, &g, &[]) {
            assert_eq!(
                geometry::encode(form, &v),
                g,
                "only canonical encodings decode"
            );
        }
    }
    let p = fixture("postings-overlong-varint.bin");
    if p.len() >= 12 {
        let (key, value) = p.split_at(12);
        if let Ok((_, first)) = keys::posting_from(key) {
            for layout in [Layout::Varint, Layout::Packed] {
                if let Ok(v) = postings::decode(layout, first, value) {
                    assert_eq!(
                        postings::encode(layout, first, &v),
                        value,
                        "only canonical encodings decode"
                    );
                }
            }
        }
    }
}
