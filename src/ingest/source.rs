//! Where records come from: one image per record, by path or bytes; a folder
//! walk; a JSON-lines records file.

use std::io::BufRead;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::features::ImageInput;
use crate::ingest::RecordError;
use crate::store::codec::MAX_RECORD_ID;
use crate::RecordId;

/// One record to index: its id and its image.
#[derive(Debug, Clone)]
pub struct Source {
    /// The record's external id.
    pub id: RecordId,
    /// Its image.
    pub input: ImageInput,
}

impl Source {
    /// A record whose image is a file.
    pub fn path(id: impl Into<RecordId>, path: impl Into<PathBuf>) -> Source {
        Source {
            id: id.into(),
            input: ImageInput::Path(path.into()),
        }
    }

    /// A record whose image is a file that must lie inside `root` once every
    /// symlink is resolved (`path` is relative to `root`, or absolute). The
    /// file is opened once, and the check and the read use that descriptor,
    /// so a symlink swapped meanwhile cannot lead the read out of the root;
    /// a path that cannot be read inside the root fails its record with
    /// [`NOT_INSIDE`](crate::NOT_INSIDE).
    pub fn path_within(
        id: impl Into<RecordId>,
        root: impl Into<PathBuf>,
        path: impl Into<PathBuf>,
    ) -> Source {
        Source {
            id: id.into(),
            input: ImageInput::Within {
                root: root.into(),
                path: path.into(),
            },
        }
    }

    /// A record whose image is in memory.
    pub fn bytes(id: impl Into<RecordId>, bytes: impl Into<Vec<u8>>) -> Source {
        Source {
            id: id.into(),
            input: ImageInput::Bytes(bytes.into()),
        }
    }

    /// A record whose image is decoded pixels (see
    /// [`Pixels`](crate::features::Pixels)). Like in-memory bytes, it has no
    /// file, so a rebuild cannot re-extract it.
    pub fn pixels(id: impl Into<RecordId>, pixels: crate::features::Pixels) -> Source {
        Source {
            id: id.into(),
            input: ImageInput::Pixels(pixels),
        }
    }
}

/// File extensions taken as images by a folder walk (case-insensitive).
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "png", "bmp", "tif", "tiff", "webp", "pgm", "ppm", "pbm", "pnm", "jp2",
    "gif",
];

/// Every image file under `dir` (recursively, by extension, symlinks
/// followed to files), in path order. The id of each is its path relative to
/// `dir` with `/` separators; its source is the absolute path. Entries that
/// cannot be read are returned as errors beside the sources.
pub fn folder(dir: &Path) -> Result<(Vec<Source>, Vec<RecordError>)> {
    let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !meta.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
        ));
    }
    // Sources are stored absolute, so that a later rebuild from another
    // working directory finds the files again.
    let dir = &std::path::absolute(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    let mut errors = Vec::new();
    walk(dir, &mut files, &mut errors, 0);
    files.sort();
    let sources = files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap_or(&p);
            Source::path(relative_id(rel), p.clone())
        })
        .collect();
    Ok((sources, errors))
}

/// Depth cap of the folder walk, against symlink loops.
const MAX_DEPTH: usize = 64;

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<RecordError>, depth: usize) {
    let unlistable = |e: std::io::Error| {
        RecordError::new(dir_id(dir), dir, format!("cannot list directory: {e}"))
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(unlistable(e));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                errors.push(unlistable(e));
                continue;
            }
        };
        let path = entry.path();
        let is_dir = std::fs::metadata(&path)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if is_dir {
            if depth < MAX_DEPTH {
                walk(&path, files, errors, depth + 1);
            }
        } else if has_image_extension(&path) {
            files.push(path);
        }
    }
}

fn dir_id(dir: &Path) -> RecordId {
    RecordId::from(dir.to_string_lossy().into_owned())
}

/// Whether the path ends in one of [`IMAGE_EXTENSIONS`].
pub fn has_image_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// A relative path as an id: its components joined by `/`, raw bytes on
/// Unix so that non-UTF-8 names survive.
fn relative_id(rel: &Path) -> RecordId {
    let mut out = Vec::new();
    for (i, c) in rel.components().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(&os_bytes(c.as_os_str()));
    }
    RecordId::from(out)
}

#[cfg(unix)]
fn os_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().to_vec()
}

#[cfg(not(unix))]
fn os_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
    s.to_string_lossy().into_owned().into_bytes()
}

/// Records from a JSON-lines file: each non-blank line an object whose
/// `id_field` (a string or an integer) is the record id and whose `field` (a
/// string) names the image file under `files_dir`, as a relative path
/// without `..`. A line that does not fit is an error for that line (its id
/// is `line N`); the rest go on. A file that cannot be read (a directory, an
/// I/O error part way) is [`Error::Records`]: nothing is returned.
pub fn records_file(
    file: &Path,
    id_field: &str,
    field: &str,
    files_dir: &Path,
) -> Result<(Vec<Source>, Vec<RecordError>)> {
    let refuse = |reason: String| Error::Records {
        path: file.into(),
        reason,
    };
    let f = std::fs::File::open(file).map_err(|e| refuse(format!("cannot open: {e}")))?;
    let kind = f
        .metadata()
        .map_err(|e| refuse(format!("cannot read: {e}")))?;
    if kind.is_dir() {
        return Err(refuse("is a directory, not a records file".into()));
    }
    let files_dir = &std::path::absolute(files_dir).map_err(|e| Error::io(files_dir, e))?;
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let n = i + 1;
        let err =
            |reason: String| RecordError::new(RecordId::from(format!("line {n}")), file, reason);
        let line = match line {
            Ok(l) => l,
            // The line was read, but is not UTF-8: only it is lost.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                errors.push(err(format!("line {n}: unreadable: {e}")));
                continue;
            }
            // The file itself fails: reading on would fail forever.
            Err(e) => return Err(refuse(format!("cannot read line {n}: {e}"))),
        };
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                errors.push(err(format!("line {n}: malformed JSON: {e}")));
                continue;
            }
        };
        let id = match v.get(id_field) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(x)) if x.is_i64() || x.is_u64() => x.to_string(),
            Some(other) => {
                errors.push(err(format!(
                    "line {n}: id field `{id_field}` must be a string or an integer, found {other}"
                )));
                continue;
            }
            None => {
                errors.push(err(format!("line {n}: missing id field `{id_field}`")));
                continue;
            }
        };
        if id.is_empty() || id.len() > MAX_RECORD_ID {
            errors.push(err(format!(
                "line {n}: id field `{id_field}` must be 1 to {MAX_RECORD_ID} bytes long, \
                 not {}",
                id.len()
            )));
            continue;
        }
        match v.get(field) {
            Some(serde_json::Value::String(name)) => {
                let rel = Path::new(name);
                let escapes = rel.is_absolute()
                    || rel
                        .components()
                        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
                if escapes || name.is_empty() {
                    errors.push(RecordError::new(
                        RecordId::from(id),
                        file,
                        format!(
                            "line {n}: field `{field}` must name a file inside the files \
                             folder (a relative path without `..`), found {name:?}"
                        ),
                    ));
                    continue;
                }
                sources.push(Source::path(id, files_dir.join(rel)));
            }
            Some(other) => errors.push(RecordError::new(
                RecordId::from(id),
                file,
                format!("line {n}: field `{field}` must be a file name string, found {other}"),
            )),
            None => errors.push(RecordError::new(
                RecordId::from(id),
                file,
                format!("line {n}: missing field `{field}`"),
            )),
        }
    }
    Ok((sources, errors))
}
