//! Training a vocabulary tree: k-means at every node on the rows that reached
//! it, one level at a time, the nodes of a level in parallel.
//!
//! Memory: the sample is never copied as a whole. `order` is one permutation
//! of the sample's row numbers in which every node of the current level owns
//! a contiguous range; a node gathers its own rows into a matrix only while
//! it is being clustered (so at most one copy of the sample per level, and
//! in practice only the rows of the nodes in flight on the rayon pool).
//!
//! Determinism: node numbers are assigned sequentially, breadth-first, and
//! each node's k-means is seeded from (seed, node number) alone, so a seed
//! gives the same tree on any number of threads.

use ndarray::Array2;
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256Plus;
use rayon::prelude::*;

use super::{nearest_binary, nearest_float, Centroids, TreeParts, VocabTree};
use super::{MAX_BRANCHING, MAX_DEPTH, MAX_WIDTH, NO_WORD};
use crate::error::{Error, Result};
use crate::features::Descriptors;
use crate::vocab::train::{kmeans, pack_majority, unpack_bits};

/// Trains a tree of branching `branching` (≥ 2) and depth `depth` (≥ 1) on
/// `sample`, with at most `iterations` Lloyd iterations per node.
///
/// A node with fewer than two rows is not split (it becomes a leaf); a node
/// with fewer rows than `branching` gets one child per row. Binary
/// descriptors are clustered as 0/1 vectors and rounded to majority bits, as
/// for flat codebooks.
///
/// SIFT descriptors are integers in 0..=255 (OpenCV rounds them). When every
/// value of a float sample is such an integer, centroids are rounded to
/// integers too, before the node's rows are split among its children: the
/// tree then stores one byte per value (the codec's u8 form), a quarter of
/// the f32 size, which is what makes a 10^6-word tree load fast; the
/// rounding moves a centroid by at most 0.5 per dimension, small against
/// the distances between sibling centroids (docs/FEATURES.md, "Vocabulary
/// tree", has the figures).
pub(crate) fn build_tree(
    sample: &Descriptors,
    branching: usize,
    depth: usize,
    iterations: u32,
    seed: u64,
) -> Result<VocabTree> {
    if !(2..=MAX_BRANCHING).contains(&branching) || !(1..=MAX_DEPTH).contains(&depth) {
        return Err(Error::InvalidConfig(format!(
            "vocabulary tree branching {branching} (2..={MAX_BRANCHING}) or depth {depth} \
             (1..={MAX_DEPTH}) out of range"
        )));
    }
    let (width, values) = match sample {
        Descriptors::Float { dim, data } => (*dim, data.len()),
        Descriptors::Binary { bytes, data } => (*bytes, data.len()),
    };
    if !(1..=MAX_WIDTH).contains(&width) || values % width != 0 {
        return Err(Error::InvalidConfig(format!(
            "descriptor width {width} out of range or {values} values not whole rows"
        )));
    }
    let rows = values / width;
    if rows < 2 {
        return Err(Error::TooFewDescriptors {
            found: rows,
            needed: 2,
        });
    }
    if rows >= NO_WORD as usize {
        return Err(Error::InvalidConfig(format!(
            "{rows} sample rows: too many"
        )));
    }
    let grid = match sample {
        Descriptors::Float { data, .. } => Grid::of(data),
        Descriptors::Binary { .. } => Grid::None,
    };
    let started = std::time::Instant::now();
    let mut t = Growing::new(width, matches!(sample, Descriptors::Binary { .. }));
    // Row numbers fit u32: checked above.
    let mut order: Vec<u32> = (0..rows as u32).collect();
    let mut frontier: Vec<(u32, usize, usize)> = vec![(0, 0, rows)];
    for _ in 0..depth {
        let splits: Vec<Option<Split>> = frontier
            .par_iter()
            .map(|&(node, start, end)| {
                let rows = &order[start..end];
                split(
                    sample,
                    rows,
                    branching,
                    iterations,
                    node_seed(seed, node),
                    grid,
                )
            })
            .collect();
        let mut next = Vec::new();
        let mut scratch = Vec::new();
        for (&(node, start, end), s) in frontier.iter().zip(splits) {
            let Some(s) = s else { continue };
            let first = t.add_children(node, &s);
            // Stable counting sort of the node's rows by child: each child's
            // rows become one contiguous range of `order`, in sample order.
            let mut offsets = vec![0usize; s.children + 1];
            for &c in &s.child_of_row {
                offsets[c as usize + 1] += 1;
            }
            for c in 0..s.children {
                offsets[c + 1] += offsets[c];
            }
            scratch.clear();
            scratch.resize(end - start, 0);
            let mut at = offsets.clone();
            for (&row, &c) in order[start..end].iter().zip(&s.child_of_row) {
                scratch[at[c as usize]] = row;
                at[c as usize] += 1;
            }
            order[start..end].copy_from_slice(&scratch);
            for c in 0..s.children {
                next.push((first + c as u32, start + offsets[c], start + offsets[c + 1]));
            }
        }
        frontier = next;
        if frontier.is_empty() {
            break;
        }
    }
    let tree = t.finish(branching, depth)?;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        rows,
        words = tree.words(),
        nodes = tree.nodes(),
        "vocabulary tree"
    );
    Ok(tree)
}

/// The outcome of clustering one node.
struct Split {
    /// Number of children (≤ branching, ≤ rows).
    children: usize,
    /// `children × width` centroids: f32 values or packed bits.
    centroids: Centroids,
    /// The child of each of the node's rows, in the node's row order.
    child_of_row: Vec<u32>,
}

