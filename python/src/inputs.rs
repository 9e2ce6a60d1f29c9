//! Python values as the library's inputs: images, record sources, words.
//!
//! The Python layer (`mmindex/_convert.py`) has already turned NumPy arrays
//! and Pillow images into pixel tuples and mappings into pairs; here each
//! value is copied into Rust while the GIL is held, so that the work can
//! then run without it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mmindex::features::ImageInput;
use mmindex::{PixelFormat, Pixels, Query, Source};
use numpy::{PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString, PyTuple};

use crate::errors;

fn pixel_format(name: &str) -> PyResult<PixelFormat> {
    Ok(match name {
        "gray" => PixelFormat::Gray,
        "rgb" => PixelFormat::Rgb,
        "bgr" => PixelFormat::Bgr,
        "rgba" => PixelFormat::Rgba,
        "bgra" => PixelFormat::Bgra,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown pixel format {other:?} (expected gray, rgb, bgr, rgba or bgra)"
            )))
        }
    })
}

/// An image: a path (`str` or `os.PathLike`), encoded bytes (`bytes`,
/// `bytearray`), a NumPy array with its colour order `(array, order)`, or a
/// pixel tuple `(width, height, format, data)` whose data is bytes or a
/// C-contiguous `uint8` NumPy array.
pub fn image(obj: &Bound<'_, PyAny>) -> PyResult<ImageInput> {
    let mut converting = Duration::ZERO;
    read_image(obj, Purpose::Record, &mut converting)
}

/// What an image is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// A record, or a query described as given.
    Record,
    /// A query: a pixel array is kept as its grey image.
    Query,
}

/// As [`image`], for `purpose`; adds to `converting` the time spent in the
/// library converting pixels.
fn read_image(
    obj: &Bound<'_, PyAny>,
    purpose: Purpose,
    converting: &mut Duration,
) -> PyResult<ImageInput> {
    let py = obj.py();
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(ImageInput::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(ImageInput::Bytes(b.to_vec()));
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        if t.len() == 2 {
            let (array, order): (Bound<'_, PyAny>, String) = t.extract()?;
            return Ok(ImageInput::Pixels(array_pixels(
                &array, &order, purpose, converting,
            )?));
        }
        let (w, h, format, data): (u32, u32, String, Bound<'_, PyAny>) = t.extract()?;
        let format = pixel_format(&format)?;
        let bytes = if let Ok(b) = data.cast::<PyBytes>() {
            b.as_bytes().to_vec()
        } else {
            // A C-contiguous uint8 array (the Python layer made it so),
            // borrowed read-only while it is copied.
            let a: PyReadonlyArrayDyn<'_, u8> = data.extract()?;
            a.as_slice()
                .map_err(|_| PyValueError::new_err("a pixel array must be C-contiguous"))?
                .to_vec()
        };
        let p = Pixels::new(w, h, format, bytes).map_err(|e| errors::to_py(py, e))?;
        return Ok(ImageInput::Pixels(p));
    }
    if obj.is_instance_of::<PyString>() || obj.hasattr("__fspath__")? {
        return Ok(ImageInput::Path(obj.extract::<PathBuf>()?));
    }
    Err(PyTypeError::new_err(format!(
        "an image is a path, bytes, or a uint8 array (HxW or HxWx3), not {}",
        obj.get_type().name()?
    )))
}

/// A NumPy array `H×W`, `H×W×1`, `H×W×3` or `H×W×4` of `uint8` as pixels,
/// colour channels in `order` (`rgb` or `bgr`), copied once in row-major
/// order whatever its strides.
fn array_pixels(
    array: &Bound<'_, PyAny>,
    order: &str,
    purpose: Purpose,
    converting: &mut Duration,
) -> PyResult<Pixels> {
    let py = array.py();
    let a = array.cast::<PyArrayDyn<u8>>().map_err(|_| {
        let dtype = array
            .getattr("dtype")
            .and_then(|d| d.str())
            .map(|s| s.to_string())
            .unwrap_or_else(|_| "?".into());
        PyTypeError::new_err(format!(
            "a pixel array holds uint8 values (as OpenCV and Pillow give them), not {dtype}"
        ))
    })?;
    let shape = a.shape().to_vec();
    let colour = |alpha: bool| -> PyResult<PixelFormat> {
        Ok(match (order, alpha) {
            ("rgb", false) => PixelFormat::Rgb,
            ("bgr", false) => PixelFormat::Bgr,
            ("rgb", true) => PixelFormat::Rgba,
            ("bgr", true) => PixelFormat::Bgra,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "color_order is 'rgb' or 'bgr', not {order:?}"
                )))
            }
        })
    };
    let format = match shape.as_slice() {
        [_, _] | [_, _, 1] => PixelFormat::Gray,
        [_, _, 3] => colour(false)?,
        [_, _, 4] => colour(true)?,
        _ => {
            return Err(PyValueError::new_err(format!(
                "a pixel array is HxW, HxWx1, HxWx3 or HxWx4, not of shape {shape:?}"
            )))
        }
    };
    let too_big =
        || PyValueError::new_err(format!("a pixel array of shape {shape:?} is too large"));
    let h = u32::try_from(shape[0]).map_err(|_| too_big())?;
    let w = u32::try_from(shape[1]).map_err(|_| too_big())?;
    let ro = a.readonly();
    let pixels = match ro.as_slice() {
        // A query keeps only the grey image its search would compute first:
        // a copy of the whole array would cost about as much as the
        // conversion (the array is read once either way), and the search
        // then has one step less.
        Ok(s) if purpose == Purpose::Query => {
            let t = Instant::now();
            let p = Pixels::gray_from(w, h, format, s);
            *converting += t.elapsed();
            p
        }
        Ok(s) => Pixels::new(w, h, format, s.to_vec()),
        // Any strides (a view, a flipped channel axis): row-major order.
        Err(_) => Pixels::new(
            w,
            h,
            format,
            ro.as_array().iter().copied().collect::<Vec<u8>>(),
        ),
    };
    pixels.map_err(|e| errors::to_py(py, e))
}

