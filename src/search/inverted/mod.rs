//! Inverted search: walk only the posting lists of the query's words.
//!
//! A search runs as up to [`MAX_PARTS`] tasks on the rayon pool. Round 1
//! shares the query's words out among them: each task looks its words up
//! in the block cache and adds the lists it has to decode, as it decodes
//! them, into its own dense accumulator; the lists the cache holds in
//! memory are set aside. Round 2 splits the docs instead, into one range
//! per task: tile by tile (an L2-sized slice of docs, or the range's part
//! of one), a task sums the round-1 accumulators there, adds every list
//! set aside and scores the tile's docs into its range's top-k, while the
//! tile is still in its cache. The ranges' top-k are merged exactly. Terms are
//! fixed-point integers ([`fixed`]), so neither split nor order changes a
//! score.

mod kernels;
mod merge;
mod pool;
mod schedule;

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{SearchInput, TopK};
use crate::error::Result;
use crate::shared::posting_cache::lists::TILE_SHIFT;
use crate::shared::posting_cache::WordPostings;
use crate::store::codec::postings;
use kernels::QueryTerm;
use merge::{collect, Sums};
use pool::{give_back, take};
use schedule::{parts, run};

/// Most tasks one search splits into. Each needs an accumulator of 8 bytes
/// per doc, and the summing round reads all of them.
pub(crate) const MAX_PARTS: usize = 8;

pub(crate) fn search(input: &SearchInput<'_>, top: &mut TopK) -> Result<()> {
    let n = input.visible_below as usize;
    let k = parts(input.threads, input.visible_below, input.q.entries.len());
    // Each doc is either below the sealed watermark (in blocks) or
    // unsealed, never both.
    let in_blocks = input.visible_below.min(input.sealed_below);
    // Most frequent words first (lowest idf), so that the tasks end
    // together: the last words handed out are the short lists.
    let mut order: Vec<usize> = (0..input.q.entries.len()).collect();
    order.sort_by(|&a, &b| {
        let idf = |i: usize| input.idf.get(input.q.entries[i].0 as usize).copied();
        idf(a).unwrap_or(0.0).total_cmp(&idf(b).unwrap_or(0.0))
    });
    let next = AtomicUsize::new(0);
    let mut tasks: Vec<Task<'_>> = (0..k)
        .map(|_| Task {
            acc: take(n),
            result: Ok(()),
            held: Vec::new(),
            touched: false,
        })
        .collect();
    // Round 1: every word is looked up; what has to be decoded is added
    // as it is decoded, what the cache holds in memory is set aside.
    run(&mut tasks, |task| {
        task.result = add_words(
            input,
            &order,
            &next,
            in_blocks,
            &mut task.acc[..n],
            &mut task.held,
            &mut task.touched,
        );
    });
    // Rounds 2 and 3: the words set aside and the round-1 sums, added one
    // tile of docs at a time over disjoint doc ranges, each scored into
    // its own top-k.
    let held: Vec<InMemoryList<'_>> = tasks.iter_mut().flat_map(|s| s.held.drain(..)).collect();
    let held: Vec<&InMemoryList<'_>> = held.iter().collect();
    let mut result = Ok(());
    let mut accs = Vec::with_capacity(k);
    let mut touched = Vec::with_capacity(k);
    for task in tasks {
        touched.push(task.touched || task.result.is_err());
        if result.is_ok() {
            result = task.result;
        }
        accs.push(task.acc);
    }
    let sums = Sums {
        scoring: input.scoring,
        norms: input.norms,
        accs: &mut accs,
        touched: &touched,
        held: &held,
        in_blocks,
    };
    collect(sums, n, k, TILE_SHIFT, result.is_ok(), top);
    give_back(accs);
    result
}

/// One task's accumulator, outcome and words set aside.
struct Task<'a> {
    acc: Vec<u64>,
    result: Result<()>,
    held: Vec<InMemoryList<'a>>,
    /// Whether round 1 may have added to `acc`.
    touched: bool,
}

/// A word whose postings the block cache holds in memory (decoded or
/// dense), to add in round 2.
struct InMemoryList<'a> {
    word: QueryTerm<'a>,
    postings: std::sync::Arc<WordPostings>,
}

#[cfg(test)]
impl<'a> InMemoryList<'a> {
    /// `word` held dense: `tfs[d]` is its tf in doc `d`.
    fn dense(word: QueryTerm<'a>, tfs: Vec<u8>) -> InMemoryList<'a> {
        let upto = tfs.len() as u64;
        InMemoryList {
            word,
            postings: std::sync::Arc::new(WordPostings {
                dense: Some(crate::shared::posting_cache::lists::Dense { upto, tfs }),
                ..WordPostings::default()
            }),
        }
    }

    /// `word` held decoded: its (doc, tf) postings in tiles of `1 << shift`
    /// docs.
    fn decoded(word: QueryTerm<'a>, postings: &[(u32, u32)], shift: u32) -> InMemoryList<'a> {
        InMemoryList {
            word,
            postings: std::sync::Arc::new(WordPostings {
                decoded: Some(crate::shared::posting_cache::lists::Decoded::from_postings(
                    postings, shift,
                )),
                ..WordPostings::default()
            }),
        }
    }
}

/// Adds the terms of the words handed out by `next` (indexes into `order`)
/// to `acc`, until none are left; words the cache holds in memory are
/// pushed to `held` instead.
fn add_words<'a>(
    input: &SearchInput<'a>,
    order: &[usize],
    next: &AtomicUsize,
    in_blocks: u64,
    acc: &mut [u64],
    held: &mut Vec<InMemoryList<'a>>,
    touched: &mut bool,
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
        batch.extend(entries.iter().map(|&e| input.q.entries[e].0));
        input
            .postings
            .lookup(input.store, input.g, input.epoch, &batch, &mut cached);
        for (&e, hit) in entries.iter().zip(cached.drain(..)) {
            // Every word adds its unsealed postings here.
            *touched |= !input.unsealed.is_empty();
            match add_word(input, e, hit, in_blocks, acc, &mut bufs)? {
                Some(h) => held.push(h),
                None => *touched = true,
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
    input: &SearchInput<'a>,
    e: usize,
    hit: Option<std::sync::Arc<WordPostings>>,
    in_blocks: u64,
    acc: &mut [u64],
    bufs: &mut postings::FrameBuffers,
) -> Result<Option<InMemoryList<'a>>> {
    let (w, qv) = input.q.entries[e];
    let t = QueryTerm::new(
        input.scoring,
        qv,
        input.idf.get(w as usize).copied().unwrap_or(0.0),
        input.norms,
    );
    let p = match hit {
        Some(p) => input
            .postings
            .upgrade(input.store, input.g, input.epoch, w, &p)?
            .unwrap_or(p),
        None => input
            .postings
            .get(input.store, input.g, input.epoch, w, in_blocks)?,
    };
    for chunk in input.unsealed {
        chunk.for_word(w, |docs, tfs| t.add(acc, docs, tfs, input.visible_below));
    }
    match (&p.dense, &p.decoded) {
        (Some(d), _) if d.upto >= in_blocks => {}
        (_, Some(_)) => {}
        _ => {
            // Blocks are in doc order: past `in_blocks` the rest of a block
            // is newer still.
            t.add_blocks(acc, &p.blocks, in_blocks, bufs)?;
            return Ok(None);
        }
    };
    Ok(Some(InMemoryList {
        word: t,
        postings: p,
    }))
}
