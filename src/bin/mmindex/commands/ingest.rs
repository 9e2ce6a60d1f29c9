//! build, train, add, remove.

use std::process::ExitCode;

use anyhow::Context;
use mmindex::{AddReport, Feature, Index, RecordError, RunOptions, Source};

use crate::cli::{AddArgs, BuildArgs, RebuildArgs, RemoveArgs, RunArgs, Shard, EXIT_PARTIAL};
use crate::progress::Bars;

fn run_options(r: &RunArgs) -> RunOptions {
    r.options()
}

fn writer(index: &Index, r: &RunArgs) -> anyhow::Result<mmindex::IndexWriter> {
    let mut w = index.writer(run_options(r))?;
    if let Some(b) = Bars::new() {
        w.set_progress(b);
    }
    Ok(w)
}

fn report_failures(failed: &[RecordError]) {
    for f in failed {
        eprintln!("skipped {}: {}", f.path.display(), f.reason);
    }
}

fn exit_for(failed: &[RecordError]) -> ExitCode {
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PARTIAL)
    }
}

pub fn build(a: BuildArgs, train_only: bool) -> anyhow::Result<ExitCode> {
    a.run.options().validate()?;
    let vocabulary = match &a.vocabulary {
        Some(p) => Some(
            mmindex::ExportedVocabulary::load(p)
                .with_context(|| format!("reading {}", p.display()))?,
        ),
        None => None,
    };
    let feature: Feature = match &vocabulary {
        Some(v) => v.feature(),
        None => a.feature.parse()?,
    };
    // Walk the folder first: a missing folder must not leave an empty index.
    let (sources, walk_errors) = mmindex::source::folder(&a.images)?;
    let sources = in_shard(sources, a.shard);
    let builder = match &vocabulary {
        Some(v) => Index::builder().vocabulary(v),
        None => {
            let b = Index::builder()
                .feature(feature)
                .words(a.words)
                .max_side(a.max_side);
            match a.max_features {
                Some(n) => b.max_features(n),
                None => b,
            }
        }
    };
    let index = builder
        .open(&a.index.index)
        .with_context(|| format!("opening {}", a.index.index.display()))?;
    let result = build_into(
        &index,
        &a,
        feature,
        vocabulary.as_ref(),
        sources,
        walk_errors,
        train_only,
    );
    if result.is_err() {
        // An index this command created holds nothing worth keeping: leave
        // the directory as it was found. One that existed is never touched.
        if let Err(e) = index.discard_created() {
            eprintln!(
                "could not remove the unfinished index {}: {e}",
                a.index.index.display()
            );
        }
    }
    result
}

fn build_into(
    index: &Index,
    a: &BuildArgs,
    feature: Feature,
    vocabulary: Option<&mmindex::ExportedVocabulary>,
    sources: Vec<Source>,
    mut walk_errors: Vec<RecordError>,
    train_only: bool,
) -> anyhow::Result<ExitCode> {
    if index.config().feature != feature {
        anyhow::bail!(
            "{} already uses feature {}; rebuild it to change the feature",
            a.index.index.display(),
            index.config().feature
        );
    }
    let mut w = writer(index, &a.run)?;
    let started = std::time::Instant::now();
    let failed = if let Some(v) = vocabulary {
        let g = w.install_vocabulary(v)?;
        let r = if train_only {
            AddReport::default()
        } else {
            w.add(sources)?
        };
        println!(
            "installed vocabulary {:016x} as generation {g} ({} words) and indexed {} records in {:.1} s",
            v.id(),
            v.words(),
            r.added + r.replaced,
            started.elapsed().as_secs_f64()
        );
        print_empty(&r);
        r.failed
    } else if train_only {
        let r = w.train(sources)?;
        println!(
            "trained generation {}: {} words from {} descriptors sampled out of {} ({} images) in {:.1} s",
            r.generation,
            r.words,
            r.sampled,
            r.descriptors,
            r.images,
            started.elapsed().as_secs_f64()
        );
        r.failed
    } else {
        let (t, r) = w.build(sources)?;
        println!(
            "built generation {} ({} words) and indexed {} records in {:.1} s",
            t.generation,
            t.words,
            r.added + r.replaced,
            started.elapsed().as_secs_f64()
        );
        print_empty(&r);
        r.failed
    };
    walk_errors.extend(failed);
    report_failures(&walk_errors);
    Ok(exit_for(&walk_errors))
}

