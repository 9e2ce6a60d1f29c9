//! `mmindex._mmindex.Index`: an open index, its searches and its
//! read-only calls. Every call that reads images or the store runs with the
//! GIL released (`errors::detached`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use mmindex::{Index, IndexConfig, RunOptions, SearchMode, SearchOptions, Searcher};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::{detached, Failure};
use crate::writer::{PyProgress, PyWriter};
use crate::{convert, ids, inputs};

/// An open index and its searcher, dropped together by `close`.
struct Handle {
    index: Index,
    searcher: OnceLock<Searcher>,
}

impl Handle {
    fn searcher(&self) -> mmindex::Result<Searcher> {
        if let Some(s) = self.searcher.get() {
            return Ok(s.clone());
        }
        // Fails until the index has a codebook; cached once it succeeds
        // (a searcher follows later generations by itself).
        let s = self.index.searcher()?;
        Ok(self.searcher.get_or_init(|| s).clone())
    }
}

#[pyclass(frozen, name = "Index", module = "mmindex._mmindex")]
pub struct PyIndex {
    handle: RwLock<Option<Arc<Handle>>>,
    path: PathBuf,
    /// Nanoseconds the last search spent in the library (benchmarks
    /// subtract it from a search's wall time to get what Python adds).
    last_search_ns: AtomicU64,
}

fn closed() -> Failure {
    Failure::Other("ClosedError", "the index is closed".into())
}

/// Hits as the library returns them.
type Hits = Vec<mmindex::Hit>;

impl PyIndex {
    fn handle(&self) -> Result<Arc<Handle>, Failure> {
        self.handle
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(closed)
    }

    pub fn index(&self) -> Result<Index, Failure> {
        Ok(self.handle()?.index.clone())
    }

    fn hits<'py>(py: Python<'py>, hits: Hits) -> PyResult<Bound<'py, PyList>> {
        let items = hits
            .into_iter()
            .map(|h| (ids::decode(py, h.id.as_bytes())?, h.score, h.inliers).into_pyobject(py))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }
}

pub fn options(
    top_k: usize,
    mode: &str,
    rerank: usize,
    rerank_patience: usize,
    scoring: Option<&str>,
    threads: usize,
    query_share: f32,
) -> mmindex::Result<SearchOptions> {
    Ok(SearchOptions {
        top_k,
        mode: mode.parse::<SearchMode>()?,
        scoring: scoring.map(convert::scoring).transpose()?,
        rerank,
        rerank_patience,
        threads,
        query_share,
    })
}

