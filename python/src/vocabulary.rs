//! `mmindex._mmindex.Vocabulary`: an exported vocabulary, and records
//! described with it away from any index. Decoding, extraction and file
//! writes run with the GIL released.

use std::path::PathBuf;

use mmindex::{ExportedVocabulary, ExtractedRecord, Keypoint, RecordId, Source};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::detached;
use crate::inputs;

#[pyclass(frozen, name = "Vocabulary", module = "mmindex._mmindex")]
pub struct PyVocabulary {
    pub inner: ExportedVocabulary,
}

/// A record's parts as the Python layer holds them: (vocabulary id, source
/// bytes, content hash, words as little-endian uint32 bytes, keypoints as
/// little-endian float32 bytes, four per keypoint: x, y, size, angle).
pub type Parts<'py> = (
    u64,
    Bound<'py, PyBytes>,
    u64,
    Bound<'py, PyBytes>,
    Bound<'py, PyBytes>,
);

#[pymethods]
impl PyVocabulary {
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: Vec<u8>) -> PyResult<PyVocabulary> {
        let inner = detached(py, move || Ok(ExportedVocabulary::from_bytes(&data)?))?;
        Ok(PyVocabulary { inner })
    }

    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<PyVocabulary> {
        let inner = detached(py, move || Ok(ExportedVocabulary::load(&path)?))?;
        Ok(PyVocabulary { inner })
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let v = self.inner.clone();
        let b = detached(py, move || Ok(v.to_bytes()))?;
        Ok(PyBytes::new(py, &b))
    }

    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let v = self.inner.clone();
        detached(py, move || Ok(v.save(&path)?))
    }

    #[getter]
    fn id(&self) -> u64 {
        self.inner.id()
    }

    #[getter]
    fn words(&self) -> usize {
        self.inner.words()
    }

    /// The extraction settings: feature, max_side, max_pixels,
    /// max_features, min_features.
    #[getter]
    fn settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let v = &self.inner;
        let d = PyDict::new(py);
        d.set_item("feature", v.feature().to_string())?;
        d.set_item("max_side", v.max_side())?;
        d.set_item("max_pixels", v.max_pixels())?;
        d.set_item("max_features", v.max_features())?;
        d.set_item("min_features", v.min_features())?;
        Ok(d)
    }

    /// Describes one image (as `inputs::image` reads it).
    #[pyo3(signature = (image, max_file_bytes=None))]
    fn extract<'py>(
        &self,
        py: Python<'py>,
        image: &Bound<'py, PyAny>,
        max_file_bytes: Option<u64>,
    ) -> PyResult<Parts<'py>> {
        let input = inputs::image(image)?;
        let v = self.inner.clone();
        let limit = max_file_bytes.unwrap_or(mmindex::RunOptions::default().max_file_bytes);
        let r = detached(py, move || {
            // The id travels beside the record in Python: any will do here.
            let source = Source {
                id: RecordId::from(Vec::new()),
                input,
            };
            Ok(v.extract_with(&source, limit)?)
        })?;
        let words: Vec<u8> = r.words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let keypoints: Vec<u8> = r
            .keypoints
            .iter()
            .flat_map(|k| [k.x, k.y, k.size, k.angle])
            .flat_map(f32::to_le_bytes)
            .collect();
        Ok((
            r.vocabulary,
            PyBytes::new(py, &r.source),
            r.content_hash,
            PyBytes::new(py, &words),
            PyBytes::new(py, &keypoints),
        ))
    }
}

/// A record from its id and [`Parts`] as given back by Python.
pub fn record(
    id: Vec<u8>,
    vocabulary: u64,
    source: Vec<u8>,
    content_hash: u64,
    words: &Bound<'_, PyAny>,
    keypoints: &[u8],
) -> PyResult<ExtractedRecord> {
    if !keypoints.len().is_multiple_of(16) {
        return Err(PyValueError::new_err(
            "keypoints as bytes are little-endian float32 values, four per keypoint",
        ));
    }
    let f = |c: &[u8]| f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    let keypoints = keypoints
        .chunks_exact(16)
        .map(|c| Keypoint {
            x: f(&c[0..4]),
            y: f(&c[4..8]),
            size: f(&c[8..12]),
            angle: f(&c[12..16]),
        })
        .collect();
    Ok(ExtractedRecord {
        id: RecordId::from(id),
        vocabulary,
        source,
        content_hash,
        words: inputs::words(words)?,
        keypoints,
    })
}
