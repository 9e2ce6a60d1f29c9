//! The two halves of the real-photo scale benchmark that need the library
//! (scripts/realscale.sh, docs/EVALUATION.md "Real-photo scale benchmark").
//!
//! ```text
//! realscale groups QUERY_PHOTOS_DIR OUT_DIR [SEED]
//! realscale query INDEX_DIR GROUPS_DIR
//! realscale extract IMAGES_DIR
//! ```
//!
//! `groups` turns each query photo into a group of four in the style of
//! UKBench, as `examples/eval.rs` does with its default ranges: the photo
//! itself (`g<nnn>_0_orig.jpg`, the file's bytes unchanged) and three copies,
//! each a different kind of change drawn with the seed (rotation ±10–40°,
//! scale 0.5–0.9 then the centred 70–90%, perspective 8–22%, JPEG 15–30,
//! brightness/contrast, Gaussian blur σ 1–2.5).
//!
//! `query` opens an index built by `mmindex build` over a folder holding the
//! group files (ids are file names), queries it with every group image (top
//! 100, inverted, re-ranking the best 100, the search defaults) and prints one
//! JSON object: the UKBench score (N-S), mAP, recall@1 and recall@10 over the
//! three group mates, and per-query latency percentiles with feature
//! extraction (`prepare` + search) and without (search of the prepared
//! query), in one long-lived process. Each query is searched right after
//! its extraction (`query_ms_*`, `search_after_extraction_ms_*`: the search
//! finds caches full of the extraction's data), then all prepared queries
//! are searched back to back in a seeded shuffled order (`search_ms_*`;
//! `REALSCALE_IDLE_MS=N` sleeps N ms before each). `REALSCALE_RERANK=N` sets the
//! re-ranking depth and `REALSCALE_PATIENCE=N` its patience
//! (`SearchOptions::rerank_patience`); `REALSCALE_SHARE=S` sets `SearchOptions::query_share`
//! (approximate search);
//! `REALSCALE_ROUNDS=N` searches every prepared query N times (latencies
//! from the first round), a run of search alone for a profiler; every query that misses part of its group is listed on
//! stderr with the ranks and inliers of the group's hits.
//!
//! `extract` reads, decodes and describes every image of a folder with the
//! default index settings on one worker per core (OpenCV one thread per
//! worker), as a build's extraction does, and stores nothing: the floor a
//! build's wall time is compared with. Prints one JSON object (images,
//! features, seconds).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use mmindex::augment::{apply, Transform};
use mmindex::eval::{average_precision, hit_at_1, recall_at, ukbench_score};
use mmindex::{Index, Query, SearchMode, SearchOptions};

#[allow(dead_code)]
#[path = "../tests/common/rng.rs"]
mod rng;
use rng::Rng;

#[path = "support/images.rs"]
mod images;
use images::{file_name, images_in};

fn range(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.unit()
}

/// The six kinds of change of `examples/eval.rs` (default ranges).
fn kind(k: usize, rng: &mut Rng) -> Vec<Transform> {
    let sign = if rng.unit() < 0.5 { -1.0 } else { 1.0 };
    match k {
        0 => vec![Transform::Rotate(sign * range(rng, 10.0, 40.0))],
        1 => vec![
            Transform::Scale(range(rng, 0.5, 0.9)),
            Transform::Crop(range(rng, 0.7, 0.9)),
        ],
        2 => vec![Transform::Perspective(range(rng, 0.08, 0.22))],
        3 => vec![Transform::Jpeg(range(rng, 15.0, 30.99) as u8)],
        4 => vec![Transform::Photometric {
            contrast: range(rng, 0.6, 1.4),
            brightness: range(rng, -40.0, 40.0),
        }],
        _ => vec![Transform::Blur(range(rng, 1.0, 2.5))],
    }
}

