// Over 500 lines: one catalogue, one test per kind of bad input, sharing the index set-up and the final checks.
//! The bad-input catalogue: every case gives its documented outcome, never a
//! panic; afterwards the index verifies and earlier records are still found.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use std::path::{Path, PathBuf};

use mmindex::{AddReport, Error, Index, Query, RunOptions, Source};

/// An index trained and filled with three photos, in its temporary
/// directory.
fn index() -> (tempfile::TempDir, Index) {
    let (dir, index) = common::temp_index(|b| b.words(100));
    let mut w = index.writer(RunOptions::default()).expect("writer");
    let sources = good().iter().map(|p| common::photo_source(p)).collect();
    let (_, r) = w.build(sources).expect("build");
    assert_eq!(r.added, 3);
    (dir, index)
}

fn good() -> Vec<PathBuf> {
    common::photos()
        .into_iter()
        .filter(|p| !common::photo_id(p).starts_with("micro"))
        .take(3)
        .collect()
}

/// Adds one source and returns the report.
fn add(index: &Index, s: Source) -> AddReport {
    let mut w = index.writer(RunOptions::default()).expect("writer");
    w.add(vec![s])
        .expect("add never fails as a whole for a bad record")
}

/// The index verifies and every good photo is still ranked first.
fn still_healthy(index: &Index) {
    let v = index.verify().expect("verify");
    assert!(v.is_ok(), "{:?}", v.violations);
    let s = index.searcher().expect("searcher");
    for p in good() {
        let hits = s.search(&Query::path(&p), 1).expect("search");
        assert_eq!(hits[0].id.to_string_lossy(), common::photo_id(&p));
    }
}

/// Asserts one failure for `path` whose reason contains `reason`.
fn fails_with(r: &AddReport, path: &Path, reason: &str) {
    assert_eq!(r.added + r.replaced, 0, "{r:?}");
    assert_eq!(r.failed.len(), 1, "{r:?}");
    let f = &r.failed[0];
    assert_eq!(f.path, path);
    assert!(
        f.reason.contains(reason),
        "expected `{reason}` in `{}`",
        f.reason
    );
    assert!(f.to_string().contains(&path.display().to_string()));
}

fn png_header(w: u32, h: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0, 0]);
    b
}

#[test]
fn file_level_cases() {
    let (dir, index) = index();
    let photo = std::fs::read(&good()[0]).expect("photo");
    let png =
        mmindex::augment::apply(&photo, mmindex::augment::Transform::Scale(1.0)).expect("png");
    let mut random = Vec::new();
    let mut x: u32 = 12345;
    for _ in 0..5000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        random.push((x >> 16) as u8);
    }
    let mut bomb_jpeg = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08];
    bomb_jpeg.extend_from_slice(&60000u16.to_be_bytes());
    bomb_jpeg.extend_from_slice(&60000u16.to_be_bytes());
    bomb_jpeg.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xFF, 0xD9]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.jpg", Vec::new(), "empty file"),
        (
            "truncated.jpg",
            photo[..photo.len() / 2].to_vec(),
            "truncated JPEG",
        ),
        (
            "truncated.png",
            png[..png.len() / 2].to_vec(),
            "not a decodable image",
        ),
        (
            "text.jpg",
            b"hello, I am not a picture\n".to_vec(),
            "not a decodable image",
        ),
        ("random.jpg", random, "not a decodable image"),
        ("bomb.png", png_header(60000, 60000), "exceeds the limit"),
        ("bomb.jpg", bomb_jpeg, "exceeds the limit"),
        ("zero.png", png_header(0, 10), "zero-sized"),
    ];
    for (name, bytes, reason) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).expect("write");
        let r = add(&index, Source::path(name, path.clone()));
        fails_with(&r, &path, reason);
        // The same bytes in memory fail the same way, named `<bytes>`.
        let r = add(&index, Source::bytes(name, bytes));
        assert_eq!(r.failed.len(), 1, "{name} as bytes: {r:?}");
        assert!(
            r.failed[0].reason.contains(reason),
            "{name} as bytes: {}",
            r.failed[0].reason
        );
        assert!(
            !index.contains(name).expect("contains"),
            "{name} must not be stored"
        );
    }
    let sub = dir.path().join("a-directory.jpg");
    std::fs::create_dir(&sub).expect("mkdir");
    fails_with(
        &add(&index, Source::path("d", sub.clone())),
        &sub,
        "is a directory",
    );
    let dangling = dir.path().join("dangling.jpg");
    std::os::unix::fs::symlink(dir.path().join("nowhere.jpg"), &dangling).expect("symlink");
    fails_with(
        &add(&index, Source::path("s", dangling.clone())),
        &dangling,
        "cannot read",
    );
    still_healthy(&index);
}

