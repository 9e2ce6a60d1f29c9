//! Temporary files that carry per-image data between the phases of a build
//! or rebuild, so memory stays flat whatever the number of images.
//!
//! A spill file lives only for one call: it is deleted when its handle is
//! dropped, and leftovers of a crashed process are deleted on the next open
//! (they end in [`SUFFIX`]). Its layout is private to this module; all
//! integers and floats little-endian:
//!
//! ```text
//! u64 tag | u32 len, id bytes | u32 len, source bytes | u64 content hash
//! u32 n keypoints, n × (f32 x, f32 y, f32 size, f32 angle)
//! u8 payload kind: 0 none, 1 float descriptors, 2 binary descriptors, 3 words
//!   1: u32 rows, u32 dim, rows×dim f32 | 2: u32 rows, u32 bytes, rows×bytes u8 | 3: u32 n, n × u32
//! ```

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::features::{Descriptors, Keypoint};

/// File name suffix of spill files.
pub(crate) const SUFFIX: &str = ".mmindex-spill";

/// One image's data between phases.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spilled {
    /// The caller's tag (a doc id in a rebuild).
    pub tag: u64,
    pub id: Vec<u8>,
    pub source: Vec<u8>,
    pub hash: u64,
    pub keypoints: Vec<Keypoint>,
    pub payload: Payload,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Payload {
    None,
    Descriptors(Descriptors),
    Words(Vec<u32>),
}

/// Deletes the file when dropped.
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An append-only spill file.
pub(crate) struct SpillWriter {
    out: BufWriter<File>,
    path: TempPath,
    records: u64,
    bytes: u64,
}

