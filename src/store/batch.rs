//! One batch of record changes, committed as one sled transaction.
//!
//! The write set is computed outside the transaction (posting blocks are
//! read, edited in memory and written back whole), which is safe because an
//! index has one writer at a time; the transaction then applies it across
//! every tree at once, and the batch is flushed before `commit` returns.
//!
//! In a generation that seals (format 3, [`super::seal`]) added docs get no
//! postings: they stay unsealed, and the commit that gives the unsealed docs
//! enough postings seals them after the batch is durable. Removing an
//! unsealed doc edits no block and bumps the unsealed docs' epoch.
//! Generations of formats 1 and 2 do not seal: an added doc's postings are appended to each word's last block, a
//! new block once it holds [`BLOCK_CAP`] postings.

use std::collections::BTreeMap;

use super::codec::{self, keys, postings::BLOCK_CAP};
use super::{
    codec::meta, gen_tree, DocRecord, Generation, Geometry, Histogram, Store, TreeId,
    UnsealedState, Write, STAT_DOCS, STAT_POSTINGS, STAT_UNSEALED,
};
use crate::error::Result;

/// A record to insert under a fresh doc id.
pub(crate) struct NewDoc {
    pub doc_id: u64,
    pub doc: DocRecord,
    pub hist: Histogram,
    /// Its features' words and keypoints, when known (see
    /// [`codec::geometry`]).
    pub geometry: Option<Geometry>,
}

/// Record changes applied together: removals first, then insertions. An
/// inserted record whose id exists replaces it.
#[derive(Default)]
pub(crate) struct Batch {
    pub adds: Vec<NewDoc>,
    pub removes: Vec<Vec<u8>>,
}

/// What a committed batch changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Committed {
    pub added: usize,
    pub replaced: usize,
    pub removed: usize,
}

/// Posting blocks read and edited in memory: key → postings (empty = delete).
struct BlockEdits<'a> {
    g: &'a Generation,
    blocks: BTreeMap<[u8; 12], Vec<(u64, u32)>>,
    tree: String,
}

impl<'a> BlockEdits<'a> {
    fn load(&mut self, key: [u8; 12]) -> Result<&mut Vec<(u64, u32)>> {
        if !self.blocks.contains_key(&key) {
            let v = self.g.postings.get(key)?;
            let (_, first) = keys::posting_from(&key).map_err(|e| e.at(&self.tree, &key))?;
            let p = match v {
                Some(v) => codec::postings::decode(self.g.layout, first, &v)
                    .map_err(|e| e.at(&self.tree, &key))?,
                None => Vec::new(),
            };
            self.blocks.insert(key, p);
        }
        Ok(self.blocks.entry(key).or_default())
    }

    /// Removes `doc` from `word`'s list; returns whether it was there.
    fn remove(&mut self, word: u32, doc: u64) -> Result<bool> {
        // The block holding `doc` is the last one whose first doc ≤ doc.
        let lo = keys::posting(word, 0);
        let hi = keys::posting(word, doc);
        let stored = self
            .g
            .postings
            .range(lo..=hi)
            .keys()
            .next_back()
            .transpose()?;
        let edited = self
            .blocks
            .range(lo..=hi)
            .filter(|(_, p)| !p.is_empty())
            .map(|(k, _)| *k)
            .next_back();
        let key = match (stored, edited) {
            (Some(s), Some(e)) => {
                let s: [u8; 12] = s.as_ref().try_into().unwrap_or(lo);
                s.max(e)
            }
            (Some(s), None) => s.as_ref().try_into().unwrap_or(lo),
            (None, Some(e)) => e,
            (None, None) => return Ok(false),
        };
        let block = self.load(key)?;
        match block.binary_search_by_key(&doc, |p| p.0) {
            Ok(i) => {
                block.remove(i);
                Ok(true)
            }
            Err(_) => Ok(false),
        }
    }

