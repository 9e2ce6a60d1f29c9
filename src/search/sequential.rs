//! Sequential search: score every stored histogram against the query.

use super::{SearchInput, TopK};
use crate::error::Result;
use crate::scoring::{finish, fixed, term};

pub(crate) fn search(input: &SearchInput<'_>, top: &mut TopK) -> Result<()> {
    let SearchInput {
        store,
        g,
        idf,
        q,
        scoring,
        visible_below,
        ..
    } = *input;
    for item in store.histograms(g) {
        let (doc, h) = item?;
        if doc >= visible_below {
            continue;
        }
        // Merge the two increasing word lists to find the shared words.
        let (mut i, mut j) = (0, 0);
        let mut acc = 0u64;
        let mut shared = false;
        while i < q.entries.len() && j < h.entries.len() {
            let (qw, qv) = q.entries[i];
            let (dw, tf) = h.entries[j];
            match qw.cmp(&dw) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    acc =
                        acc.wrapping_add(fixed(term(scoring, qv, tf, idf[qw as usize], h.l1_norm)));
                    shared = true;
                    i += 1;
                    j += 1;
                }
            }
        }
        if shared {
            let s = finish(scoring, acc, h.cos_norm);
            if s > 0.0 {
                top.push(doc, s);
            }
        }
    }
    Ok(())
}
