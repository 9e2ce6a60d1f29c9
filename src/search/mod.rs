//! Answering "which stored images look like this one?".
//!
//! Two paths over the same stored data, [`SearchMode::Sequential`] (score
//! every histogram) and [`SearchMode::Inverted`] (walk the posting lists of
//! the query's words), rank identically: same docs, same scores to the bit,
//! ties broken by lower doc id. Only docs sharing at least one visual word
//! with the query (score > 0) are hits.
//!
//! # Consistency while a writer commits
//!
//! A search reads many keys; sled makes each read atomic against a batch's
//! transaction, not the whole search. Visibility is therefore decided by the
//! search itself:
//! - it first reads the doc counter `next_doc`, written in the same
//!   transaction as each batch: docs at or above it belong to batches committed
//!   after the search began and are ignored, so a half-read batch is never
//!   scored;
//! - a doc's histogram and postings never change while the doc exists (a
//!   replacement is a new doc id), so a visible doc's score is exact unless the
//!   doc is removed during the search; every hit is looked up again once
//!   ranked, and if one has vanished the search runs again (up to
//!   [`RETRIES`] times, then the vanished hits are left out). Re-ranking
//!   runs after that lookup: a candidate removed while it runs is left
//!   unverified (ranked after the verified ones), not an error.

mod inverted;
mod ransac;
mod rerank;
mod sequential;
mod topk;

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Scoring;
use crate::error::Result;
use crate::features::{self, ImageInput};
use crate::scoring::QueryVector;
use crate::shared::{Shared, Vocabulary};
use crate::store::Geometry;
use crate::RecordId;
pub(crate) use topk::TopK;

/// Which search path to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SearchMode {
    /// Walk the posting lists of the query's words (default).
    #[default]
    Inverted,
    /// Score every stored histogram.
    Sequential,
}

impl std::str::FromStr for SearchMode {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "inverted" => Ok(SearchMode::Inverted),
            "sequential" => Ok(SearchMode::Sequential),
            _ => Err(crate::Error::InvalidConfig(format!(
                "unknown search mode `{s}` (expected inverted or sequential)"
            ))),
        }
    }
}

/// A query image.
#[derive(Debug, Clone)]
pub struct Query(pub(crate) ImageInput);

impl Query {
    /// An image file.
    pub fn path(p: impl Into<PathBuf>) -> Query {
        Query(ImageInput::Path(p.into()))
    }

    /// Encoded image bytes.
    pub fn bytes(b: impl Into<Vec<u8>>) -> Query {
        Query(ImageInput::Bytes(b.into()))
    }

    /// Decoded pixels (a NumPy, OpenCV or Pillow image), described without
    /// being encoded again.
    pub fn pixels(p: features::Pixels) -> Query {
        Query(ImageInput::Pixels(p))
    }
}

/// Options of one search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchOptions {
    /// Hits returned at most. Default = 10.
    pub top_k: usize,
    /// Search path. Default = inverted.
    pub mode: SearchMode,
    /// Scoring; `None` uses the index's configured scoring. Default = `None`.
    pub scoring: Option<Scoring>,
    /// How many of the best bag-of-words candidates are re-ranked by
    /// geometric verification at most; 0 turns it off. Only image queries
    /// are re-ranked (a query given as words has no keypoints). Default =
    /// [`DEFAULT_RERANK`].
    pub rerank: usize,
    /// Re-ranking stops early once this many candidates in a row, in
    /// bag-of-words order, fail verification (fewer than [`MIN_INLIERS`]
    /// inliers); 0 verifies all the first `rerank`. True matches cluster at
    /// the head of the bag-of-words order, so a query whose matches are
    /// there stops soon after them, and one that keeps finding matches
    /// goes on down to `rerank`. Default = [`DEFAULT_RERANK_PATIENCE`].
    pub rerank_patience: usize,
    /// Tasks the inverted path may split one search into (on the rayon
    /// pool), at most 8; 0 chooses: every core once the index holds 2,048
    /// records, one below that. Re-ranking splits its candidates likewise
    /// (0: every core, at least 16 candidates a task). A server answering
    /// many queries at once may prefer 1. Scores never depend on it.
    /// Default = 0.
    pub threads: usize,
    /// Approximate search: the share of the query's weight kept (of Σq²
    /// for cosine, of Σq for L1), in (0, 1]. Below 1, the query's lightest
    /// words (the most frequent ones, with the longest posting lists) are
    /// dropped until what is left holds this share, and docs are scored on
    /// the words kept: each score is the exact one minus the dropped words'
    /// terms, lower by at most √(1 − share) for cosine and 1 − share for
    /// L1, so a doc may fall out of the candidates it belonged to. Both
    /// paths rank the same way. Default = 1 (exact); docs/SCORING.md gives
    /// the recall and speed measured.
    pub query_share: f32,
}

