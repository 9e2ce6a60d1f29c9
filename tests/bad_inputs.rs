//! The bad-input catalogue: every case gives its documented outcome, never a
//! panic; afterwards the index verifies and earlier records are still found.

mod common;

use std::path::{Path, PathBuf};

use mmindex::{AddReport, Error, Index, Query, RunOptions, Source};

/// An index trained and filled with three photos.
fn index(dir: &Path) -> Index {
    let index = Index::builder()
        .words(100)
        .open(dir.join("idx"))
        .expect("create");
    let mut w = index.writer(RunOptions::default()).expect("writer");
    let sources = good()
        .into_iter()
        .map(|p| Source::path(common::photo_id(&p), p))
        .collect();
    let (_, r) = w.build(sources).expect("build");
    assert_eq!(r.added, 3);
    index
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
    let dir = tempfile::tempdir().expect("temp");
    let index = index(dir.path());
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
    let dir = tempfile::tempdir().expect("temp");
    let index = index(dir.path());
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
    let dir = tempfile::tempdir().expect("temp");
    let index = index(dir.path());
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
    let dir = tempfile::tempdir().expect("temp");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let (sources, errors) = mmindex::source::folder(&empty).expect("walk");
    assert!(sources.is_empty() && errors.is_empty());
    let index = Index::builder()
        .open(dir.path().join("idx"))
        .expect("create");
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