fn groups(src: &Path, out: &Path, seed: u64) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut rng = Rng::new(seed);
    for (g, p) in images_in(src)?.iter().enumerate() {
        let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let write = |name: String, b: &[u8]| {
            let path = out.join(name);
            std::fs::write(&path, b).map_err(|e| format!("{}: {e}", path.display()))
        };
        write(format!("g{g:03}_0_orig.jpg"), &bytes)?;
        let mut kinds: Vec<usize> = (0..6).collect();
        for i in (1..kinds.len()).rev() {
            kinds.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        for (c, k) in kinds.iter().take(3).enumerate() {
            let ts = kind(*k, &mut rng);
            let mut b = bytes.clone();
            for t in &ts {
                b = apply(&b, *t).map_err(|e| format!("{}: {e}", p.display()))?;
            }
            let label: Vec<String> = ts.iter().map(|t| t.label()).collect();
            let ext = if matches!(ts[0], Transform::Jpeg(_)) {
                "jpg"
            } else {
                "png"
            };
            write(format!("g{g:03}_{}_{}.{ext}", c + 1, label.join("+")), &b)?;
        }
    }
    Ok(())
}

fn group_of(id: &str) -> Option<usize> {
    id.strip_prefix('g')?.get(..3)?.parse().ok()
}

