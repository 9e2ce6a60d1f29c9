//! Sharded search: four indexes on one exported vocabulary, records routed
//! by `shard_of`, answer every query as one index holding all the records
//! does, hit for hit, with scores and inliers equal.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use mmindex::augment::Transform;
use mmindex::{
    shard_of, Error, ExportedVocabulary, ExtractedRecord, Feature, Index, Query, RunOptions,
    SearchMode, SearchOptions, ShardedSearcher, Source,
};

const SHARDS: usize = 4;

fn index_on(dir: &std::path::Path, v: &ExportedVocabulary, records: Vec<ExtractedRecord>) -> Index {
    let index = Index::builder().vocabulary(v).open(dir).expect("open");
    let mut w = index.writer(RunOptions::default()).expect("writer");
    w.install_vocabulary(v).expect("install");
    if !records.is_empty() {
        let r = w.add_extracted(records).expect("add");
        assert!(r.is_complete(), "{r:?}");
    }
    drop(w);
    index
}

#[test]
fn four_shards_answer_as_one_index() {
    let (dir, trained) = common::temp_index(|b| b.feature(Feature::RootSift).words(500));
    let photos = common::photos();
    let mut w = trained.writer(RunOptions::default()).unwrap();
    w.build(photos.iter().map(|p| common::photo_source(p)).collect())
        .unwrap();
    drop(w);
    let v = trained.export_vocabulary().unwrap();

    // Each photo and two changed copies, described once.
    let mut records = Vec::new();
    for p in &photos {
        let name = common::photo_id(p);
        records.push(v.extract(&common::photo_source(p)).unwrap());
        for (tag, t) in [
            ("rot", Transform::Rotate(20.0)),
            ("jpeg", Transform::Jpeg(30)),
        ] {
            let s = Source::bytes(format!("{name}#{tag}").as_str(), common::transformed(p, t));
            records.push(v.extract(&s).unwrap());
        }
    }
    let one = index_on(&dir.path().join("one"), &v, records.clone());
    let mut parts: Vec<Vec<ExtractedRecord>> = vec![Vec::new(); SHARDS];
    for r in records {
        parts[shard_of(r.id.as_bytes(), SHARDS)].push(r);
    }
    assert!(
        parts.iter().all(|p| !p.is_empty()),
        "every shard holds records"
    );
    let shards: Vec<Index> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| index_on(&dir.path().join(format!("shard{i}")), &v, p))
        .collect();
    let sharded = ShardedSearcher::new(&shards).unwrap();
    let single = one.searcher().unwrap();

    let mut compared = 0;
    for p in &photos {
        let q = Query::bytes(common::transformed(p, Transform::Scale(0.6)));
        let prepared = single.prepare(&q).unwrap();
        for mode in [SearchMode::Inverted, SearchMode::Sequential] {
            // 5 re-ranks fewer candidates than the shards hold together;
            // a patience of 1 or 2 stops re-ranking after a round or more.
            let patience = mmindex::DEFAULT_RERANK_PATIENCE;
            for (rerank, rerank_patience, threads, query_share) in [
                (mmindex::DEFAULT_RERANK, patience, 0, 1.0),
                (mmindex::DEFAULT_RERANK, 1, 1, 1.0),
                (mmindex::DEFAULT_RERANK, 2, 0, 1.0),
                (5, patience, 3, 1.0),
                (0, patience, 1, 1.0),
                (0, patience, 0, 0.7),
                (mmindex::DEFAULT_RERANK, patience, 0, 0.7),
            ] {
                let opts = SearchOptions {
                    top_k: 8,
                    mode,
                    rerank,
                    rerank_patience,
                    threads,
                    query_share,
                    ..SearchOptions::default()
                };
                let want = single.search_prepared(&prepared, &opts).unwrap();
                let got = sharded.search_prepared(&prepared, &opts).unwrap();
                let what = format!(
                    "{} {mode:?} rerank {rerank} patience {rerank_patience} threads {threads} \
                     share {query_share}",
                    p.display()
                );
                assert_eq!(want.len(), got.len(), "{what}");
                for (a, b) in want.iter().zip(&got) {
                    assert_eq!(a.id, b.hit.id, "{what}: {want:?} {got:?}");
                    assert_eq!(a.score.to_bits(), b.hit.score.to_bits(), "{what}");
                    assert_eq!(a.inliers, b.hit.inliers, "{what}");
                    assert_eq!(b.shard, shard_of(b.hit.id.as_bytes(), SHARDS), "{what}");
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 300, "{compared}");
}

#[test]
fn shards_on_another_vocabulary_are_refused() {
    let mut vs = Vec::new();
    let mut dirs = Vec::new();
    for words in [100, 120] {
        let (dir, index) = common::temp_index(|b| b.feature(Feature::RootSift).words(words));
        let mut w = index.writer(RunOptions::default()).unwrap();
        w.build(
            common::photos()
                .iter()
                .map(|p| common::photo_source(p))
                .collect(),
        )
        .unwrap();
        drop(w);
        vs.push(index);
        dirs.push(dir);
    }
    assert!(matches!(
        ShardedSearcher::new(&vs),
        Err(Error::VocabularyMismatch { .. })
    ));
    assert!(matches!(
        ShardedSearcher::new(&[]),
        Err(Error::InvalidConfig(_))
    ));
    // Routing is stable: a fixed id always lands on the same shard.
    assert_eq!(shard_of(b"photo-42", 4), shard_of(b"photo-42", 4));
    assert_eq!(shard_of(b"", 4), (0xcbf2_9ce4_8422_2325u64 % 4) as usize);
}
