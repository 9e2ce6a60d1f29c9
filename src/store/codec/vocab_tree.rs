//! A vocabulary tree in the `g{N}.codebook` tree.
//!
//! | key | value |
//! | --- | --- |
//! | `tree` | [`TreeHeader`], bincode (its presence marks the codebook as a tree; a flat one has `header`) |
//! | `n` ‖ chunk no. (u32 BE) | up to [`CHUNK_NODES`] node records of [`NODE_BYTES`]: `first_child`, `child_count`, `word` (u32 LE each; `word` = `u32::MAX` on internal nodes) |
//! | `c` ‖ chunk no. (u32 BE) | up to [`CHUNK_NODES`] centroid rows, node order, root first: f32 LE ([`ELEM_F32`]), one byte per value ([`ELEM_U8`]), or raw bit bytes (binary) |
//!
//! The arrays are [`TreeParts`]' own, so encoding and decoding are straight
//! copies plus the structural check of [`VocabTree::from_parts`].
//!
//! ## Why float centroids are stored as bytes when they can be
//! SIFT values are integers in 0..=255, and tree training rounds the
//! centroids of such samples to integers, so they fit one byte each
//! exactly; [`encode`] uses [`ELEM_U8`] whenever every value is such an
//! integer (an exactness check, not a lossy conversion) and f32 otherwise
//! (RootSIFT). Measured with `examples/quantize_speed.rs` on the 2-core
//! reference machine, for a SIFT-like tree of b = 10, L = 6 (773,562 words,
//! 877,596 nodes): 122.9 MB stored as u8 against 459.9 MB as f32; opening
//! sled then loading (scan, decode, check) took 0.10 + 0.29 s as u8 against
//! 0.40 + 0.41 s as f32. Both are under a second, but u8 halves the time and
//! quarters the disk space at no cost in quality: on the 10^5-word tree the
//! mean squared distance of 20,000 queries to their word's centroid was
//! 88,757 with rounded centroids against 89,637 for a tree trained with
//! none (rounding moves a centroid by at most 0.5 per dimension, √32 ≈ 5.7
//! in all, against a typical leaf radius of about 300).
//! docs/FEATURES.md ("Vocabulary tree") has the full table.

use bincode::{Decode, Encode};

use super::{keys, DecodeError};
use crate::vocab::{Centroids, TreeParts, VocabTree, NO_WORD};

/// Nodes per chunk (node records and centroid rows alike): 512 KB of u8
/// SIFT centroids, 2 MB as f32.
pub const CHUNK_NODES: usize = 4096;
/// Bytes per node record.
pub const NODE_BYTES: usize = 12;
/// Key of the header.
pub const HEADER: &[u8] = b"tree";
/// Name prefix of node-record chunks.
pub const NODES: &[u8] = b"n";
/// Name prefix of centroid chunks.
pub const CENTROIDS: &[u8] = b"c";
/// `kind` of a float tree.
pub const KIND_FLOAT: u8 = 0;
/// `kind` of a binary tree.
pub const KIND_BINARY: u8 = 1;
/// `elem`: f32 little-endian values.
pub const ELEM_F32: u8 = 0;
/// `elem`: one byte per value (integers 0..=255 for float trees, bit bytes
/// for binary trees).
pub const ELEM_U8: u8 = 1;
/// `elem`: one byte `b` per value `b / 255` (float trees whose centroids all
/// lie on that grid: RootSIFT, whose training snaps centroids to it).
pub const ELEM_UNIT8: u8 = 2;

/// Shape of a stored vocabulary tree.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TreeHeader {
    /// [`KIND_FLOAT`] or [`KIND_BINARY`].
    pub kind: u8,
    /// [`ELEM_F32`] or [`ELEM_U8`] (always [`ELEM_U8`] for binary trees).
    pub elem: u8,
    /// Floats or bytes per centroid.
    pub width: u32,
    /// Branching factor b.
    pub branching: u32,
    /// Depth L.
    pub depth: u32,
    /// Nodes, the root included.
    pub nodes: u32,
    /// Words (leaves).
    pub words: u32,
}

