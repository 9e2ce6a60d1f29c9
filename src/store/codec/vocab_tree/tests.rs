use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;

use super::*;
use crate::features::Descriptors;

/// A trained tree on seeded random rows: SIFT-like integers, arbitrary
/// floats, or bits.
fn tree(seed: u64, kind: &str) -> VocabTree {
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    let d = match kind {
        "sift" => Descriptors::Float {
            dim: 16,
            data: (0..300 * 16)
                .map(|_| (rng.next_u64() % 256) as f32)
                .collect(),
        },
        "float" => Descriptors::Float {
            dim: 16,
            data: (0..300 * 16)
                .map(|_| (rng.next_u64() % 1000) as f32 / 7.0)
                .collect(),
        },
        // RootSIFT-like: values in [0, 1].
        "unit" => Descriptors::Float {
            dim: 16,
            data: (0..300 * 16)
                .map(|_| (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
                .collect(),
        },
        _ => Descriptors::Binary {
            bytes: 8,
            data: (0..300 * 8).map(|_| rng.next_u64() as u8).collect(),
        },
    };
    VocabTree::build(&d, 4, 3, 5, seed).unwrap()
}

fn split(entries: &[Entry]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let pick = |p: &[u8]| {
        entries
            .iter()
            .filter(|(k, _)| k.len() == p.len() + 4 && k.starts_with(p))
            .map(|(_, v)| v.clone())
            .collect()
    };
    (pick(NODES), pick(CENTROIDS))
}

#[test]
fn round_trip_every_kind() {
    for (seed, kind, elem) in [
        (1, "sift", ELEM_U8),
        (2, "float", ELEM_F32),
        (4, "unit", ELEM_UNIT8),
        (3, "binary", ELEM_U8),
    ] {
        let t = tree(seed, kind);
        let (h, entries) = encode(&t);
        let h = decode_header(&h).unwrap();
        assert_eq!(h.elem, elem, "seed {seed} {kind}");
        assert_eq!(h.words as usize, t.words());
        let (n, c) = split(&entries);
        assert_eq!(decode(&h, &n, &c).unwrap(), t, "seed {seed} {kind}");
    }
}

#[test]
fn many_chunks_and_any_chunking_decode() {
    // Enough nodes for several chunks.
    let seed = 4;
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    let d = Descriptors::Float {
        dim: 2,
        data: (0..20_000 * 2)
            .map(|_| (rng.next_u64() % 256) as f32)
            .collect(),
    };
    let t = VocabTree::build(&d, 8, 5, 3, seed).unwrap();
    assert!(
        t.nodes() > 2 * CHUNK_NODES,
        "seed {seed}: {} nodes",
        t.nodes()
    );
    let (h, entries) = encode(&t);
    let h = decode_header(&h).unwrap();
    let (n, c) = split(&entries);
    assert!(n.len() > 2);
    assert_eq!(decode(&h, &n, &c).unwrap(), t, "seed {seed}");
    // Re-chunked at odd sizes, records straddling chunks.
    let rechunk = |v: &[Vec<u8>], size| {
        v.concat()
            .chunks(size)
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>()
    };
    assert_eq!(decode(&h, &rechunk(&n, 7), &rechunk(&c, 13)).unwrap(), t);
}

#[test]
fn truncated_or_extended_chunks_are_errors() {
    let t = tree(5, "float");
    let (h, entries) = encode(&t);
    let h = decode_header(&h).unwrap();
    let (n, c) = split(&entries);
    let mut short = n.clone();
    short.last_mut().unwrap().pop();
    assert!(decode(&h, &short, &c).is_err());
    let mut short = c.clone();
    short.last_mut().unwrap().truncate(3);
    assert!(decode(&h, &n, &short).is_err());
    assert!(decode(&h, &[], &c).is_err());
    assert!(decode(&h, &n, &[]).is_err());
    let mut long = n.clone();
    long.push(vec![0; NODE_BYTES]);
    assert!(decode(&h, &long, &c).is_err());
    // Claims that the bytes cannot back, however large.
    for nodes in [h.nodes + 1, u32::MAX - 1] {
        let big = TreeHeader { nodes, ..h.clone() };
        assert!(decode(&big, &n, &c).is_err());
    }
    let wide = TreeHeader {
        width: u32::MAX,
        ..h.clone()
    };
    assert!(decode(&wide, &n, &c).is_err());
    let words = TreeHeader {
        words: h.words - 1,
        ..h.clone()
    };
    assert!(decode(&words, &n, &c).is_err());
}

#[test]
fn every_garbled_node_byte_is_an_error() {
    for (seed, kind) in [(6, "sift"), (7, "binary")] {
        let t = tree(seed, kind);
        let (h, entries) = encode(&t);
        let h = decode_header(&h).unwrap();
        let (n, c) = split(&entries);
        let flat = n.concat();
        for i in 0..flat.len() {
            for bit in [0x01u8, 0x10, 0x80] {
                let mut g = flat.clone();
                g[i] ^= bit;
                assert!(
                    decode(&h, &[g], &c).is_err(),
                    "seed {seed} {kind}: byte {i} ^ {bit:#x} accepted"
                );
            }
        }
    }
}

#[test]
fn non_finite_centroids_and_bad_headers_are_errors() {
    let t = tree(8, "float");
    let (hb, entries) = encode(&t);
    let h = decode_header(&hb).unwrap();
    let (n, mut c) = split(&entries);
    c[0][20..24].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(decode(&h, &n, &c).is_err());
    for i in 0..hb.len() {
        let _ = decode_header(&hb[..i]).map(|h| decode(&h, &n, &c));
    }
    assert!(decode_header(&hb[..hb.len() - 1]).is_err());
    let mut trailing = hb.clone();
    trailing.push(0);
    assert!(decode_header(&trailing).is_err());
    let binary_f32 = TreeHeader {
        kind: KIND_BINARY,
        elem: ELEM_F32,
        ..h.clone()
    };
    assert!(decode_header(&crate::store::codec::encode_bincode(&binary_f32)).is_err());
}
