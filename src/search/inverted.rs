//! Inverted search: walk only the posting lists of the query's words.

use std::collections::HashMap;

use super::weights::{finish, term};
use super::{Scan, TopK};
use crate::error::{Error, Result};

/// Per-doc accumulator with the doc's norms, fetched once per doc.
struct Acc {
    acc: f32,
    cos_norm: f32,
    l1_norm: f32,
}

pub(crate) fn search(scan: &Scan<'_>, top: &mut TopK) -> Result<()> {
    let Scan {
        store,
        g,
        idf,
        q,
        scoring,
        visible_below,
    } = *scan;
    let mut accs: HashMap<u64, Acc> = HashMap::new();
    let mut buf = Vec::new();
    let mut failure: Option<Error> = None;
    // Query words in increasing order, so each doc's accumulator sees its
    // shared words in the same order as the sequential path.
    for &(w, qv) in &q.entries {
        let idf_w = idf[w as usize];
        store.for_each_block(g, w, &mut buf, |block| {
            for &(doc, tf) in block {
                if doc >= visible_below {
                    // Blocks are in doc order: the rest is newer still.
                    break;
                }
                let a = match accs.entry(doc) {
                    std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        let (cos_norm, l1_norm) = match store.norms(g, doc) {
                            Ok(Some(n)) => n,
                            Ok(None) => (0.0, 0.0),
                            Err(e) => {
                                failure.get_or_insert(e);
                                (0.0, 0.0)
                            }
                        };
                        v.insert(Acc {
                            acc: 0.0,
                            cos_norm,
                            l1_norm,
                        })
                    }
                };
                a.acc += term(scoring, qv, tf, idf_w, a.l1_norm);
            }
        })?;
        if let Some(e) = failure.take() {
            return Err(e);
        }
    }
    for (doc, a) in accs {
        let s = finish(scoring, a.acc, a.cos_norm);
        if s > 0.0 {
            top.push(doc, s);
        }
    }
    Ok(())
}
