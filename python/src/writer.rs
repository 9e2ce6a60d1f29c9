//! `mmindex._mmindex.Writer`: the index's one writer, and progress reported
//! to a Python callback.
//!
//! Calls run with the GIL released. One call at a time uses the writer: a
//! second one, from another thread or from a progress callback, fails with
//! `WriterBusyError` at once instead of waiting (waiting from a callback
//! would never end).

use std::sync::{Arc, Mutex, TryLockError};

use mmindex::vocab::Codebook;
use mmindex::{Feature, IndexWriter, Progress, RecordId};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::errors::{detached, Failure};
use crate::{convert, ids, inputs};

/// Forwards progress to `callback(phase, done, total)`, with the GIL taken
/// for each call. The first exception the callback raises stops further
/// calls and is raised when the writer call returns.
pub struct PyProgress {
    callback: Py<PyAny>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    phase: String,
    done: u64,
    total: u64,
    error: Option<PyErr>,
}

impl PyProgress {
    pub fn new(callback: Py<PyAny>) -> PyProgress {
        PyProgress {
            callback,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn report(&self) {
        let (phase, done, total) = {
            let s = self.state();
            if s.error.is_some() {
                return;
            }
            (s.phase.clone(), s.done, s.total)
        };
        // The state lock is not held while Python runs.
        let failed = Python::attach(|py| self.callback.call1(py, (phase, done, total)).err());
        if let Some(e) = failed {
            self.state().error.get_or_insert(e);
        }
    }

    fn take_error(&self) -> Option<PyErr> {
        self.state().error.take()
    }
}

impl Progress for PyProgress {
    fn start(&self, phase: &str, total: u64) {
        {
            let mut s = self.state();
            s.phase = phase.to_string();
            s.done = 0;
            s.total = total;
        }
        self.report();
    }

    fn advance(&self, n: u64) {
        self.state().done += n;
        self.report();
    }
}

#[pyclass(frozen, name = "Writer", module = "mmindex._mmindex")]
pub struct PyWriter {
    writer: Mutex<Option<IndexWriter>>,
    progress: Option<Arc<PyProgress>>,
}

impl PyWriter {
    pub fn new(w: IndexWriter, progress: Option<Arc<PyProgress>>) -> PyWriter {
        PyWriter {
            writer: Mutex::new(Some(w)),
            progress,
        }
    }

    /// Runs `f` on the writer without the GIL, then raises what the
    /// progress callback raised meanwhile, if anything.
    fn with<T, F>(&self, py: Python<'_>, f: F) -> PyResult<T>
    where
        T: Send,
        F: FnOnce(&mut IndexWriter) -> mmindex::Result<T> + Send,
    {
        let out = detached(py, || {
            let mut guard = match self.writer.try_lock() {
                Ok(g) => g,
                // A panic during an earlier call: each batch is one
                // transaction, so the writer is still consistent.
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
                Err(TryLockError::WouldBlock) => {
                    return Err(Failure::Other(
                        "WriterBusyError",
                        "this writer is running another call".into(),
                    ))
                }
            };
            let w = guard
                .as_mut()
                .ok_or_else(|| Failure::Other("ClosedError", "the writer is closed".into()))?;
            Ok(f(w)?)
        });
        if let Some(e) = self.progress.as_ref().and_then(|p| p.take_error()) {
            return Err(e);
        }
        out
    }
}

/// Adds the folder entries that could not be listed to a report's failures.
fn with_unlisted(
    mut failed: Vec<mmindex::RecordError>,
    unlisted: Vec<mmindex::RecordError>,
) -> Vec<mmindex::RecordError> {
    failed.extend(unlisted);
    failed
}

#[pymethods]
impl PyWriter {
    /// Trains a codebook on the records and stores them all (the index must
    /// hold none). Returns the training and ingestion reports.
    fn build<'py>(
        &self,
        py: Python<'py>,
        sources: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyDict>)> {
        let sources = inputs::sources(sources)?;
        let (train, add) = self.with(py, move |w| {
            let (s, unlisted) = sources.resolve()?;
            let (t, mut a) = w.build(s)?;
            a.failed = with_unlisted(a.failed, unlisted);
            Ok((t, a))
        })?;
        Ok((
            convert::train_report(py, &train)?,
            convert::add_report(py, &add)?,
        ))
    }

    /// Trains a codebook on the images without storing them.
    fn train<'py>(
        &self,
        py: Python<'py>,
        sources: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let sources = inputs::sources(sources)?;
        let r = self.with(py, move |w| {
            let (s, unlisted) = sources.resolve()?;
            let mut r = w.train(s)?;
            r.failed = with_unlisted(r.failed, unlisted);
            Ok(r)
        })?;
        convert::train_report(py, &r)
    }

    /// Adds records; an id given again replaces its record.
    fn add<'py>(
        &self,
        py: Python<'py>,
        sources: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let sources = inputs::sources(sources)?;
        let r = self.with(py, move |w| {
            let (s, unlisted) = sources.resolve()?;
            let mut r = w.add(s)?;
            r.failed = with_unlisted(r.failed, unlisted);
            Ok(r)
        })?;
        convert::add_report(py, &r)
    }

