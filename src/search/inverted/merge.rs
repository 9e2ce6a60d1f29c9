//! Rounds 2 and 3 together: over disjoint doc ranges in parallel, tile by
//! tile, the round-1 accumulators are summed, the lists held in memory
//! added and the tile's docs scored into that range's top-k, merged
//! exactly at the end.

use super::super::TopK;
use super::kernels::{add_tile, Cursors};
use super::{run, InMemoryList};
use crate::config::Scoring;
use crate::scoring::{finish, Bar};

/// What [`collect`] reads: the round-1 accumulators, the lists held and
/// how docs are scored.
pub(super) struct Sums<'s, 'a> {
    pub scoring: Scoring,
    /// Every doc's norms.
    pub norms: &'s [(f32, f32)],
    /// Every task's accumulator (at least `n` long); `touched[i]` is false
    /// when round 1 added nothing to `accs[i]`, which is then all zero.
    pub accs: &'s mut [Vec<u64>],
    pub touched: &'s [bool],
    /// The lists held in memory, added to docs below `in_blocks` only.
    pub held: &'s [&'s InMemoryList<'a>],
    pub in_blocks: u64,
}

/// Adds `sums` over docs `0..n` in tiles of `1 << shift` docs, split into
/// `jobs` ranges of docs, and keeps the best docs in `top`; leaves
/// every accumulator zero. With `keep` false (a word failed), it only
/// zeroes. Ties break by doc id, so merging the ranges' top-k is exact.
pub(super) fn collect(
    sums: Sums<'_, '_>,
    n: usize,
    jobs: usize,
    shift: u32,
    keep: bool,
    top: &mut TopK,
) {
    let Sums {
        scoring,
        norms,
        accs,
        touched,
        held,
        in_blocks,
    } = sums;
    let shift = shift.min(16);
    let width = 1usize << shift;
    let jobs = jobs.clamp(1, n.max(1));
    // Range j: docs [n * j / jobs, n * (j + 1) / jobs); a tile may be cut
    // between two ranges, so that a collection of one tile still splits.
    let bounds: Vec<usize> = (0..=jobs).map(|j| n * j / jobs).collect();
    let Some((mine, others)) = accs.split_first_mut() else {
        return;
    };
    // The first accumulator, cut into the ranges, is where each range sums;
    // the other touched ones are cut alike and read (and zeroed) there.
    let mut parts: Vec<Part<'_>> = Vec::with_capacity(jobs);
    let own = n.min(mine.len());
    let mut rest: &mut [u64] = &mut mine[..own];
    // An accumulator without a `touched` flag is taken as touched.
    let mut rest_others: Vec<&mut [u64]> = others
        .iter_mut()
        .enumerate()
        .filter(|(i, _)| touched.get(i + 1).copied().unwrap_or(true))
        .map(|(_, a)| {
            let len = n.min(a.len());
            &mut a[..len]
        })
        .collect();
    for w in bounds.windows(2) {
        let docs = (w[1] - w[0]).min(rest.len());
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(docs);
        rest = tail;
        let mut from_others = Vec::with_capacity(rest_others.len());
        for o in rest_others.iter_mut() {
            let at = docs.min(o.len());
            let (h, t) = std::mem::take(o).split_at_mut(at);
            *o = t;
            from_others.push(h);
        }
        parts.push(Part {
            first: w[0],
            acc: head,
            others: from_others,
            top: None,
        });
    }
    let m = usize::try_from(in_blocks).unwrap_or(usize::MAX).min(n);
    let cap = top.capacity();
    run(&mut parts, |part| {
        let mut t = TopK::new(cap);
        let mut bar: Option<Bar> = None;
        let first = part.first;
        let end = first + part.acc.len();
        let mut cursors = Cursors::at(held, (first >> shift) as u32);
        // Docs [a, b): the range's part of tile `a >> shift`.
        let mut a = first;
        while a < end {
            let lo = a >> shift << shift;
            let b = (lo + width).min(end);
            let (i, j) = (a - first, b - first);
            let tile = &mut part.acc[i..j];
            for o in part.others.iter_mut() {
                if let Some(o) = o.get_mut(i..j) {
                    for (x, y) in tile.iter_mut().zip(o.iter_mut()) {
                        *x = x.wrapping_add(*y);
                        *y = 0;
                    }
                }
            }
            if keep && a < m {
                let upto = (m - a).min(tile.len());
                add_tile(
                    held,
                    &mut cursors,
                    &mut tile[..upto],
                    (lo >> shift) as u32,
                    lo,
                    a - lo,
                );
            }
            for (d, x) in (a..).zip(tile.iter_mut()) {
                if *x != 0 {
                    if keep {
                        let cos = norms.get(d).map_or(0.0, |n| n.0);
                        // Most docs of a large collection cannot enter the
                        // range's top-k once it is full: tested without
                        // finishing their score.
                        if !bar.is_some_and(|b| b.excludes(scoring, *x, cos)) {
                            let s = finish(scoring, *x, cos);
                            if s > 0.0 {
                                t.push(d as u64, s);
                                bar = t.floor().map(Bar::new);
                            }
                        }
                    }
                    *x = 0;
                }
            }
            a = b;
        }
        part.top = Some(t);
    });
    for t in parts.into_iter().filter_map(|p| p.top) {
        for (d, s) in t.into_sorted() {
            top.push(d, s);
        }
    }
}

