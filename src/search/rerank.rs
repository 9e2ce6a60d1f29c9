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

use super::ransac::{self, Scratch, Side};
use super::Hit;
use crate::error::Result;
use crate::store::codec::geometry::{Geometry, Point};
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

/// A searching thread's buffers: verification's, and the candidate's
/// features being read.
#[derive(Default)]
struct Buffers {
    scratch: Scratch,
    points: Vec<Point>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// Verifies the first `depth` of `hits` (sorted by BoW score): sets each
/// verified hit's `inliers`. Candidates are verified in up to `threads`
/// rayon tasks (0: one per core), each candidate on its own, so the result
/// does not depend on the split.
pub(crate) fn verify(
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
    let q = Side::of(query);
    // The query's distinct words, sorted: a candidate's features under any
    // other word cannot pair, and are not decoded.
    let mut words: Vec<u32> = query.points.iter().map(|p| p.word).collect();
    words.dedup();
    // Task t verifies candidates t, t + tasks, …: true matches cluster at
    // the top of the BoW order and cost the most, so contiguous chunks would
    // leave one task with most of the work.
    let verify =
        |t: usize| -> Result<Vec<Option<u32>>> {
            BUFFERS.with(|b| {
                let Buffers { scratch, points } = &mut *b.borrow_mut();
                let head: &[Hit] = head;
                (t..depth)
                    .step_by(tasks)
                    .map(|i| {
                        // Candidate words arrive in increasing order: one merge
                        // pass over the query's.
                        let mut at = 0;
                        let keep = |w: u32| {
                            while words.get(at).is_some_and(|&x| x < w) {
                                at += 1;
                            }
                            words.get(at) == Some(&w)
                        };
                        let outline = store.geometry_where(g, head[i].doc, keep, points)?;
                        Ok(outline
                            .map(|outline| ransac::inliers(q, Side { points, outline }, scratch)))
                    })
                    .collect()
            })
        };
    let mut results: Vec<Result<Vec<Option<u32>>>> = Vec::with_capacity(tasks);
    if tasks <= 1 {
        results.push(verify(0));
    } else {
        results.resize_with(tasks, || Ok(Vec::new()));
        let verify = &verify;
        rayon::scope(|s| {
            for (t, out) in results.iter_mut().enumerate() {
                s.spawn(move |_| *out = verify(t));
            }
        });
    }
    for (t, r) in results.into_iter().enumerate() {
        for (i, inliers) in (t..depth).step_by(tasks).zip(r?) {
            head[i].inliers = inliers;
        }
    }
    Ok(())
}

/// Moves the first `depth` of `hits` (sorted by BoW score, verified) into
/// re-ranked order: at least [`MIN_INLIERS`] first, more inliers first;
/// `inliers` reads a hit's count.
pub(crate) fn reorder<T>(hits: &mut [T], depth: usize, inliers: impl Fn(&T) -> Option<u32>) {
    let depth = depth.min(hits.len());
    // Stable: equal keys keep the BoW order (score, then doc id).
    hits[..depth].sort_by_key(|h| std::cmp::Reverse(verified(inliers(h))));
}

/// The inlier count that orders a hit: 0 below [`MIN_INLIERS`].
fn verified(inliers: Option<u32>) -> u32 {
    inliers.filter(|n| *n >= MIN_INLIERS).unwrap_or(0)
}