    /// Adds records given as visual words: `(id, words)` pairs.
    fn add_words<'py>(
        &self,
        py: Python<'py>,
        records: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut list = Vec::new();
        for item in records.try_iter()? {
            let (id, words): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item?.extract()?;
            list.push((RecordId::from(ids::encode(&id)?), inputs::words(&words)?));
        }
        let r = self.with(py, move |w| w.add_words(list))?;
        convert::add_report(py, &r)
    }

    /// Installs an exported vocabulary in the (empty) index.
    fn install_vocabulary(
        &self,
        py: Python<'_>,
        vocabulary: &crate::vocabulary::PyVocabulary,
    ) -> PyResult<u32> {
        let v = vocabulary.inner.clone();
        self.with(py, move |w| w.install_vocabulary(&v))
    }

    /// A trainer that trains as this writer's `build` would.
    fn trainer(&self, py: Python<'_>) -> PyResult<crate::trainer::PyTrainer> {
        let t = self.with(py, |w| w.trainer())?;
        Ok(crate::trainer::PyTrainer::new(t))
    }

    /// Installs the vocabulary `trainer` weighed, with its training report.
    fn install_trained_vocabulary<'py>(
        &self,
        py: Python<'py>,
        vocabulary: &crate::vocabulary::PyVocabulary,
        trainer: &crate::trainer::PyTrainer,
    ) -> PyResult<Bound<'py, PyDict>> {
        let report = trainer.report().map_err(|e| e.into_py(py))?;
        let v = vocabulary.inner.clone();
        let r = self.with(py, move |w| w.install_trained_vocabulary(&v, &report))?;
        convert::train_report(py, &r)
    }

    /// Adds records described with the index's vocabulary: `(id,
    /// vocabulary_id, source, content_hash, words, keypoints)` tuples (see
    /// `Vocabulary.extract`).
    fn add_extracted<'py>(
        &self,
        py: Python<'py>,
        records: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut list = Vec::new();
        for item in records.try_iter()? {
            let (id, vocabulary, source, hash, words, keypoints): (
                Bound<'py, PyAny>,
                u64,
                Vec<u8>,
                u64,
                Bound<'py, PyAny>,
                Vec<u8>,
            ) = item?.extract()?;
            list.push(crate::vocabulary::record(
                ids::encode(&id)?,
                vocabulary,
                source,
                hash,
                &words,
                &keypoints,
            )?);
        }
        let r = self.with(py, move |w| w.add_extracted(list))?;
        convert::add_report(py, &r)
    }

    /// Removes records by id; returns how many existed.
    fn remove(&self, py: Python<'_>, ids: &Bound<'_, PyAny>) -> PyResult<usize> {
        let mut keys = Vec::new();
        for id in ids.try_iter()? {
            keys.push(RecordId::from(ids::encode(&id?)?));
        }
        self.with(py, move |w| w.remove(keys))
    }

    /// Trains a new codebook over the stored records and switches to it.
    #[pyo3(signature = (words=None, feature=None))]
    fn rebuild<'py>(
        &self,
        py: Python<'py>,
        words: Option<u32>,
        feature: Option<&str>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let feature = feature
            .map(|f| f.parse::<Feature>())
            .transpose()
            .map_err(|e| crate::errors::to_py(py, e))?;
        let r = self.with(py, move |w| w.rebuild(words, feature))?;
        convert::rebuild_report(py, &r)
    }

    /// Seals the records added so far into posting blocks.
    fn seal(&self, py: Python<'_>) -> PyResult<()> {
        self.with(py, |w| w.seal())
    }

    /// Installs a codebook trained elsewhere: `rows` centroids of `width`
    /// float32 values (little-endian bytes) for SIFT and RootSIFT, or of
    /// `width` bytes for binary features; `idf` one weight per word.
    #[pyo3(signature = (centroids, rows, width, binary, idf=None))]
    fn install_codebook(
        &self,
        py: Python<'_>,
        centroids: &Bound<'_, PyBytes>,
        rows: usize,
        width: usize,
        binary: bool,
        idf: Option<Vec<f32>>,
    ) -> PyResult<u32> {
        let bytes = centroids.as_bytes();
        let item = if binary { 1 } else { 4 };
        if rows.checked_mul(width).and_then(|n| n.checked_mul(item)) != Some(bytes.len()) {
            return Err(PyValueError::new_err(format!(
                "{} bytes do not hold {rows} centroids of width {width}",
                bytes.len()
            )));
        }
        let codebook = if binary {
            Codebook::Binary {
                bytes: width,
                centroids: bytes.to_vec(),
            }
        } else {
            let values = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let a = ndarray::Array2::from_shape_vec((rows, width), values)
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            Codebook::from_float(a)
        };
        self.with(py, move |w| w.install_codebook(codebook, idf))
    }

    /// Ends this writer, so that another can start.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let w = match self.writer.try_lock() {
            Ok(mut g) => g.take(),
            Err(TryLockError::Poisoned(p)) => p.into_inner().take(),
            Err(TryLockError::WouldBlock) => {
                return Err(Failure::Other(
                    "WriterBusyError",
                    "this writer is running another call".into(),
                )
                .into_py(py))
            }
        };
        py.detach(move || drop(w));
        Ok(())
    }

    #[getter]
    fn closed(&self) -> bool {
        match self.writer.try_lock() {
            Ok(g) => g.is_none(),
            Err(TryLockError::Poisoned(p)) => p.into_inner().is_none(),
            Err(TryLockError::WouldBlock) => false,
        }
    }
}