fn query(index_dir: &Path, groups_dir: &Path) -> Result<serde_json::Value, String> {
    let index = Index::builder()
        .open(index_dir)
        .map_err(|e| format!("{}: {e}", index_dir.display()))?;
    let searcher = index.searcher().map_err(|e| e.to_string())?;
    let mut opts = SearchOptions {
        top_k: 100,
        mode: SearchMode::Inverted,
        ..SearchOptions::default()
    };
    if let Some(r) = std::env::var("REALSCALE_RERANK")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        opts.rerank = r;
    }
    if let Some(p) = std::env::var("REALSCALE_PATIENCE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        opts.rerank_patience = p;
    }
    let members = images_in(groups_dir)?;
    if let Ok(v) = std::env::var("REALSCALE_SHARE") {
        opts.query_share = v
            .parse()
            .map_err(|_| format!("REALSCALE_SHARE={v} is not a number"))?;
    }
    // Every query is prepared first, then searched `REALSCALE_ROUNDS` times
    // (default 1; the last round's hits are scored): more rounds give a
    // profiler a run of search alone.
    let rounds: usize = std::env::var("REALSCALE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let mut prepared = Vec::with_capacity(members.len());
    let (mut with_extraction, mut after_extraction) = (Vec::new(), Vec::new());
    for m in &members {
        let t = Instant::now();
        let q = searcher
            .prepare(&Query::path(m))
            .map_err(|e| format!("{}: {e}", file_name(m)))?;
        let prepare_ms = t.elapsed().as_secs_f64() * 1e3;
        // Searched at once, as a service answering image queries does: the
        // search starts with caches full of the extraction's data.
        let t = Instant::now();
        searcher
            .search_prepared(&q, &opts)
            .map_err(|e| format!("{}: {e}", file_name(m)))?;
        let search_ms = t.elapsed().as_secs_f64() * 1e3;
        with_extraction.push(prepare_ms + search_ms);
        after_extraction.push(search_ms);
        prepared.push(q);
    }
    let (mut ns, mut map, mut r1, mut r10) = (0.0, 0.0, 0.0, 0.0);
    let mut without = Vec::new();
    // Back to back in a seeded shuffled order: group mates, which share
    // most candidates, do not follow each other.
    let mut order: Vec<usize> = (0..members.len()).collect();
    let mut rng = Rng::new(1);
    for i in (1..order.len()).rev() {
        order.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    let idle = std::time::Duration::from_millis(
        std::env::var("REALSCALE_IDLE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );
    let mut answers = vec![Vec::new(); members.len()];
    for round in 0..rounds {
        for &i in &order {
            let q = &prepared[i];
            std::thread::sleep(idle);
            let t = Instant::now();
            let hits = searcher
                .search_prepared(q, &opts)
                .map_err(|e| format!("{}: {e}", file_name(&members[i])))?;
            let search_ms = t.elapsed().as_secs_f64() * 1e3;
            if round == 0 {
                without.push(search_ms);
            }
            answers[i] = hits;
        }
    }
    for (m, hits) in members.iter().zip(&answers) {
        let own = file_name(m);
        let group = group_of(&own).ok_or(format!("{own}: not a group file"))?;
        let ids: Vec<String> = hits.iter().map(|h| h.id.to_string_lossy()).collect();
        let with_self: Vec<bool> = ids.iter().map(|i| group_of(i) == Some(group)).collect();
        let score = ukbench_score(&with_self);
        if score < 4 {
            // Where the group's images are, for reading the misses.
            let ranks: Vec<String> = hits
                .iter()
                .enumerate()
                .filter(|(_, h)| group_of(&h.id.to_string_lossy()) == Some(group))
                .map(|(r, h)| format!("{}@{r}({:?})", h.id.to_string_lossy(), h.inliers))
                .collect();
            eprintln!("miss {own}: {score}/4, group at {}", ranks.join(" "));
        }
        ns += score as f64;
        let others: Vec<bool> = ids
            .iter()
            .filter(|i| **i != own)
            .map(|i| group_of(i) == Some(group))
            .collect();
        map += average_precision(&others, 3);
        r1 += hit_at_1(&others);
        r10 += recall_at(&others, 3, 10);
    }
    if members.is_empty() {
        return Err(format!("no images in {}", groups_dir.display()));
    }
    let n = members.len() as f64;
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
    };
    Ok(serde_json::json!({
        "queries": members.len(),
        "ns": ns / n,
        "map": map / n,
        "recall_at_1": r1 / n,
        "recall_at_10": r10 / n,
        "query_ms_p50": pct(&mut with_extraction, 0.5),
        "query_ms_p99": pct(&mut with_extraction, 0.99),
        "search_ms_p50": pct(&mut without, 0.5),
        "search_ms_p99": pct(&mut without, 0.99),
        "search_after_extraction_ms_p50": pct(&mut after_extraction, 0.5),
        "search_after_extraction_ms_p99": pct(&mut after_extraction, 0.99),
        "rerank": opts.rerank,
        "rerank_patience": opts.rerank_patience,
    }))
}

/// Reads, decodes and describes every image under `dir` on one worker per
/// core, keeping only counts.
fn extract(dir: &Path) -> Result<serde_json::Value, String> {
    use rayon::prelude::*;
    let files = images_in(dir)?;
    let params = mmindex::features::ExtractParams::from(&mmindex::IndexConfig::default());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let (features, failed) = pool.install(|| {
        files
            .par_iter()
            .map(|p| {
                let input = mmindex::features::ImageInput::Path(p.clone());
                let described = input
                    .read(params.max_file_bytes)
                    .and_then(|bytes| mmindex::features::extract_encoded(&bytes, p, &params));
                match described {
                    Ok(f) => (f.keypoints.len() as u64, 0u64),
                    Err(_) => (0, 1),
                }
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    let seconds = started.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "images": files.len(),
        "failed": failed,
        "features": features,
        "workers": workers,
        "seconds": seconds,
    }))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("groups") if args.len() >= 3 => {
            let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
            groups(args[1].as_ref(), args[2].as_ref(), seed)
        }
        Some("query") if args.len() == 3 => {
            query(args[1].as_ref(), args[2].as_ref()).map(|v| println!("{v}"))
        }
        Some("extract") if args.len() == 2 => extract(args[1].as_ref()).map(|v| println!("{v}")),
        _ => {
            eprintln!(
                "usage: realscale groups QUERY_PHOTOS_DIR OUT_DIR [SEED] | realscale query INDEX_DIR GROUPS_DIR | realscale extract IMAGES_DIR"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
