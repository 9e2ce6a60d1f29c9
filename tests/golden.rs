//! Format compatibility: a small index written by each format version is
//! committed under tests/golden/v{N}; every later build must open it, verify
//! it, and answer exactly as recorded (as tantivy's compat tests do).
//!
//! - v1: ORB, a flat 50-word codebook, 3 photos, one removed.
//! - v2: ORB with 300 features per photo, a vocabulary tree (20,000 words
//!   requested, so the tree path), the same records, with geometry.
//! - v3: as v2 with four photos built one per batch with a seal threshold
//!   of 500 postings (so several seals merged blocks), then a fifth photo
//!   added, which stays unsealed; one sealed record removed.
//! - v4: as v3; its generation stores geometry packed (4 bytes a feature).
//! - v5: as v4 with RootSIFT instead of ORB; its generation stores geometry
//!   narrow (3 bytes a feature).
//!
//! `MMINDEX_WRITE_GOLDEN=N cargo test --test golden` writes version N's
//! directory; only do that for a new format version, never for an old one.
//! `MMINDEX_WRITE_GOLDEN_ANSWERS=N` rewrites only version N's
//! expected.json, for a deliberate change of the scoring arithmetic (such a
//! change may move scores by a unit in the last place; the ranking must not
//! change). Review its diff: only `score_bits` may move.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use std::path::{Path, PathBuf};

use mmindex::{Feature, Index, RunOptions, SearchMode, SearchOptions};

fn golden_dir(version: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/v{version}"))
}

/// Words requested per golden version.
fn golden_words(version: u32) -> u32 {
    if version == 1 {
        50
    } else {
        20_000
    }
}

/// Fixed word-list queries: answers depend only on stored data, not on the
/// OpenCV build that would describe a query image.
fn queries() -> Vec<Vec<u32>> {
    vec![
        (0..50).collect(),
        (0..50).step_by(3).collect(),
        vec![1, 1, 2, 3, 5, 8, 13, 21, 34],
        vec![49],
    ]
}

fn answers(index: &Index) -> serde_json::Value {
    let s = index.searcher().expect("searcher");
    let mut out = Vec::new();
    for q in queries() {
        for mode in [SearchMode::Inverted, SearchMode::Sequential] {
            let hits = s
                .search_words(
                    &q,
                    &SearchOptions {
                        top_k: 10,
                        mode,
                        scoring: None,
                        ..SearchOptions::default()
                    },
                )
                .expect("search");
            out.push(serde_json::json!(hits
                .iter()
                .map(|h| serde_json::json!({"id": h.id.to_string_lossy(), "doc": h.doc, "score_bits": h.score.to_bits()}))
                .collect::<Vec<_>>()));
        }
    }
    let st = index.stats().expect("stats");
    serde_json::json!({
        "records": st.records,
        "words": st.words,
        "generation": st.generation,
        "postings": st.postings,
        "ids": index.record_ids().expect("ids").iter().map(|i| i.to_string_lossy()).collect::<Vec<_>>(),
        "answers": out,
    })
}

#[test]
fn golden_v1_index_opens_and_answers_identically() {
    check(1);
}

#[test]
fn golden_v2_index_opens_and_answers_identically() {
    check(2);
}

#[test]
fn golden_v3_index_opens_and_answers_identically() {
    check(3);
}

#[test]
fn golden_v4_index_opens_and_answers_identically() {
    check(4);
}

#[test]
fn golden_v5_index_opens_and_answers_identically() {
    check(5);
}

/// Re-ranking reads the stored geometry: each photo of a golden index with
/// geometry finds itself first, verified by many inliers, whichever form its
/// generation stores geometry in (listed in v2 and v3, packed in v4,
/// narrow in v5).
#[test]
fn golden_geometry_verifies_its_own_photos() {
    let mut found = std::collections::BTreeMap::new();
    for version in [2, 3, 4, 5] {
        let dir = tempfile::tempdir().expect("temp");
        common::copy_dir(
            &golden_dir(version).join("index"),
            &dir.path().join("index"),
        );
        let index = Index::open(dir.path().join("index")).expect("open");
        let s = index.searcher().expect("searcher");
        let ids = index.record_ids().expect("ids");
        let mut checked = 0;
        for p in common::photos() {
            let id = common::photo_id(&p);
            if !ids.iter().any(|i| i.to_string_lossy() == id) {
                continue;
            }
            let hits = s
                .search_with(&mmindex::Query::path(&p), &SearchOptions::default())
                .expect("search");
            let first = &hits[0];
            assert_eq!(first.id.to_string_lossy(), id, "v{version}: {hits:?}");
            let inliers = first.inliers.unwrap_or(0);
            assert!(inliers >= 50, "v{version} {id}: {inliers} inliers");
            found.insert((version, id), inliers);
            checked += 1;
        }
        assert!(checked >= 2, "v{version}: {checked} photos");
    }
    // v3 and v4 hold the same photos: packing costs them no inlier.
    for ((version, id), n) in &found {
        if *version == 4 {
            assert_eq!(found.get(&(3, id.clone())), Some(n), "{id}");
        }
    }
}

