//! The writer: incremental adds, replacements and removals, one transaction
//! per batch.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::pipeline::{extract_batches, Extracted};
use super::{AddReport, NoProgress, Progress, RecordError, Source};
use crate::config::RunOptions;
use crate::error::{Error, Result};
use crate::features::{ExtractParams, ImageInput};
use crate::scoring;
use crate::shared::{Shared, Vocabulary};
use crate::store::codec::MAX_RECORD_ID;
use crate::store::{Batch, DocRecord, Geometry, Histogram, NewDoc, Trained};
use crate::vocab::Codebook;
use crate::RecordId;

/// One described record waiting for its batch.
pub(crate) struct Pending {
    pub id: RecordId,
    /// The image's path bytes, or empty for in-memory input.
    pub source: Vec<u8>,
    pub hash: u64,
    pub words: Vec<u32>,
    /// The features' words and keypoints, when extracted from an image.
    pub geometry: Option<Geometry>,
}

/// The one writer of an index: adds, replaces and removes records, and
/// trains codebooks. Obtained from [`Index::writer`](crate::Index::writer);
/// dropping it lets another writer start.
pub struct IndexWriter {
    pub(super) shared: Arc<Shared>,
    pub(super) opts: RunOptions,
    pub(super) progress: Arc<dyn Progress>,
}

impl Drop for IndexWriter {
    fn drop(&mut self) {
        self.shared.writer_busy.store(false, Ordering::Release);
    }
}

impl IndexWriter {
    pub(crate) fn new(shared: Arc<Shared>, opts: RunOptions) -> Result<IndexWriter> {
        opts.validate()?;
        if shared.writer_busy.swap(true, Ordering::AcqRel) {
            return Err(Error::WriterBusy);
        }
        Ok(IndexWriter {
            shared,
            opts,
            progress: Arc::new(NoProgress),
        })
    }

    /// Reports progress to `p` from now on.
    pub fn set_progress(&mut self, p: Arc<dyn Progress>) {
        self.progress = p;
    }

    pub(super) fn workers(&self) -> usize {
        self.opts.resolved_workers()
    }

    /// Adds records (re-adding an id replaces its record), in batches of one
    /// transaction each, extracting on every core while the previous batch
    /// commits. Returns after the last batch is durable.
    pub fn add(&mut self, sources: Vec<Source>) -> Result<AddReport> {
        let active = self.shared.active()?.ok_or(Error::NoCodebook)?;
        let mut report = AddReport::default();
        self.progress.start("add", sources.len() as u64);
        let params = ExtractParams {
            max_file_bytes: self.opts.max_file_bytes,
            ..active.params
        };
        let rx = extract_batches(
            sources,
            params,
            Some(Arc::new(active.codebook.clone())),
            self.workers(),
            self.opts.batch_size,
        )?;
        for batch in rx {
            let n = batch.len() as u64;
            let mut good = Vec::with_capacity(batch.len());
            for Extracted { source, result } in batch {
                match result {
                    Ok(item) => {
                        let words = item.words.unwrap_or_default();
                        good.push(Pending {
                            source: source_bytes(&source.input),
                            id: source.id,
                            hash: item.hash,
                            geometry: Some(Geometry::from_features(
                                &words,
                                &item.features.keypoints,
                            )),
                            words,
                        })
                    }
                    Err(e) => report.failed.push(RecordError::from_error(&source, e)),
                }
            }
            self.commit(&active, good, &mut report)?;
            self.progress.advance(n);
        }
        self.progress.finish();
        Ok(report)
    }

    /// Installs a codebook trained elsewhere as a new active generation, with
    /// IDF weights (one per word; `None` gives every word weight 1). The
    /// index must hold no records. The codebook must match the index's
    /// feature type (float for SIFT/RootSIFT, binary otherwise).
    pub fn install_codebook(&mut self, codebook: Codebook, idf: Option<Vec<f32>>) -> Result<u32> {
        let idf = idf.unwrap_or_else(|| vec![1.0; codebook.words()]);
        self.install(codebook, idf, None)
    }

