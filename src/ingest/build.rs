//! Training: `train`, `build` and `rebuild`.
//!
//! Up to `RunOptions::training_images` images, every image is described
//! once: phase 1 extracts every image on the pipeline, offers its
//! descriptors to the bounded training sample and spills them to a
//! temporary file. The codebook is trained on the sample. Phase 2 reads the
//! spill back in batches, quantizes on every core, counts document
//! frequencies and spills the words. IDF follows from the counts; phase 3
//! reads the words back and commits (build) or fills the new generation
//! (rebuild).
//!
//! Above that, no image's descriptors or words go to disk: the codebook is
//! trained on a seeded random subset of `training_images` images and IDF
//! counted over that subset's words (describing it twice); every other image
//! is described once, while the records are committed ([`super::stream`]).
//! Temporary disk then stays at zero and the subset's extra description is a
//! bounded cost, where a spill grows with the collection (512 bytes per SIFT
//! descriptor).
//!
//! Memory holds the sample, a few batches, and in the second case the
//! subset's words and keypoints, whatever the number of images.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::pipeline::{extract_batches, Extracted};
use super::spill::{Payload, SpillWriter, Spilled};
use super::stream::{Described, Stream};
use super::writer::{bytes_path, source_bytes, Pending};
use super::{AddReport, IndexWriter, RebuildReport, RecordError, Source, TrainReport};
use crate::config::{Feature, IndexConfig};
use crate::error::{Error, Result};
use crate::features::ExtractParams;
use crate::scoring;
use crate::shared::Vocabulary;
use crate::store::{Geometry, Histogram};
use crate::vocab::{self, Codebook, Sampler};
use crate::RecordId;

