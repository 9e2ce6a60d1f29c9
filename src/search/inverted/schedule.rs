//! How a search's work is shared out: how many tasks, running them on the
//! rayon pool.

use super::MAX_PARTS;

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