#[test]
fn images_without_features_are_empty_records() {
    let (_dir, index) = index();
    let photo = std::fs::read(&good()[0]).expect("photo");
    // 1×1 and flat grey images: decodable, no keypoints at any threshold.
    let one = mmindex::augment::apply(
        &photo,
        mmindex::augment::Transform::Region {
            x: 0.5,
            y: 0.5,
            w: 0.0,
            h: 0.0,
        },
    )
    .expect("1x1");
    let flat =
        mmindex::augment::apply(&one, mmindex::augment::Transform::Scale(16.0)).expect("flat");
    for (id, bytes) in [("one-pixel", one), ("flat-grey", flat)] {
        let r = add(&index, Source::bytes(id, bytes.clone()));
        assert_eq!(
            (r.added, r.empty.len(), r.failed.len()),
            (1, 1, 0),
            "{id}: {r:?}"
        );
        assert!(index.contains(id).expect("contains"));
        // As a query it finds nothing, without failing.
        let hits = index
            .searcher()
            .expect("s")
            .search(&Query::bytes(bytes), 5)
            .expect("search");
        assert!(hits.is_empty(), "{id}: {hits:?}");
    }
    still_healthy(&index);
}

#[test]
fn names_ids_and_duplicates() {
    let (dir, index) = index();
    // A non-UTF-8 file name: found by a folder walk, its id keeps the bytes.
    let folder = dir.path().join("odd");
    std::fs::create_dir(&folder).expect("mkdir");
    let name = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"caf\xe9.jpg");
    std::fs::copy(&common::photos()[4], folder.join(name)).expect("copy");
    let (sources, errors) = mmindex::source::folder(&folder).expect("walk");
    assert!(errors.is_empty());
    assert_eq!(sources[0].id.as_bytes(), b"caf\xe9.jpg");
    let mut w = index.writer(RunOptions::default()).expect("writer");
    let r = w.add(sources).expect("add");
    assert_eq!(r.added, 1);
    assert!(index.contains(b"caf\xe9.jpg").expect("contains"));
    // Ids must be 1 to 64 KiB long.
    let long = "x".repeat(70_000);
    let r = w
        .add(vec![Source::path(
            long.as_str(),
            common::photos()[5].clone(),
        )])
        .expect("add");
    assert_eq!((r.added, r.failed.len()), (0, 1), "{r:?}");
    assert!(
        r.failed[0].reason.contains("record id"),
        "{}",
        r.failed[0].reason
    );
    // The same id twice in one batch: the last image wins.
    let (a, b) = (common::photos()[5].clone(), common::photos()[6].clone());
    let r = w
        .add(vec![Source::path("dup", a), Source::path("dup", b.clone())])
        .expect("add");
    assert_eq!((r.added, r.replaced), (1, 1), "{r:?}");
    drop(w);
    let hits = index
        .searcher()
        .expect("s")
        .search(&Query::path(&b), 1)
        .expect("search");
    assert_eq!(hits[0].id.to_string_lossy(), "dup");
    still_healthy(&index);
}

#[test]
fn empty_folder_and_index_states() {
    let (dir, index) = common::temp_index(|b| b);
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let (sources, errors) = mmindex::source::folder(&empty).expect("walk");
    assert!(sources.is_empty() && errors.is_empty());
    let mut w = index.writer(RunOptions::default()).expect("writer");
    assert!(matches!(
        w.build(sources),
        Err(Error::TooFewDescriptors { found: 0, .. })
    ));
    drop(w);
    assert!(matches!(index.searcher(), Err(Error::NoCodebook)));
    assert!(index.verify().expect("verify").is_ok());
    assert!(matches!(
        Index::open(dir.path().join("missing")),
        Err(Error::NotAnIndex { .. })
    ));
    let not_index = dir.path().join("not-index");
    std::fs::create_dir(&not_index).expect("mkdir");
    std::fs::write(not_index.join("notes.txt"), "mine").expect("write");
    assert!(matches!(
        Index::builder().open(&not_index),
        Err(Error::NotAnIndex { .. })
    ));
    assert!(not_index.join("notes.txt").exists());
}

