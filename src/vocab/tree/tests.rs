use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;

use super::*;
use crate::vocab::train::train_flat;
use crate::vocab::Codebook;

/// Uniform in [-0.5, 0.5).
fn noise(rng: &mut Xoshiro256Plus) -> f32 {
    (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5
}

/// `supers × subs` tight clusters of `per` rows in `dim` dimensions, two
/// levels apart: super-clusters 1000 apart, their sub-clusters 100 apart.
/// Returns the descriptors and each row's cluster.
fn nested(
    seed: u64,
    supers: usize,
    subs: usize,
    per: usize,
    dim: usize,
) -> (Descriptors, Vec<usize>) {
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    let mut data = Vec::new();
    let mut label = Vec::new();
    for s in 0..supers {
        for t in 0..subs {
            for _ in 0..per {
                for j in 0..dim {
                    let mut v = noise(&mut rng);
                    if j == s % dim {
                        v += 1000.0 * (1 + s / dim) as f32;
                    }
                    if j == (t + 1) % dim {
                        v += 100.0 * (1 + t / dim) as f32;
                    }
                    data.push(v);
                }
                label.push(s * subs + t);
            }
        }
    }
    (Descriptors::Float { dim, data }, label)
}

#[test]
fn separated_clusters_get_distinct_leaves() {
    for seed in [1u64, 2, 3] {
        let (d, label) = nested(seed, 3, 3, 20, 6);
        let tree = build_tree(&d, 3, 2, 20, seed).unwrap();
        assert_eq!(tree.words(), 9, "seed {seed}");
        let words = tree.quantize(&d).unwrap();
        let mut word_of = [None; 9];
        for (w, &l) in words.iter().zip(&label) {
            assert_eq!(
                *word_of[l].get_or_insert(*w),
                *w,
                "seed {seed}: cluster {l} split"
            );
        }
        let mut distinct: Vec<_> = word_of.iter().flatten().collect();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 9, "seed {seed}: clusters share leaves");
    }
}

#[test]
fn same_seed_same_tree_on_any_thread_count() {
    let seed = 11;
    let (d, _) = nested(seed, 4, 4, 12, 8);
    let a = build_tree(&d, 4, 3, 10, seed).unwrap();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let b = one.install(|| build_tree(&d, 4, 3, 10, seed)).unwrap();
    assert_eq!(a, b, "seed {seed}");
    let c = build_tree(&d, 4, 3, 10, seed + 1).unwrap();
    assert_ne!(a, c, "seeds {seed} and {} gave the same tree", seed + 1);
}

#[test]
fn one_level_tree_is_the_flat_codebook() {
    let seed = 5;
    let k = 6;
    let (d, _) = nested(seed, 2, 3, 25, 5);
    let tree = build_tree(&d, k, 1, 15, seed).unwrap();
    // The root's k-means runs on the whole sample in row order, seeded from
    // (seed, node 0): the flat trainer given that seed does the same work.
    let flat = train_flat(&d, k, 15, build::node_seed(seed, 0)).unwrap();
    let Codebook::Float { centroids, .. } = &flat else {
        panic!("seed {seed}: float codebook expected")
    };
    let Centroids::Float(c) = &tree.parts().centroids else {
        panic!("seed {seed}: float tree expected")
    };
    assert_eq!(
        &c[d_width(&d)..],
        centroids.as_slice().unwrap(),
        "seed {seed}"
    );
    assert_eq!(
        tree.quantize(&d).unwrap(),
        flat.quantize(&d).unwrap(),
        "seed {seed}"
    );
}

fn d_width(d: &Descriptors) -> usize {
    match d {
        Descriptors::Float { dim, .. } => *dim,
        Descriptors::Binary { bytes, .. } => *bytes,
    }
}

