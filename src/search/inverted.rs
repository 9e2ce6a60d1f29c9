//! Inverted search: walk only the posting lists of the query's words.

use std::cell::RefCell;

use super::weights::{finish, term};
use super::{Scan, TopK};
use crate::error::Result;

/// A reusable dense accumulator: one slot per doc id, and the list of slots
/// touched by the current query, so resetting costs what the query touched,
/// not the collection size.
#[derive(Default)]
struct Accumulator {
    acc: Vec<f32>,
    seen: Vec<bool>,
    touched: Vec<u64>,
}

thread_local! {
    static ACC: RefCell<Accumulator> = RefCell::new(Accumulator::default());
}

pub(crate) fn search(scan: &Scan<'_>, top: &mut TopK) -> Result<()> {
    let Scan {
        store,
        g,
        idf,
        q,
        scoring,
        visible_below,
        norms,
        sealed_below,
        tail,
    } = *scan;
    ACC.with(|cell| {
        let mut a = cell.borrow_mut();
        let n = visible_below as usize;
        if a.acc.len() < n {
            a.acc.resize(n, 0.0);
            a.seen.resize(n, false);
        }
        let Accumulator { acc, seen, touched } = &mut *a;
        let mut buf = Vec::new();
        let result = (|| {
            // Query words in increasing order, so each doc's accumulator sees
            // its shared words in the same order as the sequential path.
            // Each doc is either below the sealed watermark (in blocks) or in
            // the tail, never both, so the split keeps that order.
            let in_blocks = visible_below.min(sealed_below);
            for &(w, qv) in &q.entries {
                let idf_w = idf[w as usize];
                let mut add = |doc: u64, tf: u32| {
                    let d = doc as usize;
                    if !seen[d] {
                        seen[d] = true;
                        touched.push(doc);
                    }
                    acc[d] += term(scoring, qv, tf, idf_w, norms[d].1);
                };
                store.for_each_block(g, w, in_blocks, &mut buf, |block| {
                    for &(doc, tf) in block {
                        if doc >= in_blocks {
                            // Blocks are in doc order: the rest is newer still.
                            break;
                        }
                        add(doc, tf);
                    }
                })?;
                for chunk in tail {
                    chunk.for_word(w, visible_below, &mut add);
                }
            }
            Ok(())
        })();
        for &doc in touched.iter() {
            let d = doc as usize;
            if result.is_ok() {
                let s = finish(scoring, acc[d], norms[d].0);
                if s > 0.0 {
                    top.push(doc, s);
                }
            }
            acc[d] = 0.0;
            seen[d] = false;
        }
        touched.clear();
        result
    })
}
