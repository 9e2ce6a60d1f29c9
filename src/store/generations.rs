//! The generation lifecycle: a generation's trees, preparing one (codebook,
//! IDF, zero counts), activating it, dropping stale ones, and loading its
//! vocabulary.

use sled::Tree;

use super::codec::codebook as cbc;
use super::codec::{self, keys, meta, DecodeError, FORMAT_VERSION};
use super::commit::{TreeId, Write};
use super::reads::get_decoded;
use super::{
    gen_of, gen_tree, Generation, Store, Trained, UnsealedState, STAT_DOCS, STAT_GEOMETRY,
    STAT_NORMS, STAT_POSTINGS, STAT_TRAINED, STAT_UNSEALED,
};
use crate::config::IndexConfig;
use crate::error::Result;
use crate::vocab::Codebook;

/// The geometry form of the generations this build creates.
const NEW_GEOMETRY: codec::geometry::Form = codec::geometry::Form::Narrow;

impl Store {
    /// Drops the trees of every generation but the active one.
    pub(super) fn drop_stale_generations(&self) -> Result<()> {
        let active = self.active()?;
        for name in self.db.tree_names() {
            if let Some(n) = gen_of(&name) {
                if Some(n) != active {
                    tracing::info!(tree = %String::from_utf8_lossy(&name), "dropping leftover generation tree");
                    self.db.drop_tree(&name)?;
                }
            }
        }
        Ok(())
    }

    /// The active generation, if a codebook has been trained.
    pub(crate) fn active(&self) -> Result<Option<u32>> {
        get_decoded(&self.meta, || "meta".into(), meta::ACTIVE, meta::u32_from)
    }

    /// The trees of generation `n` (created empty when absent).
    pub(crate) fn generation(&self, n: u32) -> Result<Generation> {
        let stats = self.db.open_tree(gen_tree(n, "stats"))?;
        let layout = if stats.get(STAT_UNSEALED)?.is_some() {
            codec::Layout::Packed
        } else {
            codec::Layout::Varint
        };
        let geometry_form =
            codec::geometry::Form::from_marker(stats.get(STAT_GEOMETRY)?.as_deref())
                .map_err(|e| e.at(&gen_tree(n, "stats"), STAT_GEOMETRY))?;
        Ok(Generation {
            n,
            codebook: self.db.open_tree(gen_tree(n, "codebook"))?,
            hist: self.db.open_tree(gen_tree(n, "hist"))?,
            postings: self.db.open_tree(gen_tree(n, "postings"))?,
            stats,
            geometry: self.db.open_tree(gen_tree(n, "geometry"))?,
            norms: self.db.open_tree(gen_tree(n, "norms"))?,
            layout,
            geometry_form,
        })
    }

    /// Writes a new generation's codebook and IDF, then makes it the active
    /// generation and drops the previous one: the path of `train` on an
    /// index without records.
    pub(crate) fn install_generation(
        &self,
        codebook: &Codebook,
        idf: &[f32],
        trained: Option<Trained>,
    ) -> Result<Generation> {
        let g = self.prepare_generation(codebook, idf, trained)?;
        self.activate(&g, None)?;
        self.drop_stale_generations()?;
        Ok(g)
    }

    /// Writes the codebook, IDF and zero counts of the next generation, not
    /// yet active (invisible to searches), and flushes them.
    ///
    /// A crash before [`activate`](Self::activate) leaves the old state; the
    /// half-written trees are dropped on the next open.
    pub(crate) fn prepare_generation(
        &self,
        codebook: &Codebook,
        idf: &[f32],
        trained: Option<Trained>,
    ) -> Result<Generation> {
        let newest = self
            .db
            .tree_names()
            .iter()
            .filter_map(|n| gen_of(n))
            .chain(self.active()?)
            .max();
        let n = newest.map_or(1, |p| p + 1);
        let mut g = self.generation(n)?;
        for (k, v) in cbc::entries(codebook) {
            g.codebook.insert(k, v)?;
        }
        for (k, v) in cbc::encode_idf(idf) {
            g.stats.insert(k, v)?;
        }
        g.stats.insert(STAT_DOCS, &0u64.to_be_bytes())?;
        g.stats.insert(STAT_POSTINGS, &0u64.to_be_bytes())?;
        g.stats.insert(STAT_NORMS, &[1u8])?;
        g.stats.insert(
            STAT_UNSEALED,
            &codec::unsealed::encode(&UnsealedState::default()),
        )?;
        if let Some(marker) = NEW_GEOMETRY.marker() {
            g.stats.insert(STAT_GEOMETRY, &marker)?;
        }
        if let Some(t) = trained {
            g.stats.insert(STAT_TRAINED, &codec::trained::encode(&t))?;
        }
        g.layout = codec::Layout::Packed;
        g.geometry_form = NEW_GEOMETRY;
        self.flush()?;
        Ok(g)
    }