/// A key and its value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The header and the chunk entries (node records, then centroids) of a
/// tree.
pub fn encode(t: &VocabTree) -> (Vec<u8>, Vec<Entry>) {
    let p = t.parts();
    let w = p.width;
    let (kind, elem) = match &p.centroids {
        Centroids::Binary(_) => (KIND_BINARY, ELEM_U8),
        Centroids::Float(c) if c.iter().all(|v| fits_u8(*v)) => (KIND_FLOAT, ELEM_U8),
        Centroids::Float(c) if c.iter().all(|v| fits_unit8(*v)) => (KIND_FLOAT, ELEM_UNIT8),
        Centroids::Float(_) => (KIND_FLOAT, ELEM_F32),
    };
    // Shapes fit u32: VocabTree's invariants bound nodes below u32::MAX and
    // width, branching and depth far lower.
    let header = TreeHeader {
        kind,
        elem,
        width: w as u32,
        branching: p.branching as u32,
        depth: p.depth as u32,
        nodes: t.nodes() as u32,
        words: t.words() as u32,
    };
    let mut entries = Vec::new();
    for (i, start) in (0..t.nodes()).step_by(CHUNK_NODES).enumerate() {
        let end = (start + CHUNK_NODES).min(t.nodes());
        let mut v = Vec::with_capacity((end - start) * NODE_BYTES);
        for n in start..end {
            v.extend_from_slice(&p.first_child[n].to_le_bytes());
            v.extend_from_slice(&p.child_count[n].to_le_bytes());
            v.extend_from_slice(&p.word[n].to_le_bytes());
        }
        entries.push((keys::chunk(NODES, i as u32), v));
    }
    let rows = CHUNK_NODES * w;
    let centroid_chunks: Vec<Vec<u8>> = match &p.centroids {
        Centroids::Binary(c) => c.chunks(rows).map(<[u8]>::to_vec).collect(),
        Centroids::Float(c) if elem == ELEM_U8 => c
            .chunks(rows)
            .map(|c| c.iter().map(|v| *v as u8).collect())
            .collect(),
        Centroids::Float(c) if elem == ELEM_UNIT8 => c
            .chunks(rows)
            .map(|c| c.iter().map(|v| (v * 255.0).round() as u8).collect())
            .collect(),
        Centroids::Float(c) => c
            .chunks(rows)
            .map(|c| c.iter().flat_map(|v| v.to_le_bytes()).collect())
            .collect(),
    };
    for (i, v) in centroid_chunks.into_iter().enumerate() {
        entries.push((keys::chunk(CENTROIDS, i as u32), v));
    }
    (super::encode_bincode(&header), entries)
}

/// Whether a float is stored exactly in one byte.
fn fits_u8(v: f32) -> bool {
    v.fract() == 0.0 && (0.0..=255.0).contains(&v)
}

/// Whether a float is exactly `b / 255` for a byte `b` (as decoded).
fn fits_unit8(v: f32) -> bool {
    (0.0..=1.0).contains(&v) && crate::vocab::unit_byte_value(v).to_bits() == v.to_bits()
}

/// Decodes a header, refusing shapes no valid tree has.
pub fn decode_header(b: &[u8]) -> Result<TreeHeader, DecodeError> {
    let h: TreeHeader = super::decode_bincode(b)?;
    let plausible = h.kind <= KIND_BINARY
        && h.elem <= ELEM_UNIT8
        && (h.kind == KIND_FLOAT || h.elem == ELEM_U8)
        && h.width >= 1
        && h.branching >= 2
        && h.depth >= 1
        && h.nodes >= 2
        && h.nodes < NO_WORD
        && h.words >= 1
        && h.words < h.nodes;
    if !plausible {
        return Err(DecodeError::new(format!("implausible tree header {h:?}")));
    }
    Ok(h)
}