/// Reads a finished spill file back in write order.
pub(crate) struct SpillReader {
    input: BufReader<File>,
    path: TempPath,
    remaining: u64,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl SpillWriter {
    /// A new spill file in `dir`.
    pub(crate) fn create(dir: &Path) -> Result<SpillWriter> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{}-{n}{SUFFIX}", std::process::id()));
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(SpillWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            path: TempPath(path),
            records: 0,
            bytes: 0,
        })
    }

    pub(crate) fn write(&mut self, s: &Spilled) -> Result<()> {
        let mut b = Vec::with_capacity(64 + s.keypoints.len() * 16);
        b.extend_from_slice(&s.tag.to_le_bytes());
        put_bytes(&mut b, &s.id);
        put_bytes(&mut b, &s.source);
        b.extend_from_slice(&s.hash.to_le_bytes());
        b.extend_from_slice(&(s.keypoints.len() as u32).to_le_bytes());
        for k in &s.keypoints {
            for v in [k.x, k.y, k.size, k.angle] {
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        match &s.payload {
            Payload::None => b.push(0),
            Payload::Descriptors(Descriptors::Float { dim, data }) => {
                b.push(1);
                b.extend_from_slice(&((data.len() / dim.max(&1)) as u32).to_le_bytes());
                b.extend_from_slice(&(*dim as u32).to_le_bytes());
                for v in data {
                    b.extend_from_slice(&v.to_le_bytes());
                }
            }
            Payload::Descriptors(Descriptors::Binary { bytes, data }) => {
                b.push(2);
                b.extend_from_slice(&((data.len() / bytes.max(&1)) as u32).to_le_bytes());
                b.extend_from_slice(&(*bytes as u32).to_le_bytes());
                b.extend_from_slice(data);
            }
            Payload::Words(w) => {
                b.push(3);
                b.extend_from_slice(&(w.len() as u32).to_le_bytes());
                for v in w {
                    b.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        self.out
            .write_all(&b)
            .map_err(|e| Error::io(&self.path.0, e))?;
        self.records += 1;
        self.bytes += b.len() as u64;
        Ok(())
    }

    /// Records written.
    pub(crate) fn len(&self) -> u64 {
        self.records
    }

    /// Bytes written.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Finishes writing and opens the file for reading from the start.
    pub(crate) fn into_reader(mut self) -> Result<SpillReader> {
        self.out.flush().map_err(|e| Error::io(&self.path.0, e))?;
        let file = File::open(&self.path.0).map_err(|e| Error::io(&self.path.0, e))?;
        Ok(SpillReader {
            input: BufReader::with_capacity(1 << 20, file),
            path: self.path,
            remaining: self.records,
        })
    }
}

fn put_bytes(b: &mut Vec<u8>, v: &[u8]) {
    b.extend_from_slice(&(v.len() as u32).to_le_bytes());
    b.extend_from_slice(v);
}

impl SpillReader {
    /// Records not read yet.
    pub(crate) fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Up to `n` next records.
    pub(crate) fn next_chunk(&mut self, n: usize) -> Result<Vec<Spilled>> {
        let take = (n as u64).min(self.remaining) as usize;
        let mut out = Vec::with_capacity(take);
        for _ in 0..take {
            out.push(self.read_one()?);
            self.remaining -= 1;
        }
        Ok(out)
    }

    fn read_one(&mut self) -> Result<Spilled> {
        let tag = self.u64()?;
        let id = self.bytes()?;
        let source = self.bytes()?;
        let hash = self.u64()?;
        let n = self.u32()? as usize;
        let raw = self.exact(n * 16)?;
        let keypoints = raw
            .chunks_exact(16)
            .map(|c| {
                let f = |i: usize| f32::from_le_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
                Keypoint {
                    x: f(0),
                    y: f(4),
                    size: f(8),
                    angle: f(12),
                }
            })
            .collect();
        let payload = match self.exact(1)?[0] {
            0 => Payload::None,
            1 => {
                let (rows, dim) = (self.u32()? as usize, self.u32()? as usize);
                let raw = self.exact(rows * dim * 4)?;
                let data = raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                Payload::Descriptors(Descriptors::Float { dim, data })
            }
            2 => {
                let (rows, bytes) = (self.u32()? as usize, self.u32()? as usize);
                let data = self.exact(rows * bytes)?;
                Payload::Descriptors(Descriptors::Binary { bytes, data })
            }
            3 => {
                let n = self.u32()? as usize;
                let raw = self.exact(n * 4)?;
                Payload::Words(
                    raw.chunks_exact(4)
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )
            }
            k => return Err(self.damaged(format!("unknown payload kind {k}"))),
        };
        Ok(Spilled {
            tag,
            id,
            source,
            hash,
            keypoints,
            payload,
        })
    }

    fn exact(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut v = vec![0u8; n];
        self.input
            .read_exact(&mut v)
            .map_err(|e| Error::io(&self.path.0, e))?;
        Ok(v)
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.exact(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64> {
        let b = self.exact(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_le_bytes(a))
    }

    fn bytes(&mut self) -> Result<Vec<u8>> {
        let n = self.u32()? as usize;
        self.exact(n)
    }

    fn damaged(&self, reason: String) -> Error {
        Error::io(
            &self.path.0,
            std::io::Error::new(std::io::ErrorKind::InvalidData, reason),
        )
    }
}

/// Deletes spill files left in `dir` by a crashed process.
pub(crate) fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().ends_with(SUFFIX) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_cleanup() {
        let dir = tempfile::tempdir().unwrap();
        let records = vec![
            Spilled {
                tag: 7,
                id: b"a".to_vec(),
                source: b"/x/a.jpg".to_vec(),
                hash: 99,
                keypoints: vec![Keypoint {
                    x: 1.0,
                    y: 2.0,
                    size: 3.0,
                    angle: -1.0,
                }],
                payload: Payload::Descriptors(Descriptors::Float {
                    dim: 2,
                    data: vec![0.5, 1.5],
                }),
            },
            Spilled {
                tag: 8,
                id: b"b".to_vec(),
                source: Vec::new(),
                hash: 1,
                keypoints: Vec::new(),
                payload: Payload::Descriptors(Descriptors::Binary {
                    bytes: 3,
                    data: vec![1, 2, 3, 4, 5, 6],
                }),
            },
            Spilled {
                tag: 9,
                id: b"c".to_vec(),
                source: Vec::new(),
                hash: 2,
                keypoints: Vec::new(),
                payload: Payload::Words(vec![3, 1, 4]),
            },
        ];
        let mut w = SpillWriter::create(dir.path()).unwrap();
        for r in &records {
            w.write(r).unwrap();
        }
        let mut r = w.into_reader().unwrap();
        assert_eq!(r.next_chunk(2).unwrap(), records[..2]);
        assert_eq!(r.next_chunk(5).unwrap(), records[2..]);
        assert_eq!(r.remaining(), 0);
        drop(r);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "deleted on drop"
        );
    }
}
