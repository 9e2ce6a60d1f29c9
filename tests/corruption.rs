//! Damaged stored values: every read path returns a typed `Corruption` error
//! naming the tree and key, never panics, and `verify` lists each damage.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use mmindex::{Error, Index, Query, RunOptions, SearchMode, SearchOptions, Source};

fn build(dir: &std::path::Path) -> Index {
    let index = Index::builder().words(100).open(dir).expect("create");
    let mut w = index.writer(RunOptions::default()).expect("writer");
    let sources = common::photos()
        .into_iter()
        .take(4)
        .map(|p| common::photo_source(&p))
        .collect();
    w.build(sources).expect("build");
    index
}

fn corruption_in(r: Result<impl std::fmt::Debug, Error>, tree: &str) {
    match r {
        Err(Error::Corruption {
            tree: t,
            key,
            reason,
        }) => {
            assert_eq!(t, tree, "key {key}: {reason}");
            assert!(!key.is_empty());
        }
        other => panic!("expected corruption in {tree}, got {other:?}"),
    }
}

/// One copy of the index per damage, reopened after the damage.
fn damaged(dir: &std::path::Path, name: &str, tree: &str, key: &[u8], value: &[u8]) -> Index {
    let path = dir.join(name);
    common::copy_dir(&dir.join("clean"), &path);
    {
        let index = Index::open(&path).expect("open copy");
        index.__tamper(tree, key, Some(value)).expect("tamper");
    }
    Index::open(&path).expect("reopen")
}

