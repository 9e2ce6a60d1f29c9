//! Typed reads: each getter reads one key or range and decodes it, a
//! decode error naming the tree and key.

use sled::Tree;

use super::codec::geometry::{Form, Outline, Point};
use super::codec::{self, keys, meta, DecodeError};
use super::{
    gen_tree, missing, DocRecord, Generation, Geometry, Histogram, Store, Trained, UnsealedState,
    STAT_DOCS, STAT_NORMS, STAT_POSTINGS, STAT_TRAINED, STAT_UNSEALED,
};
use crate::error::Result;

impl Store {
    pub(super) fn get_meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.meta.get(key)?.map(|v| v.to_vec()))
    }

    /// The next doc id to assign.
    pub(crate) fn next_doc(&self) -> Result<u64> {
        let v = self
            .meta
            .get(meta::NEXT_DOC)?
            .ok_or_else(|| missing("meta", meta::NEXT_DOC))?;
        meta::u64_from(&v).map_err(|e| e.at("meta", meta::NEXT_DOC))
    }

    /// Every stored doc, in doc order.
    pub(crate) fn docs(&self) -> impl Iterator<Item = Result<(u64, DocRecord)>> + '_ {
        self.docs.iter().map(|kv| {
            let (k, v) = kv?;
            let id = keys::doc_from(&k).map_err(|e| e.at("docs", &k))?;
            let d = codec::doc::decode(&v).map_err(|e| e.at("docs", &k))?;
            Ok((id, d))
        })
    }

    /// The doc id of a record.
    pub(crate) fn doc_of(&self, record_id: &[u8]) -> Result<Option<u64>> {
        get_decoded(
            &self.records,
            || "records".into(),
            record_id,
            meta::u64_from,
        )
    }

    /// The metadata of a doc.
    pub(crate) fn doc(&self, id: u64) -> Result<Option<DocRecord>> {
        get_decoded(
            &self.docs,
            || "docs".into(),
            &keys::doc(id),
            codec::doc::decode,
        )
    }

    /// The histogram of a doc in generation `g`.
    pub(crate) fn histogram(&self, g: &Generation, id: u64) -> Result<Option<Histogram>> {
        get_decoded(
            &g.hist,
            || gen_tree(g.n, "hist"),
            &keys::doc(id),
            |v| codec::hist::decode(g.layout, v),
        )
    }

    /// The stored features of a doc in generation `g`, if it has any. A
    /// packed geometry takes its words from the doc's histogram: a packed
    /// geometry without one is corruption.
    pub(crate) fn geometry(&self, g: &Generation, id: u64) -> Result<Option<Geometry>> {
        match g.geometry_form {
            Form::Listed => get_decoded(
                &g.geometry,
                || gen_tree(g.n, "geometry"),
                &keys::doc(id),
                codec::geometry::decode_listed,
            ),
            Form::Packed | Form::Narrow => {
                let mut points = Vec::new();
                let outline = self.geometry_where(g, id, |_| true, &mut points)?;
                Ok(outline.map(|_| Geometry { points }))
            }
        }
    }

    /// The features of a doc in generation `g` whose words `keep` accepts,
    /// into `out` (asked once per word, in word order), and the outline of
    /// all its features; `None` when the doc has no geometry (or was
    /// removed while it was being read). Re-ranking reads only the
    /// features that can pair with the query's.
    pub(crate) fn geometry_where(
        &self,
        g: &Generation,
        id: u64,
        mut keep: impl FnMut(u32) -> bool,
        out: &mut Vec<Point>,
    ) -> Result<Option<Outline>> {
        out.clear();
        let key = keys::doc(id);
        let tree = || gen_tree(g.n, "geometry");
        match g.geometry_form {
            Form::Listed => {
                let Some(all) = self.geometry(g, id)? else {
                    return Ok(None);
                };
                let mut last = None;
                let mut wanted = false;
                for p in &all.points {
                    if last != Some(p.word) {
                        last = Some(p.word);
                        wanted = keep(p.word);
                    }
                    if wanted {
                        out.push(*p);
                    }
                }
                Ok(Some(Outline::of(&all)))
            }
            form @ (Form::Packed | Form::Narrow) => {
                let Some(v) = g.geometry.get(key)? else {
                    return Ok(None);
                };
                let Some(h) = self.histogram(g, id)? else {
                    // A removal deletes a doc's geometry and histogram in
                    // one transaction, and doc ids are never reused: when the
                    // geometry is gone too, the doc was removed between the
                    // two reads; when it is still there, the index is damaged.
                    if g.geometry.get(key)?.is_none() {
                        return Ok(None);
                    }
                    return Err(DecodeError::new("geometry without a histogram").at(&tree(), &key));
                };
                codec::geometry::decode_packed_where(form, &v, &h.entries, keep, out)
                    .map(Some)
                    .map_err(|e| e.at(&tree(), &key))
            }
        }
    }

    /// The unsealed docs' state of generation `g`; `None` for a generation of formats
    /// 1 and 2, whose postings are all in blocks.
    pub(crate) fn unsealed_state(&self, g: &Generation) -> Result<Option<UnsealedState>> {
        get_decoded(
            &g.stats,
            || gen_tree(g.n, "stats"),
            STAT_UNSEALED,
            codec::unsealed::decode,
        )
    }

    /// What generation `g`'s vocabulary was trained on; `None` for
    /// generations before format 4 and for given codebooks.
    pub(crate) fn trained(&self, g: &Generation) -> Result<Option<Trained>> {
        get_decoded(
            &g.stats,
            || gen_tree(g.n, "stats"),
            STAT_TRAINED,
            codec::trained::decode,
        )
    }

    /// Whether `g{N}.norms` holds every doc of generation `g`.
    pub(crate) fn has_norms(&self, g: &Generation) -> Result<bool> {
        Ok(g.stats.get(STAT_NORMS)?.is_some())
    }

    /// The norms of every doc in `from..to` present in generation `g`, in
    /// doc order: from `g{N}.norms` when it is complete (8 bytes a doc),
    /// otherwise from the head of each histogram (which sled reads whole).
    pub(crate) fn norms_range(
        &self,
        g: &Generation,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, (f32, f32))>> {
        let (tree, name, decode): (&Tree, &str, fn(&[u8]) -> _) = if self.has_norms(g)? {
            (&g.norms, "norms", codec::hist::decode_norms_entry)
        } else {
            (&g.hist, "hist", codec::hist::decode_histogram_norms)
        };
        let mut out = Vec::new();
        for kv in tree.range(keys::doc(from)..keys::doc(to)) {
            let (k, v) = kv?;
            let at = |e: DecodeError| e.at(&gen_tree(g.n, name), &k);
            let id = keys::doc_from(&k).map_err(at)?;
            out.push((id, decode(&v).map_err(at)?));
        }
        Ok(out)
    }

    /// Every (doc, histogram) of generation `g`, in doc order.
    pub(crate) fn histograms<'a>(
        &self,
        g: &'a Generation,
    ) -> impl Iterator<Item = Result<(u64, Histogram)>> + 'a {
        g.hist.iter().map(move |kv| {
            let (k, v) = kv?;
            let tree = || gen_tree(g.n, "hist");
            let id = keys::doc_from(&k).map_err(|e| e.at(&tree(), &k))?;
            let h = codec::hist::decode(g.layout, &v).map_err(|e| e.at(&tree(), &k))?;
            Ok((id, h))
        })
    }

    /// Every (doc, histogram) of generation `g` with a doc in `from..to`, in
    /// doc order.
    pub(crate) fn histograms_range<'a>(
        &self,
        g: &'a Generation,
        from: u64,
        to: u64,
    ) -> impl Iterator<Item = Result<(u64, Histogram)>> + 'a {
        g.hist.range(keys::doc(from)..keys::doc(to)).map(move |kv| {
            let (k, v) = kv?;
            let tree = || gen_tree(g.n, "hist");
            let id = keys::doc_from(&k).map_err(|e| e.at(&tree(), &k))?;
            let h = codec::hist::decode(g.layout, &v).map_err(|e| e.at(&tree(), &k))?;
            Ok((id, h))
        })
    }

    /// Number of records in generation `g`.
    pub(crate) fn doc_count(&self, g: &Generation) -> Result<u64> {
        self.stat(g, STAT_DOCS)
    }

    /// Number of postings in generation `g`.
    pub(crate) fn posting_count(&self, g: &Generation) -> Result<u64> {
        self.stat(g, STAT_POSTINGS)
    }

    pub(super) fn stat(&self, g: &Generation, key: &[u8]) -> Result<u64> {
        let tree = gen_tree(g.n, "stats");
        let v = g.stats.get(key)?.ok_or_else(|| missing(&tree, key))?;
        meta::u64_from(&v).map_err(|e| e.at(&tree, key))
    }

    /// Every external record id, in key order.
    pub(crate) fn record_ids(&self) -> impl Iterator<Item = Result<(Vec<u8>, u64)>> + '_ {
        self.records.iter().map(|kv| {
            let (k, v) = kv?;
            let id = meta::u64_from(&v).map_err(|e| e.at("records", &k))?;
            Ok((k.to_vec(), id))
        })
    }

    /// Bytes the database occupies on disk.
    pub(crate) fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    /// Raw access for tests that damage an index on purpose.
    #[cfg(feature = "internals")]
    pub(crate) fn raw_tree(&self, name: &str) -> Result<Tree> {
        Ok(self.db.open_tree(name)?)
    }
}

/// The value of `key` in `tree`, decoded; a decode error names the tree
/// (`name()`, built only then) and the key.
pub(super) fn get_decoded<T>(
    tree: &Tree,
    name: impl FnOnce() -> String,
    key: &[u8],
    decode: impl FnOnce(&[u8]) -> std::result::Result<T, DecodeError>,
) -> Result<Option<T>> {
    match tree.get(key)? {
        None => Ok(None),
        Some(v) => decode(&v).map(Some).map_err(|e| e.at(&name(), key)),
    }
}
