//! Geometric re-ranking: a query that matches a stored photo only in a
//! region (a crop of 40% of the photo's area, pasted into a photo that is not
//! indexed) must rank that photo first with re-ranking on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers outside #[test] fail their test by panicking"
)]

mod common;

use mmindex::augment::{self, Transform};
use mmindex::{Feature, Query, RunOptions, SearchMode, SearchOptions, Source};

/// The photo the regions are pasted into; never indexed.
const BACKGROUND: &str = "astronaut.jpg";
/// Photos whose crops are indexed as distractors; they are not queried.
const DISTRACTOR_SOURCES: [&str; 4] = ["brick.jpg", "grass.jpg", "gravel.jpg", "chelsea.jpg"];
/// Indexed but not queried: a 40% crop of them holds no keypoints. The
/// motion-blurred clock needs relaxed thresholds, which a query with a
/// textured background never gets; the retina scan is 102 px wide.
const TOO_SMALL: [&str; 2] = ["clock_motion.jpg", "microaneurysms.jpg"];

fn read(name: &str) -> Vec<u8> {
    std::fs::read(common::photos_dir().join(name)).expect("photo readable")
}

#[test]
fn a_region_of_the_query_finds_its_photo_first() {
    let (_dir, index) = common::temp_index(|b| b.feature(Feature::RootSift).words(1000));
    let mut sources = Vec::new();
    let mut targets = Vec::new();
    for photo in common::photos() {
        let name = common::photo_id(&photo);
        if name == BACKGROUND {
            continue;
        }
        sources.push(Source::path(name.as_str(), &photo));
        if DISTRACTOR_SOURCES.contains(&name.as_str()) {
            let bytes = read(&name);
            for (i, (x, y)) in [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5), (0.25, 0.25)]
                .into_iter()
                .enumerate()
            {
                let t = Transform::Region {
                    x,
                    y,
                    w: 0.5,
                    h: 0.5,
                };
                let crop = augment::apply(&bytes, t).expect("crop");
                sources.push(Source::bytes(format!("{name}#crop{i}").as_str(), crop));
            }
        } else if !TOO_SMALL.contains(&name.as_str()) {
            targets.push(name);
        }
    }
    let mut w = index.writer(RunOptions::default()).expect("writer");
    let n = sources.len();
    let (_, report) = w.build(sources).expect("build");
    assert_eq!(report.added, n, "{report:?}");
    drop(w);

    let s = index.searcher().expect("searcher");
    let background = read(BACKGROUND);
    let mut first_reranked = 0;
    let mut first_bow = 0;
    let mut queries = 0;
    for (i, name) in targets.iter().enumerate() {
        for (x, y) in [
            [(0.0, 0.0), (1.0, 0.0), (0.5, 0.5), (0.0, 1.0), (1.0, 1.0)][i % 5],
            (0.3, 0.7),
        ] {
            queries += 1;
            // 0.632² ≈ 40% of the photo, from a corner or the centre.
            let side = 0.4f64.sqrt();
            let region = Transform::Region {
                x: (1.0 - side) * x,
                y: (1.0 - side) * y,
                w: side,
                h: side,
            };
            let crop = augment::apply(&read(name), region).expect("crop");
            let query = augment::embed(&background, &crop, 1.0, x, y).expect("embed");
            let q = Query::bytes(query);
            let opts = |mode, rerank| SearchOptions {
                top_k: 5,
                mode,
                rerank,
                ..SearchOptions::default()
            };
            let on = s
                .search_with(&q, &opts(SearchMode::Inverted, 100))
                .expect("search");
            let seq = s
                .search_with(&q, &opts(SearchMode::Sequential, 100))
                .expect("search");
            assert_eq!(on, seq, "{name}: the two paths disagree after re-ranking");
            // Verification split over tasks (every record is a candidate:
            // more than one task of 16) gives the same hits as one task.
            for threads in [1, 4] {
                let split = s
                    .search_with(
                        &q,
                        &SearchOptions {
                            threads,
                            ..opts(SearchMode::Inverted, 100)
                        },
                    )
                    .expect("search");
                assert_eq!(on, split, "{name}: re-ranking with {threads} tasks differs");
            }
            // A patience below the depth verifies in rounds and stops
            // early: the paths and the task splits (rounds of other sizes)
            // still agree, on every candidate's inliers.
            for patience in [1, 3] {
                let short = |mode, threads| {
                    let o = SearchOptions {
                        top_k: 100,
                        rerank_patience: patience,
                        threads,
                        ..opts(mode, 100)
                    };
                    s.search_with(&q, &o).expect("search")
                };
                let want = short(SearchMode::Inverted, 0);
                let seq = short(SearchMode::Sequential, 0);
                assert_eq!(want, seq, "{name}: paths differ with patience {patience}");
                for threads in [1, 4] {
                    let split = short(SearchMode::Inverted, threads);
                    assert_eq!(want, split, "{name}: patience {patience}, {threads} tasks");
                }
            }
            let off = s
                .search_with(&q, &opts(SearchMode::Inverted, 0))
                .expect("search");
            let rank_of = |hits: &[mmindex::Hit]| {
                hits.iter()
                    .position(|h| h.id.to_string_lossy() == *name)
                    .map_or("not in top 5".to_string(), |p| format!("rank {}", p + 1))
            };
            let top = &on[0];
            println!(
                "{name} at ({x}, {y}): re-ranked {} ({} inliers; next {:?}), bag of words alone {}",
                rank_of(&on),
                top.inliers.unwrap_or(0),
                on.get(1).and_then(|h| h.inliers),
                rank_of(&off)
            );
            if top.id.to_string_lossy() == *name {
                first_reranked += 1;
            }
            if off.first().is_some_and(|h| h.id.to_string_lossy() == *name) {
                first_bow += 1;
            }
        }
    }
    println!(
        "first: {first_reranked}/{queries} re-ranked, {first_bow}/{queries} bag of words alone"
    );
    assert_eq!(
        first_reranked, queries,
        "every region query ranks its photo first"
    );
}
