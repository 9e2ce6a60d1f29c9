//! Several indexes on one exported vocabulary searched as one.
//!
//! A record's bag-of-words score depends only on the query, the record and
//! the vocabulary's IDF weights, which are fixed with the vocabulary
//! (docs/SCORING.md), and its geometric verification only on the query and
//! the record: so a record scores the same in any index on the vocabulary.
//! Each shard returns its best `max(top_k, rerank)` candidates in
//! bag-of-words order as doc ids and scores; the merge takes the global best
//! `max(top_k, rerank)` (every one of them is among its shard's best), has
//! each shard look up the records of its members of that list only and
//! verify its members of each round of the global head that one index
//! would verify (up to `rerank`, stopping after `rerank_patience` failures
//! in a row: as many lookups and verifications as one index makes), and
//! orders them as one index would.
//! Hits therefore equal, id for id and score for score, those of one index
//! holding every shard's records, except that candidates with exactly equal
//! scores are ordered by shard, then as their shard orders them (one index
//! orders them by doc id); with a patience below the depth, that order can
//! also move where re-ranking stops, and so which of them are verified. A
//! record removed between its shard's ranking and
//! the lookup makes the whole sharded search run again, as one index's
//! search does ([`RETRIES`]).

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::index::Index;
use crate::search::{
    rerank_order, rerank_rounds, Hit, PreparedQuery, Query, SearchOptions, Searcher, RETRIES,
};
use crate::store::codec::exported::fnv1a;

/// A search result of a [`ShardedSearcher`].
#[derive(Debug, Clone, PartialEq)]
pub struct ShardHit {
    /// The shard holding the record (its position in
    /// [`ShardedSearcher::new`]'s list).
    pub shard: usize,
    /// The hit, as that shard reports it (`doc` is the shard's doc id).
    pub hit: Hit,
}

/// Searches several indexes built on the same exported vocabulary as one.
/// Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct ShardedSearcher {
    shards: Vec<Searcher>,
}

/// The shard of `shards` a record id belongs to: a stable hash (FNV-1a 64
/// of the id's bytes) modulo the shard count, the same on every machine and
/// in every release.
pub fn shard_of(id: &[u8], shards: usize) -> usize {
    // The remainder is below `shards`, a usize.
    (fnv1a(id) % shards.max(1) as u64) as usize
}

