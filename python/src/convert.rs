//! The library's reports as plain Python values (dicts, tuples), which the
//! Python layer turns into its documented dataclasses.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::ids;

pub fn record_errors<'py>(
    py: Python<'py>,
    failed: &[mmindex::RecordError],
) -> PyResult<Bound<'py, PyList>> {
    let items = failed
        .iter()
        .map(|f| (ids::decode(py, f.id.as_bytes())?, &f.path, &f.reason).into_pyobject(py))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

pub fn add_report<'py>(py: Python<'py>, r: &mmindex::AddReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("added", r.added)?;
    d.set_item("replaced", r.replaced)?;
    let empty = r
        .empty
        .iter()
        .map(|id| ids::decode(py, id.as_bytes()))
        .collect::<PyResult<Vec<_>>>()?;
    d.set_item("empty", PyList::new(py, empty)?)?;
    d.set_item("failed", record_errors(py, &r.failed)?)?;
    Ok(d)
}

pub fn train_report<'py>(
    py: Python<'py>,
    r: &mmindex::TrainReport,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("images", r.images)?;
    d.set_item("descriptors", r.descriptors)?;
    d.set_item("sampled", r.sampled)?;
    d.set_item("words", r.words)?;
    d.set_item("generation", r.generation)?;
    d.set_item("seconds", (r.seconds[0], r.seconds[1], r.seconds[2]))?;
    d.set_item("scratch_bytes", r.scratch_bytes)?;
    d.set_item("failed", record_errors(py, &r.failed)?)?;
    Ok(d)
}

pub fn rebuild_report<'py>(
    py: Python<'py>,
    r: &mmindex::RebuildReport,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("train", train_report(py, &r.train)?)?;
    d.set_item("records", r.records)?;
    d.set_item("previous", r.previous)?;
    Ok(d)
}

pub fn stats<'py>(py: Python<'py>, s: &mmindex::Stats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("records", s.records)?;
    d.set_item("words", s.words)?;
    d.set_item("generation", s.generation)?;
    d.set_item("feature", s.feature.name())?;
    d.set_item("postings", s.postings)?;
    d.set_item("bytes_on_disk", s.bytes_on_disk)?;
    d.set_item("tree", s.tree.map(|t| (t.branching, t.depth)))?;
    d.set_item("unsealed_postings", s.unsealed_postings)?;
    d.set_item("trained_images", s.trained_images)?;
    d.set_item("vocabulary_outgrown", s.vocabulary_outgrown)?;
    Ok(d)
}

pub fn space<'py>(py: Python<'py>, s: &mmindex::Space) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("postings", s.postings)?;
    d.set_item("posting_blocks", s.posting_blocks)?;
    d.set_item("histograms", s.histograms)?;
    d.set_item("norms", s.norms)?;
    d.set_item("geometry", s.geometry)?;
    d.set_item("codebook", s.codebook)?;
    d.set_item("metadata", s.metadata)?;
    Ok(d)
}

pub fn compact_report<'py>(
    py: Python<'py>,
    r: &mmindex::CompactReport,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("bytes_before", r.bytes_before)?;
    d.set_item("bytes_after", r.bytes_after)?;
    d.set_item("copy_bytes", r.copy_bytes)?;
    d.set_item("kept", r.kept)?;
    d.set_item(
        "posting_blocks",
        (r.posting_blocks.before, r.posting_blocks.after),
    )?;
    Ok(d)
}

pub fn config<'py>(py: Python<'py>, c: &mmindex::IndexConfig) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("feature", c.feature.name())?;
    d.set_item("words", c.words)?;
    d.set_item("max_side", c.max_side)?;
    d.set_item("max_pixels", c.max_pixels)?;
    d.set_item("max_features", c.max_features)?;
    d.set_item("min_features", c.min_features)?;
    d.set_item("sample_cap", c.sample_cap)?;
    d.set_item("samples_per_word", c.samples_per_word)?;
    d.set_item("kmeans_iterations", c.kmeans_iterations)?;
    d.set_item("seed", c.seed)?;
    d.set_item("scoring", scoring_name(c.scoring))?;
    Ok(d)
}

pub fn scoring_name(s: mmindex::Scoring) -> &'static str {
    match s {
        mmindex::Scoring::L1 => "l1",
        _ => "cosine",
    }
}

pub fn scoring(name: &str) -> mmindex::Result<mmindex::Scoring> {
    match name {
        "cosine" => Ok(mmindex::Scoring::Cosine),
        "l1" => Ok(mmindex::Scoring::L1),
        other => Err(mmindex::Error::InvalidConfig(format!(
            "unknown scoring `{other}` (expected cosine or l1)"
        ))),
    }
}
