//! The native part of the `mmindex` Python package (`mmindex._mmindex`).
//!
//! It calls the library's public API only, like the command line. Python
//! values are converted while the GIL is held; the work then runs with the
//! GIL released and panics caught (`errors::detached`), so Python threads
//! search in parallel and a bug never ends the interpreter. The Pythonic
//! surface (keyword defaults, dataclasses, NumPy and tqdm) is the Python
//! layer in `python/mmindex/`.

// Python signatures with keyword options map to one argument each.
#![allow(clippy::too_many_arguments)]

mod convert;
mod errors;
mod ids;
mod index;
mod inputs;
mod sharded;
mod trainer;
mod vocabulary;
mod writer;

use std::path::PathBuf;

use mmindex::augment::Transform;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use errors::detached;

/// Rewrites the (closed) index at `path` to give back space.
#[pyfunction]
fn compact<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let r = detached(py, move || Ok(mmindex::Index::compact(&path)?))?;
    convert::compact_report(py, &r)
}

/// Checks the (closed) index at `path` on a copy, without writing to it.
#[pyfunction]
fn verify_path(py: Python<'_>, path: PathBuf) -> PyResult<(Vec<String>, Vec<String>)> {
    let r = detached(py, move || Ok(mmindex::Index::verify_path(&path)?))?;
    Ok((r.violations, r.notes))
}

/// The library's default index configuration.
#[pyfunction]
fn default_config(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    convert::config(py, &mmindex::IndexConfig::default())
}

/// The search defaults: (top_k, rerank, rerank_patience).
#[pyfunction]
fn search_defaults() -> (usize, usize, usize) {
    let d = mmindex::SearchOptions::default();
    (d.top_k, d.rerank, d.rerank_patience)
}

/// The writer defaults: (workers, batch_size, memory_fraction).
#[pyfunction]
fn writer_defaults() -> (usize, usize, f64) {
    let d = mmindex::RunOptions::default();
    (d.workers, d.batch_size, d.memory_fraction)
}

/// The stored form of a record id.
#[pyfunction]
fn encode_id<'py>(py: Python<'py>, id: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(py, &ids::encode(id)?))
}

/// The Python id of a stored id.
#[pyfunction]
fn decode_id<'py>(py: Python<'py>, stored: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    ids::decode(py, stored)
}

/// An image transform (`mmindex.augment`): `kind` names it, `a`..`d` are
/// its parameters in the order of the library's `Transform` fields.
#[pyfunction]
#[pyo3(signature = (data, kind, a=0.0, b=0.0, c=0.0, d=0.0))]
fn augment<'py>(
    py: Python<'py>,
    data: &[u8],
    kind: &str,
    a: f64,
    b: f64,
    c: f64,
    d: f64,
) -> PyResult<Bound<'py, PyBytes>> {
    let t = match kind {
        "rotate" => Transform::Rotate(a),
        "scale" => Transform::Scale(a),
        "jpeg" => Transform::Jpeg(a.clamp(1.0, 100.0) as u8),
        "crop" => Transform::Crop(a),
        "region" => Transform::Region {
            x: a,
            y: b,
            w: c,
            h: d,
        },
        "perspective" => Transform::Perspective(a),
        "photometric" => Transform::Photometric {
            contrast: a,
            brightness: b,
        },
        "blur" => Transform::Blur(a),
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "unknown transform {other:?}"
            )))
        }
    };
    let data = data.to_vec();
    let out = detached(py, move || Ok(mmindex::augment::apply(&data, t)?))?;
    Ok(PyBytes::new(py, &out))
}

/// Decodes image bytes to RGB pixels: (width, height, data).
#[pyfunction]
fn decode_pixels<'py>(py: Python<'py>, data: &[u8]) -> PyResult<(u32, u32, Bound<'py, PyBytes>)> {
    let data = data.to_vec();
    let p = detached(py, move || Ok(mmindex::augment::decode_pixels(&data)?))?;
    Ok((p.width(), p.height(), PyBytes::new(py, p.data())))
}

/// Test support: panics inside a native call, which must raise
/// `mmindex.InternalError` and leave the interpreter running.
#[pyfunction]
#[allow(clippy::panic, reason = "the panic this test hook exists to raise")]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    detached(py, || -> Result<(), errors::Failure> {
        panic!("a panic raised on purpose by a test")
    })
}

/// Test support: the exception a library error of each kind becomes.
#[pyfunction]
fn _error_for_tests(py: Python<'_>, kind: &str) -> PyErr {
    use mmindex::Error as E;
    let path = || PathBuf::from("/some/path");
    let e = match kind {
        "io" => E::Io {
            path: path(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        },
        "storage" => E::Storage("disk full".into()),
        "image" => E::Image {
            path: path(),
            reason: "cannot decode".into(),
        },
        "corruption" => E::Corruption {
            tree: "docs".into(),
            key: "00ff".into(),
            reason: "short value".into(),
        },
        "incompatible" => E::IncompatibleFormat {
            found: 99,
            oldest: 1,
            supported: 3,
        },
        "damaged" => E::Damaged {
            reason: "lost commits".into(),
        },
        "not_an_index" => E::NotAnIndex {
            path: path(),
            reason: "a file".into(),
        },
        "no_codebook" => E::NoCodebook,
        "too_few" => E::TooFewDescriptors {
            found: 3,
            needed: 10,
        },
        "locked" => E::Locked { path: path() },
        "writer_busy" => E::WriterBusy,
        "invalid_config" => E::InvalidConfig("words must be at least 2".into()),
        "records" => E::Records {
            path: path(),
            reason: "is a directory".into(),
        },
        "compaction" => E::CompactionCheck {
            path: path(),
            reason: "counts differ".into(),
        },
        "training" => E::Training("no clusters".into()),
        other => return pyo3::exceptions::PyValueError::new_err(other.to_string()),
    };
    errors::to_py(py, e)
}

#[pymodule]
fn _mmindex(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<index::PyIndex>()?;
    m.add_class::<writer::PyWriter>()?;
    m.add_class::<vocabulary::PyVocabulary>()?;
    m.add_class::<sharded::PySharded>()?;
    m.add_class::<trainer::PyTrainer>()?;
    m.add_function(wrap_pyfunction!(trainer::describe, m)?)?;
    m.add_function(wrap_pyfunction!(sharded::shard_of, m)?)?;
    m.add_function(wrap_pyfunction!(compact, m)?)?;
    m.add_function(wrap_pyfunction!(verify_path, m)?)?;
    m.add_function(wrap_pyfunction!(default_config, m)?)?;
    m.add_function(wrap_pyfunction!(search_defaults, m)?)?;
    m.add_function(wrap_pyfunction!(writer_defaults, m)?)?;
    m.add_function(wrap_pyfunction!(encode_id, m)?)?;
    m.add_function(wrap_pyfunction!(decode_id, m)?)?;
    m.add_function(wrap_pyfunction!(augment, m)?)?;
    m.add_function(wrap_pyfunction!(decode_pixels, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(_error_for_tests, m)?)?;
    m.add("DEFAULT_RERANK", mmindex::DEFAULT_RERANK)?;
    m.add("DEFAULT_RERANK_PATIENCE", mmindex::DEFAULT_RERANK_PATIENCE)?;
    m.add("MIN_INLIERS", mmindex::MIN_INLIERS)?;
    m.add("MAX_WORKERS", mmindex::MAX_WORKERS)?;
    Ok(())
}