    /// Appends postings (increasing docs, all above every stored doc) to
    /// `word`'s list.
    fn append(&mut self, word: u32, postings: &[(u64, u32)]) -> Result<()> {
        let lo = keys::posting(word, 0);
        let hi = keys::posting(word, u64::MAX);
        // The word's last non-empty block, stored or edited.
        let mut last_block: Option<[u8; 12]> = None;
        for k in self.g.postings.range(lo..=hi).keys().rev() {
            let k = k?;
            let k: [u8; 12] = k.as_ref().try_into().unwrap_or(lo);
            if self.blocks.get(&k).is_none_or(|p| !p.is_empty()) {
                last_block = Some(k);
                break;
            }
        }
        if let Some(e) = self
            .blocks
            .range(lo..=hi)
            .filter(|(_, p)| !p.is_empty())
            .map(|(k, _)| *k)
            .next_back()
        {
            last_block = Some(last_block.map_or(e, |t| t.max(e)));
        }
        let mut rest = postings;
        if let Some(t) = last_block {
            let block = self.load(t)?;
            let room = BLOCK_CAP.saturating_sub(block.len()).min(rest.len());
            block.extend_from_slice(&rest[..room]);
            rest = &rest[room..];
        }
        for chunk in rest.chunks(BLOCK_CAP) {
            self.blocks
                .insert(keys::posting(word, chunk[0].0), chunk.to_vec());
        }
        Ok(())
    }
}

impl Store {
    /// Writes histograms and postings of existing docs into generation `g`,
    /// which is not active yet (a rebuild): `docs` in increasing doc order,
    /// above every doc written to `g` before.
    pub(crate) fn fill_generation(
        &self,
        g: &Generation,
        docs: &[(u64, Histogram, Option<Geometry>)],
    ) -> Result<()> {
        let mut writes: Vec<Write> = Vec::new();
        let mut edits = BlockEdits {
            g,
            blocks: BTreeMap::new(),
            tree: gen_tree(g.n, "postings"),
        };
        let mut by_word: BTreeMap<u32, Vec<(u64, u32)>> = BTreeMap::new();
        let mut postings = self.posting_count(g)?;
        let mut unsealed = self.unsealed_state(g)?;
        for (doc, h, geometry) in docs {
            writes.push((
                TreeId::Norms,
                keys::doc(*doc).to_vec(),
                Some(codec::hist::encode_norms(h.cos_norm, h.l1_norm).to_vec()),
            ));
            if let Some(geo) = geometry {
                writes.push((
                    TreeId::Geometry,
                    keys::doc(*doc).to_vec(),
                    Some(codec::geometry::encode(g.geometry_form, geo)),
                ));
            }
            match &mut unsealed {
                Some(t) => t.postings += h.entries.len() as u64,
                None => {
                    for &(w, tf) in &h.entries {
                        by_word.entry(w).or_default().push((*doc, tf));
                    }
                }
            }
            postings += h.entries.len() as u64;
            writes.push((
                TreeId::Hist,
                keys::doc(*doc).to_vec(),
                Some(codec::hist::encode(g.layout, h)),
            ));
        }
        for (w, p) in &by_word {
            edits.append(*w, p)?;
        }
        for (k, p) in edits.blocks {
            let v = (!p.is_empty()).then(|| codec::postings::encode(g.layout, p[0].0, &p));
            writes.push((TreeId::Postings, k.to_vec(), v));
        }
        let count = self.doc_count(g)? + docs.len() as u64;
        push_counters(&mut writes, count, postings, unsealed.as_ref());
        self.write(Some(g), &writes)?;
        match docs.last() {
            Some((last, _, _)) => self.seal_if_due(g, last + 1),
            None => Ok(()),
        }
    }

