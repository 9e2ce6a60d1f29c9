//! Bounded top-k selection: highest score first, ties by lower doc id.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A scored doc, ordered so that the *worst* candidate is the heap's maximum.
#[derive(Debug, Clone, Copy)]
struct Worst {
    score: f32,
    doc: u64,
}

impl Ord for Worst {
    fn cmp(&self, o: &Self) -> Ordering {
        // Lower score is worse; at equal score the higher doc id is worse.
        o.score.total_cmp(&self.score).then(self.doc.cmp(&o.doc))
    }
}
impl PartialOrd for Worst {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl PartialEq for Worst {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Worst {}

/// Keeps the `k` best (doc, score) pairs seen, in O(log k) per push.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Worst>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, doc: u64, score: f32) {
        if self.k == 0 {
            return;
        }
        let c = Worst { score, doc };
        if self.heap.len() < self.k {
            self.heap.push(c);
        } else if let Some(worst) = self.heap.peek() {
            if c < *worst {
                self.heap.pop();
                self.heap.push(c);
            }
        }
    }

    /// The worst score kept once `k` are kept: a doc scoring below it is
    /// not taken. `None` while fewer are kept.
    pub(crate) fn floor(&self) -> Option<f32> {
        if self.heap.len() < self.k {
            return None;
        }
        self.heap.peek().map(|w| w.score)
    }

    /// How many it keeps.
    pub(crate) fn capacity(&self) -> usize {
        self.k
    }

    /// Best first.
    pub(crate) fn into_sorted(self) -> Vec<(u64, f32)> {
        let mut v: Vec<Worst> = self.heap.into_vec();
        v.sort();
        v.into_iter().map(|w| (w.doc, w.score)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_full_sort(items in proptest::collection::vec((0u64..50, 0u8..5), 0..100), k in 0usize..20) {
            let mut t = TopK::new(k);
            let mut seen = std::collections::HashSet::new();
            let mut all = Vec::new();
            for (d, s) in items {
                if seen.insert(d) {
                    t.push(d, f32::from(s));
                    all.push((d, f32::from(s)));
                }
            }
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            all.truncate(k);
            prop_assert_eq!(t.into_sorted(), all);
        }
    }
}