/// Default re-ranking depth, the most candidates verified: enough for the
/// right record to be found when bag-of-words ranks it far down (a small
/// region of the query, a blurred or recompressed copy in a large
/// collection); [`DEFAULT_RERANK_PATIENCE`] stops most queries well before
/// it (docs/EVALUATION.md, "Re-ranking patience").
pub const DEFAULT_RERANK: usize = 300;

/// Default [`SearchOptions::rerank_patience`]: long enough to reach a
/// copy that bag-of-words ranks far below the other matches, short enough
/// that a query stops soon after its last one (docs/EVALUATION.md,
/// "Re-ranking patience").
pub const DEFAULT_RERANK_PATIENCE: usize = 150;

pub use crate::shared::posting_cache::{default_block_cache_bytes, MIN_BLOCK_CACHE_BYTES};
pub(crate) use rerank::in_rounds as rerank_rounds;
pub(crate) use rerank::reorder as rerank_order;
pub(crate) use rerank::Probe as RerankProbe;
pub use rerank::MIN_INLIERS;

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            top_k: 10,
            mode: SearchMode::Inverted,
            scoring: None,
            rerank: DEFAULT_RERANK,
            rerank_patience: DEFAULT_RERANK_PATIENCE,
            threads: 0,
            query_share: 1.0,
        }
    }
}

/// What [`Searcher::warm`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WarmReport {
    /// Words whose lists it read (or found cached).
    pub words: u64,
    /// Bytes the block cache held when it returned.
    pub bytes: u64,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The record's external id.
    pub id: RecordId,
    /// The record's internal doc id (stable until the record is replaced).
    pub doc: u64,
    /// Bag-of-words similarity in (0, 1]; higher is more similar.
    pub score: f32,
    /// Features matched by one geometric transform between the query and
    /// this record, when it was verified (among the first
    /// [`SearchOptions::rerank`] candidates, before re-ranking stopped
    /// ([`SearchOptions::rerank_patience`]), with stored geometry). Hits
    /// with at least [`MIN_INLIERS`] come first, more inliers first.
    pub inliers: Option<u32>,
}

/// A query image described and quantized by [`Searcher::prepare`].
#[derive(Debug, Clone)]
pub struct PreparedQuery {
    generation: u32,
    /// The id of the vocabulary it was quantized with: valid in every
    /// generation and index with that vocabulary.
    vocabulary: u64,
    words: Vec<u32>,
    geometry: Geometry,
}

impl PreparedQuery {
    /// The visual word of each feature.
    pub fn words(&self) -> &[u32] {
        &self.words
    }

    /// What verification reads of this query, for every round and index
    /// of one search.
    pub(crate) fn probe(&self) -> RerankProbe<'_> {
        RerankProbe::of(&self.geometry)
    }
}

/// Extracts and quantizes a query image against `active`'s vocabulary.
fn describe(active: &Vocabulary, query: &Query) -> Result<PreparedQuery> {
    let f = features::extract(&query.0, &active.params)?;
    let words = active.codebook.quantize(&f.descriptors)?;
    Ok(PreparedQuery {
        generation: active.generation.n,
        vocabulary: active.id(),
        geometry: Geometry::from_features(&words, &f.keypoints),
        words,
    })
}

/// What both search paths read: one query against one generation, seeing
/// only docs below the watermark.
#[derive(Clone, Copy)]
pub(crate) struct SearchInput<'a> {
    pub store: &'a crate::store::Store,
    pub g: &'a crate::store::Generation,
    pub idf: &'a [f32],
    pub q: &'a QueryVector,
    pub scoring: Scoring,
    pub visible_below: u64,
    /// Norms of every doc below the watermark (read by the inverted path).
    pub norms: &'a [(f32, f32)],
    /// Docs below this have their postings in blocks; the others are in
    /// `unsealed` (`u64::MAX` for generations that do not seal).
    pub sealed_below: u64,
    /// The unsealed docs inverted in memory (read by the inverted path).
    pub unsealed: &'a [Arc<crate::shared::unsealed::Chunk>],
    /// [`SearchOptions::threads`].
    pub threads: usize,
    /// Posting blocks kept between searches, valid while the store's
    /// postings epoch is `epoch`.
    pub postings: &'a crate::shared::posting_cache::PostingCache,
    /// The postings epoch read before anything else.
    pub epoch: u64,
}

