//! A vocabulary tree (hierarchical k-means, Nistér & Stewénius 2006):
//! quantization in O(branching × depth) distance computations instead of one
//! per word.
//!
//! Layout (what [`TreeParts`] holds and the codec stores as is):
//! - nodes are numbered breadth-first from the root, node 0, so a parent
//!   always precedes its children and the children of a node are one
//!   contiguous run `first_child .. first_child + child_count`;
//! - `centroids` holds one row of `width` values per node, in node order (the
//!   root's row is unused and zero), so the ≤ b candidates of one descent
//!   step are adjacent in memory;
//! - a leaf (`child_count == 0`) carries its word in `word`; internal nodes
//!   carry [`NO_WORD`]. Words are dense, `0..words`, numbered in depth-first
//!   order of the leaves.

mod build;

use rayon::prelude::*;

use super::codebook::hamming;
use super::train::sq_l2;
use crate::error::{Error, Result};
use crate::features::Descriptors;

pub(crate) use build::{build_tree, unit_byte_value};

/// The `word` of an internal node.
pub const NO_WORD: u32 = u32::MAX;
/// Largest branching factor accepted (training and decoding).
pub const MAX_BRANCHING: usize = 1 << 16;
/// Largest depth accepted (training and decoding).
pub const MAX_DEPTH: usize = 32;
/// Largest descriptor width accepted: floats or bytes per row.
pub const MAX_WIDTH: usize = 4096;

/// Descriptors quantized per rayon task: large enough to amortise the task,
/// small enough to balance two to a few dozen cores on one image's rows.
const ROWS_PER_TASK: usize = 64;

/// Node centroids, `nodes × width`, row-major, in node order.
#[derive(Debug, Clone, PartialEq)]
pub enum Centroids {
    /// Real-valued centroids, compared by Euclidean distance.
    Float(Vec<f32>),
    /// Bit-string centroids (per-bit majority of the cluster), compared by
    /// Hamming distance.
    Binary(Vec<u8>),
}

/// The flat arrays of a vocabulary tree, as the codec stores them (see the
/// module documentation for the layout). [`VocabTree::from_parts`] checks
/// every invariant.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeParts {
    /// Children per internal node at most (b ≥ 2).
    pub branching: usize,
    /// Levels below the root at most (L ≥ 1).
    pub depth: usize,
    /// Floats (float trees) or bytes (binary trees) per centroid row.
    pub width: usize,
    /// One row per node.
    pub centroids: Centroids,
    /// Per node: its first child, or 0 on a leaf.
    pub first_child: Vec<u32>,
    /// Per node: its number of children, 0 on a leaf.
    pub child_count: Vec<u32>,
    /// Per node: its word on a leaf, [`NO_WORD`] otherwise.
    pub word: Vec<u32>,
}

/// A vocabulary tree: a hierarchy of k-means codebooks whose leaves are the
/// visual words.
///
/// Each internal node holds up to `b` (branching) child centroids, trained by
/// k-means on the descriptors that reached it; a tree of depth `L` has at
/// most `b^L` words (fewer where a node had fewer rows than `b`, or where a
/// branch ran out of rows before depth `L`). A descriptor is quantized by
/// greedy descent: at each level, to the nearest child (ties to the lower
/// child), `b·L` distance computations in all, against `K` for a flat
/// [`Codebook`](super::Codebook) of `K` words.
///
/// Float trees (SIFT, RootSIFT) use Euclidean distance; binary trees (ORB,
/// AKAZE, BRISK) Hamming distance to majority-bit centroids.
///
/// Every value of this type satisfies the invariants of the module
/// documentation: it is built by training or by [`VocabTree::from_parts`],
/// which checks them, so quantization needs no bounds to fail on.
#[derive(Debug, Clone, PartialEq)]
pub struct VocabTree {
    parts: TreeParts,
    words: usize,
}

impl VocabTree {
    /// A tree from its arrays, after checking every invariant: shapes, child
    /// ranges inside bounds and forming a tree rooted at node 0 no deeper
    /// than `depth`, at most `branching` children per node, leaf words dense
    /// and unique, finite float centroids.
    pub fn from_parts(parts: TreeParts) -> Result<VocabTree> {
        VocabTree::checked(parts).map_err(|e| Error::InvalidConfig(format!("vocabulary tree: {e}")))
    }

