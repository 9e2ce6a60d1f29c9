//! The library's errors as the Python exceptions of `mmindex.errors`, and
//! the one way native code runs library calls: with the GIL released and
//! panics caught.
//!
//! The exception classes are defined in Python (`mmindex/errors.py`), where
//! they can inherit from `ValueError` or `OSError` as well as from
//! `mmindex.Error`, carry typed attributes and be documented for editors;
//! this module only chooses the class and its fields.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};
use pyo3::IntoPyObjectExt;

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// An instance of `mmindex.errors.<class>(message, **fields)` as a `PyErr`.
pub fn raise(py: Python<'_>, class: &str, message: String, fields: &[(&str, Py<PyAny>)]) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let module = ERRORS.get_or_try_init(py, || {
            PyModule::import(py, "mmindex.errors").map(Bound::unbind)
        })?;
        let cls = module.bind(py).getattr(class)?;
        let kwargs = PyDict::new(py);
        for (k, v) in fields {
            kwargs.set_item(k, v.bind(py))?;
        }
        Ok(PyErr::from_value(cls.call((message,), Some(&kwargs))?))
    };
    // Failing to build the exception (the package is broken) still raises.
    build().unwrap_or_else(|e| e)
}

fn obj<'py, T: IntoPyObject<'py>>(py: Python<'py>, v: T) -> Py<PyAny> {
    v.into_py_any(py).unwrap_or_else(|_| py.None())
}

/// The exception for a library error.
pub fn to_py(py: Python<'_>, e: mmindex::Error) -> PyErr {
    use mmindex::Error as E;
    let message = e.to_string();
    let o = |v: String| obj(py, v);
    match e {
        E::Io { path, source } => raise(
            py,
            "IoError",
            message,
            &[("path", obj(py, path)), ("reason", o(source.to_string()))],
        ),
        E::Storage(source) => raise(
            py,
            "StorageError",
            message,
            &[("reason", o(source.to_string()))],
        ),
        E::Image { path, reason } => raise(
            py,
            "ImageError",
            message,
            &[("path", obj(py, path)), ("reason", o(reason))],
        ),
        E::Corruption { tree, key, reason } => raise(
            py,
            "CorruptionError",
            message,
            &[("tree", o(tree)), ("key", o(key)), ("reason", o(reason))],
        ),
        E::Damaged { reason } => raise(py, "DamagedError", message, &[("reason", o(reason))]),
        E::IncompatibleFormat {
            found, supported, ..
        } => raise(
            py,
            "IncompatibleFormatError",
            message,
            &[("found", obj(py, found)), ("supported", obj(py, supported))],
        ),
        E::NotAnIndex { path, reason } => raise(
            py,
            "NotAnIndexError",
            message,
            &[("path", obj(py, path)), ("reason", o(reason))],
        ),
        E::NoCodebook => raise(py, "NoCodebookError", message, &[]),
        E::TooFewDescriptors { found, needed } => raise(
            py,
            "TooFewDescriptorsError",
            message,
            &[("found", obj(py, found)), ("needed", obj(py, needed))],
        ),
        E::Locked { path } => raise(py, "LockedError", message, &[("path", obj(py, path))]),
        E::WriterBusy => raise(py, "WriterBusyError", message, &[]),
        E::InvalidConfig(reason) => {
            raise(py, "InvalidConfigError", message, &[("reason", o(reason))])
        }
        E::Records { path, reason } => raise(
            py,
            "RecordsError",
            message,
            &[("path", obj(py, path)), ("reason", o(reason))],
        ),
        E::CompactionCheck { path, reason } => raise(
            py,
            "CompactionError",
            message,
            &[("path", obj(py, path)), ("reason", o(reason))],
        ),
        E::Training(reason) => raise(py, "TrainingError", message, &[("reason", o(reason))]),
        E::StalePreparedQuery { .. } => raise(py, "StalePreparedQueryError", message, &[]),
        E::BadVocabulary { reason, .. } => {
            raise(py, "VocabularyError", message, &[("reason", o(reason))])
        }
        E::VocabularyMismatch { .. } => raise(py, "VocabularyError", message, &[]),
        // A variant added to the library later: the base class.
        _ => raise(py, "Error", message, &[]),
    }
}

/// The exception for a panic inside the library: a bug, reported as
/// `mmindex.InternalError` instead of ending the interpreter.
pub fn panic_error(py: Python<'_>, payload: Box<dyn Any + Send>) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    raise(
        py,
        "InternalError",
        format!("internal error in mmindex (please report it): {what}"),
        &[("reason", obj(py, what))],
    )
}

/// What native code failed with while the GIL was released: converted to
/// a Python exception once it is held again.
pub enum Failure {
    Lib(mmindex::Error),
    Panic(Box<dyn Any + Send>),
    /// A class of `mmindex.errors` and its message.
    Other(&'static str, String),
}

impl From<mmindex::Error> for Failure {
    fn from(e: mmindex::Error) -> Self {
        Failure::Lib(e)
    }
}

impl Failure {
    pub fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Lib(e) => to_py(py, e),
            Failure::Panic(p) => panic_error(py, p),
            Failure::Other(class, message) => raise(py, class, message, &[]),
        }
    }
}

/// Runs `f` with the GIL released, so that other Python threads run
/// meanwhile, and with panics caught.
pub fn detached<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> Result<T, Failure> + Send,
{
    let out = py.detach(|| match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(Failure::Panic(p)),
    });
    out.map_err(|e| e.into_py(py))
}
