//! stats, verify.

use std::process::ExitCode;

use anyhow::Context;
use mmindex::Index;
use serde::Serialize;

use crate::cli::{IndexArg, StatsArgs};

/// `stats --json` and `GET /stats`.
#[derive(Serialize)]
pub struct JsonStats {
    records: u64,
    words: u64,
    generation: u32,
    feature: String,
    postings: u64,
    bytes_on_disk: u64,
    bytes_per_record: f64,
}

/// The JSON form of [`mmindex::Stats`].
pub fn stats_json(s: &mmindex::Stats) -> JsonStats {
    JsonStats {
        records: s.records,
        words: s.words,
        generation: s.generation,
        feature: s.feature.to_string(),
        postings: s.postings,
        bytes_on_disk: s.bytes_on_disk,
        bytes_per_record: if s.records > 0 {
            s.bytes_on_disk as f64 / s.records as f64
        } else {
            0.0
        },
    }
}

pub fn stats(a: StatsArgs) -> anyhow::Result<ExitCode> {
    let index = Index::open(&a.index.index)
        .with_context(|| format!("opening {}", a.index.index.display()))?;
    let s = index.stats()?;
    let j = stats_json(&s);
    let per = j.bytes_per_record;
    if a.json {
        println!("{}", serde_json::to_string(&j)?);
    } else {
        println!("records        {}", s.records);
        println!("words          {}", s.words);
        println!("generation     {}", s.generation);
        println!("feature        {}", s.feature);
        println!("postings       {}", s.postings);
        println!("bytes on disk  {} ({per:.0} per record)", s.bytes_on_disk);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify(a: IndexArg) -> anyhow::Result<ExitCode> {
    let index = Index::open(&a.index).with_context(|| format!("opening {}", a.index.display()))?;
    let r = index.verify()?;
    if r.is_ok() {
        println!("ok: every invariant holds");
        Ok(ExitCode::SUCCESS)
    } else {
        for v in &r.violations {
            println!("violation: {v}");
        }
        println!("{} violations", r.violations.len());
        Ok(ExitCode::FAILURE)
    }
}