    /// [`from_parts`](Self::from_parts) with the reason as a plain message,
    /// for decoders to wrap in their own error.
    pub(crate) fn checked(parts: TreeParts) -> Result<VocabTree, String> {
        let words = check(&parts)?;
        Ok(VocabTree { parts, words })
    }

    /// Builds a tree of branching `branching` (≥ 2) and depth `depth` (≥ 1)
    /// on `sample` with seeded k-means at every node (at most `iterations`
    /// Lloyd iterations each); the same seed gives the same tree on any
    /// number of threads. Details: `vocab/tree/build.rs`.
    pub fn build(
        sample: &Descriptors,
        branching: usize,
        depth: usize,
        iterations: u32,
        seed: u64,
    ) -> Result<VocabTree> {
        build_tree(sample, branching, depth, iterations, seed)
    }

    /// The arrays of the tree.
    pub fn parts(&self) -> &TreeParts {
        &self.parts
    }

    /// Number of visual words (leaves).
    pub fn words(&self) -> usize {
        self.words
    }

    /// Descriptor width: floats per row, or bytes per row.
    pub fn width(&self) -> usize {
        self.parts.width
    }

    /// The branching factor `b` the tree was built with (an upper bound on
    /// the children of any node).
    pub fn branching(&self) -> usize {
        self.parts.branching
    }

    /// The depth `L` the tree was built with (an upper bound on the levels
    /// below the root).
    pub fn depth(&self) -> usize {
        self.parts.depth
    }

    /// Number of nodes, the root included.
    pub fn nodes(&self) -> usize {
        self.parts.word.len()
    }

    /// Whether centroids are bit strings.
    pub fn is_binary(&self) -> bool {
        matches!(self.parts.centroids, Centroids::Binary(_))
    }

    /// The word of every descriptor row, by greedy descent (rows in
    /// parallel). Errors on a kind or width mismatch.
    pub fn quantize(&self, d: &Descriptors) -> Result<Vec<u32>> {
        let w = self.parts.width;
        if w == 0 || self.words == 0 {
            return Err(Error::InvalidConfig("empty vocabulary tree".into()));
        }
        let (found, len) = match d {
            Descriptors::Float { dim, data } => (*dim, data.len()),
            Descriptors::Binary { bytes, data } => (*bytes, data.len()),
        };
        if found != w {
            return Err(Error::InvalidConfig(format!(
                "descriptor width {found} does not match the vocabulary tree's {w}"
            )));
        }
        if len % w != 0 {
            return Err(Error::InvalidConfig(format!(
                "{len} descriptor values are not whole rows of {w}"
            )));
        }
        let mut out = vec![0u32; len / w];
        match (&self.parts.centroids, d) {
            (Centroids::Float(c), Descriptors::Float { data, .. }) => out
                .par_chunks_mut(ROWS_PER_TASK)
                .zip(data.par_chunks(ROWS_PER_TASK * w))
                .for_each(|(o, x)| {
                    for (word, row) in o.iter_mut().zip(x.chunks_exact(w)) {
                        *word = self.descend(|f, n| nearest_float(row, &c[f * w..(f + n) * w], w));
                    }
                }),
            (Centroids::Binary(c), Descriptors::Binary { data, .. }) => out
                .par_chunks_mut(ROWS_PER_TASK)
                .zip(data.par_chunks(ROWS_PER_TASK * w))
                .for_each(|(o, x)| {
                    for (word, row) in o.iter_mut().zip(x.chunks_exact(w)) {
                        *word = self.descend(|f, n| nearest_binary(row, &c[f * w..(f + n) * w], w));
                    }
                }),
            _ => {
                return Err(Error::InvalidConfig(
                    "descriptor kind does not match the vocabulary tree (float vs binary)".into(),
                ))
            }
        }
        Ok(out)
    }

    /// Greedy descent from the root; `nearest(first, count)` picks one of
    /// the children `first .. first + count`. Terminates: children have
    /// larger node numbers than their parent (checked on construction).
    #[inline]
    fn descend(&self, nearest: impl Fn(usize, usize) -> usize) -> u32 {
        let p = &self.parts;
        let mut node = 0usize;
        loop {
            let n = p.child_count[node] as usize;
            if n == 0 {
                return p.word[node];
            }
            let f = p.first_child[node] as usize;
            node = f + nearest(f, n);
        }
    }
}

