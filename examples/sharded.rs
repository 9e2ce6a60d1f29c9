//! The cost of searching shards instead of one index (docs/SCORING.md,
//! "Sharded search").
//!
//! ```text
//! sharded build VOCABULARY IMAGES_DIR OUT_DIR SHARDS
//! sharded query OUT_DIR SHARDS QUERY_IMAGES_DIR
//! ```
//!
//! `build` describes every image of IMAGES_DIR once with an exported
//! vocabulary (`mmindex export-vocabulary`), on one worker per core, and
//! adds each record both to OUT_DIR/one and to OUT_DIR/shard{i}, i =
//! `shard_of(id, SHARDS)`; ids are file names. `query` prepares every image
//! of QUERY_IMAGES_DIR once, then searches one index and the shards
//! alternately with the default options (top 10, re-ranking 300), checks
//! that both give the same hits with the same scores and inliers, and
//! prints one JSON object: p50 and p99 of each, and their ratio.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use mmindex::{
    shard_of, ExportedVocabulary, ExtractedRecord, Index, Query, RunOptions, SearchOptions,
    ShardedSearcher, Source,
};
use rayon::prelude::*;

#[path = "support/images.rs"]
mod images;
use images::{file_name, images_in};

/// Records extracted and added per round: bounds the memory held.
const CHUNK: usize = 1000;

fn open_on(dir: &Path, v: &ExportedVocabulary) -> Result<Index, String> {
    let index = Index::builder()
        .vocabulary(v)
        .open(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut w = index
        .writer(RunOptions::default())
        .map_err(|e| e.to_string())?;
    w.install_vocabulary(v).map_err(|e| e.to_string())?;
    Ok(index)
}

fn build(
    vocab: &Path,
    images: &Path,
    out: &Path,
    shards: usize,
) -> Result<serde_json::Value, String> {
    let v = ExportedVocabulary::load(vocab).map_err(|e| e.to_string())?;
    let files = images_in(images)?;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let one = open_on(&out.join("one"), &v)?;
    let parts: Vec<Index> = (0..shards)
        .map(|i| open_on(&out.join(format!("shard{i}")), &v))
        .collect::<Result<_, _>>()?;
    let mut w_one = one
        .writer(RunOptions::default())
        .map_err(|e| e.to_string())?;
    let mut w_parts: Vec<_> = parts
        .iter()
        .map(|p| p.writer(RunOptions::default()))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let (mut added, mut failed) = (0, 0);
    for chunk in files.chunks(CHUNK) {
        let records: Vec<ExtractedRecord> = chunk
            .par_iter()
            .filter_map(|p| v.extract(&Source::path(file_name(p), p)).ok())
            .collect();
        failed += chunk.len() - records.len();
        let mut routed: Vec<Vec<ExtractedRecord>> = vec![Vec::new(); shards];
        for r in &records {
            routed[shard_of(r.id.as_bytes(), shards)].push(r.clone());
        }
        added += w_one
            .add_extracted(records)
            .map_err(|e| e.to_string())?
            .added;
        for (w, part) in w_parts.iter_mut().zip(routed) {
            w.add_extracted(part).map_err(|e| e.to_string())?;
        }
    }
    Ok(serde_json::json!({
        "images": files.len(),
        "added": added,
        "failed": failed,
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

fn query(out: &Path, shards: usize, queries: &Path) -> Result<serde_json::Value, String> {
    let one = Index::open(out.join("one")).map_err(|e| e.to_string())?;
    let parts: Vec<Index> = (0..shards)
        .map(|i| Index::open(out.join(format!("shard{i}"))))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let single = one.searcher().map_err(|e| e.to_string())?;
    let sharded = ShardedSearcher::new(&parts).map_err(|e| e.to_string())?;
    let opts = SearchOptions::default();
    let files = images_in(queries)?;
    let prepared: Vec<_> = files
        .iter()
        .map(|p| single.prepare(&Query::path(p)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let (mut t_one, mut t_shards, mut differ) = (Vec::new(), Vec::new(), 0);
    for q in &prepared {
        let t = Instant::now();
        let a = single
            .search_prepared(q, &opts)
            .map_err(|e| e.to_string())?;
        t_one.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let b = sharded
            .search_prepared(q, &opts)
            .map_err(|e| e.to_string())?;
        t_shards.push(t.elapsed().as_secs_f64() * 1e3);
        let same = a.len() == b.len()
            && a.iter().zip(&b).all(|(x, y)| {
                x.id == y.hit.id
                    && x.score.to_bits() == y.hit.score.to_bits()
                    && x.inliers == y.hit.inliers
            });
        if !same {
            differ += 1;
            // The first difference, for reading.
            let at = a
                .iter()
                .zip(&b)
                .position(|(x, y)| {
                    x.id != y.hit.id
                        || x.score.to_bits() != y.hit.score.to_bits()
                        || x.inliers != y.hit.inliers
                })
                .unwrap_or(a.len().min(b.len()));
            eprintln!(
                "differ at {at}: one {:?} sharded {:?}",
                a.get(at)
                    .map(|h| (h.id.to_string_lossy(), h.score, h.inliers)),
                b.get(at).map(|h| (
                    h.shard,
                    h.hit.id.to_string_lossy(),
                    h.hit.score,
                    h.hit.inliers
                ))
            );
        }
    }
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1))]
    };
    if prepared.is_empty() {
        return Err(format!("no images in {}", queries.display()));
    }
    let (p50_one, p50_shards) = (pct(&mut t_one, 0.5), pct(&mut t_shards, 0.5));
    Ok(serde_json::json!({
        "queries": prepared.len(),
        "answers_that_differ": differ,
        "one_ms_p50": p50_one,
        "one_ms_p99": pct(&mut t_one, 0.99),
        "sharded_ms_p50": p50_shards,
        "sharded_ms_p99": pct(&mut t_shards, 0.99),
        "p50_ratio": p50_shards / p50_one,
    }))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let shards = |s: &str| s.parse::<usize>().map_err(|e| format!("SHARDS: {e}"));
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["build", vocab, images, out, n] => {
            shards(n).and_then(|n| build(Path::new(vocab), Path::new(images), Path::new(out), n))
        }
        ["query", out, n, queries] => shards(n).and_then(|n| query(Path::new(out), n, Path::new(queries))),
        _ => Err("usage: sharded build VOCABULARY IMAGES_DIR OUT_DIR SHARDS | sharded query OUT_DIR SHARDS QUERY_IMAGES_DIR".into()),
    };
    match result {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