/// A generation keeps the geometry form it was created with: records added
/// to a format-3 index by this build are stored listed, and to a format-4
/// one packed, as the build that created it reads them, and are verified
/// like the others (a value of another form does not decode).
#[test]
fn golden_v3_and_v4_indexes_store_added_geometry_in_their_form() {
    for version in [3, 4] {
        added_geometry_keeps_the_form(version);
    }
}

/// Records added to a generation of float words whose stats say packed (as
/// a format-4 build created them) are stored packed, not in the narrow form
/// this build gives new float generations: a narrow value would not decode
/// as packed, and `verify` and re-ranking would report it.
#[test]
fn a_float_generation_marked_packed_stores_added_geometry_packed() {
    let dir = tempfile::tempdir().expect("temp");
    let path = dir.path().join("index");
    let photos = common::photos();
    {
        let index = Index::builder()
            .feature(Feature::RootSift)
            .max_features(300)
            .words(200)
            .open(&path)
            .expect("create");
        let mut w = index.writer(RunOptions::default()).expect("writer");
        let sources = photos
            .iter()
            .take(3)
            .map(|p| common::photo_source(p))
            .collect();
        w.build(sources).expect("build");
        let ids: Vec<String> = photos.iter().take(3).map(|p| common::photo_id(p)).collect();
        assert_eq!(w.remove(ids.iter().map(String::as_str)).expect("remove"), 3);
        drop(w);
        index
            .__tamper("g1.stats", b"geometry", Some(&[1]))
            .expect("tamper");
    }
    // A small vocabulary (200 words for 300 features) leaves fewer pairs
    // than the golden indexes have, but every one verifies.
    add_a_photo_and_find_it(&Index::open(&path).expect("reopen"), 20);
}

fn added_geometry_keeps_the_form(version: u32) {
    let dir = tempfile::tempdir().expect("temp");
    common::copy_dir(
        &golden_dir(version).join("index"),
        &dir.path().join("index"),
    );
    add_a_photo_and_find_it(&Index::open(dir.path().join("index")).expect("open"), 100);
}

/// Adds a photo the index lacks, checks that the index verifies, and that
/// the photo finds itself first with at least `min_inliers` inliers: its
/// geometry was stored in a form its generation reads.
fn add_a_photo_and_find_it(index: &Index, min_inliers: u32) {
    let p = common::photos()[6].clone();
    let mut w = index.writer(RunOptions::default()).expect("writer");
    let r = w.add(vec![common::photo_source(&p)]).expect("add");
    assert_eq!(r.added, 1, "{r:?}");
    drop(w);
    let v = index.verify().expect("verify");
    assert!(v.is_ok(), "{:?}", v.violations);
    let hits = index
        .searcher()
        .expect("searcher")
        .search_with(&mmindex::Query::path(&p), &SearchOptions::default())
        .expect("search");
    assert_eq!(hits[0].id.to_string_lossy(), common::photo_id(&p));
    assert!(hits[0].inliers.unwrap_or(0) >= min_inliers, "{hits:?}");
}

/// A format-2 generation does not seal: writes keep appending to its posting
/// blocks, and the index stays consistent.
#[test]
fn golden_v2_index_accepts_writes_in_its_layout() {
    let dir = tempfile::tempdir().expect("temp");
    common::copy_dir(&golden_dir(2).join("index"), &dir.path().join("index"));
    let index = Index::builder()
        .seal_postings(1)
        .open(dir.path().join("index"))
        .expect("open");
    let mut w = index.writer(RunOptions::default()).expect("writer");
    let recs = (0..20u32)
        .map(|i| {
            let words = (0..60).map(|j| (i * 7 + j * 13) % 900).collect();
            (mmindex::RecordId::from(format!("w{i}")), words)
        })
        .collect();
    let r = w.add_words(recs).expect("add");
    assert_eq!(r.added, 20, "{r:?}");
    assert_eq!(w.remove(["w3", "w11"]).expect("remove"), 2);
    w.seal().expect("seal is a no-op here");
    drop(w);
    let st = index.stats().expect("stats");
    assert_eq!(st.unsealed_postings, 0);
    let v = index.verify().expect("verify");
    assert!(v.is_ok(), "{:?}", v.violations);
    let s = index.searcher().expect("searcher");
    for q in queries() {
        let run = |mode| {
            s.search_words(
                &q,
                &SearchOptions {
                    top_k: 30,
                    mode,
                    ..SearchOptions::default()
                },
            )
            .expect("search")
        };
        assert_eq!(run(SearchMode::Inverted), run(SearchMode::Sequential));
    }
}