/// Index of the row of `centroids` (rows of `w` floats) nearest to `x` by
/// squared Euclidean distance, ties to the lower row. Training partitions
/// rows with this same function, so a training row descends to the leaf it
/// helped train.
#[inline]
pub(super) fn nearest_float(x: &[f32], centroids: &[f32], w: usize) -> usize {
    let mut best = (0, f32::INFINITY);
    for (i, c) in centroids.chunks_exact(w).enumerate() {
        let d = sq_l2(x, c);
        if d < best.1 {
            best = (i, d);
        }
    }
    best.0
}

/// As [`nearest_float`], by Hamming distance over rows of `w` bytes.
#[inline]
pub(super) fn nearest_binary(x: &[u8], centroids: &[u8], w: usize) -> usize {
    let mut best = (0, u32::MAX);
    for (i, c) in centroids.chunks_exact(w).enumerate() {
        let d = hamming(x, c);
        if d < best.1 {
            best = (i, d);
        }
    }
    best.0
}

/// Checks every invariant of [`TreeParts`]; returns the number of words.
///
/// Runs in O(nodes) time and memory and never indexes out of bounds, so it
/// is safe on any decoded input.
fn check(p: &TreeParts) -> Result<usize, String> {
    if !(2..=MAX_BRANCHING).contains(&p.branching) {
        return Err(format!(
            "branching {} outside 2..={MAX_BRANCHING}",
            p.branching
        ));
    }
    if !(1..=MAX_DEPTH).contains(&p.depth) {
        return Err(format!("depth {} outside 1..={MAX_DEPTH}", p.depth));
    }
    if !(1..=MAX_WIDTH).contains(&p.width) {
        return Err(format!("width {} outside 1..={MAX_WIDTH}", p.width));
    }
    let nodes = p.word.len();
    if p.first_child.len() != nodes || p.child_count.len() != nodes {
        return Err("node arrays differ in length".into());
    }
    // Node numbers are u32 and NO_WORD must stay free.
    if nodes < 2 || nodes >= NO_WORD as usize {
        return Err(format!("{nodes} nodes: need a root with children"));
    }
    let values = match &p.centroids {
        Centroids::Float(c) => {
            if c.iter().any(|v| !v.is_finite()) {
                return Err("centroid value not finite".into());
            }
            c.len()
        }
        Centroids::Binary(c) => c.len(),
    };
    if Some(values) != nodes.checked_mul(p.width) {
        return Err(format!(
            "{values} centroid values for {nodes} nodes of width {}",
            p.width
        ));
    }
    // Every non-root node has exactly one parent, numbered below it: then
    // following parents from any node reaches the root, so the nodes form
    // one tree rooted at 0, with no cycle and nothing unreachable.
    let mut parent_seen = vec![false; nodes];
    let mut level = vec![0u32; nodes];
    let mut leaves = 0usize;
    for i in 0..nodes {
        let (f, n) = (p.first_child[i] as usize, p.child_count[i] as usize);
        if i > 0 && !parent_seen[i] {
            return Err(format!("node {i} has no parent"));
        }
        if n == 0 {
            if p.first_child[i] != 0 || p.word[i] == NO_WORD {
                return Err(format!("leaf {i} malformed"));
            }
            leaves += 1;
            continue;
        }
        if p.word[i] != NO_WORD {
            return Err(format!("internal node {i} carries a word"));
        }
        if n > p.branching {
            return Err(format!(
                "node {i} has {n} children, branching is {}",
                p.branching
            ));
        }
        if level[i] as usize >= p.depth {
            return Err(format!("node {i} is below depth {}", p.depth));
        }
        let end = f.checked_add(n).filter(|&e| e <= nodes);
        let Some(end) = end.filter(|_| f > i) else {
            return Err(format!("node {i}: children {f}+{n} out of range"));
        };
        for c in f..end {
            if std::mem::replace(&mut parent_seen[c], true) {
                return Err(format!("node {c} has two parents"));
            }
            level[c] = level[i] + 1;
        }
    }
    if p.child_count[0] == 0 {
        return Err("the root is a leaf".into());
    }
    let mut seen = vec![false; leaves];
    for (i, &w) in p.word.iter().enumerate() {
        if w == NO_WORD {
            continue;
        }
        match seen.get_mut(w as usize) {
            Some(s) if !*s => *s = true,
            _ => {
                return Err(format!(
                    "leaf {i}: word {w} repeated or beyond {leaves} words"
                ))
            }
        }
    }
    Ok(leaves)
}

#[cfg(test)]
mod tests;
