//! Files read for records: confined to a root whatever a symlink does
//! meanwhile, and refused unread over the size cap.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mmindex::features::file::NOT_INSIDE;
use mmindex::{Feature, Index, RunOptions, Source};

/// An index built from four photos, in its temporary directory.
fn trained() -> (tempfile::TempDir, Index) {
    let (dir, index) = common::temp_index(|b| b.feature(Feature::Orb).words(100));
    let sources = common::photos()
        .iter()
        .take(4)
        .map(|p| common::photo_source(p))
        .collect();
    let mut w = index.writer(RunOptions::default()).expect("writer");
    w.build(sources).expect("build");
    drop(w);
    (dir, index)
}

#[cfg(unix)]
#[test]
fn a_symlink_swapped_during_an_add_never_brings_in_the_outside_file() {
    let (dir, index) = trained();
    let root = dir.path().join("root");
    std::fs::create_dir_all(&root).expect("mkdir");
    let photos = common::photos();
    let inside = root.join("inside.jpg");
    let outside = dir.path().join("outside.jpg");
    std::fs::copy(&photos[0], &inside).expect("copy");
    std::fs::copy(&photos[1], &outside).expect("copy");
    let mut w = index
        .writer(RunOptions {
            batch_size: 10,
            ..RunOptions::default()
        })
        .expect("writer");
    w.add(vec![
        Source::path("ref-in", &inside),
        Source::path("ref-out", &outside),
    ])
    .expect("add");
    let hash = |id: &str| {
        index
            .record(id.as_bytes())
            .expect("record")
            .expect("stored")
            .content_hash
    };
    let (in_hash, out_hash) = (hash("ref-in"), hash("ref-out"));
    assert_ne!(in_hash, out_hash);

    // swap.jpg is in turn a regular file inside the root and a symlink
    // out of it.
    let entry = root.join("swap.jpg");
    std::fs::hard_link(&inside, &entry).expect("hard link");
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, entry, inside, outside) =
            (stop.clone(), entry.clone(), inside.clone(), outside.clone());
        std::thread::spawn(move || {
            common::swap_until(&stop, &entry, &inside, &outside, Duration::from_micros(200))
        })
    };
    let sources = (0..80)
        .map(|i| Source::path_within(format!("r{i}"), &root, "swap.jpg"))
        .collect();
    let report = w.add(sources).expect("add");
    stop.store(true, Ordering::Relaxed);
    let flips = swapper.join().expect("swapper");
    for f in &report.failed {
        assert_eq!(f.reason, NOT_INSIDE, "{f}");
    }
    let mut stored = 0;
    for i in 0..80 {
        if let Some(r) = index.record(format!("r{i}").as_bytes()).expect("record") {
            stored += 1;
            assert_eq!(r.content_hash, in_hash, "r{i} holds the outside file");
            assert_ne!(r.content_hash, out_hash);
        }
    }
    eprintln!(
        "{flips} flips: {stored} records stored from inside, {} refused",
        report.failed.len()
    );
    assert_eq!(stored + report.failed.len(), 80);
}

#[test]
fn a_file_over_the_cap_fails_its_record_and_the_rest_goes_on() {
    let (dir, index) = trained();
    let huge = dir.path().join("huge.jpg");
    std::fs::File::create(&huge)
        .expect("create")
        .set_len(1 << 30)
        .expect("set_len");
    let photo = &common::photos()[0];
    let mut w = index.writer(RunOptions::default()).expect("writer");
    let report = w
        .add(vec![Source::path("huge", &huge), Source::path("ok", photo)])
        .expect("add");
    assert_eq!(report.added, 1);
    assert_eq!(
        report.failed[0].reason,
        "1073741824 bytes exceeds the file size limit of 268435456 bytes"
    );
    drop(w);
    let size = std::fs::metadata(photo).expect("meta").len();
    let mut w = index
        .writer(RunOptions {
            max_file_bytes: size - 1,
            ..RunOptions::default()
        })
        .expect("writer");
    let report = w.add(vec![Source::path("ok2", photo)]).expect("add");
    assert_eq!(
        report.failed[0].reason,
        format!(
            "{size} bytes exceeds the file size limit of {} bytes",
            size - 1
        )
    );
    assert!(index.verify().expect("verify").is_ok());
}
