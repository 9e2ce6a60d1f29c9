//! Exported vocabularies: records described with one, away from the index,
//! are the records a local add stores, and answer queries identically.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use mmindex::{Error, ExportedVocabulary, Feature, Index, RunOptions, Source};

/// A vocabulary trained on the sample photos, exported.
fn vocabulary() -> (tempfile::TempDir, ExportedVocabulary) {
    let (dir, index) = common::temp_index(|b| b.feature(Feature::RootSift).words(500));
    let sources: Vec<Source> = common::photos()
        .iter()
        .map(|p| common::photo_source(p))
        .collect();
    let mut w = index.writer(RunOptions::default()).expect("writer");
    w.build(sources).expect("build");
    drop(w);
    (dir, index.export_vocabulary().expect("export"))
}

fn index_on(dir: &std::path::Path, v: &ExportedVocabulary) -> Index {
    let index = Index::builder().vocabulary(v).open(dir).expect("open");
    let mut w = index.writer(RunOptions::default()).expect("writer");
    w.install_vocabulary(v).expect("install");
    drop(w);
    index
}

#[test]
fn extracted_records_are_the_records_a_local_add_stores() {
    let (dir, v) = vocabulary();
    let photos = common::photos();
    let sources: Vec<Source> = photos.iter().map(|p| common::photo_source(p)).collect();

    let local = index_on(&dir.path().join("local"), &v);
    let mut w = local.writer(RunOptions::default()).expect("writer");
    let report = w.add(sources.clone()).expect("add");
    assert!(report.is_complete(), "{report:?}");
    drop(w);

    // In memory bytes and paths alike: described without the index.
    let extracted: Vec<_> = sources
        .iter()
        .map(|s| v.extract(s).expect("extract"))
        .collect();
    assert!(extracted.iter().all(|r| r.vocabulary == v.id()));
    let remote = index_on(&dir.path().join("remote"), &v);
    let mut w = remote.writer(RunOptions::default()).expect("writer");
    let report = w.add_extracted(extracted).expect("add_extracted");
    assert!(report.is_complete(), "{report:?}");
    drop(w);

    assert_eq!(
        remote.export_vocabulary().expect("export").id(),
        v.id(),
        "an index on the vocabulary exports the same vocabulary"
    );
    common::assert_same_index(&local, &remote);
}

#[test]
fn a_vocabulary_survives_a_file_and_refuses_damage() {
    let (dir, v) = vocabulary();
    let path = dir.path().join("vocab.mmv");
    v.save(&path).expect("save");
    let back = ExportedVocabulary::load(&path).expect("load");
    assert_eq!(back.id(), v.id());
    assert_eq!(back.to_bytes(), v.to_bytes());
    assert_eq!(
        (back.words(), back.feature()),
        (v.words(), Feature::RootSift)
    );

    let mut bytes = v.to_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    match ExportedVocabulary::from_bytes(&bytes) {
        Err(Error::BadVocabulary { reason, .. }) => {
            assert!(reason.contains("checksum"), "{reason}")
        }
        other => panic!("a damaged vocabulary was accepted: {other:?}"),
    }
    let photo = std::fs::read(&common::photos()[0]).unwrap();
    assert!(matches!(
        ExportedVocabulary::from_bytes(&photo),
        Err(Error::BadVocabulary { .. })
    ));
}

#[test]
fn records_of_another_vocabulary_fail_alone_and_settings_must_match() {
    let (dir, v) = vocabulary();
    let index = index_on(&dir.path().join("on-vocabulary"), &v);
    let photos = common::photos();
    let mut good = v.extract(&common::photo_source(&photos[0])).unwrap();
    let mut foreign = v.extract(&common::photo_source(&photos[1])).unwrap();
    foreign.vocabulary ^= 1;
    let mut short = v.extract(&common::photo_source(&photos[2])).unwrap();
    short.keypoints.pop();
    good.id = "kept".into();
    let mut w = index.writer(RunOptions::default()).unwrap();
    let report = w.add_extracted(vec![foreign, good, short]).unwrap();
    assert_eq!(report.failed.len(), 2, "{report:?}");
    assert!(report.failed[0].reason.contains("vocabulary"), "{report:?}");
    assert!(report.failed[1].reason.contains("keypoints"), "{report:?}");
    drop(w);
    assert_eq!(index.record_ids().unwrap().len(), 1);

    // An index that extracts otherwise cannot take the vocabulary.
    let other = Index::builder()
        .vocabulary(&v)
        .max_features(100)
        .open(dir.path().join("other"))
        .unwrap();
    let mut w = other.writer(RunOptions::default()).unwrap();
    assert!(matches!(
        w.install_vocabulary(&v),
        Err(Error::InvalidConfig(_))
    ));
}
