//! Training a vocabulary on images described elsewhere (other processes or
//! machines), exactly as a local build trains it.
//!
//! A local build of `n` images trains on the images
//! [`VocabularyTrainer::training_subset`] names: their descriptors, offered
//! to a seeded reservoir sample in source order, train the codebook; the
//! same images' words give the IDF weights. The trainer splits that into
//! steps a distributed driver runs while its workers describe:
//!
//! 1. workers [`describe`](VocabularyTrainer::describe) the training images;
//!    the driver [`offer`](VocabularyTrainer::offer)s their descriptors in
//!    source order (so the sample, and the codebook, are a local build's);
//! 2. [`train`](VocabularyTrainer::train) gives an *unweighted* vocabulary
//!    (every IDF weight 1) that workers extract the training images with;
//! 3. [`weigh`](VocabularyTrainer::weigh) counts document frequencies over
//!    those records and gives the final vocabulary, re-tagging the records
//!    to it: a word depends on the codebook alone, never on IDF, so the
//!    records are exactly what the final vocabulary would extract.

use std::time::Instant;

use super::exported::{ExportedVocabulary, ExtractedRecord};
use super::pipeline::process;
use super::training::{sampler, training_subset};
use super::{IndexWriter, Source, TrainReport};
use crate::config::{IndexConfig, RunOptions};
use crate::error::{Error, Result};
use crate::features::{descriptor_width, Descriptors, ExtractParams};
use crate::scoring;
use crate::store::codec::exported::Settings;
use crate::store::Trained;
use crate::vocab::{self, Sampler};

/// Trains a vocabulary from descriptors offered in source order (see the
/// module comment). Holds the bounded training sample, never the images.
pub struct VocabularyTrainer {
    config: IndexConfig,
    training_images: usize,
    max_file_bytes: u64,
    sampler: Option<Sampler>,
    unweighted: Option<ExportedVocabulary>,
    /// Why training failed: the trainer takes no further step.
    failed: Option<String>,
    report: TrainReport,
}