#[test]
fn training_rows_descend_to_their_nearest_child_at_each_level() {
    let seed = 21;
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    let dim = 16;
    let data: Vec<f32> = (0..600 * dim).map(|_| noise(&mut rng) * 50.0).collect();
    let d = Descriptors::Float {
        dim,
        data: data.clone(),
    };
    let tree = build_tree(&d, 5, 3, 8, seed).unwrap();
    assert!(
        tree.words() <= 125 && tree.words() > 25,
        "seed {seed}: {}",
        tree.words()
    );
    let words = tree.quantize(&d).unwrap();
    let Centroids::Float(c) = &tree.parts().centroids else {
        unreachable!()
    };
    let p = tree.parts();
    for (row, &w) in data.chunks_exact(dim).zip(&words) {
        assert!((w as usize) < tree.words(), "seed {seed}");
        // Brute force at level 1: the root child nearest to the row.
        let (f, n) = (p.first_child[0] as usize, p.child_count[0] as usize);
        let best = (f..f + n)
            .min_by(|&a, &b| {
                sq_l2(row, &c[a * dim..(a + 1) * dim])
                    .total_cmp(&sq_l2(row, &c[b * dim..(b + 1) * dim]))
            })
            .unwrap();
        let first_leaf = leaves_under(p, best);
        assert!(
            first_leaf.contains(&w),
            "seed {seed}: word {w} not under child {best}"
        );
    }
}

/// The words of the leaves below `node`.
fn leaves_under(p: &TreeParts, node: usize) -> Vec<u32> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        let (f, c) = (p.first_child[n] as usize, p.child_count[n] as usize);
        if c == 0 {
            out.push(p.word[n]);
        }
        stack.extend(f..f + c);
    }
    out
}

#[test]
fn words_are_depth_first_and_few_rows_give_few_children() {
    let seed = 4;
    let (d, _) = nested(seed, 1, 5, 1, 4);
    // Five rows, branching 10: five children of the root, each a leaf.
    let tree = build_tree(&d, 10, 3, 10, seed).unwrap();
    assert_eq!(tree.words(), 5, "seed {seed}");
    assert_eq!(tree.nodes(), 6, "seed {seed}");
    assert_eq!(tree.parts().word[1..], [0, 1, 2, 3, 4], "seed {seed}");
    // Depth-first order on a deeper tree: leaves under each root child form
    // one consecutive run of words.
    let (d, _) = nested(seed, 3, 4, 6, 6);
    let tree = build_tree(&d, 3, 3, 10, seed).unwrap();
    let p = tree.parts();
    let mut next = 0;
    for c in p.first_child[0]..p.first_child[0] + p.child_count[0] {
        let mut w = leaves_under(p, c as usize);
        w.sort();
        let run: Vec<u32> = (next..next + w.len() as u32).collect();
        assert_eq!(w, run, "seed {seed}");
        next += w.len() as u32;
    }
}

#[test]
fn integer_samples_give_integer_centroids() {
    let seed = 8;
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    let data: Vec<f32> = (0..400 * 8)
        .map(|_| (rng.next_u64() % 256) as f32)
        .collect();
    let tree = build_tree(&Descriptors::Float { dim: 8, data }, 4, 2, 10, seed).unwrap();
    let Centroids::Float(c) = &tree.parts().centroids else {
        unreachable!()
    };
    assert!(
        c.iter()
            .all(|v| v.fract() == 0.0 && (0.0..=255.0).contains(v)),
        "seed {seed}"
    );
}

#[test]
fn binary_tree_separates_bit_patterns() {
    for seed in [9u64, 10, 11, 12] {
        let mut rng = Xoshiro256Plus::seed_from_u64(seed);
        // Four random 32-byte patterns: about 128 bits apart pairwise.
        let patterns: Vec<Vec<u8>> = (0..4)
            .map(|_| (0..32).map(|_| rng.next_u64() as u8).collect())
            .collect();
        let mut data = Vec::new();
        let mut label = Vec::new();
        // Patterns in seeded random order: a strictly periodic order lines
        // up with the weak low bits of Xoshiro256+, which is why
        // `train::seeding_rows` draws from the high bits.
        for _ in 0..160 {
            let l = ((rng.next_u64() >> 32) % 4) as usize;
            {
                let p = &patterns[l];
                let mut row = p.clone();
                // One flipped bit per row.
                let bit = (rng.next_u64() % 256) as usize;
                row[bit / 8] ^= 1 << (bit % 8);
                data.extend_from_slice(&row);
                label.push(l);
            }
        }
        let d = Descriptors::Binary { bytes: 32, data };
        let tree = build_tree(&d, 4, 1, 20, seed).unwrap();

        assert!(tree.is_binary());
        let words = tree.quantize(&d).unwrap();
        let mut word_of = [None; 4];
        for (w, &l) in words.iter().zip(&label) {
            assert_eq!(
                *word_of[l].get_or_insert(*w),
                *w,
                "seed {seed}: pattern {l} split"
            );
        }
        let mut w: Vec<_> = word_of.iter().flatten().collect();
        w.sort();
        w.dedup();
        assert_eq!(w.len(), 4, "seed {seed}");
        // Centroids are the patterns themselves (majority bits).
        let Centroids::Binary(c) = &tree.parts().centroids else {
            unreachable!()
        };
        let mut rows: Vec<&[u8]> = c[32..].chunks(32).collect();
        rows.sort();
        let mut want: Vec<&[u8]> = patterns.iter().map(|p| &p[..]).collect();
        want.sort();
        assert_eq!(rows, want, "seed {seed}");
        // A deeper binary tree is valid too.
        let deep = build_tree(&d, 2, 4, 5, seed).unwrap();
        assert!(deep
            .quantize(&d)
            .unwrap()
            .iter()
            .all(|&w| (w as usize) < deep.words()));
    }
}