    /// Makes `g` the active generation (and stores `config`, when given) in
    /// one transaction, durably. The previous generation's trees stay until
    /// [`drop_generation`](Self::drop_generation) or the next open.
    pub(crate) fn activate(&self, g: &Generation, config: Option<&IndexConfig>) -> Result<()> {
        let mut writes: Vec<Write> = vec![
            (
                TreeId::Meta,
                meta::ACTIVE.to_vec(),
                Some(g.n.to_be_bytes().to_vec()),
            ),
            (
                TreeId::Meta,
                meta::FORMAT.to_vec(),
                Some(FORMAT_VERSION.to_be_bytes().to_vec()),
            ),
        ];
        if let Some(c) = config {
            writes.push((
                TreeId::Meta,
                meta::CONFIG.to_vec(),
                Some(meta::encode_config(c)),
            ));
        }
        self.write(None, &writes)?;
        self.flush()?;
        Ok(())
    }

    /// Drops the trees of generation `n`. Geometry goes first: a doc with
    /// geometry and no histogram reads as damage (`geometry_where`).
    pub(crate) fn drop_generation(&self, n: u32) -> Result<()> {
        for what in ["geometry", "codebook", "hist", "postings", "stats", "norms"] {
            self.db.drop_tree(gen_tree(n, what))?;
        }
        Ok(())
    }

    /// Loads generation `g`'s codebook and IDF weights.
    pub(crate) fn load_vocabulary(&self, g: &Generation) -> Result<(Codebook, Vec<f32>)> {
        let tree = gen_tree(g.n, "codebook");
        let entries = g
            .codebook
            .iter()
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let cb = cbc::decode_entries(&entries).map_err(|e| e.at(&tree, b"codebook"))?;
        let stats = gen_tree(g.n, "stats");
        let idf_chunks = collect_chunks(&g.stats, &stats, cbc::IDF)?;
        let idf = cbc::decode_idf(&idf_chunks, cb.words()).map_err(|e| e.at(&stats, cbc::IDF))?;
        Ok((cb, idf))
    }
}

/// The values of the chunks `name` 0, 1, … of `tree` (called `tree_name`
/// in errors), in order.
fn collect_chunks(tree: &Tree, tree_name: &str, name: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for (i, kv) in tree.scan_prefix(name).enumerate() {
        let (k, v) = kv?;
        if k.as_ref() != keys::chunk(name, i as u32).as_slice() {
            return Err(
                DecodeError::new(format!("chunk {i} missing or out of order")).at(tree_name, &k),
            );
        }
        out.push(v.to_vec());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    /// A new store in a temporary directory with one installed generation
    /// of two words, float or binary.
    fn store_with_generation(binary: bool) -> (tempfile::TempDir, Store, Generation) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, _) =
            Store::open(&dir.path().join("idx"), Some(&IndexConfig::default())).expect("open");
        let codebook = if binary {
            Codebook::Binary {
                bytes: 2,
                centroids: vec![0u8, 0, 255, 255],
            }
        } else {
            let centroids = ndarray::Array2::from_shape_vec((2, 2), vec![0.0, 0.0, 1.0, 1.0]);
            Codebook::from_float(centroids.expect("shape"))
        };
        let g = store
            .install_generation(&codebook, &[1.0, 1.0], None)
            .expect("install");
        (dir, store, g)
    }

    #[test]
    fn a_stray_idf_chunk_is_reported_in_the_stats_tree() {
        let (_dir, store, g) = store_with_generation(false);
        g.stats
            .insert(keys::chunk(cbc::IDF, 7), &[0u8; 4][..])
            .expect("insert");
        match store.load_vocabulary(&g) {
            Err(Error::Corruption { tree, reason, .. }) => {
                assert_eq!(tree, "g1.stats", "{reason}")
            }
            Err(e) => panic!("expected a corruption error, got {e}"),
            Ok(_) => panic!("a stray IDF chunk was accepted"),
        }
    }

    /// A new generation stores its geometry narrow, whatever its
    /// descriptors, and says so in its stats, so that a reopen reads it in
    /// that form; an unknown marker is corruption, not a silent guess.
    #[test]
    fn a_new_generation_names_its_form_and_an_unknown_form_is_corruption() {
        for binary in [true, false] {
            let (_dir, store, g) = store_with_generation(binary);
            assert_eq!(g.geometry_form, codec::geometry::Form::Narrow);
            let again = store.generation(g.n).expect("reopen");
            assert_eq!(again.geometry_form, codec::geometry::Form::Narrow);
            g.stats.insert(STAT_GEOMETRY, &[9u8][..]).expect("insert");
            match store.generation(g.n) {
                Err(Error::Corruption { tree, .. }) => assert_eq!(tree, "g1.stats"),
                Err(e) => panic!("expected a corruption error, got {e}"),
                Ok(g) => panic!("an unknown form was read as {:?}", g.geometry_form),
            }
        }
    }
}
