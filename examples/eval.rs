//! The retrieval evaluation harness (docs/EVALUATION.md).
//!
//! ```text
//! eval PHOTOS_DIR [--distractors-from DIR] [--groups N] [--distractors N]
//!      [--features rootsift,sift,orb,akaze,brisk] [--words K] [--rerank R]
//!      [--rerank-patience P] [--max-side PX] [--max-features N] [--hard] [--seed S] [--json FILE]
//! ```
//!
//! Builds a benchmark in the style of UKBench: each of the first N photos
//! (default: all but three when no `--distractors-from` is given) becomes a
//! group of four, the photo and three transformed copies, each copy a
//! different kind drawn with the seed (rotation, scale + crop, perspective,
//! JPEG 15–30, brightness/contrast, blur). Distractors are random crops of the
//! photos in `--distractors-from` (default: the photos not used as groups).
//! Every image is indexed; every group image is a query. Reports per feature:
//! the UKBench score (mean relevant in the top 4, the query itself included,
//! out of 4), and with the query itself left out: mAP, recall@1 and
//! recall@10 over its three group mates; and query latency (extraction
//! included). Each query is described once and searched twice, by
//! bag-of-words alone and with geometric re-ranking of the best R (default
//! 100), so the table has both, and the time re-ranking adds (the
//! difference between the two searches of the same prepared query). Prints
//! a table; `--json` writes the same figures.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use mmindex::augment::{apply, Transform};
use mmindex::eval::{average_precision, hit_at_1, recall_at, ukbench_score};
use mmindex::{Feature, Index, Query, RunOptions, SearchMode, SearchOptions, Source};

#[allow(dead_code)]
#[path = "../tests/common/rng.rs"]
mod rng;
use rng::Rng;

/// Uniform in [lo, hi).
fn range(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.unit()
}

/// The six kinds of change a group copy undergoes; one transform chain each.
/// `hard` draws from harsher ranges (`--hard`): the default ranges leave
/// re-ranking little to fix on the sample photos.
fn kind(k: usize, hard: bool, rng: &mut Rng) -> Vec<Transform> {
    let sign = if rng.unit() < 0.5 { -1.0 } else { 1.0 };
    let pick = |rng: &mut Rng, easy: (f64, f64), harsh: (f64, f64)| {
        let (lo, hi) = if hard { harsh } else { easy };
        range(rng, lo, hi)
    };
    match k {
        0 => vec![Transform::Rotate(
            sign * pick(rng, (10.0, 40.0), (40.0, 90.0)),
        )],
        1 => vec![
            Transform::Scale(pick(rng, (0.5, 0.9), (0.3, 0.5))),
            Transform::Crop(pick(rng, (0.7, 0.9), (0.45, 0.65))),
        ],
        2 => vec![Transform::Perspective(pick(
            rng,
            (0.08, 0.22),
            (0.22, 0.32),
        ))],
        3 => vec![Transform::Jpeg(pick(rng, (15.0, 30.99), (5.0, 12.99)) as u8)],
        4 => vec![Transform::Photometric {
            contrast: pick(rng, (0.6, 1.4), (0.35, 0.6)),
            brightness: if hard {
                sign * range(rng, 40.0, 80.0)
            } else {
                range(rng, -40.0, 40.0)
            },
        }],
        _ => vec![Transform::Blur(pick(rng, (1.0, 2.5), (2.5, 4.0)))],
    }
}

fn chain(bytes: &[u8], ts: &[Transform]) -> mmindex::Result<Vec<u8>> {
    let mut b = bytes.to_vec();
    for t in ts {
        b = apply(&b, *t)?;
    }
    Ok(b)
}

fn images_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| mmindex::source::has_image_extension(p))
        .collect();
    v.sort();
    Ok(v)
}