    /// Installs `codebook` and `idf` as a new active generation, with what
    /// training did when known. The index must hold no records.
    pub(super) fn install(
        &mut self,
        codebook: Codebook,
        idf: Vec<f32>,
        trained: Option<Trained>,
    ) -> Result<u32> {
        self.require_empty()?;
        let words = codebook.words();
        if words < 2 {
            return Err(Error::InvalidConfig(
                "a codebook needs at least 2 words".into(),
            ));
        }
        let feature = self.shared.config().feature;
        if codebook.is_binary() != feature.is_binary() {
            return Err(Error::InvalidConfig(format!(
                "codebook kind does not match feature {feature}"
            )));
        }
        if idf.len() != words || idf.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(Error::InvalidConfig(format!(
                "need {words} finite, non-negative IDF weights"
            )));
        }
        let g = self
            .shared
            .store
            .install_generation(&codebook, &idf, trained)?;
        let n = g.n;
        self.shared.set_active(Vocabulary::new(
            g,
            codebook,
            idf,
            self.shared.extract_params(),
        ));
        Ok(n)
    }

    /// Adds records given directly as visual words (one entry per feature),
    /// bypassing image extraction: for vocabularies and features computed
    /// elsewhere, and for load generation. Batched like [`add`](Self::add).
    pub fn add_words(&mut self, records: Vec<(RecordId, Vec<u32>)>) -> Result<AddReport> {
        let active = self.shared.active()?.ok_or(Error::NoCodebook)?;
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
                batch.push(Pending {
                    id,
                    source: Vec::new(),
                    hash: words
                        .iter()
                        .fold(0u64, |h, w| h.rotate_left(7) ^ u64::from(*w)),
                    words,
                    geometry: None,
                });
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
        let active = self.shared.active()?.ok_or(Error::NoCodebook)?;
        let removes = ids
            .into_iter()
            .map(|r| r.into().as_bytes().to_vec())
            .collect();
        let done = self.shared.store.commit(
            &active.generation,
            Batch {
                adds: Vec::new(),
                removes,
            },
        )?;
        Ok(done.removed)
    }

    /// Seals every record added so far into posting blocks now, instead of
    /// when the unsealed records reach
    /// [`IndexBuilder::seal_postings`](crate::IndexBuilder::seal_postings).
    /// Searches then read no histograms; `build` and `rebuild` end with it.
    /// Durable and crash-safe like every write (docs/STORAGE.md,
    /// "Sealing"); a no-op on indexes whose generation predates format 3.
    pub fn seal(&mut self) -> Result<()> {
        let active = self.shared.active()?.ok_or(Error::NoCodebook)?;
        let store = &self.shared.store;
        store.seal(&active.generation, store.next_doc()?)
    }

    pub(super) fn require_empty(&self) -> Result<()> {
        if let Some(a) = self.shared.active()? {
            if self.shared.store.doc_count(&a.generation)? > 0 {
                return Err(Error::InvalidConfig(
                    "the index already holds records: add to it, or rebuild it".into(),
                ));
            }
        }
        Ok(())
    }

    /// Commits one batch of described records as one transaction.
    pub(super) fn commit(
        &self,
        active: &Vocabulary,
        items: Vec<Pending>,
        report: &mut AddReport,
    ) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        // Within a batch a repeated id keeps its last image; the earlier one
        // counts as replaced.
        let mut last = HashMap::new();
        for (i, p) in items.iter().enumerate() {
            last.insert(p.id.clone(), i);
        }
        let mut next = self.shared.store.next_doc()?;
        let mut batch = Batch::default();
        for (i, p) in items.into_iter().enumerate() {
            if last.get(&p.id) != Some(&i) {
                report.replaced += 1;
                continue;
            }
            if p.id.as_bytes().len() > MAX_RECORD_ID || p.id.as_bytes().is_empty() {
                report.failed.push(RecordError::new(
                    p.id.clone(),
                    &super::writer::bytes_path(&p.source),
                    format!("record id must be 1 to {MAX_RECORD_ID} bytes long"),
                ));
                continue;
            }
            let entries = scoring::histogram(&p.words);
            let (cos_norm, l1_norm) = scoring::norms(&entries, &active.idf);
            if entries.is_empty() {
                report.empty.push(p.id.clone());
            }
            batch.adds.push(NewDoc {
                doc_id: next,
                doc: DocRecord {
                    record_id: p.id.as_bytes().to_vec(),
                    source: p.source,
                    content_hash: p.hash,
                },
                hist: Histogram {
                    cos_norm,
                    l1_norm,
                    entries,
                },
                geometry: p.geometry,
            });
            next += 1;
        }
        let done = self.shared.store.commit(&active.generation, batch)?;
        report.added += done.added;
        report.replaced += done.replaced;
        Ok(())
    }
}

/// The bytes stored as a record's source: its path, or nothing.
pub(super) fn source_bytes(input: &ImageInput) -> Vec<u8> {
    match input {
        ImageInput::Path(_) | ImageInput::Within { .. } => path_bytes(&input.display_path()),
        ImageInput::Bytes(_) | ImageInput::Pixels(_) => Vec::new(),
    }
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

/// A stored source back as a path (for re-extraction in a rebuild).
#[cfg(unix)]
pub(super) fn bytes_path(b: &[u8]) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    std::path::PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(not(unix))]
pub(super) fn bytes_path(b: &[u8]) -> std::path::PathBuf {
    std::path::PathBuf::from(String::from_utf8_lossy(b).into_owned())
}