/// Rebuilds a tree from its header and its node-record and centroid chunk
/// values, each in chunk order.
///
/// Sizes claimed by the header are checked against the bytes present before
/// anything is allocated, so a forged header cannot make this allocate more
/// than its input; then every invariant of [`VocabTree::from_parts`] is
/// checked.
///
/// Chunks may be any byte containers (`Vec<u8>`, sled's `IVec`), so values
/// read from sled need not be copied first.
pub fn decode<B: AsRef<[u8]>>(
    h: &TreeHeader,
    nodes: &[B],
    centroids: &[B],
) -> Result<VocabTree, DecodeError> {
    let n = h.nodes as usize;
    let w = h.width as usize;
    let elem = if h.elem == ELEM_F32 { 4 } else { 1 };
    let have_nodes: usize = nodes.iter().map(|c| c.as_ref().len()).sum();
    if Some(have_nodes) != n.checked_mul(NODE_BYTES) {
        return Err(DecodeError::new(format!(
            "node chunks hold {have_nodes} bytes for {n} nodes"
        )));
    }
    let have_centroids: usize = centroids.iter().map(|c| c.as_ref().len()).sum();
    let need = n.checked_mul(w).and_then(|v| v.checked_mul(elem));
    if Some(have_centroids) != need {
        return Err(DecodeError::new(format!(
            "centroid chunks hold {have_centroids} bytes for {n} nodes of width {w}"
        )));
    }
    let mut first_child = Vec::with_capacity(n);
    let mut child_count = Vec::with_capacity(n);
    let mut word = Vec::with_capacity(n);
    // One concatenation (12 bytes per node, small next to the centroids)
    // accepts any chunking, even records straddling chunk boundaries.
    let mut raw = Vec::with_capacity(have_nodes);
    nodes.iter().for_each(|c| raw.extend_from_slice(c.as_ref()));
    for r in raw.chunks_exact(NODE_BYTES) {
        let u = |i: usize| u32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]);
        first_child.push(u(0));
        child_count.push(u(4));
        word.push(u(8));
    }
    drop(raw);
    let values = n * w;
    let centroids = if h.kind == KIND_BINARY {
        let mut c = Vec::with_capacity(values);
        centroids
            .iter()
            .for_each(|chunk| c.extend_from_slice(chunk.as_ref()));
        Centroids::Binary(c)
    } else if h.elem == ELEM_U8 {
        let mut c = Vec::with_capacity(values);
        for chunk in centroids {
            c.extend(chunk.as_ref().iter().map(|&b| f32::from(b)));
        }
        Centroids::Float(c)
    } else if h.elem == ELEM_UNIT8 {
        let mut c = Vec::with_capacity(values);
        for chunk in centroids {
            c.extend(chunk.as_ref().iter().map(|&b| f32::from(b) / 255.0));
        }
        Centroids::Float(c)
    } else {
        if centroids.iter().any(|c| c.as_ref().len() % 4 != 0) {
            return Err(DecodeError::new(
                "f32 centroid chunk not a multiple of 4 bytes",
            ));
        }
        let mut c = Vec::with_capacity(values);
        for chunk in centroids {
            c.extend(
                chunk
                    .as_ref()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
        }
        Centroids::Float(c)
    };
    let parts = TreeParts {
        branching: h.branching as usize,
        depth: h.depth as usize,
        width: w,
        centroids,
        first_child,
        child_count,
        word,
    };
    let tree = VocabTree::checked(parts).map_err(DecodeError::new)?;
    if tree.words() != h.words as usize {
        return Err(DecodeError::new(format!(
            "{} leaves, header says {} words",
            tree.words(),
            h.words
        )));
    }
    Ok(tree)
}

#[cfg(test)]
mod tests;
