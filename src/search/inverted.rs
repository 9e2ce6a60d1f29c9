//! Inverted search: walk only the posting lists of the query's words.
//!
//! The query's words are shared among up to [`MAX_PARTS`] tasks on the
//! rayon pool, each adding terms into its own dense accumulator, in two
//! rounds: the first looks every word up in the block cache and adds the
//! lists it has to decode as it decodes them; the second adds the lists
//! the cache holds in memory, shared out by size, one L2-sized tile of
//! docs at a time. A last round sums the accumulators over disjoint doc
//! ranges, each range into its own top-k. Terms are fixed-point integers
//! ([`fixed`]), so neither the split nor the order changes a score.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::{Scan, TopK};
use crate::config::Scoring;
use crate::error::Result;
use crate::scoring::{finish, fixed, term};
use crate::shared::posting_cache::WordPostings;
use crate::store::codec::postings::{self, Frame};
use crate::store::PostingBlock;

/// Most tasks one search splits into. Each needs an accumulator of 8 bytes
/// per doc, and the summing round reads all of them.
pub(crate) const MAX_PARTS: usize = 8;

/// Below this many docs a search runs as one task: splitting costs a
/// few microseconds (10k docs: 2.3–2.5 ms split in two against 4.3 ms in
/// one).
const MIN_DOCS_TO_SPLIT: u64 = 2_048;

/// Idle accumulators, every slot zero: a search takes what it needs and
/// gives them back zeroed, so no search allocates one proportional to the
/// collection once the process has warmed up. At most [`POOL_CAP`] are kept.
static POOL: Mutex<Vec<Vec<u64>>> = Mutex::new(Vec::new());
const POOL_CAP: usize = 4 * MAX_PARTS;

fn take(n: usize) -> Vec<u64> {
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

fn give_back(accs: Vec<Vec<u64>>) {
    let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
    for a in accs {
        if pool.len() < POOL_CAP {
            pool.push(a);
        }
    }
}

/// How many tasks a search over `docs` docs with `words` words uses, when
/// `asked` (0: choose) were asked for.
fn parts(asked: usize, docs: u64, words: usize) -> usize {
    let k = match asked {
        0 if docs < MIN_DOCS_TO_SPLIT => 1,
        0 => rayon::current_num_threads(),
        k => k,
    };
    k.clamp(1, MAX_PARTS).min(words.max(1))
}

pub(crate) fn search(scan: &Scan<'_>, top: &mut TopK) -> Result<()> {
    let n = scan.visible_below as usize;
    let k = parts(scan.threads, scan.visible_below, scan.q.entries.len());
    // Each doc is either below the sealed watermark (in blocks) or in the
    // tail, never both.
    let in_blocks = scan.visible_below.min(scan.sealed_below);
    // Most frequent words first (lowest idf), so that the tasks end
    // together: the last words handed out are the short lists.
    let mut order: Vec<usize> = (0..scan.q.entries.len()).collect();
    order.sort_by(|&a, &b| {
        let idf = |i: usize| scan.idf.get(scan.q.entries[i].0 as usize).copied();
        idf(a).unwrap_or(0.0).total_cmp(&idf(b).unwrap_or(0.0))
    });
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Slot<'_>> = (0..k)
        .map(|_| Slot {
            acc: take(n),
            result: Ok(()),
            held: Vec::new(),
        })
        .collect();
    // Round 1: every word is looked up; what has to be decoded is added
    // as it is decoded, what the cache holds in memory is set aside.
    run(&mut slots, |slot| {
        slot.result = add_words(
            scan,
            &order,
            &next,
            in_blocks,
            &mut slot.acc[..n],
            &mut slot.held,
        );
    });
    // Round 2: the words set aside, shared out by size, each task adding
    // its share tile by tile.
    let mut held: Vec<Held<'_>> = slots.iter_mut().flat_map(|s| s.held.drain(..)).collect();
    if slots.iter().all(|s| s.result.is_ok()) && !held.is_empty() {
        let shares = share_out(&mut held, slots.len());
        let mut jobs: Vec<(&mut Slot<'_>, Vec<&Held<'_>>)> = slots.iter_mut().zip(shares).collect();
        run(&mut jobs, |(slot, share)| {
            add_tiled(share, &mut slot.acc[..n], in_blocks, TILE);
        });
    }
    let mut result = Ok(());
    let mut accs = Vec::with_capacity(k);
    for slot in slots {
        if result.is_ok() {
            result = slot.result;
        }
        accs.push(slot.acc);
    }
    collect(scan, &mut accs, n, k, result.is_ok(), top);
    give_back(accs);
    result
}

/// One task's accumulator, outcome and words set aside.
struct Slot<'a> {
    acc: Vec<u64>,
    result: Result<()>,
    held: Vec<Held<'a>>,
}