/// A small JPEG (26×26, colour) and a PNG of a photo, as OpenCV writes them.
fn small_jpeg_and_png() -> (Vec<u8>, Vec<u8>) {
    let photo = std::fs::read(&good()[0]).expect("photo");
    let region = mmindex::augment::Transform::Region {
        x: 0.4,
        y: 0.4,
        w: 0.05,
        h: 0.05,
    };
    let small = mmindex::augment::apply(&photo, region).expect("crop");
    let jpeg = mmindex::augment::apply(&small, mmindex::augment::Transform::Jpeg(90)).expect("jpg");
    let png =
        mmindex::augment::apply(&photo, mmindex::augment::Transform::Scale(1.0)).expect("png");
    (jpeg, png)
}

#[test]
fn decompression_bombs_and_unprobed_headers_are_refused() {
    use common::bombs;
    let (_dir, index) = index();
    let (jpeg, png) = small_jpeg_and_png();
    let over = "20000x15000 pixels exceeds the limit";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "lossless.webp",
            bombs::webp_lossless(16000, 16000),
            "16000x16000 pixels exceeds the limit",
        ),
        (
            "lossy.webp",
            bombs::webp_lossy_header(16383, 16383),
            "16383x16383 pixels exceeds the limit",
        ),
        ("g4.tiff", bombs::tiff_g4(20000, 15000), over),
        (
            "tem.jpg",
            bombs::jpeg_tem_fake_frame(&jpeg, 20000, 15000),
            over,
        ),
        (
            "garbage.jpg",
            bombs::jpeg_garbage_before_frame(&jpeg, 20000, 15000),
            over,
        ),
        (
            "tiles.tiff",
            bombs::tiff_tiled(100, 100, 16384, 16384),
            "16384x16384 tiles",
        ),
        (
            "strips.tiff",
            bombs::tiff_strips(100, 100, 4_000_000),
            "100x4000000 strips",
        ),
        ("blank.j2k", bombs::j2k_blank(20000, 15000), over),
        (
            "blank.jp2",
            bombs::jp2((20000, 15000), (20000, 15000)),
            over,
        ),
        (
            "small-ihdr.jp2",
            bombs::jp2((100, 100), (20000, 15000)),
            over,
        ),
        ("big.pgm", bombs::pgm(20000, 15000, 4096), over),
        ("rle.bmp", bombs::bmp_rle8(20000, 15000), over),
        (
            "text.png",
            bombs::png_text_bomb(&png, 64, 7_900_000),
            "compressed metadata",
        ),
        (
            "canvas.webp",
            bombs::webp_extended((64, 64), (16000, 16000), 0),
            "differs from its frame",
        ),
        (
            "animated.webp",
            bombs::webp_extended((64, 64), (64, 64), 0x02),
            "animated WebP",
        ),
        ("image.gif", bombs::gif_header(64, 64), "GIF"),
        (
            "scans.jpg",
            bombs::jpeg_many_scans(&jpeg, 300),
            "301 JPEG scans exceed the limit of 256",
        ),
    ];
    let mut wrong = Vec::new();
    for (name, bytes, reason) in cases {
        let r = add(&index, Source::bytes(name, bytes));
        match r.failed.first() {
            Some(f) if f.reason.contains(reason) => {}
            Some(f) => wrong.push(format!("{name}: expected `{reason}`, got `{}`", f.reason)),
            None => wrong.push(format!("{name}: expected `{reason}`, got {r:?}")),
        }
        assert!(!index.contains(name).expect("contains") || !wrong.is_empty());
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    still_healthy(&index);
}