/// The values float centroids are rounded to, so the codec can store them
/// in one byte each, exactly (`store/codec/vocab_tree.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grid {
    /// Any f32.
    None,
    /// Integers 0..=255: every sample value is one (SIFT).
    Integers,
    /// Multiples of 1/255 in [0, 1]: every sample value is in [0, 1]
    /// (RootSIFT). Rounding moves a centroid by at most 1/510 per dimension,
    /// 0.011 over 128, against unit-norm rows whose sibling centroids lie
    /// tenths apart.
    Unit,
}

impl Grid {
    fn of(data: &[f32]) -> Grid {
        if data
            .iter()
            .all(|v| v.fract() == 0.0 && (0.0..=255.0).contains(v))
        {
            Grid::Integers
        } else if data.iter().all(|v| (0.0..=1.0).contains(v)) {
            Grid::Unit
        } else {
            Grid::None
        }
    }

    fn snap(self, c: &mut Array2<f32>) {
        match self {
            Grid::None => {}
            Grid::Integers => c.mapv_inplace(f32::round),
            Grid::Unit => c.mapv_inplace(unit_byte_value),
        }
    }
}

/// The multiple of 1/255 nearest to `v` (clamped to [0, 1]), computed as the
/// codec decodes a unit byte, so it round-trips bit for bit.
pub(crate) fn unit_byte_value(v: f32) -> f32 {
    f32::from((v.clamp(0.0, 1.0) * 255.0).round() as u8) / 255.0
}

/// Clusters the `rows` of a node, or `None` when it has fewer than two.
fn split(
    sample: &Descriptors,
    rows: &[u32],
    branching: usize,
    iterations: u32,
    seed: u64,
    grid: Grid,
) -> Option<Split> {
    if rows.len() < 2 {
        return None;
    }
    let k = branching.min(rows.len());
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    Some(match sample {
        Descriptors::Float { dim, data } => {
            let w = *dim;
            let mut x = Array2::<f32>::zeros((rows.len(), w));
            for (mut out, &r) in x.outer_iter_mut().zip(rows) {
                let r = r as usize;
                out.iter_mut()
                    .zip(&data[r * w..(r + 1) * w])
                    .for_each(|(o, v)| *o = *v);
            }
            let (mut c, _) = kmeans(&x, k, iterations, &mut rng);
            grid.snap(&mut c);
            let c: Vec<f32> = c.iter().copied().collect();
            let child_of_row = rows
                .iter()
                .map(|&r| {
                    let r = r as usize;
                    nearest_float(&data[r * w..(r + 1) * w], &c, w) as u32
                })
                .collect();
            Split {
                children: k,
                centroids: Centroids::Float(c),
                child_of_row,
            }
        }
        Descriptors::Binary { bytes, data } => {
            let w = *bytes;
            let mut packed = Vec::with_capacity(rows.len() * w);
            for &r in rows {
                let r = r as usize;
                packed.extend_from_slice(&data[r * w..(r + 1) * w]);
            }
            let x = unpack_bits(&packed, w, rows.len());
            drop(packed);
            let (c, _) = kmeans(&x, k, iterations, &mut rng);
            let c = pack_majority(&c, w);
            let child_of_row = rows
                .iter()
                .map(|&r| {
                    let r = r as usize;
                    nearest_binary(&data[r * w..(r + 1) * w], &c, w) as u32
                })
                .collect();
            Split {
                children: k,
                centroids: Centroids::Binary(c),
                child_of_row,
            }
        }
    })
}

/// The seed of a node's k-means: SplitMix64 finalisers over the tree's seed
/// and the node number, so sibling and cousin nodes draw unrelated streams.
pub(super) fn node_seed(seed: u64, node: u32) -> u64 {
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    mix(seed ^ mix(u64::from(node)))
}

/// A tree under construction: nodes appended breadth-first.
struct Growing {
    width: usize,
    centroids: Centroids,
    first_child: Vec<u32>,
    child_count: Vec<u32>,
}

impl Growing {
    /// Just the root, whose centroid row is unused (zero).
    fn new(width: usize, binary: bool) -> Growing {
        Growing {
            width,
            centroids: if binary {
                Centroids::Binary(vec![0; width])
            } else {
                Centroids::Float(vec![0.0; width])
            },
            first_child: vec![0],
            child_count: vec![0],
        }
    }

    /// Appends the children of `node`; returns the first child's number.
    fn add_children(&mut self, node: u32, s: &Split) -> u32 {
        let first = self.first_child.len() as u32;
        self.first_child[node as usize] = first;
        self.child_count[node as usize] = s.children as u32;
        self.first_child.resize(first as usize + s.children, 0);
        self.child_count.resize(first as usize + s.children, 0);
        match (&mut self.centroids, &s.centroids) {
            (Centroids::Float(all), Centroids::Float(c)) => all.extend_from_slice(c),
            (Centroids::Binary(all), Centroids::Binary(c)) => all.extend_from_slice(c),
            // A tree is grown from one sample, so kinds always agree.
            _ => {}
        }
        first
    }

    /// Numbers the leaves depth-first and checks the result.
    fn finish(self, branching: usize, depth: usize) -> Result<VocabTree> {
        let nodes = self.first_child.len();
        let mut word = vec![NO_WORD; nodes];
        let mut next = 0u32;
        let mut stack = vec![0usize];
        while let Some(n) = stack.pop() {
            let (f, c) = (self.first_child[n] as usize, self.child_count[n] as usize);
            if c == 0 {
                word[n] = next;
                next += 1;
            } else {
                // Reversed, so the first child is visited first.
                stack.extend((f..f + c).rev());
            }
        }
        let parts = TreeParts {
            branching,
            depth,
            width: self.width,
            centroids: self.centroids,
            first_child: self.first_child,
            child_count: self.child_count,
            word,
        };
        VocabTree::checked(parts)
            .map_err(|e| Error::Training(format!("vocabulary tree inconsistent: {e}")))
    }
}
