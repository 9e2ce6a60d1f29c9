//! Vocabularies taken out of an index, and records described with one on a
//! machine that never opens the index.
//!
//! An [`ExportedVocabulary`] holds the codebook, the IDF weights and the
//! extraction settings of an index's active generation
//! ([`Index::export_vocabulary`](crate::Index::export_vocabulary)); its bytes
//! are laid out in `store::codec::exported`. [`ExportedVocabulary::extract`]
//! is a pure function of the vocabulary and the image: it describes the
//! image exactly as [`IndexWriter::add`](crate::IndexWriter::add) would, so
//! [`IndexWriter::add_extracted`](crate::IndexWriter::add_extracted) stores
//! the same record a local add stores.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use super::pipeline::process;
use super::writer::{source_bytes, Pending};
use super::{AddReport, IndexWriter, RecordError, Source};
use crate::config::Feature;
use crate::error::{Error, Result};
use crate::features::Keypoint;
use crate::store::codec::exported::{self, Settings};
use crate::store::codec::geometry::Geometry;
use crate::store::Trained;
use crate::vocab::Codebook;
use crate::RecordId;

/// Largest exported vocabulary file read: a 10^6-word float tree is about
/// 600 MB.
const MAX_FILE_BYTES: u64 = 4 << 30;

/// A vocabulary exported from an index: everything that turns an image into
/// a record's visual words. Cheap to clone (the codebook is shared).
#[derive(Debug, Clone)]
pub struct ExportedVocabulary {
    settings: Settings,
    codebook: Arc<Codebook>,
    idf: Arc<Vec<f32>>,
    id: u64,
}

/// A record described with an [`ExportedVocabulary`]: what
/// [`IndexWriter::add_extracted`](crate::IndexWriter::add_extracted)
/// stores.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractedRecord {
    /// The record's id.
    pub id: RecordId,
    /// The id of the vocabulary that described it.
    pub vocabulary: u64,
    /// The image's path bytes, or empty for in-memory input (what
    /// [`RecordInfo`](crate::RecordInfo) reports as its source).
    pub source: Vec<u8>,
    /// The hash of the image's bytes (or pixels).
    pub content_hash: u64,
    /// One visual word per feature.
    pub words: Vec<u32>,
    /// One keypoint per feature, parallel to `words`.
    pub keypoints: Vec<Keypoint>,
}

impl ExportedVocabulary {
    pub(crate) fn new(settings: Settings, codebook: Codebook, idf: Vec<f32>) -> Self {
        let id = exported::encode(&settings, &codebook, &idf).1;
        ExportedVocabulary {
            settings,
            codebook: Arc::new(codebook),
            idf: Arc::new(idf),
            id,
        }
    }

    /// Reads a vocabulary from its bytes (as [`to_bytes`](Self::to_bytes)
    /// writes them), checking every byte.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        Self::decode(b, "<bytes>")
    }

    fn decode(b: &[u8], origin: &str) -> Result<Self> {
        let d = exported::decode(b).map_err(|e| Error::BadVocabulary {
            origin: origin.to_string(),
            reason: e.0,
        })?;
        Ok(ExportedVocabulary {
            settings: d.settings,
            codebook: Arc::new(d.codebook),
            idf: Arc::new(d.idf),
            id: d.id,
        })
    }

    /// The vocabulary's bytes: a file format of its own, versioned and
    /// checksummed (docs/STORAGE.md, "Exported vocabulary").
    pub fn to_bytes(&self) -> Vec<u8> {
        exported::encode(&self.settings, &self.codebook, &self.idf).0
    }

    /// Reads a vocabulary file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_FILE_BYTES {
            return Err(Error::BadVocabulary {
                origin: path.display().to_string(),
                reason: format!("{len} bytes, above the {MAX_FILE_BYTES}-byte limit"),
            });
        }
        let b = std::fs::read(path).map_err(io)?;
        Self::decode(&b, &path.display().to_string())
    }

    /// Writes the vocabulary to `path` durably: to a temporary file beside
    /// it, synced, then renamed over `path`, so a crash leaves the old file
    /// or the new one.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| Error::Io { path: p, source }
        };
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&self.to_bytes()).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io(path))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io(dir))?;
        }
        Ok(())
    }

    /// The vocabulary's id: the same for every export of the same
    /// vocabulary, different for any other.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Number of visual words.
    pub fn words(&self) -> usize {
        self.codebook.words()
    }

    /// The feature family it describes images with.
    pub fn feature(&self) -> Feature {
        self.settings.feature
    }

    /// Longer image side above which images are downscaled (0 = none).
    pub fn max_side(&self) -> u32 {
        self.settings.max_side
    }

    /// Images declaring more pixels are refused (0 = no limit).
    pub fn max_pixels(&self) -> u64 {
        self.settings.max_pixels
    }

    /// Keypoints kept per image.
    pub fn max_features(&self) -> u32 {
        self.settings.max_features
    }

    /// Fewer keypoints make the detector retry with lower thresholds.
    pub fn min_features(&self) -> u32 {
        self.settings.min_features
    }

    /// The extraction settings (longer side, pixel limit, keypoints).
    pub(crate) fn settings(&self) -> Settings {
        self.settings
    }

    pub(crate) fn codebook(&self) -> &Codebook {
        &self.codebook
    }

    pub(crate) fn idf(&self) -> &[f32] {
        &self.idf
    }

    /// Describes one image: reads, decodes, extracts and quantizes it as an
    /// index with this vocabulary would. Touches no index; the same image
    /// always gives the same record. Files above
    /// [`RunOptions::max_file_bytes`](crate::RunOptions::max_file_bytes)
    /// default are refused; see [`extract_with`](Self::extract_with).
    pub fn extract(&self, source: &Source) -> Result<ExtractedRecord> {
        self.extract_with(source, crate::config::DEFAULT_MAX_FILE_BYTES)
    }

    /// [`extract`](Self::extract), refusing files above `max_file_bytes`.
    pub fn extract_with(&self, source: &Source, max_file_bytes: u64) -> Result<ExtractedRecord> {
        let params = self.settings.params(max_file_bytes);
        let item = process(&source.input, &params, Some(&self.codebook))?;
        Ok(ExtractedRecord {
            id: source.id.clone(),
            vocabulary: self.id,
            source: source_bytes(&source.input),
            content_hash: item.hash,
            words: item.words.unwrap_or_default(),
            keypoints: item.features.keypoints,
        })
    }
}