/// A trained codebook with the words of every image it was trained on.
struct Trained {
    report: TrainReport,
    codebook: Codebook,
    idf: Vec<f32>,
    /// One [`Payload::Words`] record per good image, in source order.
    words: Described,
}

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
        let g = self.shared.store.install_generation(&t.codebook, &t.idf)?;
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
        let g = self.shared.store.install_generation(&t.codebook, &t.idf)?;
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
        let g = store.prepare_generation(&t.codebook, &t.idf)?;
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

    /// Describes `sources` and trains a codebook and IDF on them; the
    /// records come back in source order (see the module comment), or,
    /// without `records`, only those that were described anyway.
    fn describe_and_train(
        &mut self,
        sources: Vec<(u64, Source)>,
        cfg: &IndexConfig,
        records: bool,
    ) -> Result<Trained> {
        let subset = self.opts.training_images;
        if subset == 0 || sources.len() <= subset {
            self.describe_all_and_train(sources, cfg)
        } else {
            self.train_on_subset(sources, cfg, subset, records)
        }
    }

    fn extract_params(&self, cfg: &IndexConfig) -> ExtractParams {
        ExtractParams {
            max_file_bytes: self.opts.max_file_bytes,
            ..ExtractParams::from(cfg)
        }
    }

    /// The bounded training sample: half the memory budget bounds it (and
    /// k-means' copy of it).
    fn sampler(&self, cfg: &IndexConfig) -> Sampler {
        let budget = self.opts.memory_budget();
        let row_bytes: u64 = if cfg.feature.is_binary() {
            4 * 8 * 64
        } else {
            4 * 128
        };
        let sample_cap = u64::from(cfg.sample_cap)
            .min(u64::from(cfg.samples_per_word) * u64::from(cfg.words))
            .min(budget / 4 / row_bytes)
            .max(2) as usize;
        Sampler::new(sample_cap, cfg.seed)
    }

    /// Trains the codebook on the sample.
    fn train_codebook(
        &mut self,
        sampler: Sampler,
        cfg: &IndexConfig,
        report: &mut TrainReport,
    ) -> Result<Codebook> {
        let clock = Instant::now();
        self.progress.start("train", 1);
        let sample = sampler.into_descriptors();
        let codebook =
            vocab::train_vocabulary(&sample, cfg.words as usize, cfg.kmeans_iterations, cfg.seed)?;
        drop(sample);
        self.progress.finish();
        report.words = codebook.words();
        report.seconds[1] = clock.elapsed().as_secs_f64();
        tracing::info!(
            words = report.words,
            seconds = report.seconds[1],
            "trained codebook"
        );
        Ok(codebook)
    }

    /// Training on a seeded random subset of `subset` images, the others
    /// streamed (see the module comment).
    fn train_on_subset(
        &mut self,
        sources: Vec<(u64, Source)>,
        cfg: &IndexConfig,
        subset: usize,
        records: bool,
    ) -> Result<Trained> {
        let params = self.extract_params(cfg);
        let mut sampler = self.sampler(cfg);
        let mut report = TrainReport::default();
        let chosen = training_subset(sources.len(), subset, cfg.seed);
        let mut is_chosen = vec![false; sources.len()];
        for &i in &chosen {
            is_chosen[i] = true;
        }
        let mut training = Vec::with_capacity(chosen.len());
        let mut others = Vec::with_capacity(sources.len() - chosen.len());
        let mut other_sources = Vec::with_capacity(sources.len() - chosen.len());
        for (i, (tag, source)) in sources.into_iter().enumerate() {
            if is_chosen[i] {
                training.push((i, tag, source));
            } else {
                others.push((i, tag));
                other_sources.push(source);
            }
        }

        let clock = Instant::now();
        self.progress.start("extract", training.len() as u64);
        let first: Vec<Source> = training.iter().map(|(_, _, s)| s.clone()).collect();
        let rx = extract_batches(first, params, None, self.workers(), self.opts.batch_size)?;
        for batch in rx {
            self.progress.advance(batch.len() as u64);
            // Failures are reported once, when the subset is described again.
            for Extracted { result, .. } in batch {
                if let Ok(item) = result {
                    report.images += 1;
                    report.descriptors += item.features.descriptors.len() as u64;
                    sampler.offer(&item.features.descriptors);
                }
            }
        }
        self.progress.finish();
        report.sampled = sampler.len();
        report.seconds[0] = clock.elapsed().as_secs_f64();
        tracing::info!(
            images = report.images,
            descriptors = report.descriptors,
            sampled = report.sampled,
            seconds = report.seconds[0],
            "extracted the training subset"
        );
        let codebook = self.train_codebook(sampler, cfg, &mut report)?;

        // The subset again, quantized by the workers: its words give IDF,
        // and its records wait in memory for their turn.
        let clock = Instant::now();
        let shared = Arc::new(codebook.clone());
        let (places, again): (Vec<(usize, u64)>, Vec<Source>) = training
            .into_iter()
            .map(|(i, tag, s)| ((i, tag), s))
            .unzip();
        self.progress.start("quantize", again.len() as u64);
        let rx = extract_batches(
            again,
            params,
            Some(shared.clone()),
            self.workers(),
            self.opts.batch_size,
        )?;
        let mut places = places.into_iter();
        let mut held = std::collections::BTreeMap::new();
        let mut df = vec![0u32; codebook.words()];
        for batch in rx {
            self.progress.advance(batch.len() as u64);
            for Extracted { source, result } in batch {
                let Some((position, tag)) = places.next() else {
                    break;
                };
                match result {
                    Err(e) => report.failed.push(RecordError::from_error(&source, e)),
                    Ok(item) => {
                        let words = item.words.unwrap_or_default();
                        for (word, _) in scoring::histogram(&words) {
                            df[word as usize] += 1;
                        }
                        held.insert(
                            position,
                            Spilled {
                                tag,
                                id: source.id.as_bytes().to_vec(),
                                source: source_bytes(&source.input),
                                hash: item.hash,
                                keypoints: item.features.keypoints,
                                payload: Payload::Words(words),
                            },
                        );
                    }
                }
            }
        }
        self.progress.finish();
        let idf = scoring::idf(&df, held.len() as u64);
        report.seconds[2] = clock.elapsed().as_secs_f64();
        tracing::info!(
            images = held.len(),
            seconds = report.seconds[2],
            "quantized the training subset"
        );
        let stream = if records {
            let rest = extract_batches(
                other_sources,
                params,
                Some(shared),
                self.workers(),
                self.opts.batch_size,
            )?;
            Stream::new(held, others, rest)
        } else {
            Stream::new(held, Vec::new(), crossbeam_channel::never())
        };
        Ok(Trained {
            report,
            codebook,
            idf,
            words: Described::Streamed(stream),
        })
    }

    /// Every image described once, its descriptors spilled until the
    /// codebook exists (see the module comment).
    fn describe_all_and_train(
        &mut self,
        sources: Vec<(u64, Source)>,
        cfg: &IndexConfig,
    ) -> Result<Trained> {
        let params = self.extract_params(cfg);
        let dir = self.shared.store.path().to_path_buf();
        let mut sampler = self.sampler(cfg);
        let mut report = TrainReport::default();
        let mut spill = SpillWriter::create(&dir)?;

        let clock = Instant::now();
        self.progress.start("extract", sources.len() as u64);
        let (tags, sources): (Vec<u64>, Vec<Source>) = sources.into_iter().unzip();
        let mut tags = tags.into_iter();
        let rx = extract_batches(sources, params, None, self.workers(), self.opts.batch_size)?;
        for batch in rx {
            self.progress.advance(batch.len() as u64);
            for Extracted { source, result } in batch {
                let tag = tags.next().unwrap_or_default();
                match result {
                    Err(e) => report.failed.push(RecordError::from_error(&source, e)),
                    Ok(item) => {
                        report.images += 1;
                        report.descriptors += item.features.descriptors.len() as u64;
                        sampler.offer(&item.features.descriptors);
                        spill.write(&Spilled {
                            tag,
                            source: source_bytes(&source.input),
                            id: source.id.as_bytes().to_vec(),
                            hash: item.hash,
                            keypoints: item.features.keypoints,
                            payload: Payload::Descriptors(item.features.descriptors),
                        })?;
                    }
                }
            }
        }
        self.progress.finish();
        report.sampled = sampler.len();
        report.seconds[0] = clock.elapsed().as_secs_f64();
        tracing::info!(
            images = report.images,
            descriptors = report.descriptors,
            sampled = report.sampled,
            seconds = report.seconds[0],
            "extracted"
        );

        let codebook = self.train_codebook(sampler, cfg, &mut report)?;

        let clock = Instant::now();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.workers())
            .build()
            .map_err(|e| Error::InvalidConfig(format!("cannot start workers: {e}")))?;
        let spilled = spill.bytes();
        let mut described = spill.into_reader()?;
        let mut out = SpillWriter::create(&dir)?;
        let mut df = vec![0u32; codebook.words()];
        self.progress.start("quantize", described.remaining());
        while described.remaining() > 0 {
            let chunk = described.next_chunk(self.opts.batch_size)?;
            let quantized: Vec<Result<Spilled>> = pool.install(|| {
                chunk
                    .into_par_iter()
                    .map(|mut s| {
                        let words = match &s.payload {
                            Payload::Descriptors(d) => codebook.quantize(d)?,
                            _ => Vec::new(),
                        };
                        s.payload = Payload::Words(words);
                        Ok(s)
                    })
                    .collect()
            });
            self.progress.advance(quantized.len() as u64);
            for s in quantized {
                let s = s?;
                if let Payload::Words(w) = &s.payload {
                    for (word, _) in scoring::histogram(w) {
                        df[word as usize] += 1;
                    }
                }
                out.write(&s)?;
            }
        }
        self.progress.finish();
        let images = out.len();
        let idf = scoring::idf(&df, images);
        // Both files exist at this point: the most temporary disk used.
        report.scratch_bytes = spilled + out.bytes();
        report.seconds[2] = clock.elapsed().as_secs_f64();
        tracing::info!(images, seconds = report.seconds[2], "quantized");
        Ok(Trained {
            report,
            codebook,
            idf,
            words: Described::Spilled(out.into_reader()?),
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

/// `k` of `0..n`, in increasing order, chosen at random with `seed`: the
/// same `n`, `k` and seed choose the same subset.
fn training_subset(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut keyed: Vec<(u64, usize)> = (0..n)
        .map(|i| (splitmix64(seed ^ splitmix64(i as u64)), i))
        .collect();
    let k = k.min(n);
    if k < n {
        keyed.select_nth_unstable(k);
    }
    let mut chosen: Vec<usize> = keyed[..k].iter().map(|&(_, i)| i).collect();
    chosen.sort_unstable();
    chosen
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
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