/// A query image; a pixel array is kept as the grey image its search
/// starts from. Also returns the time the library spent on that conversion:
/// part of the search's own work, which a Rust caller's `search_with` does
/// inside.
pub fn query(obj: &Bound<'_, PyAny>) -> PyResult<(Query, Duration)> {
    let mut converting = Duration::ZERO;
    let input = read_image(obj, Purpose::Query, &mut converting)?;
    Ok((to_query(input)?, converting))
}

/// A query from an image read for any purpose.
pub fn to_query(input: ImageInput) -> PyResult<Query> {
    Ok(match input {
        ImageInput::Path(p) => Query::path(p),
        ImageInput::Bytes(b) => Query::bytes(b),
        ImageInput::Pixels(p) => Query::pixels(p),
        _ => return Err(PyTypeError::new_err("unsupported image input")),
    })
}

/// Records to ingest: a folder of images, or `(id, image)` pairs.
pub enum Sources {
    Folder(PathBuf),
    List(Vec<Source>),
}

pub fn sources(obj: &Bound<'_, PyAny>) -> PyResult<Sources> {
    if obj.is_instance_of::<PyString>() || obj.hasattr("__fspath__")? {
        return Ok(Sources::Folder(obj.extract::<PathBuf>()?));
    }
    let mut out = Vec::new();
    for item in obj.try_iter()? {
        let item = item?;
        let (id, img): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract().map_err(|_| {
            PyTypeError::new_err(
                "records are (id, image) pairs, a mapping of id to image, or a folder",
            )
        })?;
        out.push(Source {
            id: crate::ids::encode(&id)?.into(),
            input: image(&img)?,
        });
    }
    Ok(Sources::List(out))
}

impl Sources {
    /// The sources, and the folder entries that could not be listed.
    pub fn resolve(self) -> mmindex::Result<(Vec<Source>, Vec<mmindex::RecordError>)> {
        match self {
            Sources::Folder(dir) => mmindex::source::folder(&dir),
            Sources::List(v) => Ok((v, Vec::new())),
        }
    }
}

/// Visual words: little-endian `uint32` bytes (a NumPy array's), or ints.
pub fn words(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        let b = b.as_bytes();
        if b.len() % 4 != 0 {
            return Err(PyValueError::new_err(
                "words as bytes are little-endian uint32 values",
            ));
        }
        return Ok(b
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect());
    }
    obj.extract::<Vec<u32>>()
}
