//! `train`, `build` and `rebuild`: describe and train ([`super::training`]),
//! then install the codebook and commit the records (build) or fill a new
//! generation and switch to it (rebuild).
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::spill::{Payload, Spilled};
use super::writer::{bytes_path, Pending};
use super::{AddReport, IndexWriter, RebuildReport, RecordError, Source, TrainReport};
use crate::config::Feature;
use crate::error::{Error, Result};
use crate::features::ExtractParams;
use crate::scoring;
use crate::shared::Vocabulary;
use crate::store::{Geometry, Histogram, Trained};
use crate::RecordId;

/// How long a rebuild waits for searches still running on the old
/// generation before dropping its trees (they are dropped on the next open
/// otherwise).
const DRAIN: Duration = Duration::from_secs(10);

impl IndexWriter {
    /// Trains a codebook on `sources` and installs it as the active
    /// generation, without storing records. The index must hold no records.
    pub fn train(&mut self, sources: Vec<Source>) -> Result<crate::TrainReport> {
        self.require_empty()?;
        let cfg = self.shared.config();
        let t = self.describe_and_train(untagged(sources), &cfg, false)?;
        let mut report = t.report;
        let g =
            self.shared
                .store
                .install_generation(&t.codebook, &t.idf, Some(trained(&report)))?;
        report.generation = g.n;
        self.shared.set_active(Vocabulary::new(
            g,
            t.codebook,
            t.idf,
            ExtractParams::from(&cfg),
        ));
        Ok(report)
    }

    /// Trains a codebook on `sources` and stores every one of them as a
    /// record, extracting each image once. The index must hold no records.
    pub fn build(&mut self, sources: Vec<Source>) -> Result<(TrainReport, AddReport)> {
        self.require_empty()?;
        let cfg = self.shared.config();
        let mut t = self.describe_and_train(untagged(sources), &cfg, true)?;
        let g =
            self.shared
                .store
                .install_generation(&t.codebook, &t.idf, Some(trained(&t.report)))?;
        t.report.generation = g.n;
        self.shared.set_active(Vocabulary::new(
            g,
            t.codebook,
            t.idf,
            ExtractParams::from(&cfg),
        ));
        let active = self.shared.active()?.ok_or(Error::NoCodebook)?;
        let mut report = AddReport::default();
        self.progress.start("index", t.words.remaining());
        while t.words.remaining() > 0 {
            let before = t.words.remaining();
            let chunk = t.words.next_chunk(self.opts.batch_size)?;
            let pending = chunk.into_iter().map(pending_of).collect();
            self.commit(&active, pending, &mut report)?;
            t.report.failed.extend(t.words.take_failed());
            self.progress.advance(before - t.words.remaining());
        }
        self.progress.finish();
        // A built index starts with every posting in blocks.
        self.seal()?;
        report.failed.extend(t.report.failed.iter().cloned());
        Ok((t.report, report))
    }

