//! Eviction by the clock rule.

use std::sync::atomic::Ordering;

use super::{Entry, State};

/// Evicts entries until `need` more bytes fit in `capacity` (or only
/// `keep` is left), by the clock rule: the hand passes over the entries in
/// ring order, an entry used since the hand last passed loses its mark
/// and stays (a second chance), an unused one is evicted. Evicting only
/// what room asks for keeps the cost of a full cache spread over inserts;
/// a sweep dropping every cold entry at once would free gigabytes within
/// one search at a million records. Returns the evicted
/// entries, to be dropped once the lock is released.
pub(super) fn make_room(s: &mut State, need: u64, capacity: u64, keep: u32) -> Vec<Entry> {
    let mut evicted = Vec::new();
    // Marks are set only under the read lock, so within two rounds every
    // entry but `keep` is unmarked and evicted.
    let mut steps = 2 * s.ring.len() + 1;
    while s.bytes.saturating_add(need) > capacity && steps > 0 {
        steps -= 1;
        if s.hand >= s.ring.len() {
            s.hand = 0;
        }
        let Some(&w) = s.ring.get(s.hand) else {
            break;
        };
        let used = w == keep
            || s.words
                .get(&w)
                .is_some_and(|e| e.used.swap(false, Ordering::Relaxed));
        if used {
            s.hand += 1;
            continue;
        }
        if let Some(e) = s.words.remove(&w) {
            s.bytes -= e.bytes;
            evicted.push(e);
        }
        // The last word takes this slot and is visited next.
        s.ring.swap_remove(s.hand);
    }
    evicted
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    use super::*;
    use crate::shared::posting_cache::WordPostings;

    fn entry(bytes: u64, used: bool) -> Entry {
        Entry {
            blocks: Arc::new(WordPostings::default()),
            bytes,
            used: AtomicBool::new(used),
        }
    }

    fn state(entries: &[(u32, u64, bool)]) -> State {
        let mut s = State::default();
        for &(w, bytes, used) in entries {
            s.words.insert(w, entry(bytes, used));
            s.ring.push(w);
            s.bytes += bytes;
        }
        s
    }

    #[test]
    fn the_clock_gives_used_entries_a_second_chance() {
        let mut s = state(&[(1, 10, true), (2, 20, false), (3, 10, false)]);
        // Room for 15 more under 50: word 2 goes, 1 loses its mark, 3 is
        // not reached.
        let gone = make_room(&mut s, 15, 50, u32::MAX);
        assert_eq!(gone.len(), 1);
        assert_eq!(s.bytes, 20);
        let mut left: Vec<u32> = s.words.keys().copied().collect();
        left.sort_unstable();
        assert_eq!(left, vec![1, 3]);
        assert!(!s.words[&1].used.load(Ordering::Relaxed));
        assert_eq!(s.ring.len(), 2);
    }

    #[test]
    fn the_clock_makes_room_when_every_entry_was_used_but_keeps_the_one_asked() {
        let entries: Vec<(u32, u64, bool)> = (0..10).map(|w| (w, 10, true)).collect();
        let mut s = state(&entries);
        let gone = make_room(&mut s, 65, 100, 7);
        assert!(s.bytes + 65 <= 100, "{}", s.bytes);
        assert_eq!(s.bytes, 10 * s.words.len() as u64);
        assert_eq!(gone.len(), 10 - s.words.len());
        assert!(s.words.contains_key(&7));
        // Asking for more than can ever fit evicts all but the kept one.
        let _ = make_room(&mut s, 1_000, 100, 7);
        assert_eq!(s.words.keys().copied().collect::<Vec<_>>(), vec![7]);
        assert_eq!(s.ring, vec![7]);
    }
}
