//! `mmindex._mmindex.Trainer` and `describe`: a vocabulary trained on
//! images described in other processes, exactly as a local build trains it
//! (the library's `VocabularyTrainer`).

use std::sync::{Mutex, MutexGuard};

use mmindex::{
    Descriptors, ExtractedRecord, Feature, IndexConfig, RecordId, Source, TrainReport,
    VocabularyTrainer,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::{detached, Failure};
use crate::inputs;
use crate::vocabulary::PyVocabulary;

/// A trainer's life: sampling and trained, then weighed (its report kept
/// for the writer that installs the vocabulary).
enum Stage {
    Training(Box<VocabularyTrainer>),
    Weighed(TrainReport),
}

#[pyclass(frozen, name = "Trainer", module = "mmindex._mmindex")]
pub struct PyTrainer {
    stage: Mutex<Option<Stage>>,
    config: IndexConfig,
    max_file_bytes: u64,
}

impl PyTrainer {
    pub fn new(t: VocabularyTrainer) -> PyTrainer {
        PyTrainer {
            config: t.config().clone(),
            max_file_bytes: t.max_file_bytes(),
            stage: Mutex::new(Some(Stage::Training(Box::new(t)))),
        }
    }

    fn stage(&self) -> MutexGuard<'_, Option<Stage>> {
        self.stage.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The report of a weighed trainer.
    pub fn report(&self) -> Result<TrainReport, Failure> {
        match &*self.stage() {
            Some(Stage::Weighed(r)) => Ok(r.clone()),
            _ => Err(Failure::Other(
                "InvalidConfigError",
                "the trainer has not weighed its vocabulary yet".into(),
            )),
        }
    }
}

fn with_trainer<T>(
    guard: &mut Option<Stage>,
    f: impl FnOnce(&mut VocabularyTrainer) -> mmindex::Result<T>,
) -> Result<T, Failure> {
    match guard {
        Some(Stage::Training(t)) => Ok(f(t)?),
        _ => Err(spent()),
    }
}

fn spent() -> Failure {
    Failure::Other(
        "InvalidConfigError",
        "the trainer has already weighed its vocabulary (or failed to)".into(),
    )
}

#[pymethods]
impl PyTrainer {
    /// Positions of the images a build of `n` images trains on.
    fn training_subset(&self, py: Python<'_>, n: usize) -> PyResult<Vec<usize>> {
        detached(py, || {
            with_trainer(&mut self.stage(), |t| Ok(t.training_subset(n)))
        })
    }

    /// What `describe` needs: feature, max_side, max_pixels, max_features,
    /// min_features, max_file_bytes.
    #[getter]
    fn settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = &self.config;
        let d = PyDict::new(py);
        d.set_item("feature", c.feature.to_string())?;
        d.set_item("max_side", c.max_side)?;
        d.set_item("max_pixels", c.max_pixels)?;
        d.set_item("max_features", c.max_features)?;
        d.set_item("min_features", c.min_features)?;
        d.set_item("max_file_bytes", self.max_file_bytes)?;
        Ok(d)
    }

    /// Offers one training image's descriptors, as `describe` returns them.
    fn offer(&self, py: Python<'_>, binary: bool, width: usize, data: Vec<u8>) -> PyResult<()> {
        let d = descriptors(binary, width, data)?;
        detached(py, || with_trainer(&mut self.stage(), |t| t.offer(&d)))
    }

    /// Trains the codebook: the unweighted vocabulary.
    fn train(&self, py: Python<'_>) -> PyResult<PyVocabulary> {
        let inner = detached(py, || with_trainer(&mut self.stage(), |t| t.train()))?;
        Ok(PyVocabulary { inner })
    }

    /// The final vocabulary, from the training records given as
    /// `(vocabulary_id, words)` pairs.
    fn weigh(
        &self,
        py: Python<'_>,
        records: Vec<(u64, Bound<'_, PyAny>)>,
    ) -> PyResult<PyVocabulary> {
        let mut list = Vec::with_capacity(records.len());
        for (vocabulary, words) in records {
            list.push(ExtractedRecord {
                id: RecordId::from(Vec::new()),
                vocabulary,
                source: Vec::new(),
                content_hash: 0,
                words: inputs::words(&words)?,
                keypoints: Vec::new(),
            });
        }
        let inner = detached(py, move || {
            let mut stage = self.stage();
            match stage.take() {
                Some(Stage::Training(t)) => {
                    let (v, report) = t.weigh(&mut list)?;
                    *stage = Some(Stage::Weighed(report));
                    Ok(v)
                }
                other => {
                    *stage = other;
                    Err(spent())
                }
            }
        })?;
        Ok(PyVocabulary { inner })
    }
}

fn descriptors(binary: bool, width: usize, data: Vec<u8>) -> PyResult<Descriptors> {
    if binary {
        return Ok(Descriptors::Binary { bytes: width, data });
    }
    if !data.len().is_multiple_of(4) {
        return Err(PyValueError::new_err(
            "float descriptors as bytes are little-endian float32 values",
        ));
    }
    let data = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok(Descriptors::Float { dim: width, data })
}

/// Describes one image for training: `(binary, width, rows as bytes)`,
/// float rows as little-endian float32.
#[pyfunction]
#[pyo3(signature = (image, feature, max_side, max_pixels, max_features, min_features, max_file_bytes))]
#[allow(clippy::too_many_arguments)]
pub fn describe<'py>(
    py: Python<'py>,
    image: &Bound<'py, PyAny>,
    feature: &str,
    max_side: u32,
    max_pixels: u64,
    max_features: u32,
    min_features: u32,
    max_file_bytes: u64,
) -> PyResult<(bool, usize, Bound<'py, PyBytes>)> {
    let input = inputs::image(image)?;
    let feature = feature
        .parse::<Feature>()
        .map_err(|e| crate::errors::to_py(py, e))?;
    let config = IndexConfig {
        feature,
        max_side,
        max_pixels,
        max_features,
        min_features,
        ..IndexConfig::default()
    };
    let d = detached(py, move || {
        let source = Source {
            id: RecordId::from(Vec::new()),
            input,
        };
        Ok(VocabularyTrainer::describe(
            &config,
            &source,
            max_file_bytes,
        )?)
    })?;
    Ok(match d {
        Descriptors::Binary { bytes, data } => (true, bytes, PyBytes::new(py, &data)),
        Descriptors::Float { dim, data } => {
            let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (false, dim, PyBytes::new(py, &raw))
        }
    })
}