#[pymethods]
impl PyIndex {
    /// Opens the index at `path`, creating it with the given options when
    /// the directory is absent or empty (unless `create` is false). Options
    /// left as `None` take the library's defaults.
    #[staticmethod]
    #[pyo3(signature = (path, create=true, feature=None, words=None, max_side=None,
        max_pixels=None, max_features=None, min_features=None, sample_cap=None,
        samples_per_word=None, kmeans_iterations=None, seed=None, scoring=None,
        seal_postings=None, block_cache_bytes=None))]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        create: bool,
        feature: Option<&str>,
        words: Option<u32>,
        max_side: Option<u32>,
        max_pixels: Option<u64>,
        max_features: Option<u32>,
        min_features: Option<u32>,
        sample_cap: Option<u32>,
        samples_per_word: Option<u32>,
        kmeans_iterations: Option<u32>,
        seed: Option<u64>,
        scoring: Option<&str>,
        seal_postings: Option<u64>,
        block_cache_bytes: Option<u64>,
    ) -> PyResult<PyIndex> {
        let mut c = IndexConfig::default();
        let parsed = (|| -> mmindex::Result<()> {
            if let Some(f) = feature {
                c.feature = f.parse()?;
                c.max_features = c.feature.default_max_features();
            }
            if let Some(s) = scoring {
                c.scoring = convert::scoring(s)?;
            }
            Ok(())
        })();
        parsed.map_err(|e| crate::errors::to_py(py, e))?;
        let set = |slot: &mut u32, v: Option<u32>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(&mut c.max_side, max_side);
        set(&mut c.max_features, max_features);
        set(&mut c.min_features, min_features);
        set(&mut c.samples_per_word, samples_per_word);
        set(&mut c.kmeans_iterations, kmeans_iterations);
        if let Some(v) = max_pixels {
            c.max_pixels = v;
        }
        if let Some(v) = seed {
            c.seed = v;
        }
        if let Some(v) = sample_cap {
            c.sample_cap = v;
        }
        let mut builder = Index::builder().config(c);
        // As the builder's `words`: the sample cap follows the words unless
        // it was given.
        if let Some(w) = words {
            builder = builder.words(w);
        }
        if let Some(n) = seal_postings {
            builder = builder.seal_postings(n);
        }
        if let Some(n) = block_cache_bytes {
            builder = builder.block_cache_bytes(n);
        }
        let target = path.clone();
        let index = detached(py, move || {
            let absent = !target.exists()
                || std::fs::read_dir(&target).is_ok_and(|mut d| d.next().is_none());
            if absent && !create {
                // The library's own error for a directory without an index.
                return Ok(Index::open(&target)?);
            }
            Ok(builder.open(&target)?)
        })?;
        Ok(PyIndex {
            last_search_ns: AtomicU64::new(0),
            path: index.path().to_path_buf(),
            handle: RwLock::new(Some(Arc::new(Handle {
                index,
                searcher: OnceLock::new(),
            }))),
        })
    }

    /// The index directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// Whether `close` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.handle
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }

    /// Releases this handle; the directory is unlocked once writers made
    /// from it are closed and running calls have returned.
    fn close(&self, py: Python<'_>) {
        let h = self
            .handle
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        // Dropping the last handle flushes sled: not under the GIL.
        py.detach(move || drop(h));
    }

    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let index = self.index().map_err(|e| e.into_py(py))?;
        convert::config(py, &index.config())
    }

    #[pyo3(signature = (workers=0, batch_size=50, memory_fraction=0.8, memory_limit=None, max_file_bytes=mmindex::config::DEFAULT_MAX_FILE_BYTES, training_images=mmindex::DEFAULT_TRAINING_IMAGES, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn writer(
        &self,
        py: Python<'_>,
        workers: usize,
        batch_size: usize,
        memory_fraction: f64,
        memory_limit: Option<u64>,
        max_file_bytes: u64,
        training_images: usize,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<PyWriter> {
        let index = self.index().map_err(|e| e.into_py(py))?;
        let opts = RunOptions {
            workers,
            batch_size,
            memory_fraction,
            memory_limit,
            max_file_bytes,
            training_images,
        };
        let progress = progress.map(|cb| Arc::new(PyProgress::new(cb)));
        let p = progress.clone();
        let w = detached(py, move || {
            let mut w = index.writer(opts)?;
            if let Some(p) = p {
                w.set_progress(p);
            }
            Ok(w)
        })?;
        Ok(PyWriter::new(w, progress))
    }

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
        let (q, converting) = inputs::query(query)?;
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
        let h = self.handle().map_err(|e| e.into_py(py))?;
        let last = &self.last_search_ns;
        let hits = detached(py, move || {
            let s = h.searcher()?;
            let t = Instant::now();
            let hits = s.search_with(&q, &opts)?;
            let library = converting + t.elapsed();
            last.store(library.as_nanos() as u64, Ordering::Relaxed);
            Ok(hits)
        })?;
        Self::hits(py, hits)
    }

    #[pyo3(signature = (words, top_k=10, mode="inverted", scoring=None, threads=0, query_share=1.0))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn search_words<'py>(
        &self,
        py: Python<'py>,
        words: &Bound<'py, PyAny>,
        top_k: usize,
        mode: &str,
        scoring: Option<&str>,
        threads: usize,
        query_share: f32,
    ) -> PyResult<Bound<'py, PyList>> {
        let words = inputs::words(words)?;
        let opts = options(top_k, mode, 0, 0, scoring, threads, query_share)
            .map_err(|e| crate::errors::to_py(py, e))?;
        let h = self.handle().map_err(|e| e.into_py(py))?;
        let last = &self.last_search_ns;
        let hits = detached(py, move || {
            let s = h.searcher()?;
            let t = Instant::now();
            let hits = s.search_words(&words, &opts)?;
            last.store(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
            Ok(hits)
        })?;
        Self::hits(py, hits)
    }

    #[pyo3(signature = (max_bytes=None))]
    fn warm<'py>(&self, py: Python<'py>, max_bytes: Option<u64>) -> PyResult<(u64, u64)> {
        let h = self.handle().map_err(|e| e.into_py(py))?;
        let r = detached(py, move || {
            Ok(h.searcher()?.warm(max_bytes.unwrap_or(u64::MAX))?)
        })?;
        Ok((r.words, r.bytes))
    }

    /// The active vocabulary, exported.
    fn export_vocabulary(&self, py: Python<'_>) -> PyResult<crate::vocabulary::PyVocabulary> {
        let index = self.index().map_err(|f| f.into_py(py))?;
        let inner = detached(py, move || Ok(index.export_vocabulary()?))?;
        Ok(crate::vocabulary::PyVocabulary { inner })
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let index = self.index().map_err(|e| e.into_py(py))?;
        let s = detached(py, move || Ok(index.stats()?))?;
        convert::stats(py, &s)
    }

    fn space<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let index = self.index().map_err(|e| e.into_py(py))?;
        let s = detached(py, move || Ok(index.space()?))?;
        convert::space(py, &s)
    }

    fn verify(&self, py: Python<'_>) -> PyResult<(Vec<String>, Vec<String>)> {
        let index = self.index().map_err(|e| e.into_py(py))?;
        let r = detached(py, move || Ok(index.verify()?))?;
        Ok((r.violations, r.notes))
    }

    #[allow(clippy::type_complexity)]
    fn record<'py>(
        &self,
        py: Python<'py>,
        id: &Bound<'py, PyAny>,
    ) -> PyResult<Option<(Bound<'py, PyAny>, Option<String>, u64, u64, u64)>> {
        let key = ids::encode(id)?;
        let index = self.index().map_err(|e| e.into_py(py))?;
        let info = detached(py, move || Ok(index.record(&key)?))?;
        match info {
            None => Ok(None),
            Some(r) => Ok(Some((
                ids::decode(py, r.id.as_bytes())?,
                r.source,
                r.content_hash,
                r.words,
                r.features,
            ))),
        }
    }

    fn contains(&self, py: Python<'_>, id: &Bound<'_, PyAny>) -> PyResult<bool> {
        let key = ids::encode(id)?;
        let index = self.index().map_err(|e| e.into_py(py))?;
        detached(py, move || Ok(index.contains(&key)?))
    }

    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let index = self.index().map_err(|e| e.into_py(py))?;
        let all = detached(py, move || Ok(index.record_ids()?))?;
        let items = all
            .iter()
            .map(|id| ids::decode(py, id.as_bytes()))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let index = self.index().map_err(|e| e.into_py(py))?;
        detached(py, move || Ok(index.flush()?))
    }

    /// Seconds the last search of this handle spent inside the library:
    /// the `Searcher`'s search, and for a pixel array the conversion to grey
    /// that the search would otherwise start with (any thread's: meaningful
    /// for one thread at a time).
    #[getter]
    fn _last_search_seconds(&self) -> f64 {
        self.last_search_ns.load(Ordering::Relaxed) as f64 * 1e-9
    }

    /// Test support: overwrites (or with `None` deletes) a raw stored
    /// value, to damage an index on purpose.
    #[pyo3(signature = (tree, key, value=None))]
    fn _tamper(
        &self,
        py: Python<'_>,
        tree: String,
        key: Vec<u8>,
        value: Option<Vec<u8>>,
    ) -> PyResult<()> {
        let index = self.index().map_err(|e| e.into_py(py))?;
        detached(py, move || {
            Ok(index.__tamper(&tree, &key, value.as_deref())?)
        })
    }

    /// Benchmark support: runs the same search `n` times in Rust, without
    /// the GIL, and returns the seconds taken in all.
    #[pyo3(signature = (query, n, top_k=10, mode="inverted", rerank=mmindex::DEFAULT_RERANK, rerank_patience=mmindex::DEFAULT_RERANK_PATIENCE, threads=0))]
    #[allow(clippy::too_many_arguments, reason = "Python keyword arguments")]
    fn _bench_search(
        &self,
        py: Python<'_>,
        query: &Bound<'_, PyAny>,
        n: usize,
        top_k: usize,
        mode: &str,
        rerank: usize,
        rerank_patience: usize,
        threads: usize,
    ) -> PyResult<f64> {
        // As a Rust caller holds it: the image as given, pixels in their
        // own colour order.
        let q = inputs::to_query(inputs::image(query)?)?;
        let opts = options(top_k, mode, rerank, rerank_patience, None, threads, 1.0)
            .map_err(|e| crate::errors::to_py(py, e))?;
        let h = self.handle().map_err(|e| e.into_py(py))?;
        detached(py, move || {
            let s = h.searcher()?;
            let t = Instant::now();
            for _ in 0..n {
                std::hint::black_box(s.search_with(&q, &opts)?);
            }
            Ok(t.elapsed().as_secs_f64())
        })
    }

    /// Benchmark support: as `_bench_search`, for a query given as words.
    #[pyo3(signature = (words, n, top_k=10, mode="inverted", threads=0))]
    fn _bench_search_words(
        &self,
        py: Python<'_>,
        words: &Bound<'_, PyAny>,
        n: usize,
        top_k: usize,
        mode: &str,
        threads: usize,
    ) -> PyResult<f64> {
        let words = inputs::words(words)?;
        let opts = options(top_k, mode, 0, 0, None, threads, 1.0)
            .map_err(|e| crate::errors::to_py(py, e))?;
        let h = self.handle().map_err(|e| e.into_py(py))?;
        detached(py, move || {
            let s = h.searcher()?;
            let t = Instant::now();
            for _ in 0..n {
                std::hint::black_box(s.search_words(&words, &opts)?);
            }
            Ok(t.elapsed().as_secs_f64())
        })
    }
}
