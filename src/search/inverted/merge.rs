//! The last round: summing the accumulators over disjoint doc ranges into
//! top-k lists, merged exactly.

use super::super::{SearchInput, TopK};
use super::run;
use crate::scoring::finish;

/// Sums the accumulators (zeroing them) and keeps the best docs in `top`;
/// only zeroes when `keep` is false. Doc ranges are summed in parallel,
/// each into its own top-k, merged at the end: ties break by doc id, so the
/// merge is exact.
pub(super) fn collect(
    input: &SearchInput<'_>,
    accs: &mut [Vec<u64>],
    n: usize,
    k: usize,
    keep: bool,
    top: &mut TopK,
) {
    let cap = top.capacity();
    let range = n.div_ceil(k).max(1);
    // parts[p] holds every accumulator's slice of range p.
    let mut parts: Vec<Vec<&mut [u64]>> = (0..n.div_ceil(range)).map(|_| Vec::new()).collect();
    for acc in accs.iter_mut() {
        for (p, chunk) in acc[..n].chunks_mut(range).enumerate() {
            if let Some(part) = parts.get_mut(p) {
                part.push(chunk);
            }
        }
    }
    let sum_range = |p: usize, slices: &mut [&mut [u64]]| -> TopK {
        let mut t = TopK::new(cap);
        let Some((first, rest)) = slices.split_first_mut() else {
            return t;
        };
        for other in rest {
            for (a, b) in first.iter_mut().zip(other.iter_mut()) {
                *a = a.wrapping_add(*b);
                *b = 0;
            }
        }
        let base = p * range;
        for (i, a) in first.iter_mut().enumerate() {
            if *a != 0 {
                if keep {
                    let d = base + i;
                    let cos = input.norms.get(d).map_or(0.0, |n| n.0);
                    let s = finish(input.scoring, *a, cos);
                    if s > 0.0 {
                        t.push(d as u64, s);
                    }
                }
                *a = 0;
            }
        }
        t
    };
    let mut jobs: Vec<_> = parts
        .into_iter()
        .enumerate()
        .map(|(p, slices)| (p, slices, None))
        .collect();
    run(&mut jobs, |(p, slices, out)| {
        *out = Some(sum_range(*p, slices))
    });
    for t in jobs.into_iter().filter_map(|j| j.2) {
        for (d, s) in t.into_sorted() {
            top.push(d, s);
        }
    }
}
