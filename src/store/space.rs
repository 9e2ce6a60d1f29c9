//! Space accounting: logical bytes of each kind of stored data.

use sled::Tree;

use super::{Generation, Store};
use crate::error::Result;

/// Logical bytes (keys plus values) of each kind of stored data, from
/// [`Index::space`](crate::Index::space). sled's size on disk adds its page and log overhead
/// (and space not yet reclaimed) on top of these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Space {
    /// Posting blocks of the active generation.
    pub postings: u64,
    /// How many posting blocks (sled keys) hold them: a search reads each
    /// block of its words, about a microsecond apiece in sled, so
    /// [`Index::compact`](crate::Index::compact) joins each word's blocks.
    pub posting_blocks: u64,
    /// Histograms (with their norms) of the active generation.
    pub histograms: u64,
    /// Each record's two histogram norms, read by a search's first look
    /// at the collection (8 bytes of value per record).
    pub norms: u64,
    /// Each record's features (word and keypoint) for geometric
    /// re-ranking, about 7 bytes per feature.
    pub geometry: u64,
    /// The active codebook and its IDF weights.
    pub codebook: u64,
    /// Record ids, doc records (source path, content hash), the index's
    /// metadata and the generation's counters.
    pub metadata: u64,
}

impl Store {
    /// Logical bytes (keys + values) of the record metadata trees and, for
    /// generation `g`, of its postings, histograms, codebook and counters.
    /// Reads every entry: O(size of the index).
    pub(crate) fn space(&self, g: Option<&Generation>) -> Result<Space> {
        /// (bytes of keys and values, entries), in one pass.
        fn sizes(t: &Tree) -> Result<(u64, u64)> {
            let (mut bytes, mut entries) = (0u64, 0u64);
            for kv in t.iter() {
                let (k, v) = kv?;
                bytes += (k.len() + v.len()) as u64;
                entries += 1;
            }
            Ok((bytes, entries))
        }
        let bytes = |t: &Tree| sizes(t).map(|s| s.0);
        let mut s = Space {
            metadata: bytes(&self.meta)? + bytes(&self.records)? + bytes(&self.docs)?,
            ..Default::default()
        };
        if let Some(g) = g {
            (s.postings, s.posting_blocks) = sizes(&g.postings)?;
            s.histograms = bytes(&g.hist)?;
            s.geometry = bytes(&g.geometry)?;
            s.norms = bytes(&g.norms)?;
            s.codebook = bytes(&g.codebook)?;
            s.metadata += bytes(&g.stats)?;
        }
        Ok(s)
    }
}