/// One range of docs: its slice of the first accumulator, the same slice
/// of every other touched one, and its top-k once summed.
struct Part<'s> {
    /// Its first doc.
    first: usize,
    acc: &'s mut [u64],
    others: Vec<&'s mut [u64]>,
    top: Option<TopK>,
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::search::inverted::QueryTerm;
    use crate::testutil::XorShift;

    #[test]
    fn ranges_of_tiles_sum_add_and_rank_what_one_pass_does() {
        for seed in 1..=40u64 {
            let mut rng = XorShift::new(seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
            let mut next = |m: u64| rng.next_u64() % m;
            let n = 1 + next(300) as usize;
            // Some collections score their docs within a few percent of
            // one another, as a large one does near its top-k's floor.
            // Both scorings (even seeds are cosine); cosine norms within 5%.
            let narrow = seed % 4 < 2;
            let norms: Vec<(f32, f32)> = (0..n)
                .map(|_| {
                    if narrow {
                        (2.0 + next(100) as f32 / 1000.0, 3.0)
                    } else {
                        (1.0 + next(100) as f32 / 7.0, 1.0 + next(100) as f32 / 3.0)
                    }
                })
                .collect();
            let scoring = if seed % 2 == 0 {
                Scoring::Cosine
            } else {
                Scoring::L1
            };
            let shift = next(6) as u32;
            let in_blocks = if seed % 3 == 0 {
                next(n as u64 + 1)
            } else {
                n as u64
            };
            let mut lists = Vec::new();
            for _ in 0..1 + next(4) {
                let mut postings: Vec<(u32, u32)> = Vec::new();
                for d in 0..n as u32 {
                    if next(3) == 0 {
                        // Past the cosine table (16 tfs) too.
                        postings.push((d, 1 + next(20) as u32));
                    }
                }
                lists.push(postings);
            }
            let mut held: Vec<InMemoryList<'_>> = lists
                .iter()
                .enumerate()
                .map(|(w, p)| {
                    InMemoryList::decoded(
                        QueryTerm::new(scoring, 0.1 + w as f32 * 0.1, 1.5, &norms),
                        p,
                        shift,
                    )
                })
                .collect();
            // A dense list, as the cache keeps a word in most docs.
            let tfs: Vec<u8> = (0..n).map(|_| next(4) as u8).collect();
            let at = held.len() / 2;
            held.insert(
                at,
                InMemoryList::dense(QueryTerm::new(scoring, 0.7, 2.0, &norms), tfs.clone()),
            );
            let dense = &held[at];
            let mut dense_terms = vec![0u64; n];
            dense.word.add_dense(&mut dense_terms, &tfs, 0);
            let held: Vec<&InMemoryList<'_>> = held.iter().collect();
            // Round-1 sums: some accumulators untouched (zero), some longer
            // than n, as the pool hands them out.
            let tasks = 1 + next(3) as usize;
            let touched: Vec<bool> = (0..tasks).map(|_| narrow || next(2) == 0).collect();
            let mut accs: Vec<Vec<u64>> = touched
                .iter()
                .map(|&t| {
                    (0..n + next(3) as usize)
                        .map(|d| {
                            if narrow && d < n {
                                (1 << 40) + next(1 << 32)
                            } else if t && d < n && next(4) == 0 {
                                next(1 << 40)
                            } else {
                                0
                            }
                        })
                        .collect()
                })
                .collect();
            let mut total = vec![0u64; n];
            for a in &accs {
                for (t, x) in total.iter_mut().zip(a) {
                    *t = t.wrapping_add(*x);
                }
            }
            for (h, p) in held
                .iter()
                .filter(|h| h.postings.decoded.is_some())
                .zip(&lists)
            {
                for &(d, tf) in p.iter().filter(|p| u64::from(p.0) < in_blocks) {
                    total[d as usize] =
                        total[d as usize].wrapping_add(h.word.value(tf, u64::from(d)));
                }
            }
            for (t, x) in total.iter_mut().zip(&dense_terms).take(in_blocks as usize) {
                *t = t.wrapping_add(*x);
            }
            let k = 1 + next(20) as usize;
            let mut want: Vec<(u64, f32)> = total
                .iter()
                .enumerate()
                .filter(|(_, &a)| a != 0)
                .map(|(d, &a)| (d as u64, finish(scoring, a, norms[d].0)))
                .filter(|&(_, s)| s > 0.0)
                .collect();
            want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            want.truncate(k);
            let sum = |accs: &mut [Vec<u64>], jobs: usize, keep: bool| {
                let mut top = TopK::new(k);
                let sums = Sums {
                    scoring,
                    norms: &norms,
                    accs,
                    touched: &touched,
                    held: &held,
                    in_blocks,
                };
                collect(sums, n, jobs, shift, keep, &mut top);
                top
            };
            for jobs in 1..=4 {
                let mut accs = accs.clone();
                let top = sum(&mut accs, jobs, true);
                assert_eq!(
                    top.into_sorted(),
                    want,
                    "seed {seed}, jobs {jobs}, shift {shift}"
                );
                assert!(
                    accs.iter().all(|a| a.iter().all(|&x| x == 0)),
                    "seed {seed}: every accumulator zeroed"
                );
            }
            // A failed search only zeroes.
            let top = sum(&mut accs, 2, false);
            assert!(top.into_sorted().is_empty(), "seed {seed}");
            assert!(
                accs.iter().all(|a| a.iter().all(|&x| x == 0)),
                "seed {seed}"
            );
        }
    }
}