    /// Commits `batch` to generation `g` atomically and durably.
    pub(crate) fn commit(&self, g: &Generation, batch: Batch) -> Result<Committed> {
        let mut writes: Vec<Write> = Vec::new();
        let mut edits = BlockEdits {
            g,
            blocks: BTreeMap::new(),
            tree: gen_tree(g.n, "postings"),
        };
        let mut done = Committed::default();
        let mut docs = self.doc_count(g)?;
        let mut postings = self.posting_count(g)?;
        let mut next_doc = self.next_doc()?;
        let mut unsealed = self.unsealed_state(g)?;

        let replaced: Vec<Vec<u8>> = batch.adds.iter().map(|a| a.doc.record_id.clone()).collect();
        let mut removed_ids = std::collections::HashSet::new();
        for (record, is_replace) in batch
            .removes
            .iter()
            .map(|r| (r, false))
            .chain(replaced.iter().map(|r| (r, true)))
        {
            if !removed_ids.insert(record.clone()) {
                continue;
            }
            let Some(doc) = self.doc_of(record)? else {
                continue;
            };
            if let Some(h) = self.histogram(g, doc)? {
                match &mut unsealed {
                    Some(t) if doc >= t.sealed_below => {
                        t.postings = t.postings.saturating_sub(h.entries.len() as u64);
                        t.epoch += 1;
                    }
                    _ => {
                        for &(w, _) in &h.entries {
                            edits.remove(w, doc)?;
                        }
                    }
                }
                postings = postings.saturating_sub(h.entries.len() as u64);
            }
            writes.push((TreeId::Docs, keys::doc(doc).to_vec(), None));
            writes.push((TreeId::Hist, keys::doc(doc).to_vec(), None));
            writes.push((TreeId::Geometry, keys::doc(doc).to_vec(), None));
            writes.push((TreeId::Norms, keys::doc(doc).to_vec(), None));
            if !is_replace {
                writes.push((TreeId::Records, record.clone(), None));
                done.removed += 1;
            } else {
                done.replaced += 1;
            }
            docs = docs.saturating_sub(1);
        }

        let mut by_word: BTreeMap<u32, Vec<(u64, u32)>> = BTreeMap::new();
        for a in &batch.adds {
            match &mut unsealed {
                Some(t) => t.postings += a.hist.entries.len() as u64,
                None => {
                    for &(w, tf) in &a.hist.entries {
                        by_word.entry(w).or_default().push((a.doc_id, tf));
                    }
                }
            }
            postings += a.hist.entries.len() as u64;
            next_doc = next_doc.max(a.doc_id + 1);
            writes.push((
                TreeId::Records,
                a.doc.record_id.clone(),
                Some(a.doc_id.to_be_bytes().to_vec()),
            ));
            writes.push((
                TreeId::Docs,
                keys::doc(a.doc_id).to_vec(),
                Some(codec::doc::encode(&a.doc)),
            ));
            writes.push((
                TreeId::Hist,
                keys::doc(a.doc_id).to_vec(),
                Some(codec::hist::encode(g.layout, &a.hist)),
            ));
            writes.push((
                TreeId::Norms,
                keys::doc(a.doc_id).to_vec(),
                Some(codec::hist::encode_norms(a.hist.cos_norm, a.hist.l1_norm).to_vec()),
            ));
            if let Some(geo) = &a.geometry {
                writes.push((
                    TreeId::Geometry,
                    keys::doc(a.doc_id).to_vec(),
                    Some(codec::geometry::encode(g.geometry_form, geo)),
                ));
            }
            docs += 1;
        }
        done.added = batch.adds.len() - done.replaced;
        for (w, p) in &by_word {
            edits.append(*w, p)?;
        }
        for (k, p) in edits.blocks {
            let v = if p.is_empty() {
                None
            } else {
                Some(codec::postings::encode(g.layout, p[0].0, &p))
            };
            // A block whose first doc was removed moves to its new first doc.
            let (w, first) = keys::posting_from(&k).map_err(|e| e.at(&edits.tree, &k))?;
            match &v {
                Some(_) if p[0].0 != first => {
                    writes.push((TreeId::Postings, k.to_vec(), None));
                    writes.push((TreeId::Postings, keys::posting(w, p[0].0).to_vec(), v));
                }
                _ => writes.push((TreeId::Postings, k.to_vec(), v)),
            }
        }
        push_counters(&mut writes, docs, postings, unsealed.as_ref());
        writes.push((
            TreeId::Meta,
            meta::NEXT_DOC.to_vec(),
            Some(next_doc.to_be_bytes().to_vec()),
        ));

        self.write(Some(g), &writes)?;
        self.flush()?;
        // The batch is durable and visible whatever happens to the seal, so
        // a failed seal is not the batch's error: the unsealed docs stay searchable,
        // the next commit seals again, and an open finishes a seal left
        // half done.
        if let Err(e) = self.seal_if_due(g, next_doc) {
            tracing::warn!(error = %e, "sealing the unsealed records failed; retried on the next commit");
        }
        Ok(done)
    }
}

/// Writes a generation's counters: its doc and posting counts and, in a
/// generation that seals, the unsealed docs' state.
fn push_counters(
    writes: &mut Vec<Write>,
    docs: u64,
    postings: u64,
    unsealed: Option<&UnsealedState>,
) {
    writes.push((
        TreeId::Stats,
        STAT_DOCS.to_vec(),
        Some(docs.to_be_bytes().to_vec()),
    ));
    writes.push((
        TreeId::Stats,
        STAT_POSTINGS.to_vec(),
        Some(postings.to_be_bytes().to_vec()),
    ));
    if let Some(t) = unsealed {
        writes.push((
            TreeId::Stats,
            STAT_UNSEALED.to_vec(),
            Some(codec::unsealed::encode(t).to_vec()),
        ));
    }
}
