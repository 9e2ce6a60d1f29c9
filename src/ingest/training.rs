//! Describing a build's or rebuild's images and training its codebook and
//! IDF on them.
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

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Receiver;
use rayon::prelude::*;

use super::pipeline::{extract_batches, Extracted, Item};
use super::spill::{Payload, SpillWriter, Spilled};
use super::stream::{Described, Stream};
use super::writer::source_bytes;
use super::{IndexWriter, RecordError, Source, TrainReport};
use crate::config::IndexConfig;
use crate::error::{Error, Result};
use crate::features::{Descriptors, ExtractParams};
use crate::scoring;
use crate::vocab::{self, Codebook, Sampler};

/// A trained codebook with the words of every image it was trained on.
pub(super) struct Trained {
    pub report: TrainReport,
    pub codebook: Codebook,
    pub idf: Vec<f32>,
    /// One [`Payload::Words`] record per good image, in source order.
    pub words: Described,
}

impl IndexWriter {
    /// Describes `sources` and trains a codebook and IDF on them; the
    /// records come back in source order (see the module comment), or,
    /// without `records`, only those that were described anyway.
    pub(super) fn describe_and_train(
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

    fn sampler(&self, cfg: &IndexConfig) -> Sampler {
        sampler(cfg, self.opts.memory_budget())
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

    /// The first pass: every one of the `total` images `rx` delivers is
    /// offered to the sample,
    /// counted in `report`, and handed to `keep`; failures are reported
    /// when `report_failures`.
    fn sample_pass(
        &mut self,
        rx: Receiver<Vec<Extracted>>,
        total: usize,
        sampler: &mut Sampler,
        report: &mut TrainReport,
        report_failures: bool,
        mut keep: impl FnMut(Source, Item) -> Result<()>,
    ) -> Result<()> {
        let clock = Instant::now();
        self.progress.start("extract", total as u64);
        for batch in rx {
            self.progress.advance(batch.len() as u64);
            for Extracted { source, result } in batch {
                match result {
                    Err(e) if report_failures => {
                        report.failed.push(RecordError::from_error(&source, e))
                    }
                    Err(_) => {}
                    Ok(item) => {
                        report.images += 1;
                        report.descriptors += item.features.descriptors.len() as u64;
                        sampler.offer(&item.features.descriptors);
                        keep(source, item)?;
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
        Ok(())
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

        let first: Vec<Source> = training.iter().map(|(_, _, s)| s.clone()).collect();
        let total = first.len();
        let rx = extract_batches(first, params, None, self.workers(), self.opts.batch_size)?;
        // Failures are reported once, when the subset is described again.
        self.sample_pass(rx, total, &mut sampler, &mut report, false, |_, _| Ok(()))?;
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
        let mut held = BTreeMap::new();
        let mut df = vec![0u32; codebook.words()];
        for batch in rx {
            self.progress.advance(batch.len() as u64);
            for Extracted { source, result } in batch {
                let Some((position, tag)) = places.next() else {
                    break;
                };
                match result {
                    Err(e) => report.failed.push(RecordError::from_error(&source, e)),
                    Ok(mut item) => {
                        let words = item.words.take().unwrap_or_default();
                        for (word, _) in scoring::histogram(&words) {
                            df[word as usize] += 1;
                        }
                        held.insert(position, record(tag, &source, item, Payload::Words(words)));
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

        let (tags, sources): (Vec<u64>, Vec<Source>) = sources.into_iter().unzip();
        let mut tags = tags.into_iter();
        let total = sources.len();
        let rx = extract_batches(sources, params, None, self.workers(), self.opts.batch_size)?;
        self.sample_pass(
            rx,
            total,
            &mut sampler,
            &mut report,
            true,
            |source, mut item| {
                let tag = tags.next().unwrap_or_default();
                // The descriptors move into the record; nothing reads them from
                // the item afterwards.
                let empty = Descriptors::Float {
                    dim: 0,
                    data: Vec::new(),
                };
                let descriptors = std::mem::replace(&mut item.features.descriptors, empty);
                spill.write(&record(
                    tag,
                    &source,
                    item,
                    Payload::Descriptors(descriptors),
                ))
            },
        )?;

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

/// The record of a described image, with `payload` (its descriptors or
/// words).
pub(super) fn record(tag: u64, source: &Source, item: Item, payload: Payload) -> Spilled {
    Spilled {
        tag,
        id: source.id.as_bytes().to_vec(),
        source: source_bytes(&source.input),
        hash: item.hash,
        keypoints: item.features.keypoints,
        payload,
    }
}

/// The bounded training sample: half the memory `budget` bounds it (and
/// k-means' copy of it).
pub(super) fn sampler(cfg: &IndexConfig, budget: u64) -> Sampler {
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

/// `k` of `0..n`, in increasing order, chosen at random with `seed`: the
/// same `n`, `k` and seed choose the same subset.
pub(super) fn training_subset(n: usize, k: usize, seed: u64) -> Vec<usize> {
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