struct Args {
    photos: PathBuf,
    distractors_from: Option<PathBuf>,
    groups: Option<usize>,
    distractors: usize,
    features: Vec<Feature>,
    words: u32,
    rerank: usize,
    rerank_patience: usize,
    max_side: Option<u32>,
    max_features: Option<u32>,
    hard: bool,
    seed: u64,
    json: Option<PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let photos = it
        .next()
        .ok_or("usage: eval PHOTOS_DIR [options] (see the file's header)")?;
    let mut a = Args {
        photos: photos.into(),
        distractors_from: None,
        groups: None,
        distractors: 500,
        features: vec![Feature::RootSift],
        words: 1000,
        rerank: mmindex::DEFAULT_RERANK,
        rerank_patience: mmindex::DEFAULT_RERANK_PATIENCE,
        max_side: None,
        max_features: None,
        hard: false,
        seed: 1,
        json: None,
    };
    while let Some(flag) = it.next() {
        if flag == "--hard" {
            a.hard = true;
            continue;
        }
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--distractors-from" => a.distractors_from = Some(v.into()),
            "--groups" => a.groups = Some(num(&v)? as usize),
            "--distractors" => a.distractors = num(&v)? as usize,
            "--words" => a.words = num(&v)? as u32,
            "--rerank" => a.rerank = num(&v)? as usize,
            "--rerank-patience" => a.rerank_patience = num(&v)? as usize,
            "--max-side" => a.max_side = Some(num(&v)? as u32),
            "--max-features" => a.max_features = Some(num(&v)? as u32),
            "--seed" => a.seed = num(&v)?,
            "--json" => a.json = Some(v.into()),
            "--features" => {
                a.features = v
                    .split(',')
                    .map(|f| f.parse::<Feature>().map_err(|e| e.to_string()))
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(a)
}

/// One group image: its file and group number.
struct Member {
    path: PathBuf,
    group: usize,
}

fn make_benchmark(a: &Args, work: &Path) -> Result<(Vec<Member>, Vec<PathBuf>), String> {
    let photos = images_in(&a.photos).map_err(|e| format!("{}: {e}", a.photos.display()))?;
    let n = a.groups.unwrap_or(if a.distractors_from.is_some() {
        photos.len()
    } else {
        photos.len().saturating_sub(3)
    });
    if n == 0 || n > photos.len() {
        return Err(format!("{n} groups from {} photos", photos.len()));
    }
    let sources = match &a.distractors_from {
        Some(d) => images_in(d).map_err(|e| format!("{}: {e}", d.display()))?,
        None => photos[n..].to_vec(),
    };
    if a.distractors > 0 && sources.is_empty() {
        return Err("no photos left to cut distractors from".into());
    }
    let mut rng = Rng::new(a.seed);
    let mut members = Vec::new();
    for (g, p) in photos.iter().take(n).enumerate() {
        let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let original = work.join(format!("g{g:03}_0_orig.png"));
        std::fs::write(
            &original,
            chain(&bytes, &[Transform::Scale(1.0)]).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        members.push(Member {
            path: original,
            group: g,
        });
        // Three different kinds per group, drawn with the seed.
        let mut kinds: Vec<usize> = (0..6).collect();
        for i in (1..kinds.len()).rev() {
            kinds.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        for (c, k) in kinds.iter().take(3).enumerate() {
            let ts = kind(*k, a.hard, &mut rng);
            let label: Vec<String> = ts.iter().map(|t| t.label()).collect();
            let ext = if matches!(ts[0], Transform::Jpeg(_)) {
                "jpg"
            } else {
                "png"
            };
            let path = work.join(format!("g{g:03}_{}_{}.{ext}", c + 1, label.join("+")));
            let out = chain(&bytes, &ts).map_err(|e| format!("{}: {e}", p.display()))?;
            std::fs::write(&path, out).map_err(|e| e.to_string())?;
            members.push(Member { path, group: g });
        }
    }
    let mut distractors = Vec::new();
    let source_bytes: Vec<Vec<u8>> = sources
        .iter()
        .map(|p| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display())))
        .collect::<Result<_, _>>()?;
    for d in 0..a.distractors {
        let b = &source_bytes[(rng.next() % source_bytes.len() as u64) as usize];
        let (w, h) = (range(&mut rng, 0.3, 0.7), range(&mut rng, 0.3, 0.7));
        let region = Transform::Region {
            x: range(&mut rng, 0.0, 1.0 - w),
            y: range(&mut rng, 0.0, 1.0 - h),
            w,
            h,
        };
        let out = chain(b, &[region, Transform::Scale(range(&mut rng, 0.7, 1.3))])
            .map_err(|e| e.to_string())?;
        let path = work.join(format!("d{d:05}.png"));
        std::fs::write(&path, out).map_err(|e| e.to_string())?;
        distractors.push(path);
    }
    Ok((members, distractors))
}

/// Quality figures of one way of ranking.
#[derive(Default, Clone, Copy)]
struct Quality {
    ukbench: f64,
    map: f64,
    recall1: f64,
    recall10: f64,
}

impl Quality {
    fn add(&mut self, hits: &[mmindex::Hit], own: &str, group: usize) {
        let group_of = |id: &str| -> Option<usize> { id.strip_prefix('g')?.get(..3)?.parse().ok() };
        let with_self: Vec<bool> = hits
            .iter()
            .map(|h| group_of(&h.id.to_string_lossy()) == Some(group))
            .collect();
        self.ukbench += ukbench_score(&with_self) as f64;
        let others: Vec<bool> = hits
            .iter()
            .filter(|h| h.id.to_string_lossy() != own)
            .map(|h| group_of(&h.id.to_string_lossy()) == Some(group))
            .collect();
        self.map += average_precision(&others, 3);
        self.recall1 += hit_at_1(&others);
        self.recall10 += recall_at(&others, 3, 10);
    }

    fn mean(self, n: f64) -> Quality {
        Quality {
            ukbench: self.ukbench / n,
            map: self.map / n,
            recall1: self.recall1 / n,
            recall10: self.recall10 / n,
        }
    }
}

struct Row {
    feature: Feature,
    images: usize,
    bow: Quality,
    reranked: Quality,
    /// Extraction + search with re-ranking.
    p50_ms: f64,
    p99_ms: f64,
    /// What re-ranking adds to the same prepared query.
    rerank_p50_ms: f64,
    rerank_p99_ms: f64,
    build_s: f64,
}

fn evaluate(
    a: &Args,
    f: Feature,
    work: &Path,
    members: &[Member],
    distractors: &[PathBuf],
) -> Result<Row, String> {
    let dir = work.join(format!("idx-{f}"));
    let mut builder = Index::builder().feature(f).words(a.words).seed(a.seed);
    if let Some(px) = a.max_side {
        builder = builder.max_side(px);
    }
    if let Some(n) = a.max_features {
        builder = builder.max_features(n);
    }
    let index = builder.open(&dir).map_err(|e| e.to_string())?;
    let mut sources: Vec<Source> = members
        .iter()
        .map(|m| Source::path(file_id(&m.path), m.path.clone()))
        .collect();
    sources.extend(
        distractors
            .iter()
            .map(|p| Source::path(file_id(p), p.clone())),
    );
    let started = Instant::now();
    let mut w = index
        .writer(RunOptions::default())
        .map_err(|e| e.to_string())?;
    w.build(sources).map_err(|e| e.to_string())?;
    drop(w);
    let build_s = started.elapsed().as_secs_f64();
    let searcher = index.searcher().map_err(|e| e.to_string())?;
    let opts = |rerank| SearchOptions {
        top_k: 100,
        mode: SearchMode::Inverted,
        rerank,
        rerank_patience: a.rerank_patience,
        ..SearchOptions::default()
    };
    let (mut bow, mut reranked) = (Quality::default(), Quality::default());
    let mut latencies = Vec::new();
    let mut added = Vec::new();
    for m in members {
        let t = Instant::now();
        let q = searcher
            .prepare(&Query::path(&m.path))
            .map_err(|e| e.to_string())?;
        let prepared = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let plain = searcher
            .search_prepared(&q, &opts(0))
            .map_err(|e| e.to_string())?;
        let plain_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let hits = searcher
            .search_prepared(&q, &opts(a.rerank))
            .map_err(|e| e.to_string())?;
        let rerank_ms = t.elapsed().as_secs_f64() * 1e3;
        latencies.push(prepared + rerank_ms);
        added.push(rerank_ms - plain_ms);
        let own = file_id(&m.path);
        bow.add(&plain, &own, m.group);
        reranked.add(&hits, &own, m.group);
    }
    let q = members.len() as f64;
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
    };
    Ok(Row {
        feature: f,
        images: members.len() + distractors.len(),
        bow: bow.mean(q),
        reranked: reranked.mean(q),
        p50_ms: pct(&mut latencies, 0.5),
        p99_ms: pct(&mut latencies, 0.99),
        rerank_p50_ms: pct(&mut added, 0.5),
        rerank_p99_ms: pct(&mut added, 0.99),
        build_s,
    })
}

fn file_id(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn main() -> ExitCode {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let work = match tempfile::tempdir() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: temp dir: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (members, distractors) = match make_benchmark(&a, work.path()) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "benchmark: {} groups × 4 images, {} distractors, {} words, seed {}{}",
        members.len() / 4,
        distractors.len(),
        a.words,
        a.seed,
        if a.hard { ", hard transforms" } else { "" }
    );
    println!(
        "| feature | ranking | images | UKBench (of 4) | mAP | recall@1 | recall@10 | query p50 | query p99 | re-rank adds p50 | p99 | build |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut json = Vec::new();
    for f in &a.features {
        match evaluate(&a, *f, work.path(), &members, &distractors) {
            Ok(r) => {
                for (name, quality) in [
                    ("BoW", r.bow),
                    (&*format!("re-rank {}", a.rerank), r.reranked),
                ] {
                    let reranked = name != "BoW";
                    let timing = if reranked {
                        format!(
                            "{:.1} ms | {:.1} ms | {:.2} ms | {:.2} ms",
                            r.p50_ms, r.p99_ms, r.rerank_p50_ms, r.rerank_p99_ms
                        )
                    } else {
                        "| | |".to_string()
                    };
                    println!(
                        "| {} | {name} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {timing} | {:.1} s |",
                        r.feature,
                        r.images,
                        quality.ukbench,
                        quality.map,
                        quality.recall1,
                        quality.recall10,
                        r.build_s
                    );
                    json.push(serde_json::json!({
                        "feature": r.feature.to_string(),
                        "rerank": if reranked { a.rerank } else { 0 },
                        "images": r.images,
                        "groups": members.len() / 4,
                        "distractors": distractors.len(),
                        "words": a.words,
                        "seed": a.seed,
                        "hard": a.hard,
                        "max_side": a.max_side,
                        "ukbench": quality.ukbench,
                        "map": quality.map,
                        "recall_at_1": quality.recall1,
                        "recall_at_10": quality.recall10,
                        "query_ms_p50": r.p50_ms,
                        "query_ms_p99": r.p99_ms,
                        "rerank_added_ms_p50": r.rerank_p50_ms,
                        "rerank_added_ms_p99": r.rerank_p99_ms,
                        "build_seconds": r.build_s,
                    }));
                }
            }
            Err(e) => {
                eprintln!("error: {f}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(p) = &a.json {
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        if let Err(e) = std::fs::write(p, text) {
            eprintln!("error: {}: {e}", p.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