#[test]
fn lying_headers_decode_at_their_declared_size() {
    use common::bombs;
    use mmindex::features::{extract_encoded, ExtractParams};
    let (jpeg, png) = small_jpeg_and_png();
    let (jw, jh) = bombs::jpeg_size(&jpeg);
    let params = ExtractParams::from(&mmindex::IndexConfig::default());
    let decoded = |name: &str, bytes: &[u8]| {
        extract_encoded(bytes, Path::new(name), &params)
            .map(|f| f.size)
            .map_err(|e| e.to_string())
    };
    // OpenCV decodes the first page only.
    assert_eq!(
        decoded(
            "pages.tiff",
            &bombs::tiff_two_pages((100, 100), (20000, 15000))
        ),
        Ok((100, 100))
    );
    // Extra pixel data beyond the header's size is never read.
    assert_eq!(
        decoded("long.pgm", &bombs::pgm(10, 10, 1 << 20)),
        Ok((10, 10))
    );
    match decoded("ihdr.png", &bombs::png_resized(&png, 64, 64)) {
        Ok(size) => assert_eq!(size, (64, 64)),
        Err(e) => assert!(e.contains("not a decodable image"), "{e}"),
    }
    let mut long_bmp = bombs::bmp_core(64, 48);
    long_bmp.resize(long_bmp.len() + (1 << 20), 0x80);
    assert_eq!(decoded("long.bmp", &long_bmp), Ok((64, 48)));
    // Headers read the way the decoders read them: a 16-bit OS/2 bitmap
    // header, markers libjpeg skips.
    assert_eq!(
        decoded("core.bmp", &bombs::bmp_core(100, 80)),
        Ok((100, 80))
    );
    let jsize = (u32::from(jw), u32::from(jh));
    assert_eq!(
        decoded("rst.jpg", &bombs::jpeg_rst_after_soi(&jpeg)),
        Ok(jsize)
    );
    assert_eq!(
        decoded("junk.jpg", &bombs::jpeg_garbage_before_frame(&jpeg, jw, jh)),
        Ok(jsize)
    );
    assert_eq!(
        decoded("tem.jpg", &bombs::jpeg_tem_fake_frame(&jpeg, jw, jh)),
        Ok(jsize)
    );
    assert_eq!(
        decoded("small.webp", &bombs::webp_lossless(64, 48)),
        Ok((64, 48))
    );
    assert_eq!(decoded("small.tiff", &bombs::tiff_g4(64, 48)), Ok((64, 48)));
}

/// Sizes from one pixel up to 40, in both orientations, plus thin images
/// that downscaling to `max_side` makes one pixel wide.
const TINY: [(u32, u32); 19] = [
    (1, 1),
    (1, 2),
    (2, 1),
    (1, 40),
    (40, 1),
    (2, 2),
    (3, 3),
    (4, 4),
    (5, 5),
    (5, 40),
    (40, 5),
    (6, 6),
    (7, 3),
    (8, 8),
    (16, 16),
    (31, 31),
    (40, 40),
    (2, 1500),
    (1500, 2),
];

/// Every tiny image is stored (as an empty record unless the detector finds
/// keypoints); 1-pixel-wide or -high images are always empty.
fn tiny_images_are_records(feature: mmindex::Feature) {
    let (_dir, index) = common::temp_index(|b| b.feature(feature).words(50));
    let mut w = index.writer(RunOptions::default()).expect("writer");
    let sources = good()
        .into_iter()
        .map(|p| common::photo_source(&p))
        .collect();
    w.build(sources).expect("build");
    let seed = 7;
    let sources: Vec<Source> = TINY
        .iter()
        .map(|&(x, y)| {
            Source::bytes(
                format!("{x}x{y}").as_str(),
                common::bombs::png_texture(x, y, seed),
            )
        })
        .collect();
    let r = w.add(sources).expect("add");
    assert!(
        r.failed.is_empty(),
        "{feature:?} (texture seed {seed}): {:?}",
        r.failed
    );
    assert_eq!(r.added, TINY.len(), "{feature:?}: {r:?}");
    for id in ["1x1", "1x2", "2x1", "1x40", "40x1", "2x1500", "1500x2"] {
        assert!(
            r.empty.iter().any(|e| e.to_string_lossy() == id),
            "{feature:?}: {id} not empty: {:?}",
            r.empty
        );
    }
    drop(w);
    assert!(index.verify().expect("verify").is_ok());
}

#[test]
fn tiny_images_are_records_for_sift() {
    tiny_images_are_records(mmindex::Feature::Sift);
}

#[test]
fn tiny_images_are_records_for_root_sift() {
    tiny_images_are_records(mmindex::Feature::RootSift);
}

#[test]
fn tiny_images_are_records_for_orb() {
    tiny_images_are_records(mmindex::Feature::Orb);
}

#[test]
fn tiny_images_are_records_for_akaze() {
    tiny_images_are_records(mmindex::Feature::Akaze);
}

#[test]
fn tiny_images_are_records_for_brisk() {
    tiny_images_are_records(mmindex::Feature::Brisk);
}