impl IndexWriter {
    /// Installs an exported vocabulary as the index's active generation, so
    /// that records it describes can be added with
    /// [`add_extracted`](Self::add_extracted). The index must hold no
    /// records and extract with the vocabulary's settings (open it with
    /// [`IndexBuilder::vocabulary`](crate::IndexBuilder::vocabulary)).
    pub fn install_vocabulary(&mut self, v: &ExportedVocabulary) -> Result<u32> {
        self.install_exported(v, None)
    }

    /// Installs `v` as the active generation, with what training did when
    /// known.
    pub(super) fn install_exported(
        &mut self,
        v: &ExportedVocabulary,
        trained: Option<Trained>,
    ) -> Result<u32> {
        let ours = Settings::of(&self.shared.extract_params());
        if ours != v.settings() {
            return Err(Error::InvalidConfig(format!(
                "the index extracts with {ours:?}, the vocabulary with {:?}: open the index \
                 with IndexBuilder::vocabulary",
                v.settings()
            )));
        }
        self.install(v.codebook().clone(), v.idf().to_vec(), trained)
    }

    /// Adds records described elsewhere with the index's vocabulary
    /// ([`ExportedVocabulary::extract`]), geometry included, in batches of
    /// one transaction each, as [`add`](Self::add) stores them. A record
    /// described with another vocabulary, or malformed, fails alone.
    pub fn add_extracted(&mut self, records: Vec<ExtractedRecord>) -> Result<AddReport> {
        let active = self.shared.active()?.ok_or(Error::NoCodebook)?;
        let expected = active.id();
        let k = active.codebook.words() as u32;
        let mut report = AddReport::default();
        let mut batch = Vec::new();
        self.progress.start("add", records.len() as u64);
        let mut records = records.into_iter().peekable();
        while let Some(r) = records.next() {
            let path = Path::new("<extracted>");
            if r.vocabulary != expected {
                let e = Error::VocabularyMismatch {
                    expected,
                    found: r.vocabulary,
                };
                report
                    .failed
                    .push(RecordError::new(r.id, path, e.to_string()));
            } else if let Some(w) = r.words.iter().find(|w| **w >= k) {
                let reason = format!("word {w} outside the {k}-word vocabulary");
                report.failed.push(RecordError::new(r.id, path, reason));
            } else if r.words.len() != r.keypoints.len() {
                let reason = format!(
                    "{} words but {} keypoints",
                    r.words.len(),
                    r.keypoints.len()
                );
                report.failed.push(RecordError::new(r.id, path, reason));
            } else {
                batch.push(Pending {
                    geometry: Some(Geometry::from_features(&r.words, &r.keypoints)),
                    id: r.id,
                    source: r.source,
                    hash: r.content_hash,
                    words: r.words,
                });
            }
            if batch.len() >= self.opts.batch_size || records.peek().is_none() {
                let n = batch.len() as u64;
                self.commit(&active, std::mem::take(&mut batch), &mut report)?;
                self.progress.advance(n);
            }
        }
        self.progress.finish();
        Ok(report)
    }
}