/// A word whose postings the block cache holds in memory (decoded or
/// dense), to add in round 2.
struct Held<'a> {
    word: Word<'a>,
    postings: std::sync::Arc<WordPostings>,
    /// Slots it touches: its postings, or every doc when dense.
    cost: u64,
}

/// Runs `f` on every item, one rayon task each (inline for one item).
fn run<T: Send>(items: &mut [T], f: impl Fn(&mut T) + Sync) {
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
fn share_out<'h, 'a>(held: &'h mut [Held<'a>], k: usize) -> Vec<Vec<&'h Held<'a>>> {
    held.sort_unstable_by_key(|h| std::cmp::Reverse(h.cost));
    let mut shares: Vec<(u64, Vec<&Held<'a>>)> = (0..k.max(1)).map(|_| (0, Vec::new())).collect();
    for h in held.iter() {
        if let Some(s) = shares.iter_mut().min_by_key(|s| s.0) {
            s.0 += h.cost;
            s.1.push(h);
        }
    }
    shares.into_iter().map(|s| s.1).collect()
}

/// Docs per tile of round 2: 1 MiB of accumulator, which stays in a
/// core's L2 cache (2 MiB here) while every word of the share adds its
/// postings in that range. At a million docs an accumulator is 8 MB, and
/// adding word after word over all of it missed the L2 cache at nearly
/// every posting: 70–76 ms a query against 46–52 tiled (2^16 docs: 49–54,
/// 2^15: 56).
const TILE: usize = 1 << 17;

/// Adds the words of `share` to `acc`, one doc range of `tile` docs at a
/// time ([`TILE`] in searches), keeping a cursor in each tf group.
fn add_tiled(share: &[&Held<'_>], acc: &mut [u64], in_blocks: u64, tile: usize) {
    let m = acc
        .len()
        .min(usize::try_from(in_blocks).unwrap_or(usize::MAX));
    let groups: usize = share
        .iter()
        .map(|h| h.postings.decoded.as_ref().map_or(0, |d| d.runs.len()))
        .sum();
    let mut cursors = vec![0usize; groups];
    let mut lo = 0;
    while lo < m {
        let hi = (lo + tile.max(1)).min(m);
        let tile = &mut acc[lo..hi];
        let mut c = cursors.iter_mut();
        for h in share {
            match (&h.postings.dense, &h.postings.decoded) {
                (Some(d), _) => {
                    if let Some(tfs) = d.tfs.get(lo..hi) {
                        h.word.add_dense(tile, tfs, lo);
                    }
                }
                (None, Some(d)) => {
                    let mut start = 0;
                    for (&(tf, end), cursor) in d.runs.iter().zip(&mut c) {
                        let group = d.docs.get(start..end as usize).unwrap_or_default();
                        start = end as usize;
                        *cursor += h.word.add_group(
                            tile,
                            lo,
                            group.get(*cursor..).unwrap_or_default(),
                            tf,
                        );
                    }
                }
                // Not held (round 1 added it).
                (None, None) => {}
            }
        }
        lo = hi;
    }
}

/// Adds `value(doc)` to `tile[doc − lo]` for the docs of `group`
/// (increasing) below `lo + tile.len()`; returns how many.
#[inline(always)]
fn add_below(tile: &mut [u64], lo: usize, group: &[u32], value: impl Fn(u32) -> u64) -> usize {
    let hi = lo + tile.len();
    let mut added = 0;
    for &doc in group {
        let d = doc as usize;
        if d >= hi {
            break;
        }
        if let Some(a) = tile.get_mut(d.wrapping_sub(lo)) {
            *a = a.wrapping_add(value(doc));
        }
        added += 1;
    }
    added
}

/// Adds the terms of the words handed out by `next` (indexes into `order`)
/// to `acc`, until none are left; words the cache holds in memory are
/// pushed to `held` instead.
fn add_words<'a>(
    scan: &Scan<'a>,
    order: &[usize],
    next: &AtomicUsize,
    in_blocks: u64,
    acc: &mut [u64],
    held: &mut Vec<Held<'a>>,
) -> Result<()> {
    let mut bufs = postings::FrameBuffers::default();
    let mut batch: Vec<u32> = Vec::with_capacity(BATCH);
    let mut cached = Vec::with_capacity(BATCH);
    loop {
        // The first words (most frequent) one at a time, so that the
        // tasks share the long lists; then a batch at a time, looked up in
        // the block cache together.
        let b = if next.load(Ordering::Relaxed) < ONE_AT_A_TIME {
            1
        } else {
            BATCH
        };
        let i = next.fetch_add(b, Ordering::Relaxed);
        let Some(entries) = order.get(i..order.len().min(i + b)) else {
            return Ok(());
        };
        batch.clear();
        batch.extend(entries.iter().map(|&e| scan.q.entries[e].0));
        scan.postings
            .lookup(scan.store, scan.g, scan.epoch, &batch, &mut cached);
        for (&e, hit) in entries.iter().zip(cached.drain(..)) {
            if let Some(h) = add_word(scan, e, hit, in_blocks, acc, &mut bufs)? {
                held.push(h);
            }
        }
    }
}

/// Words handed out one at a time before batches of [`BATCH`].
const ONE_AT_A_TIME: usize = 64;

/// Words a task takes at once past the first [`ONE_AT_A_TIME`].
const BATCH: usize = 16;

/// Adds query entry `e`'s terms to `acc`, except those the block cache
/// holds in memory (decoded or dense), returned to be added in round 2;
/// `hit` is its postings when the block cache held them.
fn add_word<'a>(
    scan: &Scan<'a>,
    e: usize,
    hit: Option<std::sync::Arc<WordPostings>>,
    in_blocks: u64,
    acc: &mut [u64],
    bufs: &mut postings::FrameBuffers,
) -> Result<Option<Held<'a>>> {
    let (w, qv) = scan.q.entries[e];
    let t = Word::new(
        scan.scoring,
        qv,
        scan.idf.get(w as usize).copied().unwrap_or(0.0),
        scan.norms,
    );
    let p = match hit {
        Some(p) => scan
            .postings
            .upgrade(scan.store, scan.g, scan.epoch, w, &p)?
            .unwrap_or(p),
        None => scan
            .postings
            .get(scan.store, scan.g, scan.epoch, w, in_blocks)?,
    };
    for chunk in scan.unsealed {
        chunk.for_word(w, |docs, tfs| t.add(acc, docs, tfs, scan.visible_below));
    }
    let cost = match (&p.dense, &p.decoded) {
        (Some(d), _) if d.upto >= in_blocks => in_blocks,
        (_, Some(d)) => d.docs.len() as u64,
        _ => {
            // Blocks are in doc order: past `in_blocks` the rest of a block
            // is newer still.
            t.add_blocks(acc, &p.blocks, in_blocks, bufs)?;
            return Ok(None);
        }
    };
    Ok(Some(Held {
        word: t,
        postings: p,
        cost,
    }))
}

