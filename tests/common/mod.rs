//! Shared helpers of the integration tests.
#![allow(dead_code)]

pub mod bombs;
pub mod rng;
pub mod server;

use std::path::{Path, PathBuf};

use mmindex::augment::{self, Transform};
use mmindex::{Index, IndexBuilder, Source};

/// A new index at `idx` in a fresh temporary directory, opened by the
/// builder `configure` returns from [`Index::builder`]. The directory is
/// removed when the returned guard drops: bind it (`let (dir, index)` or
/// `let (_dir, index)`, never `_`) for as long as the index is used.
pub fn temp_index(
    configure: impl FnOnce(IndexBuilder) -> IndexBuilder,
) -> (tempfile::TempDir, Index) {
    let dir = tempfile::tempdir().expect("temp dir");
    let index = configure(Index::builder())
        .open(dir.path().join("idx"))
        .expect("create index");
    (dir, index)
}

/// The repository's sample photographs.
pub fn photos_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/photos")
}

/// Paths of the sample photos, sorted.
pub fn photos() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(photos_dir())
        .expect("data/photos exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    v.sort();
    v
}

/// The three query transforms of the retrieval acceptance test.
pub const TRANSFORMS: [Transform; 3] = [
    Transform::Rotate(20.0),
    Transform::Scale(0.6),
    Transform::Jpeg(30),
];

/// A photo as a path source, with the id a folder build gives it.
pub fn photo_source(photo: &Path) -> Source {
    Source::path(photo_id(photo), photo)
}

/// A transformed copy of a photo, as encoded bytes.
pub fn transformed(photo: &Path, t: Transform) -> Vec<u8> {
    let bytes = std::fs::read(photo).expect("photo readable");
    augment::apply(&bytes, t).expect("transform applies")
}

/// The record id a folder build gives a photo.
pub fn photo_id(photo: &Path) -> String {
    photo
        .file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

/// Copies a directory tree (an index, closed) to a new place.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

/// Kills per crash test: `MMINDEX_CRASH_ITERS`, default 20.
pub fn crash_iterations() -> usize {
    std::env::var("MMINDEX_CRASH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

/// The top `top_k` hits (id, score bits) of each word query, in both search
/// modes: what an index must keep answering exactly.
pub fn word_answers(
    index: &mmindex::Index,
    queries: &[Vec<u32>],
    top_k: usize,
) -> Vec<Vec<(String, u32)>> {
    use mmindex::{SearchMode, SearchOptions};
    let s = index.searcher().expect("searcher");
    let mut out = Vec::new();
    for q in queries {
        for mode in [SearchMode::Inverted, SearchMode::Sequential] {
            let opts = SearchOptions {
                top_k,
                mode,
                ..SearchOptions::default()
            };
            let hits = s.search_words(q, &opts).expect("search");
            out.push(
                hits.iter()
                    .map(|h| (h.id.to_string_lossy(), h.score.to_bits()))
                    .collect(),
            );
        }
    }
    out
}

/// Until `stop`, makes `entry` in turn a hard link to `inside` (a regular
/// file where a path check resolving it finds it) and a symlink to
/// `outside`, each time atomically (a new entry renamed over it), pausing
/// `pause` between changes. Returns how many changes it made.
#[cfg(unix)]
pub fn swap_until(
    stop: &std::sync::atomic::AtomicBool,
    entry: &Path,
    inside: &Path,
    outside: &Path,
    pause: std::time::Duration,
) -> u64 {
    let tmp = entry.with_extension("swap-tmp");
    let mut flips = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let _ = std::fs::remove_file(&tmp);
        if flips.is_multiple_of(2) {
            std::os::unix::fs::symlink(outside, &tmp).expect("symlink");
        } else {
            std::fs::hard_link(inside, &tmp).expect("hard link");
        }
        std::fs::rename(&tmp, entry).expect("rename");
        flips += 1;
        std::thread::sleep(pause);
    }
    flips
}

/// Asserts that `remote` holds the records of `local` and answers every
/// rotated sample photo as it does, in both modes: the same ids, score bits
/// and inliers.
pub fn assert_same_index(local: &Index, remote: &Index) {
    let ids = local.record_ids().expect("ids");
    assert_eq!(ids, remote.record_ids().expect("ids"));
    for id in ids {
        assert_eq!(
            local.record(id.as_bytes()).expect("record"),
            remote.record(id.as_bytes()).expect("record")
        );
    }
    let (a, b) = (
        local.searcher().expect("searcher"),
        remote.searcher().expect("searcher"),
    );
    for mode in [
        mmindex::SearchMode::Inverted,
        mmindex::SearchMode::Sequential,
    ] {
        let opts = mmindex::SearchOptions {
            top_k: 20,
            mode,
            ..mmindex::SearchOptions::default()
        };
        for p in photos() {
            let t = transformed(&p, Transform::Rotate(20.0));
            let ha = a
                .search_with(&mmindex::Query::bytes(t.clone()), &opts)
                .expect("search");
            let hb = b
                .search_with(&mmindex::Query::bytes(t), &opts)
                .expect("search");
            assert!(!ha.is_empty());
            assert_eq!(ha.len(), hb.len(), "{}", p.display());
            for (x, y) in ha.iter().zip(&hb) {
                assert_eq!(x.id, y.id, "{}", p.display());
                assert_eq!(x.score.to_bits(), y.score.to_bits(), "{}", p.display());
                assert_eq!(x.inliers, y.inliers, "{}", p.display());
            }
        }
    }
}
