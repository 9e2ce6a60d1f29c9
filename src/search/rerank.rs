//! Geometric re-ranking of the best bag-of-words candidates.
//!
//! The first `depth` hits (by BoW score) are verified against the query's
//! features ([`super::ransac`]) and reordered by inlier count: a candidate
//! with at least [`MIN_INLIERS`] inliers ranks above every candidate with
//! fewer, more inliers first; ties and unverified candidates keep their BoW
//! order. Hits below `depth` follow unchanged. Both search paths produce the
//! same BoW list, and verification depends only on the query and the stored
//! geometry, so they still rank identically.

use std::cell::RefCell;

use super::ransac::{self, Scratch};
use super::Hit;
use crate::error::Result;
use crate::store::codec::geometry::Geometry;
use crate::store::{Generation, Store};

/// Fewest inliers that count as a geometric match. Unrelated images reach
/// 2–5 by chance with the tolerances of the geometric check (a test there
/// bounds it), so 8 leaves a margin.
pub const MIN_INLIERS: u32 = 8;

/// Fewest candidates a re-ranking task verifies: 16 verifications take
/// about a millisecond, far above the microseconds a rayon task costs.
const MIN_PER_TASK: usize = 16;

/// Most tasks one re-ranking is split into.
const MAX_TASKS: usize = 8;

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Verifies the first `depth` of `hits` (sorted by BoW score) and reorders
/// them; sets each verified hit's `inliers`. Candidates are verified in up
/// to `threads` rayon tasks (0: one per core), each candidate on its own,
/// so the result does not depend on the split.
pub(crate) fn rerank(
    store: &Store,
    g: &Generation,
    query: &Geometry,
    hits: &mut [Hit],
    depth: usize,
    threads: usize,
) -> Result<()> {
    let depth = depth.min(hits.len());
    let head = &mut hits[..depth];
    let tasks = match threads {
        0 => rayon::current_num_threads(),
        t => t,
    }
    .clamp(1, MAX_TASKS)
    .min(depth.div_ceil(MIN_PER_TASK).max(1));
    let verify = |chunk: &mut [Hit]| -> Result<()> {
        SCRATCH.with(|s| -> Result<()> {
            let mut scratch = s.borrow_mut();
            for h in chunk.iter_mut() {
                h.inliers = store
                    .geometry(g, h.doc)?
                    .map(|geo| ransac::inliers(query, &geo, &mut scratch));
            }
            Ok(())
        })
    };
    if tasks <= 1 {
        verify(head)?;
    } else {
        let per = depth.div_ceil(tasks);
        let mut results: Vec<Result<()>> = (0..tasks).map(|_| Ok(())).collect();
        let verify = &verify;
        rayon::scope(|s| {
            for (chunk, out) in head.chunks_mut(per).zip(results.iter_mut()) {
                s.spawn(move |_| *out = verify(chunk));
            }
        });
        for r in results {
            r?;
        }
    }
    // Stable: equal keys keep the BoW order (score, then doc id).
    head.sort_by_key(|h| std::cmp::Reverse(verified(h.inliers)));
    Ok(())
}

/// The inlier count that orders a hit: 0 below [`MIN_INLIERS`].
fn verified(inliers: Option<u32>) -> u32 {
    inliers.filter(|n| *n >= MIN_INLIERS).unwrap_or(0)
}
