//! How a search's work is shared out: how many tasks, running them on the
//! rayon pool, and sharing the lists held in memory by cost.

use super::{InMemoryList, MAX_PARTS};

/// Below this many docs a search runs as one task: splitting costs a few
/// microseconds, which a small collection's query does not win back
/// (docs/PERFORMANCE.md, "Where the time goes", has the measurement).
pub(super) const MIN_DOCS_TO_SPLIT: u64 = 2_048;

/// How many tasks a search over `docs` docs with `words` words uses, when
/// `asked` (0: choose) were asked for.
pub(super) fn parts(asked: usize, docs: u64, words: usize) -> usize {
    let k = match asked {
        0 if docs < MIN_DOCS_TO_SPLIT => 1,
        0 => rayon::current_num_threads(),
        k => k,
    };
    k.clamp(1, MAX_PARTS).min(words.max(1))
}

/// Runs `f` on every item, one rayon task each (inline for one item).
pub(super) fn run<T: Send>(items: &mut [T], f: impl Fn(&mut T) + Sync) {
    if let [one] = items {
        f(one);
        return;
    }
    let f = &f;
    rayon::scope(|s| {
        for item in items.iter_mut() {
            s.spawn(move |_| f(item));
        }
    });
}

/// Splits `held` into `k` shares of about equal cost (largest first, each
/// to the share with the least so far).
pub(super) fn share_out<'h, 'a>(
    held: &'h mut [InMemoryList<'a>],
    k: usize,
) -> Vec<Vec<&'h InMemoryList<'a>>> {
    held.sort_unstable_by_key(|h| std::cmp::Reverse(h.cost));
    let mut shares: Vec<(u64, Vec<&InMemoryList<'a>>)> =
        (0..k.max(1)).map(|_| (0, Vec::new())).collect();
    for h in held.iter() {
        if let Some(s) = shares.iter_mut().min_by_key(|s| s.0) {
            s.0 += h.cost;
            s.1.push(h);
        }
    }
    shares.into_iter().map(|s| s.1).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::Scoring;
    use crate::search::inverted::QueryTerm;
    use crate::shared::posting_cache::WordPostings;

    #[test]
    fn shares_balance_cost() {
        let norms = [(1.0, 1.0)];
        let mut held: Vec<InMemoryList<'_>> = [9u64, 1, 5, 4, 3, 2]
            .iter()
            .map(|&cost| InMemoryList {
                word: QueryTerm::new(Scoring::Cosine, 1.0, 1.0, &norms),
                postings: Arc::new(WordPostings::default()),
                cost,
            })
            .collect();
        let shares = share_out(&mut held, 2);
        let totals: Vec<u64> = shares
            .iter()
            .map(|s| s.iter().map(|h| h.cost).sum())
            .collect();
        assert_eq!(totals.iter().sum::<u64>(), 24);
        assert_eq!(totals, vec![12, 12]);
    }
}