#[test]
fn bad_arguments_and_inputs_are_errors() {
    let (d, _) = nested(1, 2, 2, 5, 4);
    assert!(build_tree(&d, 1, 2, 5, 0).is_err());
    assert!(build_tree(&d, 2, 0, 5, 0).is_err());
    let one = Descriptors::Float {
        dim: 4,
        data: vec![0.0; 4],
    };
    assert!(matches!(
        build_tree(&one, 2, 2, 5, 0),
        Err(Error::TooFewDescriptors { .. })
    ));
    let tree = build_tree(&d, 2, 2, 5, 0).unwrap();
    let wrong_width = Descriptors::Float {
        dim: 3,
        data: vec![0.0; 6],
    };
    assert!(tree.quantize(&wrong_width).is_err());
    let wrong_kind = Descriptors::Binary {
        bytes: 4,
        data: vec![0; 8],
    };
    assert!(tree.quantize(&wrong_kind).is_err());
    let ragged = Descriptors::Float {
        dim: 4,
        data: vec![0.0; 6],
    };
    assert!(tree.quantize(&ragged).is_err());
    let none = Descriptors::Float {
        dim: 4,
        data: vec![],
    };
    assert_eq!(tree.quantize(&none).unwrap(), Vec::<u32>::new());
}

/// A valid two-level tree: root → {1, 2}, 1 → {3, 4}; leaves 2, 3, 4.
fn small_parts() -> TreeParts {
    TreeParts {
        branching: 2,
        depth: 2,
        width: 1,
        centroids: Centroids::Float(vec![0.0, 1.0, 2.0, 3.0, 4.0]),
        first_child: vec![1, 3, 0, 0, 0],
        child_count: vec![2, 2, 0, 0, 0],
        word: vec![NO_WORD, NO_WORD, 2, 0, 1],
    }
}

#[test]
fn from_parts_checks_the_tree() {
    assert_eq!(VocabTree::from_parts(small_parts()).unwrap().words(), 3);
    let bad: Vec<fn(&mut TreeParts)> = vec![
        |p| p.word[2] = 0,        // repeated word
        |p| p.word[2] = 3,        // word beyond the count
        |p| p.word[1] = 5,        // internal node with a word
        |p| p.word[3] = NO_WORD,  // leaf without one
        |p| p.first_child[1] = 1, // own child: a cycle
        |p| p.first_child[1] = 2, // node 2 with two parents
        |p| p.first_child[1] = 4, // children past the end
        |p| p.child_count[0] = 3, // more than the branching
        |p| p.child_count[0] = 0, // root a leaf, nodes orphaned
        |p| p.depth = 1,          // deeper than the depth
        |p| p.branching = 1,
        |p| p.width = 2, // centroid count mismatch
        |p| p.centroids = Centroids::Float(vec![0.0, 1.0, f32::NAN, 3.0, 4.0]),
        |p| {
            p.first_child.pop();
        },
        |p| p.first_child[1] = u32::MAX, // overflow of first + count
    ];
    for (i, f) in bad.iter().enumerate() {
        let mut p = small_parts();
        f(&mut p);
        assert!(VocabTree::from_parts(p).is_err(), "case {i} accepted");
    }
}