#[test]
fn every_read_path_reports_damage() {
    let dir = tempfile::tempdir().expect("temp");
    drop(build(&dir.path().join("clean")));
    let query = Query::path(&common::photos()[0]);
    let opts = |mode| SearchOptions {
        top_k: 10,
        mode,
        scoring: None,
        ..SearchOptions::default()
    };
    let doc0 = 0u64.to_be_bytes();

    // A histogram: the sequential path and verify. (The inverted path reads
    // postings and the norms tree, and histograms only of unsealed records:
    // `build` sealed them all.)
    let index = damaged(dir.path(), "hist", "g1.hist", &doc0, b"\x01\x02");
    let s = index.searcher().expect("searcher");
    corruption_in(
        s.search_with(&query, &opts(SearchMode::Sequential)),
        "g1.hist",
    );
    let v = index.verify().expect("verify");
    assert!(
        v.violations
            .iter()
            .any(|m| m.contains("g1.hist") && m.contains("0000000000000000")),
        "{v:?}"
    );

    // Every posting block of the query's first word is replaced by garbage.
    let index = damaged(
        dir.path(),
        "postings",
        "g1.postings",
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        b"\xff\xff\xff",
    );
    assert!(!index.verify().expect("verify").is_ok());
    let s = index.searcher().expect("searcher");
    let all_words: Vec<u32> = (0..100).collect();
    corruption_in(
        s.search_words(&all_words, &opts(SearchMode::Inverted)),
        "g1.postings",
    );

    // A doc's norms: the inverted path (which reads them) and verify.
    let index = damaged(dir.path(), "norms", "g1.norms", &doc0, b"\x01\x02\x03");
    let s = index.searcher().expect("searcher");
    corruption_in(
        s.search_with(&query, &opts(SearchMode::Inverted)),
        "g1.norms",
    );
    let v = index.verify().expect("verify");
    assert!(v.violations.iter().any(|m| m.contains("g1.norms")), "{v:?}");

    // A doc's geometry: re-ranking and verify; search without re-ranking
    // does not read it.
    let index = damaged(dir.path(), "geometry", "g1.geometry", &doc0, b"\x05\x01");
    let s = index.searcher().expect("searcher");
    corruption_in(
        s.search_with(&query, &opts(SearchMode::Inverted)),
        "g1.geometry",
    );
    let plain = SearchOptions {
        rerank: 0,
        ..opts(SearchMode::Inverted)
    };
    assert!(s.search_with(&query, &plain).is_ok());
    let v = index.verify().expect("verify");
    assert!(
        v.violations.iter().any(|m| m.contains("g1.geometry")),
        "{v:?}"
    );
    // Well-formed geometry that disagrees with the doc's histogram: its
    // packed form holds another number of features.
    let other = mmindex::store::codec::geometry::encode(
        mmindex::store::codec::geometry::Form::Narrow,
        &mmindex::store::Geometry::from_features(
            &[1, 2, 3],
            &[mmindex::features::Keypoint {
                x: 1.0,
                y: 2.0,
                size: 3.0,
                angle: 4.0,
            }; 3],
        ),
    );
    let index = damaged(dir.path(), "geometry2", "g1.geometry", &doc0, &other);
    let v = index.verify().expect("verify");
    assert!(
        v.violations
            .iter()
            .any(|m| m.contains("g1.geometry") && m.contains("geometry holds 3 features")),
        "{v:?}"
    );
    let s = index.searcher().expect("searcher");
    corruption_in(
        s.search_with(&query, &opts(SearchMode::Inverted)),
        "g1.geometry",
    );

    // A doc record: resolving hits.
    let index = damaged(dir.path(), "docs", "docs", &doc0, b"\xff");
    let s = index.searcher().expect("searcher");
    corruption_in(s.search_with(&query, &opts(SearchMode::Sequential)), "docs");
    assert!(!index.verify().expect("verify").is_ok());

    // A record's doc id.
    let id = common::photo_id(&common::photos()[0]);
    let index = damaged(dir.path(), "records", "records", id.as_bytes(), b"\x01");
    assert!(!index.verify().expect("verify").is_ok());
    corruption_in(index.contains(&id), "records");

    // The codebook: no searcher, verify reports it.
    let index = damaged(dir.path(), "codebook", "g1.codebook", b"header", b"\x07");
    corruption_in(index.searcher().map(|_| ()), "g1.codebook");
    assert!(!index.verify().expect("verify").is_ok());

    // A record added after the build is unsealed: the inverted path reads
    // its histogram.
    let path = dir.path().join("tail");
    common::copy_dir(&dir.path().join("clean"), &path);
    {
        let index = Index::open(&path).expect("open");
        let p = common::photos()[5].clone();
        let mut w = index.writer(RunOptions::default()).expect("writer");
        w.add(vec![Source::path("late", p)]).expect("add");
        drop(w);
        assert!(index.stats().expect("stats").unsealed_postings > 0);
        index
            .__tamper("g1.hist", &4u64.to_be_bytes(), Some(b"\x01\x02"))
            .expect("tamper");
    }
    let index = Index::open(&path).expect("reopen");
    let s = index.searcher().expect("searcher");
    corruption_in(
        s.search_with(&query, &opts(SearchMode::Inverted)),
        "g1.hist",
    );

    // The stored configuration: refused on open.
    let path = dir.path().join("config");
    common::copy_dir(&dir.path().join("clean"), &path);
    Index::open(&path)
        .expect("open")
        .__tamper("meta", b"config", Some(b"\xff\xfe"))
        .expect("tamper");
    corruption_in(Index::open(&path).map(|_| ()), "meta");
}

/// A process killed while sled writes a snapshot leaves
/// `snap.<lsn>.generating`, which sled 0.34.7 then reads as its latest
/// snapshot and refuses to open ("Read corrupted data"; the rebuild crash
/// test's kills can leave one). The index opens without it, whole.
#[test]
fn an_unfinished_sled_snapshot_does_not_stop_an_open() {
    let dir = tempfile::tempdir().expect("temp");
    let path = dir.path().join("idx");
    let expected = {
        let index = build(&path);
        let s = index.searcher().expect("searcher");
        let q = Query::path(common::photos()[0].clone());
        s.search(&q, 3).expect("search")
    };
    // Sorts after any real snapshot; truncated: no length, no checksum.
    std::fs::write(
        path.join("snap.FFFFFFFFFFFFFFFF.generating"),
        b"\x01\x02\x03",
    )
    .expect("write");
    let index = Index::open(&path).expect("opens");
    assert!(!path.join("snap.FFFFFFFFFFFFFFFF.generating").exists());
    let v = index.verify().expect("verify");
    assert!(v.is_ok(), "{:?}", v.violations);
    assert_eq!(index.stats().expect("stats").records, 4);
    let s = index.searcher().expect("searcher");
    let q = Query::path(common::photos()[0].clone());
    assert_eq!(s.search(&q, 3).expect("search"), expected);
}

