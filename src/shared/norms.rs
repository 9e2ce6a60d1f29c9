//! The norms of every doc of the active generation, in memory.
//!
//! The inverted path needs each candidate's norms (‖v‖₂ for cosine, ‖v‖₁
//! for L1). A doc's norms never change while its id exists (IDF is frozen per
//! generation and a replacement takes a new id), so the cache only grows: it
//! loads the docs below the search's watermark that it has not seen yet, in
//! one ordered scan of `g{N}.norms` (8 bytes a doc; the histograms' heads
//! for generations without it), and is shared by every searcher. Removed docs keep their
//! entry (their postings are gone, so it is never read); a new generation
//! starts a new cache. 8 bytes per doc id.

use std::sync::{Arc, RwLock};

use crate::error::Result;
use crate::store::{Generation, Store};

/// (‖v‖₂, ‖v‖₁) per doc id; (0, 0) for ids without a histogram.
pub(crate) type Norms = Arc<Vec<(f32, f32)>>;

#[derive(Default)]
pub(crate) struct NormCache(RwLock<(u32, Norms)>);

impl NormCache {
    /// Norms of every doc below `visible_below` in generation `g`.
    pub(crate) fn snapshot(
        &self,
        store: &Store,
        g: &Generation,
        visible_below: u64,
    ) -> Result<Norms> {
        {
            let c = self.0.read().unwrap_or_else(|p| p.into_inner());
            if c.0 == g.n && c.1.len() as u64 >= visible_below {
                return Ok(c.1.clone());
            }
        }
        let mut c = self.0.write().unwrap_or_else(|p| p.into_inner());
        if c.0 != g.n {
            *c = (g.n, Arc::new(Vec::new()));
        }
        let from = c.1.len() as u64;
        if from < visible_below {
            let loaded = store.norms_range(g, from, visible_below)?;
            let v = Arc::make_mut(&mut c.1);
            v.resize(visible_below as usize, (0.0, 0.0));
            for (doc, n) in loaded {
                v[doc as usize] = n;
            }
        }
        Ok(c.1.clone())
    }
}
