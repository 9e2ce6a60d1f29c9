//! stats, verify.

use std::process::ExitCode;

use anyhow::Context;
use mmindex::Index;

use crate::cli::{ExportArgs, IndexArg, StatsArgs};
use crate::json::{per, space_json, stats_json};

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
            Some(t) => println!(
                "words          {} (vocabulary tree, branching {}, depth {})",
                s.words, t.branching, t.depth
            ),
            None => println!("words          {}", s.words),
        }
        println!("generation     {}", s.generation);
        if let Some(n) = s.trained_images {
            println!("trained on     {n} images");
        }
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
        super::ingest::advise_rebuild(&s, &a.index.index);
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
        r.posting_blocks.before,
        r.posting_blocks.after,
        r.copy_bytes,
        if r.kept {
            "replaced the index"
        } else {
            "was discarded"
        }
    );
    Ok(ExitCode::SUCCESS)
}

pub fn export_vocabulary(a: ExportArgs) -> anyhow::Result<ExitCode> {
    let index = Index::open(&a.index.index)
        .with_context(|| format!("opening {}", a.index.index.display()))?;
    let v = index.export_vocabulary()?;
    v.save(&a.out)
        .with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "exported vocabulary {:016x} ({} words, {}) to {}",
        v.id(),
        v.words(),
        v.feature(),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
