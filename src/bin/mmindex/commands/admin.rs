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
    /// The vocabulary tree's [branching, depth]; null for a flat codebook.
    tree: Option<(u32, u32)>,
    /// Postings of records not yet sealed into posting blocks.
    unsealed_postings: u64,
    /// Present from the CLI (it reads the whole index), absent from the
    /// server's cheap `GET /stats`.
    #[serde(skip_serializing_if = "Option::is_none")]
    space: Option<JsonSpace>,
}

/// Logical bytes per kind of data, in all and per record.
#[derive(Serialize)]
pub struct JsonSpace {
    postings_bytes: u64,
    posting_blocks: u64,
    histogram_bytes: u64,
    norms_bytes: u64,
    geometry_bytes: u64,
    codebook_bytes: u64,
    metadata_bytes: u64,
    postings_per_record: f64,
    histograms_per_record: f64,
    norms_per_record: f64,
    geometry_per_record: f64,
    metadata_per_record: f64,
}

fn per(bytes: u64, records: u64) -> f64 {
    if records > 0 {
        bytes as f64 / records as f64
    } else {
        0.0
    }
}

/// The JSON form of [`mmindex::Space`] for `records` records.
pub fn space_json(s: &mmindex::Space, records: u64) -> JsonSpace {
    JsonSpace {
        postings_bytes: s.postings,
        posting_blocks: s.posting_blocks,
        histogram_bytes: s.histograms,
        norms_bytes: s.norms,
        geometry_bytes: s.geometry,
        codebook_bytes: s.codebook,
        metadata_bytes: s.metadata,
        postings_per_record: per(s.postings, records),
        histograms_per_record: per(s.histograms, records),
        norms_per_record: per(s.norms, records),
        geometry_per_record: per(s.geometry, records),
        metadata_per_record: per(s.metadata, records),
    }
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
        bytes_per_record: per(s.bytes_on_disk, s.records),
        tree: s.tree,
        unsealed_postings: s.unsealed_postings,
        space: None,
    }
}

pub fn stats(a: StatsArgs) -> anyhow::Result<ExitCode> {
    let index = Index::open(&a.index.index)
        .with_context(|| format!("opening {}", a.index.index.display()))?;
    let s = index.stats()?;
    let space = index.space()?;
    let mut j = stats_json(&s);
    j.space = Some(space_json(&space, s.records));
    let per_record = j.bytes_per_record;
    if a.json {
        println!("{}", serde_json::to_string(&j)?);
    } else {
        println!("records        {}", s.records);
        match s.tree {
            Some((b, l)) => println!(
                "words          {} (vocabulary tree, branching {b}, depth {l})",
                s.words
            ),
            None => println!("words          {}", s.words),
        }
        println!("generation     {}", s.generation);
        println!("feature        {}", s.feature);
        println!(
            "postings       {} ({} not yet sealed into blocks)",
            s.postings, s.unsealed_postings
        );
        println!(
            "bytes on disk  {} ({per_record:.0} per record)",
            s.bytes_on_disk
        );
        // Logical sizes; the size on disk adds sled's page and log overhead.
        for (name, bytes) in [
            ("postings", space.postings),
            ("histograms", space.histograms),
            ("norms", space.norms),
            ("geometry", space.geometry),
            ("metadata", space.metadata),
        ] {
            println!(
                "  {name:<12} {bytes} ({:.0} per record)",
                per(bytes, s.records)
            );
        }
        println!("  {:<12} {}", "codebook", space.codebook);
        println!("  {:<12} {}", "blocks", space.posting_blocks);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify(a: IndexArg) -> anyhow::Result<ExitCode> {
    // On a copy: opening the index itself would let sled's recovery rewrite
    // a damaged log before anything is reported.
    let r =
        Index::verify_path(&a.index).with_context(|| format!("verifying {}", a.index.display()))?;
    for n in &r.notes {
        println!("note: {n}");
    }
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

pub fn compact(a: IndexArg) -> anyhow::Result<ExitCode> {
    let r =
        Index::compact(&a.index).with_context(|| format!("compacting {}", a.index.display()))?;
    println!(
        "compacted {}: {} -> {} bytes ({} posting blocks -> {}; the copy took {} bytes and {})",
        a.index.display(),
        r.bytes_before,
        r.bytes_after,
        r.posting_blocks.0,
        r.posting_blocks.1,
        r.copy_bytes,
        if r.kept {
            "replaced the index"
        } else {
            "was discarded"
        }
    );
    Ok(ExitCode::SUCCESS)
}
