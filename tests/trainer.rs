//! A vocabulary trained step by step from images described one at a time
//! (as a distributed driver trains it) is the vocabulary a local build
//! trains, and the index built from its records is the local build's.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use mmindex::{Error, ExtractedRecord, Feature, Index, RunOptions, Source, VocabularyTrainer};

/// The sample photos, with an undecodable file in the middle.
fn sources() -> Vec<Source> {
    let mut s: Vec<Source> = common::photos()
        .iter()
        .map(|p| common::photo_source(p))
        .collect();
    s.insert(
        5,
        Source::bytes("broken", b"\xff\xd8\xff not a jpeg".to_vec()),
    );
    s
}

/// Trains with `trainer` as a distributed driver does, and returns the
/// records of every source that could be described, in source order.
fn train_stepwise(
    mut trainer: VocabularyTrainer,
    sources: &[Source],
) -> (
    mmindex::ExportedVocabulary,
    mmindex::TrainReport,
    Vec<ExtractedRecord>,
) {
    let subset = trainer.training_subset(sources.len());
    let cfg = trainer.config().clone();
    for &i in &subset {
        if let Ok(d) = VocabularyTrainer::describe(&cfg, &sources[i], trainer.max_file_bytes()) {
            trainer.offer(&d).unwrap();
        }
    }
    let unweighted = trainer.train().unwrap();
    let mut training: Vec<(usize, ExtractedRecord)> = subset
        .iter()
        .filter_map(|&i| unweighted.extract(&sources[i]).ok().map(|r| (i, r)))
        .collect();
    let mut records: Vec<ExtractedRecord> = training.iter().map(|(_, r)| r.clone()).collect();
    let (v, report) = trainer.weigh(&mut records).unwrap();
    for ((_, slot), r) in training.iter_mut().zip(records) {
        *slot = r;
    }
    let mut all = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        if let Some(pos) = training.iter().position(|(j, _)| *j == i) {
            all.push(training[pos].1.clone());
        } else if let Ok(r) = v.extract(s) {
            all.push(r);
        }
    }
    (v, report, all)
}

fn check(training_images: usize) {
    let opts = RunOptions {
        training_images,
        ..RunOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let configure = |b: mmindex::IndexBuilder| b.feature(Feature::RootSift).words(300);

    let local = configure(Index::builder())
        .open(dir.path().join("local"))
        .unwrap();
    let mut w = local.writer(opts.clone()).unwrap();
    let (_, added) = w.build(sources()).unwrap();
    assert_eq!(added.failed.len(), 1, "{added:?}");
    drop(w);

    let remote = configure(Index::builder())
        .open(dir.path().join("remote"))
        .unwrap();
    let mut w = remote.writer(opts.clone()).unwrap();
    let (v, report, records) = train_stepwise(w.trainer().unwrap(), &sources());
    assert_eq!(
        v.id(),
        local.export_vocabulary().unwrap().id(),
        "the stepwise vocabulary is the local build's (training_images {training_images})"
    );
    let installed = w.install_trained_vocabulary(&v, &report).unwrap();
    assert!(installed.generation > 0);
    let added = w.add_extracted(records).unwrap();
    assert!(added.is_complete(), "{added:?}");
    w.seal().unwrap();
    drop(w);

    let (a, b) = (local.stats().unwrap(), remote.stats().unwrap());
    assert_eq!(a.trained_images, b.trained_images);
    assert_eq!(a.records, b.records);
    common::assert_same_index(&local, &remote);
}

/// A trainer for a 50-word RootSIFT vocabulary (an index in a temporary
/// directory, which the guard keeps).
fn small_trainer() -> (tempfile::TempDir, VocabularyTrainer) {
    let dir = tempfile::tempdir().unwrap();
    let index = Index::builder()
        .feature(Feature::RootSift)
        .words(50)
        .open(dir.path().join("i"))
        .unwrap();
    let w = index.writer(RunOptions::default()).unwrap();
    let t = w.trainer().unwrap();
    (dir, t)
}

#[test]
fn a_stepwise_vocabulary_of_every_image_is_a_local_builds() {
    check(mmindex::DEFAULT_TRAINING_IMAGES);
}

#[test]
fn a_stepwise_vocabulary_of_a_training_subset_is_a_local_builds() {
    check(5);
}

#[test]
fn a_trainer_refuses_steps_out_of_order_and_foreign_descriptors() {
    let (_dir, mut t) = small_trainer();
    // Rows of another width than the feature's, even first, and values that
    // are not finite are refused.
    for bad in [
        mmindex::Descriptors::Float {
            dim: 3,
            data: vec![0.5; 9],
        },
        mmindex::Descriptors::Float {
            dim: 128,
            data: [vec![0.5; 127], vec![f32::NAN]].concat(),
        },
    ] {
        assert!(
            matches!(t.offer(&bad), Err(Error::InvalidConfig(_))),
            "{bad:?}"
        );
    }
    let binary = mmindex::Descriptors::Binary {
        bytes: 32,
        data: vec![0; 64],
    };
    assert!(matches!(t.offer(&binary), Err(Error::InvalidConfig(_))));
    let ragged = mmindex::Descriptors::Float {
        dim: 128,
        data: vec![0.0; 130],
    };
    assert!(matches!(t.offer(&ragged), Err(Error::InvalidConfig(_))));
    let photo = common::photo_source(&common::photos()[0]);
    let d = VocabularyTrainer::describe(t.config(), &photo, t.max_file_bytes()).unwrap();
    t.offer(&d).unwrap();
    let narrow = mmindex::Descriptors::Float {
        dim: 64,
        data: vec![0.0; 128],
    };
    assert!(matches!(t.offer(&narrow), Err(Error::InvalidConfig(_))));
    let unweighted = t.train().unwrap();
    assert!(matches!(t.offer(&d), Err(Error::InvalidConfig(_))));
    let mut foreign = vec![unweighted.extract(&photo).unwrap()];
    foreign[0].vocabulary ^= 1;
    assert!(matches!(
        t.weigh(&mut foreign),
        Err(Error::VocabularyMismatch { .. })
    ));
}

#[test]
fn a_failed_training_says_so_at_every_later_step() {
    let (_dir, mut t) = small_trainer();
    // Nothing offered: too few descriptors for 50 words.
    assert!(t.train().is_err());
    let photo = common::photo_source(&common::photos()[0]);
    let d = VocabularyTrainer::describe(t.config(), &photo, t.max_file_bytes()).unwrap();
    for e in [t.offer(&d).unwrap_err(), t.train().unwrap_err()] {
        assert!(e.to_string().contains("training failed"), "{e}");
    }
}
