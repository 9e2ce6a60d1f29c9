//! The `g{N}.codebook` tree, and the IDF vector in `g{N}.stats`.
//!
//! | key | value |
//! | --- | --- |
//! | `header` | [`CodebookHeader`], bincode |
//! | `c` ‖ chunk no. (u32 BE) | up to [`CHUNK_WORDS`] centroids, row-major: f32 LE each (float), or raw bit bytes (binary) |
//! | (stats) `idf` ‖ chunk no. | up to [`CHUNK_WORDS`] IDF weights, f32 LE |
//!
//! Chunking keeps each value far below sled's comfortable value size while
//! loading a vocabulary stays one ordered scan.

use bincode::{Decode, Encode};
use ndarray::Array2;

use super::{keys, DecodeError};
use crate::vocab::Codebook;

/// Centroids (or IDF weights) per chunk.
pub const CHUNK_WORDS: usize = 4096;
/// Key of the header.
pub const HEADER: &[u8] = b"header";
/// Name prefix of centroid chunks.
pub const CENTROIDS: &[u8] = b"c";
/// Name prefix of IDF chunks (in the stats tree).
pub const IDF: &[u8] = b"idf";

/// Shape of a stored codebook.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct CodebookHeader {
    /// 0 = float centroids, 1 = binary.
    pub kind: u8,
    /// Floats or bytes per centroid.
    pub width: u32,
    /// Number of words.
    pub words: u32,
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Every entry of the `g{N}.codebook` tree for `cb`, header included: a
/// flat codebook under [`HEADER`] with its centroid chunks, a vocabulary
/// tree under [`super::vocab_tree::HEADER`] (its presence is what marks a tree).
pub fn entries(cb: &Codebook) -> Vec<Entry> {
    let flat = |kind: u8, chunks: Vec<Vec<u8>>| {
        let header = CodebookHeader {
            kind,
            width: cb.width() as u32,
            words: cb.words() as u32,
        };
        let chunks = chunks
            .into_iter()
            .enumerate()
            .map(|(i, v)| (keys::chunk(CENTROIDS, i as u32), v))
            .collect();
        (HEADER, (super::encode_bincode(&header), chunks))
    };
    let (key, (header, mut chunks)) = match cb {
        Codebook::Float { centroids, .. } => flat(
            0,
            centroids
                .as_standard_layout()
                .as_slice()
                .unwrap_or(&[])
                .chunks(CHUNK_WORDS * cb.width())
                .map(|c| c.iter().flat_map(|v| v.to_le_bytes()).collect())
                .collect(),
        ),
        Codebook::Binary { bytes, centroids } => flat(
            1,
            centroids
                .chunks(CHUNK_WORDS * bytes)
                .map(<[u8]>::to_vec)
                .collect(),
        ),
        Codebook::Tree(t) => (super::vocab_tree::HEADER, super::vocab_tree::encode(t)),
    };
    chunks.insert(0, (key.to_vec(), header));
    chunks
}

/// Decodes a header.
pub fn decode_header(b: &[u8]) -> Result<CodebookHeader, DecodeError> {
    let h: CodebookHeader = super::decode_bincode(b)?;
    if h.kind > 1 || h.width == 0 || h.width > 4096 || h.words < 1 {
        return Err(DecodeError::new(format!(
            "implausible codebook header {h:?}"
        )));
    }
    Ok(h)
}

/// Rebuilds a codebook from its header and its chunk values in order.
pub fn decode(h: &CodebookHeader, chunks: &[Vec<u8>]) -> Result<Codebook, DecodeError> {
    let words = h.words as usize;
    let width = h.width as usize;
    let bytes: usize = chunks.iter().map(Vec::len).sum();
    let elem = if h.kind == 0 { 4 } else { 1 };
    if bytes != words * width * elem {
        return Err(DecodeError::new(format!(
            "codebook chunks hold {bytes} bytes, header needs {}",
            words * width * elem
        )));
    }
    let mut raw = Vec::with_capacity(bytes);
    for c in chunks {
        raw.extend_from_slice(c);
    }
    if h.kind == 1 {
        return Ok(Codebook::Binary {
            bytes: width,
            centroids: raw,
        });
    }
    let data: Vec<f32> = raw
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if data.iter().any(|v| !v.is_finite()) {
        return Err(DecodeError::new("codebook centroid is not finite"));
    }
    let a = Array2::from_shape_vec((words, width), data)
        .map_err(|e| DecodeError::new(e.to_string()))?;
    Ok(Codebook::from_float(a))
}

