//! Inverted search: walk only the posting lists of the query's words.

use std::cell::RefCell;

use super::weights::{finish, term};
use super::{Scan, TopK};
use crate::config::Scoring;
use crate::error::Result;

/// A reusable dense accumulator: one slot per doc id below the search's
/// watermark, zero between searches. Every term is positive, so a slot is
/// non-zero exactly when its doc shares a word with the query; the final
/// pass over the slots finds them (and zeroes them again) without a
/// branchy "seen" list on the hot path.
#[derive(Default)]
struct Accumulator {
    acc: Vec<f32>,
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
        }
        let acc = &mut a.acc[..n];
        let result = (|| {
            // Each doc is either below the sealed watermark (in blocks) or in
            // the tail, never both, so the split keeps that order.
            let in_blocks = visible_below.min(sealed_below);
            for &(w, qv) in &q.entries {
                let idf_w = idf[w as usize];
                let mut add_run = |docs: &[u64], tfs: &[u32], below: u64| -> bool {
                    accumulate(acc, norms, scoring, qv, idf_w, docs, tfs, below)
                };
                // Blocks are in doc order: past `in_blocks` the rest of a
                // block is newer still.
                store.for_each_block(g, w, in_blocks, |docs, tfs| add_run(docs, tfs, in_blocks))?;
                for chunk in tail {
                    chunk.for_word(w, |docs, tfs| add_run(docs, tfs, visible_below));
                }
            }
            Ok(())
        })();
        for (d, slot) in acc.iter_mut().enumerate() {
            if *slot != 0.0 {
                if result.is_ok() {
                    let s = finish(scoring, *slot, norms[d].0);
                    if s > 0.0 {
                        top.push(d as u64, s);
                    }
                }
                *slot = 0.0;
            }
        }
        result
    })
}

/// Adds one word's postings (docs, tfs) below `below` to the accumulator;
/// false once a doc at or above `below` is met. The scoring is fixed for
/// the whole walk: one specialised loop per scoring instead of a match per
/// posting, each computing exactly `weights::term`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn accumulate(
    acc: &mut [f32],
    norms: &[(f32, f32)],
    scoring: Scoring,
    qv: f32,
    idf_w: f32,
    docs: &[u64],
    tfs: &[u32],
    below: u64,
) -> bool {
    match scoring {
        Scoring::Cosine => {
            for (&doc, &tf) in docs.iter().zip(tfs) {
                if doc >= below {
                    return false;
                }
                acc[doc as usize] += term(Scoring::Cosine, qv, tf, idf_w, 0.0);
            }
        }
        Scoring::L1 => {
            for (&doc, &tf) in docs.iter().zip(tfs) {
                if doc >= below {
                    return false;
                }
                let d = doc as usize;
                acc[d] += term(Scoring::L1, qv, tf, idf_w, norms[d].1);
            }
        }
    }
    true
}