impl ShardedSearcher {
    /// A searcher over `indexes`, which must all search the same
    /// vocabulary (the same [`ExportedVocabulary::id`](crate::ExportedVocabulary::id)).
    pub fn new(indexes: &[Index]) -> Result<ShardedSearcher> {
        let mut shards = Vec::with_capacity(indexes.len());
        let mut first = None;
        for index in indexes {
            let id = index.vocabulary_id()?;
            match first {
                None => first = Some(id),
                Some(f) if f != id => {
                    return Err(Error::VocabularyMismatch {
                        expected: f,
                        found: id,
                    })
                }
                Some(_) => {}
            }
            shards.push(index.searcher()?);
        }
        if shards.is_empty() {
            return Err(Error::InvalidConfig(
                "a sharded searcher needs a shard".into(),
            ));
        }
        Ok(ShardedSearcher { shards })
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Describes and quantizes a query image once, for every shard.
    pub fn prepare(&self, query: &Query) -> Result<PreparedQuery> {
        self.shards[0].prepare(query)
    }

    /// Searches every shard with `query` and merges the answers.
    pub fn search_with(&self, query: &Query, opts: &SearchOptions) -> Result<Vec<ShardHit>> {
        self.search_prepared(&self.prepare(query)?, opts)
    }

    /// Searches every shard with a prepared query (in parallel on the rayon
    /// pool) and merges the answers. A shard whose vocabulary changed since
    /// (a rebuild) fails the search with
    /// [`Error::StalePreparedQuery`](crate::Error::StalePreparedQuery).
    pub fn search_prepared(
        &self,
        query: &PreparedQuery,
        opts: &SearchOptions,
    ) -> Result<Vec<ShardHit>> {
        let mut attempt = 0;
        let mut all = loop {
            let (all, vanished) = self.merged(query, opts)?;
            attempt += 1;
            if !vanished || attempt > RETRIES {
                break all;
            }
        };
        // The global head is verified in the rounds one index's search
        // uses, each shard verifying its members of the round: the
        // candidates one index would verify, no more, and the same stop.
        let probe = query.probe();
        let verified = rerank_rounds(
            &mut all,
            opts.rerank,
            opts.rerank_patience,
            opts.threads,
            |h| h.hit.inliers,
            |h| h.hit.inliers = None,
            |all, range| {
                let round = &mut all[range];
                let mut mine: Vec<Vec<Hit>> = vec![Vec::new(); self.shards.len()];
                for h in round.iter() {
                    mine[h.shard].push(h.hit.clone());
                }
                mine.par_iter_mut()
                    .zip(&self.shards)
                    .try_for_each(|(hits, s)| s.verify(query, &probe, hits, opts.threads))?;
                let mut next = vec![0usize; self.shards.len()];
                for h in round.iter_mut() {
                    h.hit.inliers = mine[h.shard][next[h.shard]].inliers;
                    next[h.shard] += 1;
                }
                Ok(())
            },
        )?;
        rerank_order(&mut all, verified, |h| h.hit.inliers);
        all.truncate(opts.top_k);
        Ok(all)
    }

    /// Every shard's best bag-of-words candidates merged into the global
    /// best `max(top_k, rerank)`, in bag-of-words order, and their records
    /// looked up (only those: the shards' other candidates are never read).
    /// The flag says a record was removed since its shard ranked it; the
    /// removed ones are left out.
    fn merged(&self, query: &PreparedQuery, opts: &SearchOptions) -> Result<(Vec<ShardHit>, bool)> {
        // The shards already run side by side: each splits its search only
        // into its share of the tasks asked (of the pool's threads when
        // left to choose), so that a query does not become shards x cores
        // tasks, each with its own accumulator to allocate and sum.
        let asked = match opts.threads {
            0 => rayon::current_num_threads(),
            t => t,
        };
        let per_shard = SearchOptions {
            threads: asked.div_ceil(self.shards.len()).max(1),
            ..*opts
        };
        let answers: Vec<Vec<(u64, f32)>> = self
            .shards
            .par_iter()
            .map(|s| s.candidates(query, &per_shard))
            .collect::<Result<_>>()?;
        let mut all: Vec<(usize, u64, f32)> = answers
            .into_iter()
            .enumerate()
            .flat_map(|(shard, ranked)| {
                ranked
                    .into_iter()
                    .map(move |(doc, score)| (shard, doc, score))
            })
            .collect();
        // Bag-of-words order across shards: score, then shard, then the
        // shard's own order (a stable sort keeps it).
        all.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        all.truncate(opts.top_k.max(opts.rerank));
        let mut mine: Vec<Vec<(u64, f32)>> = vec![Vec::new(); self.shards.len()];
        for &(shard, doc, score) in &all {
            mine[shard].push((doc, score));
        }
        let found: Vec<Vec<Option<Hit>>> = mine
            .par_iter()
            .zip(&self.shards)
            .map(|(ranked, s)| s.lookup(ranked))
            .collect::<Result<_>>()?;
        Ok(assemble(&all, found))
    }
}

/// The hits of `all` (shard, doc, score; merged order) from `found`, each
/// shard's lookups in that shard's order of `all`; a record looked up as
/// removed (`None`) is left out, and the flag says one was.
fn assemble(all: &[(usize, u64, f32)], found: Vec<Vec<Option<Hit>>>) -> (Vec<ShardHit>, bool) {
    let mut found: Vec<_> = found.into_iter().map(Vec::into_iter).collect();
    let mut vanished = false;
    let mut hits = Vec::with_capacity(all.len());
    for &(shard, _, _) in all {
        match found.get_mut(shard).and_then(Iterator::next).flatten() {
            Some(hit) => hits.push(ShardHit { shard, hit }),
            None => vanished = true,
        }
    }
    (hits, vanished)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecordId;

    fn hit(doc: u64, score: f32) -> Hit {
        Hit {
            id: RecordId::from(format!("d{doc}")),
            doc,
            score,
            inliers: None,
        }
    }

    #[test]
    fn a_record_removed_before_its_lookup_is_left_out_and_the_rest_keep_their_place() {
        // Merged order across two shards: (0, 7), (1, 3), (0, 9), (1, 4).
        let all = [(0, 7, 0.9), (1, 3, 0.8), (0, 9, 0.7), (1, 4, 0.6)];
        let present = vec![
            vec![Some(hit(7, 0.9)), Some(hit(9, 0.7))],
            vec![Some(hit(3, 0.8)), Some(hit(4, 0.6))],
        ];
        let (hits, vanished) = assemble(&all, present);
        assert!(!vanished);
        let got: Vec<(usize, u64)> = hits.iter().map(|h| (h.shard, h.hit.doc)).collect();
        assert_eq!(got, vec![(0, 7), (1, 3), (0, 9), (1, 4)]);

        // Shard 1's doc 3 was removed between ranking and lookup.
        let one_gone = vec![
            vec![Some(hit(7, 0.9)), Some(hit(9, 0.7))],
            vec![None, Some(hit(4, 0.6))],
        ];
        let (hits, vanished) = assemble(&all, one_gone);
        assert!(vanished);
        let got: Vec<(usize, u64, f32)> = hits
            .iter()
            .map(|h| (h.shard, h.hit.doc, h.hit.score))
            .collect();
        assert_eq!(got, vec![(0, 7, 0.9), (0, 9, 0.7), (1, 4, 0.6)]);
    }
}
