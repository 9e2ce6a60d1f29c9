//! The described records of a build or rebuild, handed to the committing
//! loop in source order: read back from a spill file, or, for a collection
//! larger than its training set, streamed from extraction as it goes.
//!
//! Streaming (`RunOptions::training_images`): the codebook is trained on a
//! seeded random subset of the images, and IDF counted over that subset's
//! words; those images' words and keypoints wait in memory while every
//! other image is described (and quantized by the extraction workers) only
//! now. The two are merged back into source order. No temporary file holds
//! descriptors or words, and each image outside the subset is described
//! once; the subset is described twice.

use std::collections::{BTreeMap, VecDeque};

use crossbeam_channel::Receiver;

use super::pipeline::Extracted;
use super::spill::{Payload, SpillReader, Spilled};
use super::training::record;
use super::RecordError;
use crate::error::Result;

/// Records in source order, each with [`Payload::Words`].
pub(crate) enum Described {
    /// Every image described before training, read back from a spill file.
    Spilled(SpillReader),
    /// Described while they are consumed.
    Streamed(Stream),
}

impl Described {
    /// Sources not handed out yet (records and failures alike).
    pub(crate) fn remaining(&self) -> u64 {
        match self {
            Described::Spilled(r) => r.remaining(),
            Described::Streamed(s) => s.remaining,
        }
    }

    /// The next records, up to `n` sources' worth: fewer when some of them
    /// fail (see [`Described::take_failed`]).
    pub(crate) fn next_chunk(&mut self, n: usize) -> Result<Vec<Spilled>> {
        match self {
            Described::Spilled(r) => r.next_chunk(n),
            Described::Streamed(s) => s.next_chunk(n),
        }
    }

    /// Images that failed since the last call.
    pub(crate) fn take_failed(&mut self) -> Vec<RecordError> {
        match self {
            Described::Spilled(_) => Vec::new(),
            Described::Streamed(s) => std::mem::take(&mut s.failed),
        }
    }
}

/// The training subset's records (by source position) merged with the
/// others as extraction delivers them.
pub(crate) struct Stream {
    /// The training subset's records, by source position.
    held: BTreeMap<usize, Spilled>,
    /// Source positions of the images being extracted, in order.
    positions: VecDeque<usize>,
    /// Their tags, in the same order.
    tags: VecDeque<u64>,
    /// Extracted, quantized, not handed out yet: (position, record).
    ready: VecDeque<(usize, Spilled)>,
    batches: Receiver<Vec<Extracted>>,
    failed: Vec<RecordError>,
    remaining: u64,
}

impl Stream {
    /// `held`: the subset's good records by source position; `others`: the
    /// positions and tags of the sources `batches` delivers, in order.
    pub(crate) fn new(
        held: BTreeMap<usize, Spilled>,
        others: Vec<(usize, u64)>,
        batches: Receiver<Vec<Extracted>>,
    ) -> Stream {
        let remaining = (held.len() + others.len()) as u64;
        let (positions, tags) = others.into_iter().unzip();
        Stream {
            held,
            positions,
            tags,
            ready: VecDeque::new(),
            batches,
            failed: Vec::new(),
            remaining,
        }
    }

    fn next_chunk(&mut self, n: usize) -> Result<Vec<Spilled>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n && self.remaining > 0 {
            if self.ready.is_empty() && !self.positions.is_empty() {
                // The next batch may hold only failures: look again.
                self.receive()?;
                continue;
            }
            let next_held = self.held.first_key_value().map(|(p, _)| *p);
            let next_other = self.ready.front().map(|(p, _)| *p);
            let record = match (next_held, next_other) {
                (Some(h), Some(o)) if h < o => self.held.pop_first().map(|(_, r)| r),
                (_, Some(_)) => self.ready.pop_front().map(|(_, r)| r),
                // Nothing is being extracted any more.
                (Some(_), None) => self.held.pop_first().map(|(_, r)| r),
                (None, None) => None,
            };
            let Some(record) = record else {
                // Every source has been handed out.
                self.remaining = 0;
                break;
            };
            self.remaining -= 1;
            out.push(record);
        }
        Ok(out)
    }

    /// Takes the next extracted batch: good images join `ready`, failures
    /// are reported and their turn is used up.
    fn receive(&mut self) -> Result<()> {
        let batch = match self.batches.recv() {
            Ok(b) => b,
            // The pipeline ended early: every source was handed out.
            Err(_) => {
                self.positions.clear();
                return Ok(());
            }
        };
        for Extracted { source, result } in batch {
            let (Some(position), Some(tag)) = (self.positions.pop_front(), self.tags.pop_front())
            else {
                break;
            };
            match result {
                Err(e) => {
                    self.failed.push(RecordError::from_error(&source, e));
                    // Handed out here, not in `next_chunk`.
                    self.remaining = self.remaining.saturating_sub(1);
                }
                Ok(mut item) => {
                    let words = Payload::Words(item.words.take().unwrap_or_default());
                    self.ready
                        .push_back((position, record(tag, &source, item, words)));
                }
            }
        }
        Ok(())
    }
}