/// Term frequencies whose cosine terms are tabulated per word.
const TABULATED: usize = 16;

/// One query word's constants.
struct Word<'a> {
    scoring: Scoring,
    qv: f32,
    idf: f32,
    norms: &'a [(f32, f32)],
    /// `fixed(term(Cosine, qv, tf, idf))` at index tf − 1.
    cosine: [u64; TABULATED],
}

impl<'a> Word<'a> {
    fn new(scoring: Scoring, qv: f32, idf: f32, norms: &'a [(f32, f32)]) -> Word<'a> {
        let mut cosine = [0u64; TABULATED];
        for (tf, c) in (1u32..).zip(cosine.iter_mut()) {
            *c = fixed(term(Scoring::Cosine, qv, tf, idf, 0.0));
        }
        Word {
            scoring,
            qv,
            idf,
            norms,
            cosine,
        }
    }

    #[inline(always)]
    fn cosine(&self, tf: u32) -> u64 {
        match self.cosine.get((tf as usize).wrapping_sub(1)) {
            Some(&c) => c,
            None => fixed(term(Scoring::Cosine, self.qv, tf, self.idf, 0.0)),
        }
    }

    /// Adds a frame's postings below `below` to `acc` (which is longer than
    /// `below`), summing its gaps on the way; false once a doc at or above
    /// `below` is met. Each posting adds exactly `fixed(term(..))`, as
    /// [`Word::add`].
    #[inline(always)]
    fn add_frame(&self, acc: &mut [u64], f: &Frame<'_>, below: u64) -> bool {
        let mut doc = f.base;
        if f.last >= below || self.scoring != Scoring::Cosine {
            // The frame ends past the watermark, or the scoring needs each
            // doc's norm: one posting at a time, stopping at `below`.
            for (i, &g) in f.gaps.iter().enumerate() {
                doc += g;
                if doc >= below {
                    return false;
                }
                let tf = f
                    .tf_minus_1
                    .map_or(1, |e| e.get(i).map_or(1, |&e| (e + 1) as u32));
                if let Some(a) = acc.get_mut(doc as usize) {
                    *a = a.wrapping_add(self.value(tf, doc));
                }
            }
            return true;
        }
        match f.tf_minus_1 {
            None => {
                let c = self.cosine[0];
                for &g in f.gaps {
                    doc += g;
                    if let Some(a) = acc.get_mut(doc as usize) {
                        *a = a.wrapping_add(c);
                    }
                }
            }
            Some(e) => {
                for (&g, &e) in f.gaps.iter().zip(e) {
                    doc += g;
                    let c = match self.cosine.get(e as usize) {
                        Some(&c) => c,
                        None => self.cosine((e + 1) as u32),
                    };
                    if let Some(a) = acc.get_mut(doc as usize) {
                        *a = a.wrapping_add(c);
                    }
                }
            }
        }
        true
    }

    /// Adds a run of the tail's postings (docs increasing) below `below`
    /// to `acc`; false once a doc at or above `below` is met.
    #[inline(always)]
    fn add(&self, acc: &mut [u64], docs: &[u64], tfs: &[u32], below: u64) -> bool {
        for (&d, &tf) in docs.iter().zip(tfs) {
            if d >= below {
                return false;
            }
            if let Some(a) = acc.get_mut(d as usize) {
                *a = a.wrapping_add(self.value(tf, d));
            }
        }
        true
    }

    /// `fixed(term(..))` of one posting, for any scoring.
    #[inline(always)]
    fn value(&self, tf: u32, doc: u64) -> u64 {
        match self.scoring {
            Scoring::Cosine => self.cosine(tf),
            Scoring::L1 => {
                let l1 = self.norms.get(doc as usize).map_or(0.0, |n| n.1);
                fixed(term(Scoring::L1, self.qv, tf, self.idf, l1))
            }
        }
    }

    /// Adds a word's blocks below `in_blocks`.
    fn add_blocks(
        &self,
        acc: &mut [u64],
        blocks: &[PostingBlock],
        in_blocks: u64,
        bufs: &mut postings::FrameBuffers,
    ) -> Result<()> {
        for b in blocks.iter().take_while(|b| b.first < in_blocks) {
            let mut more = true;
            b.for_each_frame(bufs, |frame| {
                more = self.add_frame(acc, frame, in_blocks);
                more
            })?;
            if !more {
                break;
            }
        }
        Ok(())
    }

    /// Adds the docs of one tf group below `lo + tile.len()` (from the
    /// group's cursor on, docs increasing) to `tile`, which starts at doc
    /// `lo`; returns how many it added.
    #[inline]
    fn add_group(&self, tile: &mut [u64], lo: usize, group: &[u32], tf: u32) -> usize {
        match self.scoring {
            Scoring::Cosine => {
                let c = self.cosine(tf);
                add_below(tile, lo, group, |_| c)
            }
            Scoring::L1 => add_below(tile, lo, group, |doc| self.value(tf, u64::from(doc))),
        }
    }

    /// Adds a word kept dense: `tfs[i]` is its tf in doc `base + i` (0:
    /// absent), added to `acc[i]`. Adding 0 leaves a slot as it was, so the
    /// pass needs no branch.
    fn add_dense(&self, acc: &mut [u64], tfs: &[u8], base: usize) {
        match self.scoring {
            Scoring::Cosine => {
                let mut table = [0u64; 256];
                for (tf, c) in (1u32..).zip(table.iter_mut().skip(1)) {
                    *c = self.cosine(tf);
                }
                for (a, &t) in acc.iter_mut().zip(tfs) {
                    *a = a.wrapping_add(table[usize::from(t)]);
                }
            }
            Scoring::L1 => {
                for (d, (a, &t)) in (base..).zip(acc.iter_mut().zip(tfs)) {
                    if t != 0 {
                        *a = a.wrapping_add(self.value(u32::from(t), d as u64));
                    }
                }
            }
        }
    }
}

/// Sums the accumulators (zeroing them) and keeps the best docs in `top`;
/// only zeroes when `keep` is false. Doc ranges are summed in parallel,
/// each into its own top-k, merged at the end: ties break by doc id, so the
/// merge is exact.
fn collect(scan: &Scan<'_>, accs: &mut [Vec<u64>], n: usize, k: usize, keep: bool, top: &mut TopK) {
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
                    let cos = scan.norms.get(d).map_or(0.0, |n| n.0);
                    let s = finish(scan.scoring, *a, cos);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::posting_cache::{Decoded, Dense};
    use std::sync::Arc;

    /// Seeded xorshift: the tests' postings.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    fn decoded(postings: &[(u32, u32)]) -> Decoded {
        let mut by_tf: Vec<(u32, u32)> = postings.iter().map(|&(d, tf)| (tf, d)).collect();
        by_tf.sort_unstable();
        let mut docs = Vec::new();
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for (tf, d) in by_tf {
            docs.push(d);
            match runs.last_mut() {
                Some(r) if r.0 == tf => r.1 = docs.len() as u32,
                _ => runs.push((tf, docs.len() as u32)),
            }
        }
        Decoded { docs, runs }
    }

