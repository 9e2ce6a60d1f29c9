//! Geometric re-ranking of the best bag-of-words candidates.
//!
//! Hits (by BoW score) are verified against the query's features
//! ([`super::ransac`]) from the head of the list ([`in_rounds`]): at most
//! `depth` of them, and no further once `patience` candidates in a row have
//! failed (fewer than [`MIN_INLIERS`] inliers), since true matches cluster
//! at the head of the BoW order. The verified hits are reordered by inlier
//! count: a candidate with at least [`MIN_INLIERS`] inliers ranks above
//! every candidate with fewer, more inliers first; ties and unverified
//! candidates keep their BoW order. Both search paths produce the same BoW
//! list, and verification depends only on the query and the stored
//! geometry, so they still rank identically; where re-ranking stops is a
//! function of the BoW list and the verification results alone, whatever
//! the rounds and threads.

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

/// The tasks a verification of `threads` (0: one per core) is split into
/// at most.
fn max_tasks(threads: usize) -> usize {
    match threads {
        0 => rayon::current_num_threads(),
        t => t,
    }
    .clamp(1, MAX_TASKS)
}

/// Verifies `hits` (sorted by BoW score) from the head, as re-ranking
/// does: at most the first `depth`, stopping once `patience` hits in a row
/// fail (0: never early). `round(hits, range)` verifies `hits[range]`,
/// setting the `inliers` that `inliers` reads; rounds follow each other
/// from the head, each of several candidates so that it can be spread over
/// `threads` (0: every core). A hit verified in a round past the stopping
/// point is reset by `forget`, so the result does not depend on the rounds.
/// Returns the number of hits verified, which is where the reordering ends.
pub(crate) fn in_rounds<T>(
    hits: &mut [T],
    depth: usize,
    patience: usize,
    threads: usize,
    inliers: impl Fn(&T) -> Option<u32>,
    forget: impl Fn(&mut T),
    mut round: impl FnMut(&mut [T], std::ops::Range<usize>) -> Result<()>,
) -> Result<usize> {
    let depth = depth.min(hits.len());
    if patience == 0 || patience >= depth {
        if depth > 0 {
            round(hits, 0..depth)?;
        }
        return Ok(depth);
    }
    // A quarter of the patience a round, so that stopping overshoots by
    // little, and enough candidates for every task.
    let step = (patience / 4).max(MIN_PER_TASK * max_tasks(threads));
    let (mut done, mut failed) = (0, 0);
    while done < depth {
        let end = (done + step).min(depth);
        round(hits, done..end)?;
        for i in done..end {
            if verified(inliers(&hits[i])) > 0 {
                failed = 0;
            } else {
                failed += 1;
            }
            if failed == patience {
                hits[i + 1..end].iter_mut().for_each(forget);
                return Ok(i + 1);
            }
        }
        done = end;
    }
    Ok(depth)
}

/// What verification reads of a query, made once a search and shared by
/// its rounds (and shards).
pub(crate) struct Probe<'a> {
    side: Side<'a>,
    /// The query's words, one bit each: a candidate's features under any
    /// other word cannot pair, and are not decoded. A bit test per stored
    /// word costs less than a merge with the query's words.
    words: Vec<u64>,
}

impl<'a> Probe<'a> {
    pub(crate) fn of(query: &'a Geometry) -> Probe<'a> {
        let top = query.points.iter().map(|p| p.word).max().unwrap_or(0);
        let mut words = vec![0u64; top as usize / 64 + 1];
        for p in &query.points {
            words[p.word as usize / 64] |= 1 << (p.word % 64);
        }
        Probe {
            side: Side::of(query),
            words,
        }
    }

    fn has(&self, w: u32) -> bool {
        self.words
            .get(w as usize / 64)
            .is_some_and(|b| b & (1 << (w % 64)) != 0)
    }
}

/// Verifies every hit of `hits`: sets each one's `inliers`. Candidates are
/// verified in up to `threads` rayon tasks (0: one per core), each
/// candidate on its own, so the result does not depend on the split.
pub(crate) fn verify(
    store: &Store,
    g: &Generation,
    query: &Probe<'_>,
    head: &mut [Hit],
    threads: usize,
) -> Result<()> {
    let depth = head.len();
    let tasks = max_tasks(threads).min(depth.div_ceil(MIN_PER_TASK).max(1));
    // Task t verifies candidates t, t + tasks, …: true matches cluster at
    // the top of the BoW order and cost the most, so contiguous chunks would
    // leave one task with most of the work.
    let verify = |t: usize| -> Result<Vec<Option<u32>>> {
        BUFFERS.with(|b| {
            let Buffers { scratch, points } = &mut *b.borrow_mut();
            let head: &[Hit] = head;
            (t..depth)
                .step_by(tasks)
                .map(|i| {
                    let keep = |w: u32| query.has(w);
                    let outline = store.geometry_where(g, head[i].doc, keep, points)?;
                    Ok(outline.map(|outline| {
                        ransac::inliers(query.side, Side { points, outline }, scratch)
                    }))
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Where re-ranking stops, read off the whole list: after the first
    /// `patience` failures in a row, or at `depth`.
    fn stop(counts: &[u32], depth: usize, patience: usize) -> usize {
        let depth = depth.min(counts.len());
        let mut failed = 0;
        for (i, &c) in counts[..depth].iter().enumerate() {
            if c >= MIN_INLIERS {
                failed = 0;
            } else {
                failed += 1;
                if failed == patience {
                    return i + 1;
                }
            }
        }
        depth
    }

    proptest! {
        #[test]
        fn rounds_stop_where_the_whole_list_says_whatever_the_threads(
            // Mostly failures, or only failures (long runs, for long
            // patiences and rounds of a quarter of the patience).
            counts in prop_oneof![
                proptest::collection::vec(prop_oneof![4 => 0u32..8, 1 => 8u32..40], 0..400),
                proptest::collection::vec(0u32..8, 0..400),
            ],
            depth in 0usize..450,
            patience in prop_oneof![0usize..40, 100usize..250],
            threads in 0usize..10,
        ) {
            // (inliers verification would find, inliers set)
            let mut hits: Vec<(u32, Option<u32>)> = counts.iter().map(|&c| (c, None)).collect();
            let mut rounds = Vec::new();
            let verified = in_rounds(
                &mut hits,
                depth,
                patience,
                threads,
                |h| h.1,
                |h| h.1 = None,
                |hits, range| {
                    rounds.push(range.clone());
                    for h in &mut hits[range] {
                        h.1 = Some(h.0);
                    }
                    Ok(())
                },
            )
            .unwrap();
            let want = stop(&counts, depth, patience);
            prop_assert_eq!(verified, want);
            for (i, h) in hits.iter().enumerate() {
                prop_assert_eq!(h.1, (i < want).then_some(h.0), "hit {}", i);
            }
            // Rounds follow each other from the head and are never empty.
            let mut next = 0;
            for r in rounds {
                prop_assert_eq!(r.start, next);
                prop_assert!(r.end > r.start);
                next = r.end;
            }
            prop_assert!(next >= want);
        }
    }
}