/// Every file under `dir` with its bytes.
fn files(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.insert(p.clone(), std::fs::read(&p).expect("read"));
        }
    }
    out
}

/// A byte flipped in the middle of sled's log makes sled's recovery discard
/// everything after it when the index is opened, acknowledged writes
/// included. `verify_path` (and `mmindex verify`) must report it without
/// changing a byte of the index, and an open must refuse the index as
/// `Damaged` rather than serve what recovery left.
#[test]
fn a_flipped_log_byte_is_reported_without_rewriting_the_index() {
    let dir = tempfile::tempdir().expect("temp");
    let clean = dir.path().join("clean");
    drop(build(&clean));
    let before = files(&clean);
    // No violation. (A note is possible: sled may leave writes made after
    // the last flush half-written when a handle closes, which recovery
    // discards; none of them was acknowledged.)
    let r = Index::verify_path(&clean).expect("verify_path");
    assert!(r.is_ok(), "{r:?}");
    assert!(files(&clean) == before, "verify_path changed a clean index");

    let db_len = std::fs::metadata(clean.join("db")).expect("db").len();
    for (i, share) in [0.3, 0.5, 0.7].into_iter().enumerate() {
        let path = dir.path().join(format!("flip{i}"));
        common::copy_dir(&clean, &path);
        let at = (db_len as f64 * share) as u64;
        let mut db = std::fs::read(path.join("db")).expect("db");
        db[at as usize] ^= 0xFF;
        std::fs::write(path.join("db"), &db).expect("write db");
        let damaged = files(&path);

        let r = Index::verify_path(&path).expect("verify_path");
        assert!(!r.is_ok(), "flip at {at}: verify_path found nothing: {r:?}");
        assert!(
            files(&path) == damaged,
            "flip at {at}: verify_path changed the index"
        );
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mmindex"))
            .args(["verify", "--index"])
            .arg(&path)
            .output()
            .expect("run mmindex");
        assert_eq!(out.status.code(), Some(1), "flip at {at}: {out:?}");
        assert!(
            files(&path) == damaged,
            "flip at {at}: mmindex verify changed the index"
        );
        match Index::open(&path) {
            Err(Error::Damaged { reason }) => assert!(reason.contains("commits"), "{reason}"),
            Err(e) => panic!("flip at {at}: expected Damaged, got {e}"),
            Ok(index) => panic!(
                "flip at {at}: opened with {} of 4 records",
                index.stats().expect("stats").records
            ),
        }
    }
}

/// An open must not move the commit ledger forward: the count it reads from
/// `meta` may not be on disk yet (a killed process leaves it in the page
/// cache), and a ledger ahead of the disk would refuse a healthy index
/// after a power loss. Only a flush, after syncing sled's log, moves it.
#[test]
fn an_open_never_moves_the_ledger_forward() {
    use mmindex::store::codec::ledger;
    let dir = tempfile::tempdir().expect("temp");
    let path = dir.path().join("idx");
    drop(build(&path));
    let file = path.join("mmindex-ledger");
    let n = ledger::decode(&std::fs::read(&file).expect("ledger")).expect("decodes");
    assert!(n > 1, "{n} commits");
    std::fs::write(&file, ledger::encode(n - 1)).expect("write");
    let index = Index::open(&path).expect("a ledger behind meta opens");
    assert_eq!(
        ledger::decode(&std::fs::read(&file).expect("ledger")),
        Ok(n - 1),
        "the open moved the ledger"
    );
    let mut w = index.writer(RunOptions::default()).expect("writer");
    w.remove(["nothing"]).expect("remove");
    w.add(vec![Source::path("again", common::photos()[0].clone())])
        .expect("add");
    drop(w);
    let after = ledger::decode(&std::fs::read(&file).expect("ledger")).expect("decodes");
    assert!(after > n, "a flush left the ledger at {after}");
}
