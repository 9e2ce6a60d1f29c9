//! Posting blocks as the store hands them out: a word's blocks read from
//! `g{N}.postings`, each its first doc and its encoded bytes (sled's own
//! buffer, shared with sled's cache, never copied).

use super::codec::postings::{self, Frame, FrameBuffers};
use super::codec::{keys, varint, Layout};
use super::{gen_tree, Generation, Store};
use crate::error::Result;

/// One stored posting block of a word.
#[derive(Clone)]
pub(crate) struct PostingBlock {
    /// The block's first doc (its key's second half).
    pub first: u64,
    word: u32,
    /// Generation and layout of the tree it was read from.
    generation: u32,
    layout: Layout,
    bytes: sled::IVec,
}

impl PostingBlock {
    /// A block holding `bytes` (tests build blocks without a store).
    #[cfg(test)]
    pub(crate) fn new(
        layout: Layout,
        generation: u32,
        word: u32,
        first: u64,
        bytes: Vec<u8>,
    ) -> PostingBlock {
        PostingBlock {
            first,
            word,
            generation,
            layout,
            bytes: sled::IVec::from(bytes),
        }
    }

    /// The encoded block.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Postings the block's header claims (0 when it is unreadable).
    #[inline]
    pub(crate) fn claimed_postings(&self) -> u64 {
        varint::get(&self.bytes, &mut 0).unwrap_or(0)
    }

    /// Calls `f` with each frame of the block, in doc order, decoding into
    /// `bufs` (see [`postings::for_each_frame`]); stops when `f` returns
    /// false. A decode error names the block's tree and key.
    #[inline]
    pub(crate) fn for_each_frame(
        &self,
        bufs: &mut FrameBuffers,
        f: impl FnMut(&Frame<'_>) -> bool,
    ) -> Result<()> {
        postings::for_each_frame(self.layout, self.first, &self.bytes, bufs, f).map_err(|e| {
            e.at(
                &gen_tree(self.generation, "postings"),
                &keys::posting(self.word, self.first),
            )
        })
    }
}

impl Store {
    /// Every block of `word` in generation `g` starting below `below`, in
    /// doc order. Such a block may still hold docs at or above `below` (a
    /// seal in progress merges into a word's last block): readers stop at
    /// the first such doc. The blocks are as one instant saw them: no
    /// transaction writing postings runs during the read.
    pub(crate) fn blocks(
        &self,
        g: &Generation,
        word: u32,
        below: u64,
    ) -> Result<Vec<PostingBlock>> {
        let _reading = self
            .postings_writes
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for kv in g
            .postings
            .range(keys::posting(word, 0)..keys::posting(word, below))
        {
            let (k, v) = kv?;
            let (_, first) =
                keys::posting_from(&k).map_err(|e| e.at(&gen_tree(g.n, "postings"), &k))?;
            out.push(PostingBlock {
                first,
                word,
                generation: g.n,
                layout: g.layout,
                bytes: v,
            });
        }
        Ok(out)
    }
}