fn check(version: u32) {
    let golden = golden_dir(version);
    if std::env::var("MMINDEX_WRITE_GOLDEN").ok().as_deref() == Some(&version.to_string()) {
        let _ = std::fs::remove_dir_all(&golden);
        std::fs::create_dir_all(&golden).expect("golden dir");
        // From v5 on, RootSIFT: its generation stores geometry narrow.
        let feature = if version >= 5 {
            Feature::RootSift
        } else {
            Feature::Orb
        };
        let mut builder = Index::builder()
            .feature(feature)
            .words(golden_words(version));
        if version >= 2 {
            // Few features keep the committed directory small.
            builder = builder.max_features(300);
        }
        assert!(
            version == mmindex::store::codec::FORMAT_VERSION,
            "only the current format's golden index can be written"
        );
        let (photos, batch_size) = if version >= 3 {
            builder = builder.seal_postings(500);
            (4, 1)
        } else {
            (3, RunOptions::default().batch_size)
        };
        let index = builder.open(golden.join("index")).expect("create");
        let mut w = index
            .writer(RunOptions {
                batch_size,
                ..RunOptions::default()
            })
            .expect("writer");
        let sources = common::photos()
            .into_iter()
            .take(photos)
            .map(|p| common::photo_source(&p))
            .collect();
        w.build(sources).expect("build");
        if version >= 3 {
            let p = common::photos()[4].clone();
            w.add(vec![common::photo_source(&p)]).expect("add");
        }
        w.remove([common::photo_id(&common::photos()[1]).as_str()])
            .expect("remove");
        drop(w);
        let expected = answers(&index);
        drop(index);
        std::fs::write(
            golden.join("expected.json"),
            serde_json::to_string_pretty(&expected).expect("json"),
        )
        .expect("write expected");
        return;
    }
    // Opening may write (recovery, leftovers): work on a copy.
    let dir = tempfile::tempdir().expect("temp");
    common::copy_dir(&golden.join("index"), &dir.path().join("index"));
    let index = Index::open(dir.path().join("index"))
        .unwrap_or_else(|e| panic!("a version-{version} index opens: {e}"));
    let v = index.verify().expect("verify");
    assert!(v.is_ok(), "{:?}", v.violations);
    // Answers only (the index untouched): after a deliberate change of the
    // scoring arithmetic, reviewed as a diff of expected.json.
    if std::env::var("MMINDEX_WRITE_GOLDEN_ANSWERS")
        .ok()
        .as_deref()
        == Some(&version.to_string())
    {
        std::fs::write(
            golden.join("expected.json"),
            serde_json::to_string_pretty(&answers(&index)).expect("json") + "\n",
        )
        .expect("write expected");
        return;
    }
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(golden.join("expected.json")).expect("expected.json"),
    )
    .expect("json");
    assert_eq!(answers(&index), expected);
}

/// The exported vocabulary layout: the files committed under
/// tests/golden/exported (written by `mmindex export-vocabulary` from the
/// v1 and v4 golden indexes, a flat codebook and a tree) keep their ids, and
/// those indexes still export exactly those bytes.
#[test]
fn golden_exported_vocabularies_decode_and_are_reexported_identically() {
    for (file, version, id, words) in [
        ("v1-flat.mmv", 1, 0xec33_e1d8_ec71_ab2a_u64, 50),
        ("v1-tree.mmv", 4, 0x3a5d_2fe3_fa8b_7d6b, 1200),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden/exported")
            .join(file);
        let committed = std::fs::read(&path).expect("golden vocabulary");
        let v = mmindex::ExportedVocabulary::from_bytes(&committed).expect(file);
        assert_eq!(
            (v.id(), v.words(), v.feature()),
            (id, words, Feature::Orb),
            "{file}"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        common::copy_dir(
            &golden_dir(version).join("index"),
            &dir.path().join("index"),
        );
        let index = Index::open(dir.path().join("index")).expect("open");
        let exported = index.export_vocabulary().expect("export");
        assert_eq!(exported.to_bytes(), committed, "{file}");
    }
}