/// Searches run again at most this many times when a hit's record was
/// removed while they ran.
pub const RETRIES: usize = 3;

/// Answers queries against the index's active generation.
///
/// Cheap to create and `Send + Sync`: share one across threads or create one
/// per thread. Each search uses the generation active when it starts, so a
/// searcher follows a newly installed codebook.
#[derive(Clone)]
pub struct Searcher {
    shared: Arc<Shared>,
}

impl Searcher {
    pub(crate) fn new(shared: Arc<Shared>) -> Searcher {
        Searcher { shared }
    }

    fn active(&self) -> Result<Arc<Vocabulary>> {
        self.shared.active()?.ok_or(crate::Error::NoCodebook)
    }

    /// The `top_k` most similar records to an image, by the inverted path.
    pub fn search(&self, query: &Query, top_k: usize) -> Result<Vec<Hit>> {
        self.search_with(
            query,
            &SearchOptions {
                top_k,
                ..SearchOptions::default()
            },
        )
    }

    /// Searches with explicit options.
    pub fn search_with(&self, query: &Query, opts: &SearchOptions) -> Result<Vec<Hit>> {
        let active = self.active()?;
        let q = describe(&active, query)?;
        let geometry = (opts.rerank > 0).then_some(&q.geometry);
        self.search_active(&active, &q.words, geometry, opts)
    }

    /// Describes and quantizes a query image once, to search it several
    /// times (other options, other modes) without extracting it again.
    pub fn prepare(&self, query: &Query) -> Result<PreparedQuery> {
        describe(&*self.active()?, query)
    }

    /// Searches a prepared query. Fails with
    /// [`Error::StalePreparedQuery`](crate::Error::StalePreparedQuery) when
    /// the vocabulary changed (a rebuild) since it was prepared.
    pub fn search_prepared(&self, query: &PreparedQuery, opts: &SearchOptions) -> Result<Vec<Hit>> {
        let active = self.active_for(query)?;
        let geometry = (opts.rerank > 0).then_some(&query.geometry);
        self.search_active(&active, &query.words, geometry, opts)
    }

    /// The active vocabulary, if `query` was quantized with it (in this
    /// generation, or in any with the same vocabulary id).
    fn active_for(&self, query: &PreparedQuery) -> Result<Arc<Vocabulary>> {
        let active = self.active()?;
        if active.generation.n != query.generation && active.id() != query.vocabulary {
            return Err(crate::Error::StalePreparedQuery {
                prepared: query.generation,
                active: active.generation.n,
            });
        }
        Ok(active)
    }

    /// The candidates a search of `query` would verify and order: the best
    /// `max(top_k, rerank)` by bag-of-words score as (doc, score), in that
    /// order, none looked up or verified. What a sharded search merges
    /// before looking up and verifying its global head only.
    pub(crate) fn candidates(
        &self,
        query: &PreparedQuery,
        opts: &SearchOptions,
    ) -> Result<Vec<(u64, f32)>> {
        let active = self.active_for(query)?;
        let k = opts.top_k.max(opts.rerank);
        self.rank(&active, &query.words, opts, k)
    }

    /// The records of `ranked` docs of this index, in order; `None` for a
    /// doc removed since it was ranked.
    pub(crate) fn lookup(&self, ranked: &[(u64, f32)]) -> Result<Vec<Option<Hit>>> {
        ranked
            .iter()
            .map(|&(doc, score)| {
                Ok(self.shared.store.doc(doc)?.map(|d| Hit {
                    id: RecordId::from(d.record_id),
                    doc,
                    score,
                    inliers: None,
                }))
            })
            .collect()
    }

    /// Verifies `hits` (candidates of this index) against `query`, read
    /// through `probe` (its [`PreparedQuery::probe`]): sets their `inliers`
    /// as a search re-ranking them would.
    pub(crate) fn verify(
        &self,
        query: &PreparedQuery,
        probe: &RerankProbe<'_>,
        hits: &mut [Hit],
        threads: usize,
    ) -> Result<()> {
        let active = self.active_for(query)?;
        rerank::verify(&self.shared.store, &active.generation, probe, hits, threads)
    }

    /// Searches with a query already quantized to visual words (one entry
    /// per feature). Useful to time search without extraction.
    pub fn search_words(&self, words: &[u32], opts: &SearchOptions) -> Result<Vec<Hit>> {
        self.search_active(&*self.active()?, words, None, opts)
    }

