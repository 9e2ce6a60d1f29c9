//! Vocabulary-tree header, node and centroid chunks: decoding never panics,
//! and whatever decodes quantizes without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmindex::features::Descriptors;
use mmindex::store::codec::vocab_tree::{self as tree, TreeHeader, NODE_BYTES};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        // A stored header, then the rest as node bytes and centroid bytes.
        let split = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
        let (head, rest) = data.split_at(split);
        if let Ok(h) = tree::decode_header(head) {
            let cut = (h.nodes as usize).saturating_mul(NODE_BYTES).min(rest.len());
            let (n, c) = rest.split_at(cut);
            check(&h, n, c);
        }
        return;
    }
    // A small header taken from the first bytes, so that sizes match often
    // and the structural checks are what gets exercised.
    let Some((shape, rest)) = data.split_first_chunk::<6>() else {
        return;
    };
    let h = TreeHeader {
        kind: shape[0] & 1,
        elem: (shape[0] >> 1) & 1,
        width: u32::from(shape[1] % 4) + 1,
        branching: u32::from(shape[2] % 5) + 1,
        depth: u32::from(shape[3] % 4) + 1,
        nodes: u32::from(shape[4] % 32),
        words: u32::from(shape[5] % 32),
    };
    let cut = (h.nodes as usize * NODE_BYTES).min(rest.len());
    let (n, c) = rest.split_at(cut);
    check(&h, n, c);
});

fn check(h: &TreeHeader, nodes: &[u8], centroids: &[u8]) {
    let n: Vec<Vec<u8>> = nodes.chunks(37).map(<[u8]>::to_vec).collect();
    let c: Vec<Vec<u8>> = centroids.chunks(64).map(<[u8]>::to_vec).collect();
    if let Ok(t) = tree::decode(h, &n, &c) {
        let w = t.width();
        let d = if t.is_binary() {
            Descriptors::Binary {
                bytes: w,
                data: (0..w * 3).map(|i| (i * 37) as u8).collect(),
            }
        } else {
            Descriptors::Float {
                dim: w,
                data: (0..w * 3).map(|i| i as f32).collect(),
            }
        };
        let words = t.quantize(&d).unwrap_or_default();
        assert!(words.iter().all(|&x| (x as usize) < t.words()));
    }
}
