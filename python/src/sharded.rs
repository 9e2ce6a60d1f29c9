//! `mmindex._mmindex.ShardedSearcher`: several indexes on one vocabulary
//! searched as one. Searches run with the GIL released.

use mmindex::ShardedSearcher;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::errors::detached;
use crate::index::{options, PyIndex};
use crate::{ids, inputs};

#[pyclass(frozen, name = "ShardedSearcher", module = "mmindex._mmindex")]
pub struct PySharded {
    inner: ShardedSearcher,
}

#[pymethods]
impl PySharded {
    #[new]
    fn new(py: Python<'_>, indexes: Vec<PyRef<'_, PyIndex>>) -> PyResult<PySharded> {
        let indexes = indexes
            .iter()
            .map(|i| i.index())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.into_py(py))?;
        let inner = detached(py, move || Ok(ShardedSearcher::new(&indexes)?))?;
        Ok(PySharded { inner })
    }

    #[getter]
    fn shards(&self) -> usize {
        self.inner.shards()
    }

    /// Hits as `(shard, id, score, inliers)`.
    #[pyo3(signature = (query, top_k=10, mode="inverted", rerank=mmindex::DEFAULT_RERANK, rerank_patience=mmindex::DEFAULT_RERANK_PATIENCE, scoring=None, threads=0, query_share=1.0))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn search<'py>(
        &self,
        py: Python<'py>,
        query: &Bound<'py, PyAny>,
        top_k: usize,
        mode: &str,
        rerank: usize,
        rerank_patience: usize,
        scoring: Option<&str>,
        threads: usize,
        query_share: f32,
    ) -> PyResult<Bound<'py, PyList>> {
        let (q, _) = inputs::query(query)?;
        let opts = options(
            top_k,
            mode,
            rerank,
            rerank_patience,
            scoring,
            threads,
            query_share,
        )
        .map_err(|e| crate::errors::to_py(py, e))?;
        let s = self.inner.clone();
        let hits = detached(py, move || Ok(s.search_with(&q, &opts)?))?;
        let items = hits
            .into_iter()
            .map(|h| {
                (
                    h.shard,
                    ids::decode(py, h.hit.id.as_bytes())?,
                    h.hit.score,
                    h.hit.inliers,
                )
                    .into_pyobject(py)
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }
}

/// The shard of `shards` a record id belongs to (the library's
/// `shard_of` over the id's stored form).
#[pyfunction]
pub fn shard_of(id: &Bound<'_, PyAny>, shards: usize) -> PyResult<usize> {
    Ok(mmindex::shard_of(&ids::encode(id)?, shards))
}