    /// Trains a new codebook (optionally with another vocabulary size or
    /// feature) over every stored record, re-extracting each from its source
    /// file, fills a new generation with their histograms and postings, and
    /// switches to it in one transaction. Searches keep answering from the old
    /// generation until the switch; a crash at any moment leaves the index
    /// wholly old or wholly new.
    ///
    /// Fails, changing nothing, when a record was added from in-memory bytes
    /// (there is no file to re-extract) or when a source file can no longer be
    /// described.
    pub fn rebuild(
        &mut self,
        words: Option<u32>,
        feature: Option<Feature>,
    ) -> Result<RebuildReport> {
        let old = self.shared.active()?.ok_or(Error::NoCodebook)?;
        let previous = old.generation.n;
        drop(old);
        let mut cfg = self.shared.config();
        if let Some(w) = words {
            cfg.words = w;
            cfg.sample_cap = cfg.sample_cap.max(w);
        }
        if let Some(f) = feature {
            // A keypoint count equal to the old feature's default (the
            // index does not record whether it was chosen) follows the
            // feature; any other count stays.
            if cfg.max_features == cfg.feature.default_max_features() {
                cfg.max_features = f.default_max_features();
            }
            cfg.feature = f;
        }
        cfg.validate()?;
        let mut tagged = Vec::new();
        let mut in_memory = Vec::new();
        for d in self.shared.store.docs() {
            let (doc, rec) = d?;
            let id = RecordId::from(rec.record_id);
            if rec.source.is_empty() {
                in_memory.push(id.to_string());
            } else {
                tagged.push((doc, Source::path(id, bytes_path(&rec.source))));
            }
        }
        if !in_memory.is_empty() {
            return Err(Error::InvalidConfig(format!(
                "cannot rebuild: {} records were added from in-memory bytes and have no file to re-extract (first: {})",
                in_memory.len(),
                in_memory[0]
            )));
        }
        let mut t = self.describe_and_train(tagged, &cfg, true)?;
        if let Some(e) = rebuild_failure(&t.report.failed) {
            return Err(e);
        }
        let store = &self.shared.store;
        let g = store.prepare_generation(&t.codebook, &t.idf, Some(trained(&t.report)))?;
        t.report.generation = g.n;
        self.progress.start("index", t.words.remaining());
        let mut records = 0;
        while t.words.remaining() > 0 {
            let before = t.words.remaining();
            let chunk = t.words.next_chunk(self.opts.batch_size)?;
            let failed = t.words.take_failed();
            if let Some(e) = rebuild_failure(&failed) {
                // The new generation was never active: dropping it leaves
                // the index as it was.
                let _ = store.drop_generation(g.n);
                return Err(e);
            }
            let docs: Vec<(u64, Histogram, Option<Geometry>)> = chunk
                .into_iter()
                .map(|s| {
                    let words = match &s.payload {
                        Payload::Words(w) => w.as_slice(),
                        _ => &[],
                    };
                    let entries = scoring::histogram(words);
                    let (cos_norm, l1_norm) = scoring::norms(&entries, &t.idf);
                    (
                        s.tag,
                        Histogram {
                            cos_norm,
                            l1_norm,
                            entries,
                        },
                        Some(Geometry::from_features(words, &s.keypoints)),
                    )
                })
                .collect();
            records += docs.len() as u64;
            store.fill_generation(&g, &docs)?;
            self.progress.advance(before - t.words.remaining());
        }
        self.progress.finish();
        // The new generation starts with every posting in blocks.
        store.seal(&g, store.next_doc()?)?;
        store.activate(&g, Some(&cfg))?;
        let params = ExtractParams::from(&cfg);
        let old = self
            .shared
            .switch(Vocabulary::new(g, t.codebook, t.idf, params), cfg);
        // Searches that started before the switch hold the old vocabulary;
        // its trees go once they are done.
        if let Some(old) = old {
            let started = Instant::now();
            while Arc::strong_count(&old) > 1 && started.elapsed() < DRAIN {
                std::thread::sleep(Duration::from_millis(1));
            }
            if Arc::strong_count(&old) == 1 {
                drop(old);
                store.drop_generation(previous)?;
            }
        }
        Ok(RebuildReport {
            train: t.report,
            records,
            previous,
        })
    }
}

/// The error that stops a rebuild when records could not be re-extracted.
fn rebuild_failure(failed: &[RecordError]) -> Option<Error> {
    let f = failed.first()?;
    Some(Error::image(
        &f.path,
        format!(
            "cannot re-extract record {} for the rebuild ({}); {} records failed, nothing was changed",
            f.id,
            f.reason,
            failed.len()
        ),
    ))
}

fn untagged(sources: Vec<Source>) -> Vec<(u64, Source)> {
    sources.into_iter().map(|s| (0, s)).collect()
}

fn pending_of(s: Spilled) -> Pending {
    let words = match s.payload {
        Payload::Words(w) => w,
        _ => Vec::new(),
    };
    Pending {
        id: RecordId::from(s.id),
        source: s.source,
        hash: s.hash,
        geometry: Some(Geometry::from_features(&words, &s.keypoints)),
        words,
    }
}

/// What a training run's vocabulary was trained on, as the generation
/// records it.
fn trained(r: &TrainReport) -> Trained {
    Trained {
        images: r.images as u64,
        descriptors: r.descriptors,
    }
}
