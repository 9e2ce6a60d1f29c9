//! Getting records in: sources, the extraction pipeline, batched
//! transactional commits, and training.

mod pipeline;
pub mod source;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::config::RunOptions;
use crate::error::{Error, Result};
use crate::features::ImageInput;
use crate::index::{Active, Inner};
use crate::search::weights;
use crate::store::{Batch, DocRecord, Histogram, NewDoc};
use crate::vocab::{self, Codebook, Sampler};
use crate::RecordId;
use pipeline::{extract_batches, Extracted, Item};
pub use source::Source;

/// A record that could not be indexed, and why. The rest of its batch goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The record's id.
    pub id: RecordId,
    /// The image file (or records file) concerned.
    pub path: PathBuf,
    /// Why, for a person.
    pub reason: String,
}

impl RecordError {
    pub(crate) fn new(id: RecordId, path: &Path, reason: impl Into<String>) -> RecordError {
        RecordError {
            id,
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    fn from_error(source: &Source, e: Error) -> RecordError {
        let reason = match &e {
            Error::Image { reason, .. } => reason.clone(),
            other => other.to_string(),
        };
        RecordError {
            id: source.id.clone(),
            path: source.input.display_path(),
            reason,
        }
    }
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// What an ingest call did. Every record given is in exactly one of: added,
/// replaced, failed (`empty` records are also counted as added or replaced).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddReport {
    /// New records stored.
    pub added: usize,
    /// Existing records replaced (same id given again).
    pub replaced: usize,
    /// Records stored with no features (the image gave no keypoints even at
    /// the lowest thresholds): findable by id, never a search hit.
    pub empty: Vec<RecordId>,
    /// Records not stored, with the reason.
    pub failed: Vec<RecordError>,
}

impl AddReport {
    /// Whether every record given was stored.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// What training did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainReport {
    /// Images described.
    pub images: usize,
    /// Descriptors extracted from them.
    pub descriptors: u64,
    /// Descriptors in the training sample.
    pub sampled: usize,
    /// Words in the trained codebook.
    pub words: usize,
    /// The generation installed.
    pub generation: u32,
    /// Images that could not be used.
    pub failed: Vec<RecordError>,
}

/// Receives progress of long operations (for progress bars). Every method
/// has a no-op default.
pub trait Progress: Send + Sync {
    /// A phase begins with `total` steps (images).
    fn start(&self, _phase: &str, _total: u64) {}
    /// `n` more steps are done.
    fn advance(&self, _n: u64) {}
    /// The phase ended.
    fn finish(&self) {}
}

struct NoProgress;
impl Progress for NoProgress {}

/// The one writer of an index: adds, replaces and removes records, and
/// trains codebooks. Obtained from [`Index::writer`](crate::Index::writer);
/// dropping it lets another writer start.
pub struct IndexWriter {
    inner: Arc<Inner>,
    opts: RunOptions,
    progress: Arc<dyn Progress>,
}

impl Drop for IndexWriter {
    fn drop(&mut self) {
        self.inner.writer_busy.store(false, Ordering::Release);
    }
}

impl IndexWriter {
    pub(crate) fn new(inner: Arc<Inner>, opts: RunOptions) -> Result<IndexWriter> {
        opts.validate()?;
        if inner.writer_busy.swap(true, Ordering::AcqRel) {
            return Err(Error::WriterBusy);
        }
        Ok(IndexWriter {
            inner,
            opts,
            progress: Arc::new(NoProgress),
        })
    }

    /// Reports progress to `p` from now on.
    pub fn set_progress(&mut self, p: Arc<dyn Progress>) {
        self.progress = p;
    }

    fn workers(&self) -> usize {
        self.opts.resolved_workers()
    }

    /// Trains a codebook on `sources` and installs it as the active
    /// generation, without storing records. The index must hold no records.
    pub fn train(&mut self, sources: Vec<Source>) -> Result<TrainReport> {
        self.require_empty()?;
        let (report, _) = self.train_inner(sources, false)?;
        Ok(report)
    }

    /// Trains a codebook on `sources` and stores every one of them as a
    /// record, extracting each image once. The index must hold no records.
    pub fn build(&mut self, sources: Vec<Source>) -> Result<(TrainReport, AddReport)> {
        self.require_empty()?;
        let (train, kept) = self.train_inner(sources, true)?;
        let active = self.inner.active()?.ok_or(Error::NoCodebook)?;
        let mut report = AddReport::default();
        self.progress.start("index", kept.len() as u64);
        let mut batch = Vec::new();
        for (source, item) in kept {
            batch.push((source, item));
            if batch.len() >= self.opts.batch_size {
                self.commit(&active, std::mem::take(&mut batch), &mut report)?;
            }
        }
        self.commit(&active, batch, &mut report)?;
        self.progress.finish();
        report.failed.extend(train.failed.iter().cloned());
        Ok((train, report))
    }

    fn require_empty(&self) -> Result<()> {
        if let Some(a) = self.inner.active()? {
            if self.inner.store.doc_count(&a.generation)? > 0 {
                return Err(Error::InvalidConfig(
                    "the index already holds records: add to it, or rebuild it".into(),
                ));
            }
        }
        Ok(())
    }

    /// Phase 1 of build/train: extract every source once, sample descriptors,
    /// train, compute IDF over the sources' histograms, install. With
    /// `keep`, returns each good source with its words for phase 2.
    fn train_inner(
        &mut self,
        sources: Vec<Source>,
        keep: bool,
    ) -> Result<(TrainReport, Vec<(Source, Item)>)> {
        let cfg = self.inner.config.clone();
        let params = self.inner.extract_params();
        let budget = self.opts.memory_budget();
        // Half the budget for the training sample, half for features kept
        // between the two phases; beyond that an image is extracted again.
        let width_bytes = if cfg.feature.is_binary() {
            4 * 8 * 64
        } else {
            4 * 128
        };
        let sample_cap = (cfg.sample_cap as u64)
            .min(budget / 2 / width_bytes as u64)
            .max(2) as usize;
        let mut keep_budget = budget / 2;
        let mut sampler = Sampler::new(sample_cap, cfg.seed);
        let mut report = TrainReport::default();
        let mut kept: Vec<(Source, Option<Item>)> = Vec::new();
        self.progress.start("extract", sources.len() as u64);
        let clock = std::time::Instant::now();
        let rx = extract_batches(sources, params, None, self.workers(), self.opts.batch_size)?;
        for batch in rx {
            self.progress.advance(batch.len() as u64);
            for Extracted { source, result } in batch {
                match result {
                    Err(e) => report.failed.push(RecordError::from_error(&source, e)),
                    Ok(item) => {
                        report.images += 1;
                        report.descriptors += item.features.descriptors.len() as u64;
                        sampler.offer(&item.features.descriptors);
                        let bytes = item.features.descriptors.heap_bytes() as u64;
                        if keep_budget >= bytes {
                            keep_budget -= bytes;
                            kept.push((source, Some(item)));
                        } else {
                            kept.push((source, None));
                        }
                    }
                }
            }
        }
        self.progress.finish();
        report.sampled = sampler.len();
        tracing::info!(
            images = report.images,
            descriptors = report.descriptors,
            sampled = report.sampled,
            seconds = clock.elapsed().as_secs_f64(),
            "extracted"
        );
        let sample = sampler.into_descriptors();
        self.progress.start("train", 1);
        let clock = std::time::Instant::now();
        let codebook = Arc::new(vocab::train(
            &sample,
            cfg.words as usize,
            cfg.kmeans_iterations,
            cfg.seed,
        )?);
        drop(sample);
        self.progress.finish();
        tracing::info!(
            words = codebook.words(),
            seconds = clock.elapsed().as_secs_f64(),
            "trained codebook"
        );
        report.words = codebook.words();

        // Words of every image: quantize the kept descriptors, re-extract the
        // rest.
        let mut out: Vec<(Source, Item)> = Vec::with_capacity(kept.len());
        let mut again = Vec::new();
        let mut slots = Vec::new();
        for (source, item) in kept {
            match item {
                Some(mut item) => {
                    item.words = Some(codebook.quantize(&item.features.descriptors)?);
                    item.features.descriptors = crate::features::Descriptors::Float {
                        dim: 1,
                        data: Vec::new(),
                    };
                    out.push((source, item));
                }
                None => {
                    slots.push(out.len());
                    again.push(source);
                    out.push((Source::bytes(RecordId::from(""), Vec::new()), placeholder()));
                }
            }
        }
        if !again.is_empty() {
            let rx = extract_batches(
                again,
                params,
                Some(codebook.clone()),
                self.workers(),
                self.opts.batch_size,
            )?;
            let mut slot = slots.into_iter();
            for batch in rx {
                for Extracted { source, result } in batch {
                    let Some(i) = slot.next() else { break };
                    match result {
                        Ok(item) => out[i] = (source, item),
                        // Readable once, unreadable now: the file changed.
                        Err(e) => report.failed.push(RecordError::from_error(&source, e)),
                    }
                }
            }
            out.retain(|(_, item)| item.words.is_some());
        }

        let mut df = vec![0u32; codebook.words()];
        for (_, item) in &out {
            for (w, _) in weights::histogram(item.words.as_deref().unwrap_or(&[])) {
                df[w as usize] += 1;
            }
        }
        let idf = weights::idf(&df, out.len() as u64);
        let g = self.inner.store.install_generation(&codebook, &idf)?;
        report.generation = g.n;
        self.inner
            .set_active(Active::new(g, (*codebook).clone(), idf, params));
        if !keep {
            out.clear();
        }
        Ok((report, out))
    }

    /// Adds records (re-adding an id replaces its record), in batches of one
    /// transaction each. Returns after the last batch is durable.
    pub fn add(&mut self, sources: Vec<Source>) -> Result<AddReport> {
        let active = self.inner.active()?.ok_or(Error::NoCodebook)?;
        let mut report = AddReport::default();
        self.progress.start("add", sources.len() as u64);
        let rx = extract_batches(
            sources,
            active.params,
            Some(Arc::new(active.codebook.clone())),
            self.workers(),
            self.opts.batch_size,
        )?;
        for batch in rx {
            let mut good = Vec::with_capacity(batch.len());
            for Extracted { source, result } in batch {
                match result {
                    Ok(item) => good.push((source, item)),
                    Err(e) => report.failed.push(RecordError::from_error(&source, e)),
                }
            }
            self.commit(&active, good, &mut report)?;
        }
        self.progress.finish();
        Ok(report)
    }

    /// Installs a codebook trained elsewhere as a new active generation, with
    /// IDF weights (one per word; `None` gives every word weight 1). The
    /// index must hold no records. The codebook must match the index's
    /// feature type (float for SIFT/RootSIFT, binary otherwise).
    pub fn install_codebook(&mut self, codebook: Codebook, idf: Option<Vec<f32>>) -> Result<u32> {
        self.require_empty()?;
        let words = codebook.words();
        if words < 2 {
            return Err(Error::InvalidConfig(
                "a codebook needs at least 2 words".into(),
            ));
        }
        if matches!(codebook, Codebook::Binary { .. }) != self.inner.config.feature.is_binary() {
            return Err(Error::InvalidConfig(format!(
                "codebook kind does not match feature {}",
                self.inner.config.feature
            )));
        }
        let idf = idf.unwrap_or_else(|| vec![1.0; words]);
        if idf.len() != words || idf.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(Error::InvalidConfig(format!(
                "need {words} finite, non-negative IDF weights"
            )));
        }
        let g = self.inner.store.install_generation(&codebook, &idf)?;
        let n = g.n;
        self.inner
            .set_active(Active::new(g, codebook, idf, self.inner.extract_params()));
        Ok(n)
    }

    /// Adds records given directly as visual words (one entry per feature),
    /// bypassing image extraction: for vocabularies and features computed
    /// elsewhere, and for load generation. Batched like [`add`](Self::add).
    pub fn add_words(&mut self, records: Vec<(RecordId, Vec<u32>)>) -> Result<AddReport> {
        let active = self.inner.active()?.ok_or(Error::NoCodebook)?;
        let k = active.codebook.words() as u32;
        let mut report = AddReport::default();
        let mut batch = Vec::new();
        let mut records = records.into_iter().peekable();
        while let Some((id, words)) = records.next() {
            if let Some(w) = words.iter().find(|w| **w >= k) {
                report.failed.push(RecordError::new(
                    id,
                    Path::new("<words>"),
                    format!("word {w} outside the {k}-word vocabulary"),
                ));
            } else {
                let features = placeholder().features;
                let hash = words
                    .iter()
                    .fold(0u64, |h, w| h.rotate_left(7) ^ u64::from(*w));
                batch.push((
                    Source::bytes(id, Vec::new()),
                    Item {
                        features,
                        words: Some(words),
                        hash,
                    },
                ));
            }
            if batch.len() >= self.opts.batch_size || records.peek().is_none() {
                self.commit(&active, std::mem::take(&mut batch), &mut report)?;
            }
        }
        Ok(report)
    }

    /// Removes records by id, everywhere, in one transaction. Returns how
    /// many existed.
    pub fn remove<I, R>(&mut self, ids: I) -> Result<usize>
    where
        I: IntoIterator<Item = R>,
        R: Into<RecordId>,
    {
        let active = self.inner.active()?.ok_or(Error::NoCodebook)?;
        let removes = ids
            .into_iter()
            .map(|r| r.into().as_bytes().to_vec())
            .collect();
        let done = self.inner.store.commit(
            &active.generation,
            Batch {
                adds: Vec::new(),
                removes,
            },
        )?;
        Ok(done.removed)
    }

    /// Commits one batch of described records.
    fn commit(
        &self,
        active: &Active,
        items: Vec<(Source, Item)>,
        report: &mut AddReport,
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let n = items.len() as u64;
        // Within a batch a repeated id keeps its last image; the earlier one
        // counts as replaced.
        let mut last = std::collections::HashMap::new();
        for (i, (s, _)) in items.iter().enumerate() {
            last.insert(s.id.clone(), i);
        }
        let mut next = self.inner.store.next_doc()?;
        let mut batch = Batch::default();
        for (i, (source, item)) in items.into_iter().enumerate() {
            if last.get(&source.id) != Some(&i) {
                report.replaced += 1;
                continue;
            }
            let words = item.words.unwrap_or_default();
            let entries = weights::histogram(&words);
            let (cos_norm, l1_norm) = weights::norms(&entries, &active.idf);
            if entries.is_empty() {
                report.empty.push(source.id.clone());
            }
            let keypoints = if item.features.keypoints.is_empty() {
                words.len()
            } else {
                item.features.keypoints.len()
            };
            let source_bytes = match &source.input {
                ImageInput::Path(p) => p.to_string_lossy().into_owned().into_bytes(),
                ImageInput::Bytes(_) => Vec::new(),
            };
            batch.adds.push(NewDoc {
                doc_id: next,
                doc: DocRecord {
                    record_id: source.id.as_bytes().to_vec(),
                    source: source_bytes,
                    content_hash: item.hash,
                    keypoints: keypoints as u32,
                    words: entries.len() as u32,
                },
                hist: Histogram {
                    cos_norm,
                    l1_norm,
                    entries,
                },
            });
            next += 1;
        }
        let done = self.inner.store.commit(&active.generation, batch)?;
        report.added += done.added;
        report.replaced += done.replaced;
        self.progress.advance(n);
        Ok(())
    }
}

fn placeholder() -> Item {
    Item {
        features: crate::features::Features {
            keypoints: Vec::new(),
            descriptors: crate::features::Descriptors::Float {
                dim: 1,
                data: Vec::new(),
            },
            relaxations: 0,
            size: (0, 0),
        },
        words: None,
        hash: 0,
    }
}
