//! Record ids between Python and the library, whose ids are bytes.
//!
//! A Python id is a `str`, `bytes` or `int`, and comes back as the same type
//! and value. Stored forms:
//!
//! - `str`: its UTF-8 bytes, untagged: the ids the command line, the HTTP
//!   server and folder builds use, so that every tool sees the same text.
//! - `int`: the byte `0xFF`, `i`, then its decimal digits (`-` first when
//!   negative). `0xFF` never occurs in UTF-8, so no `str` id collides.
//! - `bytes`: the bytes themselves when they are not UTF-8 and do not start
//!   with `0xFF` (such keys cannot be read as a `str` or a tagged id);
//!   otherwise `0xFF`, `b`, then the bytes.
//!
//! Reading a stored id reverses this; an untagged id that is not UTF-8
//! (a file name from a folder build) reads as `bytes`. Stored ids that
//! begin with `0xFF` but are not in a tagged form above are reserved: they
//! read as `bytes` of the whole key.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyInt, PyString};
use pyo3::PyTypeInfo;

const TAG: u8 = 0xFF;
const INT: u8 = b'i';
const BYTES: u8 = b'b';

/// The stored form of a Python id.
pub fn encode(id: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = id.cast::<PyString>() {
        return Ok(s.to_cow()?.as_bytes().to_vec());
    }
    if let Ok(b) = id.cast::<PyBytes>() {
        return Ok(encode_bytes(b.as_bytes()));
    }
    if let Ok(b) = id.cast::<PyByteArray>() {
        return Ok(encode_bytes(&b.to_vec()));
    }
    if id.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(
            "a record id is a str, bytes or int, not a bool",
        ));
    }
    // int, and integer types such as NumPy's (through `__index__`).
    let int = if id.is_instance_of::<PyInt>() {
        Some(id.clone())
    } else if id.hasattr("__index__")? {
        Some(id.call_method0("__index__")?)
    } else {
        None
    };
    match int {
        Some(i) => {
            // The exact type's decimal text: `int.__repr__`, unaffected by
            // subclasses that change `__str__` (enums).
            let digits = PyInt::type_object(id.py())
                .getattr("__repr__")?
                .call1((i,))?
                .extract::<String>()?;
            let mut out = vec![TAG, INT];
            out.extend_from_slice(digits.as_bytes());
            Ok(out)
        }
        None => Err(PyTypeError::new_err(format!(
            "a record id is a str, bytes or int, not {}",
            id.get_type().name()?
        ))),
    }
}

fn encode_bytes(b: &[u8]) -> Vec<u8> {
    if std::str::from_utf8(b).is_ok() || b.first() == Some(&TAG) {
        let mut out = Vec::with_capacity(b.len() + 2);
        out.extend_from_slice(&[TAG, BYTES]);
        out.extend_from_slice(b);
        out
    } else {
        b.to_vec()
    }
}

/// Whether `d` is a decimal integer as `int.__repr__` writes it.
fn canonical_decimal(d: &[u8]) -> bool {
    let digits = d.strip_prefix(b"-").unwrap_or(d);
    !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits == b"0" || digits[0] != b'0')
        && d != b"-0"
}

/// The Python id of a stored id.
pub fn decode<'py>(py: Python<'py>, stored: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    match stored {
        [TAG, BYTES, rest @ ..] if encode_bytes(rest) == stored => {
            Ok(PyBytes::new(py, rest).into_any())
        }
        [TAG, INT, digits @ ..] if canonical_decimal(digits) => {
            // Checked ASCII above.
            let text = std::str::from_utf8(digits).unwrap_or("0");
            match text.parse::<i64>() {
                Ok(v) => Ok(v.into_pyobject(py)?.into_any()),
                Err(_) => PyInt::type_object(py).call1((text,)),
            }
        }
        _ => match std::str::from_utf8(stored) {
            Ok(s) => Ok(PyString::new(py, s).into_any()),
            Err(_) => Ok(PyBytes::new(py, stored).into_any()),
        },
    }
}