    #[test]
    fn tiles_add_what_one_pass_adds() {
        for seed in 1..=20u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let n = 50 + (rng.next() % 900) as usize;
            let norms: Vec<(f32, f32)> = (0..n).map(|i| (1.0 + i as f32, 2.0 + i as f32)).collect();
            for scoring in [Scoring::Cosine, Scoring::L1] {
                let mut lists = Vec::new();
                let mut held = Vec::new();
                for w in 0..4 {
                    let word = Word::new(scoring, 0.1 + w as f32 * 0.2, 1.5, &norms);
                    let mut postings = Vec::new();
                    for d in 0..n as u32 {
                        if rng.next().is_multiple_of(3) {
                            // Past the cosine table too.
                            postings.push((d, 1 + (rng.next() % 20) as u32));
                        }
                    }
                    let p = WordPostings {
                        decoded: Some(decoded(&postings)),
                        ..WordPostings::default()
                    };
                    lists.push(postings);
                    held.push(Held {
                        word,
                        postings: Arc::new(p),
                        cost: 0,
                    });
                }
                let tfs: Vec<u8> = (0..n).map(|_| (rng.next() % 4) as u8).collect();
                let dense = WordPostings {
                    dense: Some(Dense {
                        upto: n as u64,
                        tfs: tfs.clone(),
                    }),
                    ..WordPostings::default()
                };
                held.push(Held {
                    word: Word::new(scoring, 0.7, 2.0, &norms),
                    postings: Arc::new(dense),
                    cost: 0,
                });
                for in_blocks in [n as u64, (n / 2) as u64] {
                    let mut want = vec![0u64; n];
                    for (h, postings) in held.iter().zip(&lists) {
                        for &(d, tf) in postings.iter().filter(|p| u64::from(p.0) < in_blocks) {
                            want[d as usize] =
                                want[d as usize].wrapping_add(h.word.value(tf, u64::from(d)));
                        }
                    }
                    let m = in_blocks as usize;
                    held[4].word.add_dense(&mut want[..m], &tfs[..m], 0);
                    let share: Vec<&Held<'_>> = held.iter().collect();
                    for tile in [1, 2, 7, 64, n - 1, n, TILE] {
                        let mut got = vec![0u64; n];
                        add_tiled(&share, &mut got, in_blocks, tile);
                        assert_eq!(
                            got, want,
                            "seed {seed}, {scoring:?}, tile {tile}, below {in_blocks}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn shares_balance_cost() {
        let norms = [(1.0, 1.0)];
        let mut held: Vec<Held<'_>> = [9u64, 1, 5, 4, 3, 2]
            .iter()
            .map(|&cost| Held {
                word: Word::new(Scoring::Cosine, 1.0, 1.0, &norms),
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
