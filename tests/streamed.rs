//! Builds and rebuilds of more images than `RunOptions::training_images`:
//! the codebook is trained on a subset, the other images are described
//! while their records are stored, nothing is spilled, and the records are
//! the same ones, in source order, as a build that describes every image
//! first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;

use mmindex::{Feature, Index, RunOptions, SearchMode, SearchOptions, Source};

fn opts(training_images: usize) -> RunOptions {
    RunOptions {
        workers: 2,
        batch_size: 4,
        training_images,
        ..RunOptions::default()
    }
}

fn open(dir: &Path) -> Index {
    Index::builder()
        .feature(Feature::Orb)
        .words(60)
        .open(dir)
        .expect("create")
}

fn sources() -> Vec<Source> {
    common::photos()
        .iter()
        .map(|p| Source::path(common::photo_id(p), p))
        .collect()
}

/// The doc each photo is stored as, by searching it with itself.
fn docs_in_source_order(index: &Index) -> Vec<u64> {
    let s = index.searcher().expect("searcher");
    common::photos()
        .iter()
        .map(|p| {
            let hits = s
                .search_with(&mmindex::Query::path(p), &SearchOptions::default())
                .expect("search");
            assert_eq!(hits[0].id.to_string(), common::photo_id(p));
            hits[0].doc
        })
        .collect()
}

#[test]
fn a_build_larger_than_its_training_set_streams_and_spills_nothing() {
    let tmp = tempfile::tempdir().expect("temp");
    let n = common::photos().len();
    assert!(n > 5, "needs more photos than the training subset");

    let spilled = open(&tmp.path().join("spilled"));
    let (t, r) = spilled
        .writer(opts(0))
        .expect("writer")
        .build(sources())
        .expect("build");
    assert_eq!((t.images, r.added), (n, n));
    assert!(
        t.scratch_bytes > 0,
        "every image's descriptors were spilled"
    );

    let streamed = open(&tmp.path().join("streamed"));
    let (t, r) = streamed
        .writer(opts(5))
        .expect("writer")
        .build(sources())
        .expect("build");
    assert_eq!(t.images, 5, "the codebook was trained on the subset");
    assert_eq!(r.added, n, "every image is a record");
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(t.scratch_bytes, 0, "nothing was spilled");
    assert_eq!(
        streamed.record_ids().unwrap(),
        spilled.record_ids().unwrap()
    );
    let docs = docs_in_source_order(&streamed);
    assert!(
        docs.windows(2).all(|w| w[0] < w[1]),
        "records are stored in source order: {docs:?}"
    );

    // Both paths rank alike, and transformed copies find their original
    // (ORB misses one photo at this size, as in the retrieval test).
    let s = streamed.searcher().expect("searcher");
    let mut found = 0;
    for photo in common::photos() {
        let q = mmindex::Query::bytes(common::transformed(&photo, common::TRANSFORMS[1]));
        let inverted = s.search_with(&q, &SearchOptions::default()).unwrap();
        let sequential = s
            .search_with(
                &q,
                &SearchOptions {
                    mode: SearchMode::Sequential,
                    ..SearchOptions::default()
                },
            )
            .unwrap();
        assert_eq!(inverted, sequential, "{}", photo.display());
        found += usize::from(
            inverted.first().map(|h| h.id.to_string()) == Some(common::photo_id(&photo)),
        );
    }
    assert!(found + 1 >= n, "{found} of {n} found first");
    assert!(streamed.verify().expect("verify").is_ok());
}

#[test]
fn bad_images_are_reported_once_wherever_they_fall() {
    let tmp = tempfile::tempdir().expect("temp");
    // A broken image at every position: some fall in the training subset,
    // some outside it.
    let mut sources = Vec::new();
    let mut broken = Vec::new();
    for (i, p) in common::photos().iter().enumerate() {
        sources.push(Source::path(common::photo_id(p), p));
        let id = format!("broken-{i}");
        sources.push(Source::bytes(id.clone(), b"not an image".to_vec()));
        broken.push(id);
    }
    let index = open(&tmp.path().join("idx"));
    let (_, r) = index
        .writer(opts(6))
        .expect("writer")
        .build(sources)
        .expect("build");
    let mut failed: Vec<String> = r.failed.iter().map(|f| f.id.to_string()).collect();
    failed.sort();
    broken.sort();
    assert_eq!(failed, broken, "each broken image once");
    assert_eq!(r.added, common::photos().len());
    assert!(index.verify().expect("verify").is_ok());
}

#[test]
fn a_streamed_rebuild_keeps_every_record_and_a_failure_changes_nothing() {
    let tmp = tempfile::tempdir().expect("temp");
    let images = tmp.path().join("images");
    std::fs::create_dir(&images).expect("mkdir");
    let mut sources = Vec::new();
    for p in common::photos() {
        let copy = images.join(common::photo_id(&p));
        std::fs::copy(&p, &copy).expect("copy");
        sources.push(Source::path(common::photo_id(&p), &copy));
    }
    let index = open(&tmp.path().join("idx"));
    let mut w = index.writer(opts(4)).expect("writer");
    w.build(sources).expect("build");
    let before = index.record_ids().unwrap();

    let r = w.rebuild(Some(80), None).expect("rebuild");
    assert_eq!(r.records, before.len() as u64);
    assert_eq!(r.train.images, 4);
    assert_eq!(r.train.scratch_bytes, 0);
    assert_eq!(index.record_ids().unwrap(), before);
    assert_eq!(index.stats().unwrap().words, 80);
    let generation = index.stats().unwrap().generation;

    // A missing file fails the rebuild and changes nothing, whether it is
    // in the 4-image training subset (found before the new generation is
    // made) or not (found while it fills): of 5 files tried one at a
    // time, at least one is outside the subset.
    let mut files: Vec<_> = std::fs::read_dir(&images)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in &files[..5] {
        let kept = std::fs::read(f).expect("read");
        std::fs::remove_file(f).expect("remove");
        let e = w.rebuild(Some(70), None).expect_err("must fail");
        assert!(e.to_string().contains("nothing was changed"), "{e}");
        let stats = index.stats().unwrap();
        assert_eq!((stats.generation, stats.words), (generation, 80));
        assert_eq!(index.record_ids().unwrap(), before);
        assert!(index.verify().expect("verify").is_ok());
        std::fs::write(f, kept).expect("restore");
    }
    drop(w);
    drop(index);
    let reopened = Index::open(tmp.path().join("idx")).expect("reopen");
    assert!(reopened.verify().expect("verify").is_ok());
    assert_eq!(reopened.stats().unwrap().generation, generation);
}