impl std::fmt::Debug for VocabularyTrainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VocabularyTrainer")
            .field("feature", &self.config.feature)
            .field("words", &self.config.words)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl VocabularyTrainer {
    /// A trainer with the configuration and options of a local build (the
    /// sample is bounded by `options`' memory budget, the training subset
    /// by its `training_images`).
    pub fn new(config: IndexConfig, options: &RunOptions) -> Result<Self> {
        config.validate()?;
        options.validate()?;
        Ok(VocabularyTrainer {
            sampler: Some(sampler(&config, options.memory_budget())),
            training_images: options.training_images,
            max_file_bytes: options.max_file_bytes,
            config,
            unweighted: None,
            failed: None,
            report: TrainReport::default(),
        })
    }

    /// The configuration training follows.
    pub fn config(&self) -> &IndexConfig {
        &self.config
    }

    /// Largest image file [`describe`](Self::describe) should read, from the
    /// options.
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    /// The positions, in increasing order, of the images a build of `n`
    /// images trains on: all of them up to `training_images`, else a seeded
    /// random subset of that many.
    pub fn training_subset(&self, n: usize) -> Vec<usize> {
        let k = self.training_images;
        if k == 0 || n <= k {
            (0..n).collect()
        } else {
            training_subset(n, k, self.config.seed)
        }
    }

    /// Describes one image for training, as a build with `config` would:
    /// its descriptors, one row per keypoint. Touches no index.
    pub fn describe(
        config: &IndexConfig,
        source: &Source,
        max_file_bytes: u64,
    ) -> Result<Descriptors> {
        let params = ExtractParams {
            max_file_bytes,
            ..ExtractParams::from(config)
        };
        Ok(process(&source.input, &params, None)?.features.descriptors)
    }

    /// Offers one training image's descriptors (as [`describe`](Self::describe)
    /// gives them) to the sample. Images must be offered in source order,
    /// each described image once, failures left out.
    pub fn offer(&mut self, descriptors: &Descriptors) -> Result<()> {
        self.check_failed()?;
        let feature = self.config.feature;
        let Some(sampler) = self.sampler.as_mut() else {
            return Err(Error::InvalidConfig(
                "the vocabulary is already trained: descriptors come before train()".into(),
            ));
        };
        let (binary, width) = match descriptors {
            Descriptors::Float { dim, data } => {
                if data.iter().any(|v| !v.is_finite()) {
                    return Err(Error::InvalidConfig(
                        "descriptors hold a value that is not finite".into(),
                    ));
                }
                rows(false, *dim, data.len())?
            }
            Descriptors::Binary { bytes, data } => rows(true, *bytes, data.len())?,
        };
        let expected = descriptor_width(feature);
        let kind = |b: bool| if b { "binary" } else { "float" };
        if binary != feature.is_binary() || (!descriptors.is_empty() && width != expected) {
            return Err(Error::InvalidConfig(format!(
                "{} descriptors of width {width} offered to a {feature} trainer ({} of width {expected})",
                kind(binary),
                kind(feature.is_binary()),
            )));
        }
        self.report.images += 1;
        self.report.descriptors += descriptors.len() as u64;
        sampler.offer(descriptors);
        Ok(())
    }

    fn check_failed(&self) -> Result<()> {
        match &self.failed {
            Some(why) => Err(Error::InvalidConfig(format!(
                "training failed ({why}): start a new trainer"
            ))),
            None => Ok(()),
        }
    }

    /// Trains the codebook on the sample. The vocabulary it returns has
    /// every IDF weight at 1: extract the training images with it, then
    /// [`weigh`](Self::weigh) their records.
    pub fn train(&mut self) -> Result<ExportedVocabulary> {
        self.check_failed()?;
        let Some(sampler) = self.sampler.take() else {
            return Err(Error::InvalidConfig(
                "the vocabulary is already trained".into(),
            ));
        };
        let clock = Instant::now();
        self.report.sampled = sampler.len();
        let sample = sampler.into_descriptors();
        let cfg = &self.config;
        let trained =
            vocab::train_vocabulary(&sample, cfg.words as usize, cfg.kmeans_iterations, cfg.seed);
        let codebook = match trained {
            Ok(c) => c,
            Err(e) => {
                self.failed = Some(e.to_string());
                return Err(e);
            }
        };
        drop(sample);
        self.report.words = codebook.words();
        self.report.seconds[1] = clock.elapsed().as_secs_f64();
        let settings = Settings::of(&ExtractParams::from(cfg));
        let words = codebook.words();
        let v = ExportedVocabulary::new(settings, codebook, vec![1.0; words]);
        self.unweighted = Some(v.clone());
        Ok(v)
    }

    /// The final vocabulary: IDF counted over `records`, the training
    /// images as the unweighted vocabulary of [`train`](Self::train)
    /// described them (each described image once, failures left out). The
    /// records are re-tagged to the returned vocabulary. Also returns what
    /// training did.
    pub fn weigh(
        self,
        records: &mut [ExtractedRecord],
    ) -> Result<(ExportedVocabulary, TrainReport)> {
        self.check_failed()?;
        let Some(unweighted) = self.unweighted else {
            return Err(Error::InvalidConfig("weigh() comes after train()".into()));
        };
        let words = unweighted.words();
        let mut df = vec![0u32; words];
        for r in records.iter() {
            if r.vocabulary != unweighted.id() {
                return Err(Error::VocabularyMismatch {
                    expected: unweighted.id(),
                    found: r.vocabulary,
                });
            }
            for (word, _) in scoring::histogram(&r.words) {
                let slot = df.get_mut(word as usize).ok_or_else(|| {
                    Error::InvalidConfig(format!(
                        "record {}: word {word} outside the {words}-word vocabulary",
                        r.id
                    ))
                })?;
                *slot += 1;
            }
        }
        let idf = scoring::idf(&df, records.len() as u64);
        let v = ExportedVocabulary::new(unweighted.settings(), unweighted.codebook().clone(), idf);
        for r in records.iter_mut() {
            r.vocabulary = v.id();
        }
        Ok((v, self.report))
    }
}

/// `(binary, width)` of a descriptor matrix of `len` values, when they are
/// whole rows.
fn rows(binary: bool, width: usize, len: usize) -> Result<(bool, usize)> {
    if (width == 0 && len > 0) || (width > 0 && !len.is_multiple_of(width)) {
        return Err(Error::InvalidConfig(format!(
            "{len} descriptor values are not whole rows of {width}"
        )));
    }
    Ok((binary, width))
}

impl IndexWriter {
    /// A trainer that trains as this writer's [`build`](Self::build) would
    /// (the index's configuration, the writer's options).
    pub fn trainer(&self) -> Result<VocabularyTrainer> {
        VocabularyTrainer::new(self.shared.config(), &self.opts)
    }

    /// Installs a vocabulary a [`VocabularyTrainer`] trained, with what
    /// training did (stored as a build stores it, so `stats` and `add` can
    /// tell when the collection outgrows it). Otherwise as
    /// [`install_vocabulary`](Self::install_vocabulary).
    pub fn install_trained_vocabulary(
        &mut self,
        v: &ExportedVocabulary,
        report: &TrainReport,
    ) -> Result<TrainReport> {
        let trained = Trained {
            images: report.images as u64,
            descriptors: report.descriptors,
        };
        let generation = self.install_exported(v, Some(trained))?;
        Ok(TrainReport {
            generation,
            ..report.clone()
        })
    }
}