    fn search_active(
        &self,
        active: &Vocabulary,
        words: &[u32],
        geometry: Option<&Geometry>,
        opts: &SearchOptions,
    ) -> Result<Vec<Hit>> {
        let depth = if geometry.is_some() { opts.rerank } else { 0 };
        let mut attempt = 0;
        loop {
            let ranked = self.rank(active, words, opts, opts.top_k.max(depth))?;
            let found = self.lookup(&ranked)?;
            let vanished = found.iter().any(Option::is_none);
            attempt += 1;
            if !vanished || attempt > RETRIES {
                let mut hits: Vec<Hit> = found.into_iter().flatten().collect();
                let mut verified = 0;
                if let Some(q) = geometry {
                    let store = &self.shared.store;
                    let probe = rerank::Probe::of(q);
                    verified = rerank::in_rounds(
                        &mut hits,
                        depth,
                        opts.rerank_patience,
                        opts.threads,
                        |h| h.inliers,
                        |h| h.inliers = None,
                        |hits, range| {
                            rerank::verify(
                                store,
                                &active.generation,
                                &probe,
                                &mut hits[range],
                                opts.threads,
                            )
                        },
                    )?;
                }
                rerank::reorder(&mut hits, verified, |h| h.inliers);
                hits.truncate(opts.top_k);
                return Ok(hits);
            }
        }
    }

    /// The best `k` visible docs of `active`'s generation by bag-of-words
    /// score, best first (ties by lower doc id).
    fn rank(
        &self,
        active: &Vocabulary,
        words: &[u32],
        opts: &SearchOptions,
        k: usize,
    ) -> Result<Vec<(u64, f32)>> {
        let n = active.codebook.words() as u32;
        if let Some(w) = words.iter().find(|w| **w >= n) {
            return Err(crate::Error::InvalidConfig(format!(
                "word {w} outside the {n}-word vocabulary"
            )));
        }
        if !(opts.query_share > 0.0 && opts.query_share <= 1.0) {
            return Err(crate::Error::InvalidConfig(format!(
                "query_share must be in (0, 1], not {}",
                opts.query_share
            )));
        }
        let scoring = opts.scoring.unwrap_or(self.shared.config().scoring);
        let hist = crate::scoring::histogram(words);
        let mut q = QueryVector::new(&hist, &active.idf, scoring);
        q.keep_share(scoring, f64::from(opts.query_share));
        let store = &self.shared.store;
        let g = &active.generation;
        // Before any read: blocks cached since are trusted only while no
        // posting write has run.
        let epoch = store.postings_epoch();
        let visible_below = store.next_doc()?;
        let mut top = TopK::new(k);
        let (norms, sealed_below, unsealed) = match opts.mode {
            SearchMode::Inverted => {
                let norms = self.shared.norms.snapshot(store, g, visible_below)?;
                match store.unsealed_state(g)? {
                    Some(t) => (
                        norms,
                        t.sealed_below,
                        self.shared.unsealed.snapshot(store, g, t, visible_below)?,
                    ),
                    None => (norms, u64::MAX, Default::default()),
                }
            }
            SearchMode::Sequential => Default::default(),
        };
        let input = SearchInput {
            store,
            g,
            idf: &active.idf,
            q: &q,
            scoring,
            visible_below,
            norms: &norms,
            sealed_below,
            unsealed: &unsealed,
            threads: opts.threads,
            postings: &self.shared.postings,
            epoch,
        };
        match opts.mode {
            SearchMode::Sequential => sequential::search(&input, &mut top)?,
            SearchMode::Inverted => inverted::search(&input, &mut top)?,
        }
        Ok(top.into_sorted())
    }

    /// Reads posting lists into the index's block cache ahead of queries,
    /// the vocabulary's most frequent words first (lowest IDF: the words
    /// most queries share), until the cache holds `max_bytes` (at most its
    /// capacity, [`IndexBuilder::block_cache_bytes`](crate::IndexBuilder::block_cache_bytes))
    /// or every word's list was read. A process that opens an index to
    /// answer many queries calls it once, so that its first queries do not
    /// each read their lists from disk (docs/PERFORMANCE.md). Searches and
    /// writes may run meanwhile; the cache stays exact across writes as for
    /// any search. Uses the rayon pool.
    pub fn warm(&self, max_bytes: u64) -> Result<WarmReport> {
        let active = self.active()?;
        let blocks = &self.shared.postings;
        let words = blocks.warm(
            &self.shared.store,
            &active.generation,
            &active.idf,
            max_bytes,
        )?;
        Ok(WarmReport {
            words,
            bytes: blocks.bytes(),
        })
    }

    /// Number of visual words in the vocabulary searched now.
    pub fn words(&self) -> Result<usize> {
        Ok(self.active()?.codebook.words())
    }
}
