//! search.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use mmindex::{Index, Query, SearchMode, SearchOptions};
use serde::Serialize;

use crate::cli::SearchArgs;
use crate::json::{json_hits, JsonHit};

#[derive(Serialize)]
struct JsonQuery<'a> {
    query: &'a str,
    results: Vec<JsonHit>,
    ms: f64,
}

pub fn search(a: SearchArgs) -> anyhow::Result<ExitCode> {
    let mode: SearchMode = a.mode.parse()?;
    let index = Index::open(&a.index.index)
        .with_context(|| format!("opening {}", a.index.index.display()))?;
    let searcher = index.searcher()?;
    let opts = SearchOptions {
        top_k: a.top_k,
        mode,
        scoring: None,
        rerank: a.rerank,
        rerank_patience: a.rerank_patience,
        query_share: a.query_share,
        ..SearchOptions::default()
    };
    let mut failures = 0;
    for q in &a.queries {
        let started = Instant::now();
        let hits = match searcher.search_with(&Query::path(q), &opts) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("error: query {e}");
                failures += 1;
                continue;
            }
        };
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let name = q.to_string_lossy();
        if a.json {
            let line = JsonQuery {
                query: &name,
                results: json_hits(&hits),
                ms,
            };
            println!("{}", serde_json::to_string(&line)?);
        } else {
            println!("{name} ({ms:.1} ms)");
            for (i, h) in hits.iter().enumerate() {
                match h.inliers {
                    Some(n) => {
                        println!("  {:>3}. {:.4}  {:>4} inliers  {}", i + 1, h.score, n, h.id)
                    }
                    None => println!("  {:>3}. {:.4}  {:>12}  {}", i + 1, h.score, "", h.id),
                }
            }
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
