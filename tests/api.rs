//! The library API: sources in memory, replacement, empty records, one
//! writer at a time, typed errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use mmindex::augment::Transform;
use mmindex::{Error, Feature, Index, Query, RunOptions, Source};

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn handles_are_send_and_sync() {
    assert_send_sync::<Index>();
    assert_send_sync::<mmindex::Searcher>();
    assert_send_sync::<mmindex::IndexWriter>();
}

/// A flat grey PNG: no detector finds anything in it.
fn grey_png() -> Vec<u8> {
    let photo = std::fs::read(&common::photos()[0]).expect("photo");
    // Scaling to 1/64 and back up is not flat enough; crop a tiny corner and
    // blow it up instead, then check below that it really gives no features.
    let tiny = mmindex::augment::apply(&photo, Transform::Crop(0.01)).expect("crop");
    mmindex::augment::apply(&tiny, Transform::Scale(0.5)).expect("scale")
}

#[test]
fn bytes_sources_replacement_and_empty_records() {
    let (_dir, index) = common::temp_index(|b| b.feature(Feature::Sift).words(200));
    let photos = common::photos();
    let bytes = |i: usize| std::fs::read(&photos[i]).expect("photo");
    let mut w = index
        .writer(RunOptions {
            batch_size: 2,
            ..RunOptions::default()
        })
        .expect("writer");
    assert!(matches!(
        index.writer(RunOptions::default()),
        Err(Error::WriterBusy)
    ));
    let sources = (0..4)
        .map(|i| Source::bytes(format!("rec-{i}"), bytes(i)))
        .collect();
    let (_, report) = w.build(sources).expect("build");
    assert_eq!((report.added, report.replaced), (4, 0));

    // rec-1 now holds photo 5: searching photo 5 finds rec-1; photo 1 no
    // longer does.
    let r = w
        .add(vec![
            Source::bytes("rec-1", bytes(5)),
            Source::bytes("grey", grey_png()),
        ])
        .expect("add");
    assert_eq!((r.added, r.replaced), (1, 1), "{r:?}");
    assert_eq!(r.empty.len(), 1, "the grey image gives no features: {r:?}");
    drop(w);
    assert!(
        index.writer(RunOptions::default()).is_ok(),
        "writer released on drop"
    );

    let s = index.searcher().expect("searcher");
    let top = s.search(&Query::bytes(bytes(5)), 1).expect("search");
    assert_eq!(top[0].id.to_string_lossy(), "rec-1");
    let hits = s.search(&Query::bytes(bytes(1)), 10).expect("search");
    assert!(hits.iter().all(|h| h.score < 0.5), "{hits:?}");
    assert!(index.contains("grey").expect("contains"));
    assert_eq!(index.stats().expect("stats").records, 5);
    let v = index.verify().expect("verify");
    assert!(v.is_ok(), "{:?}", v.violations);
}

#[test]
fn typed_errors() {
    let dir = tempfile::tempdir().expect("temp");
    let path = dir.path().join("idx");
    assert!(matches!(Index::open(&path), Err(Error::NotAnIndex { .. })));
    let index = Index::builder().open(&path).expect("create");
    assert!(matches!(index.searcher(), Err(Error::NoCodebook)));
    let mut w = index.writer(RunOptions::default()).expect("writer");
    assert!(matches!(w.add(vec![]), Err(Error::NoCodebook)));
    let r = w.train(vec![Source::bytes("x", b"not an image".to_vec())]);
    assert!(matches!(r, Err(Error::TooFewDescriptors { .. })), "{r:?}");
    drop(w);
    index
        .__tamper("meta", b"format", Some(&99u32.to_be_bytes()))
        .expect("tamper");
    drop(index);
    match Index::open(&path) {
        Err(Error::IncompatibleFormat {
            found: 99,
            oldest: mmindex::store::codec::OLDEST_FORMAT,
            supported: mmindex::store::codec::FORMAT_VERSION,
        }) => {}
        Err(e) => panic!("expected IncompatibleFormat, got {e}"),
        Ok(_) => panic!("expected IncompatibleFormat, got an index"),
    }
}

#[test]
fn query_errors_name_the_file() {
    let (dir, index) = common::temp_index(|b| b.words(50));
    let mut w = index.writer(RunOptions::default()).expect("writer");
    let sources = common::photos()
        .iter()
        .take(2)
        .map(|p| common::photo_source(p))
        .collect();
    w.build(sources).expect("build");
    let s = index.searcher().expect("searcher");
    let missing = dir.path().join("no-such.jpg");
    match s.search(&Query::path(&missing), 3) {
        Err(e @ Error::Image { .. }) => assert!(e.to_string().contains("no-such.jpg"), "{e}"),
        other => panic!("expected an image error, got {other:?}"),
    }
}

#[test]
fn max_features_defaults_to_the_feature_s_own_unless_set() {
    let dir = tempfile::tempdir().expect("temp");
    let open = |name: &str, b: mmindex::IndexBuilder| {
        b.open(dir.path().join(name))
            .expect("open")
            .config()
            .max_features
    };
    assert_eq!(
        open("default", Index::builder()),
        mmindex::DEFAULT_MAX_FEATURES
    );
    for f in mmindex::Feature::ALL {
        assert_eq!(
            open(f.name(), Index::builder().feature(f)),
            f.default_max_features(),
            "{f:?}"
        );
    }
    assert_eq!(
        open(
            "sift-again",
            Index::builder().feature(mmindex::Feature::Sift)
        ),
        700
    );
    assert_eq!(
        open("orb-again", Index::builder().feature(mmindex::Feature::Orb)),
        2_000
    );
    // Set before or after the feature, an explicit count stays.
    let before = Index::builder()
        .max_features(300)
        .feature(mmindex::Feature::Orb);
    let after = Index::builder()
        .feature(mmindex::Feature::Orb)
        .max_features(300);
    assert_eq!(open("before", before), 300);
    assert_eq!(open("after", after), 300);
}