/// Rebuilds a codebook from every entry of its `g{N}.codebook` tree in key
/// order, as [`entries`] writes them: a vocabulary tree when
/// [`super::vocab_tree::HEADER`] is present, else a flat codebook. Chunks
/// must be numbered 0, 1, … without gaps.
pub fn decode_entries<K: AsRef<[u8]>, V: AsRef<[u8]>>(
    entries: &[(K, V)],
) -> Result<Codebook, DecodeError> {
    let get = |key: &[u8]| {
        entries
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v.as_ref())
    };
    if let Some(h) = get(super::vocab_tree::HEADER) {
        let header = super::vocab_tree::decode_header(h)?;
        let nodes = chunks_of(entries, super::vocab_tree::NODES)?;
        let centroids = chunks_of(entries, super::vocab_tree::CENTROIDS)?;
        return Ok(Codebook::Tree(super::vocab_tree::decode(
            &header, &nodes, &centroids,
        )?));
    }
    let h = get(HEADER).ok_or_else(|| DecodeError::new("codebook header missing"))?;
    let header = decode_header(h)?;
    let chunks: Vec<Vec<u8>> = chunks_of(entries, CENTROIDS)?
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    decode(&header, &chunks)
}

/// The values of the chunks `name` 0, 1, … among `entries` (sorted by key),
/// in order.
pub fn chunks_of<'a, K: AsRef<[u8]>, V: AsRef<[u8]>>(
    entries: &'a [(K, V)],
    name: &[u8],
) -> Result<Vec<&'a [u8]>, DecodeError> {
    let mut out = Vec::new();
    for (k, v) in entries.iter().filter(|(k, _)| k.as_ref().starts_with(name)) {
        let i = out.len() as u32;
        if k.as_ref() != keys::chunk(name, i).as_slice() {
            return Err(DecodeError::new(format!(
                "chunk {i} of {} missing or out of order",
                String::from_utf8_lossy(name)
            )));
        }
        out.push(v.as_ref());
    }
    Ok(out)
}

/// IDF chunk values, in order.
pub fn encode_idf(idf: &[f32]) -> Vec<Entry> {
    idf.chunks(CHUNK_WORDS)
        .enumerate()
        .map(|(i, c)| {
            (
                keys::chunk(IDF, i as u32),
                c.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect()
}

/// Decodes IDF chunk values into `words` weights.
pub fn decode_idf(chunks: &[Vec<u8>], words: usize) -> Result<Vec<f32>, DecodeError> {
    let mut idf = Vec::with_capacity(words);
    for c in chunks {
        if c.len() % 4 != 0 {
            return Err(DecodeError::new("IDF chunk length not a multiple of 4"));
        }
        idf.extend(
            c.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
    }
    if idf.len() != words {
        return Err(DecodeError::new(format!(
            "{} IDF weights for {words} words",
            idf.len()
        )));
    }
    if idf.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return Err(DecodeError::new("IDF weight negative or not finite"));
    }
    Ok(idf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn codebook_round_trip() {
        for cb in [
            Codebook::from_float(array![[1.0, 2.0], [3.0, -4.5], [0.0, 1e-3]]),
            Codebook::Binary {
                bytes: 3,
                centroids: vec![1, 2, 3, 4, 5, 6],
            },
        ] {
            let mut e = entries(&cb);
            let (key, h) = e.remove(0);
            assert_eq!(key, HEADER);
            let h = decode_header(&h).unwrap();
            let vals: Vec<Vec<u8>> = e.into_iter().map(|(_, v)| v).collect();
            assert_eq!(decode(&h, &vals).unwrap(), cb);
        }
    }

    #[test]
    fn idf_round_trip_and_length_check() {
        let idf: Vec<f32> = (0..10_000).map(|i| i as f32 / 7.0).collect();
        let vals: Vec<Vec<u8>> = encode_idf(&idf).into_iter().map(|(_, v)| v).collect();
        assert_eq!(decode_idf(&vals, idf.len()).unwrap(), idf);
        assert!(decode_idf(&vals, idf.len() + 1).is_err());
    }
}