/// The sources whose ids route to `shard` (all without one).
fn in_shard(sources: Vec<Source>, shard: Option<Shard>) -> Vec<Source> {
    match shard {
        Some(s) => sources
            .into_iter()
            .filter(|src| mmindex::shard_of(src.id.as_bytes(), s.of) == s.index)
            .collect(),
        None => sources,
    }
}

/// Says so on stderr when the collection has outgrown its vocabulary.
pub fn advise_rebuild(s: &mmindex::Stats, index: &std::path::Path) {
    if let (true, Some(n)) = (s.vocabulary_outgrown, s.trained_images) {
        eprintln!(
            "note: the vocabulary was trained on {n} images and the index now holds {} records; \
             retrieval improves with one trained on more: run `mmindex rebuild --index {}`",
            s.records,
            index.display()
        );
    }
}

fn print_empty(r: &AddReport) {
    for id in &r.empty {
        eprintln!("note: {id} gave no features; stored as an empty record");
    }
}

pub fn add(a: AddArgs) -> anyhow::Result<ExitCode> {
    let index = Index::open(&a.index.index)
        .with_context(|| format!("opening {}", a.index.index.display()))?;
    let (sources, mut errors) = if let Some(dir) = &a.images {
        mmindex::source::folder(dir)?
    } else if let Some(file) = &a.records {
        let (Some(id), Some(field), Some(files_dir)) = (&a.id_field, &a.field, &a.files_dir) else {
            anyhow::bail!("--records needs --id-field, --field and --files-dir");
        };
        mmindex::source::records_file(file, id, field, files_dir)?
    } else if !a.files.is_empty() {
        let s = a
            .files
            .iter()
            // The id is the path as given; the stored source is absolute so
            // that `rebuild` finds the file from any working directory.
            .map(|p| {
                Source::path(
                    p.to_string_lossy().into_owned(),
                    std::path::absolute(p).unwrap_or_else(|_| p.clone()),
                )
            })
            .collect();
        (s, Vec::new())
    } else {
        anyhow::bail!("nothing to add: give --images DIR, --records FILE or image files");
    };
    let sources = in_shard(sources, a.shard);
    let mut w = writer(&index, &a.run)?;
    let r = w.add(sources)?;
    println!("added {} records, replaced {}", r.added, r.replaced);
    print_empty(&r);
    drop(w);
    advise_rebuild(&index.stats()?, &a.index.index);
    errors.extend(r.failed);
    report_failures(&errors);
    Ok(exit_for(&errors))
}

pub fn remove(a: RemoveArgs) -> anyhow::Result<ExitCode> {
    let index = Index::open(&a.index.index)
        .with_context(|| format!("opening {}", a.index.index.display()))?;
    let mut w = index.writer(RunOptions::default())?;
    let n = w.remove(a.ids.iter().map(String::as_str))?;
    println!("removed {n} of {} records", a.ids.len());
    Ok(ExitCode::SUCCESS)
}

pub fn rebuild(a: RebuildArgs) -> anyhow::Result<ExitCode> {
    let feature: Option<Feature> = a.feature.as_deref().map(str::parse).transpose()?;
    let index = Index::open(&a.index.index)
        .with_context(|| format!("opening {}", a.index.index.display()))?;
    let mut w = writer(&index, &a.run)?;
    let started = std::time::Instant::now();
    let r = w.rebuild(a.words, feature)?;
    println!(
        "rebuilt generation {} -> {} ({} words, {}) over {} records in {:.1} s",
        r.previous,
        r.train.generation,
        r.train.words,
        index.config().feature,
        r.records,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
