//! Idle accumulators, shared by every search of the process.

use std::sync::Mutex;

use super::MAX_PARTS;

/// Idle accumulators, every slot zero: a search takes what it needs and
/// gives them back zeroed, so no search allocates one proportional to the
/// collection once the process has warmed up. At most [`POOL_CAP`] are kept.
pub(super) static POOL: Mutex<Vec<Vec<u64>>> = Mutex::new(Vec::new());

pub(super) const POOL_CAP: usize = 4 * MAX_PARTS;

pub(super) fn take(n: usize) -> Vec<u64> {
    let mut a = POOL
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .unwrap_or_default();
    if a.len() < n {
        a.resize(n, 0);
    }
    a
}

pub(super) fn give_back(accs: Vec<Vec<u64>>) {
    let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
    for a in accs {
        if pool.len() < POOL_CAP {
            pool.push(a);
        }
    }
}
