//! TF-IDF weighting and the per-term arithmetic shared by both search paths.
//!
//! IDF policy: the weights are computed once, when a generation's codebook is
//! trained, from the images it was trained on, as `ln((1 + N) / (1 + df)) + 1`
//! (N images, df of them containing the word: smoothed, always > 0). They are
//! frozen for the generation's lifetime, so adding records never changes
//! stored norms or earlier scores, and "train, then add in two halves" gives
//! exactly the index of "train, then add everything at once". `rebuild`
//! recomputes them. See docs/SCORING.md.
//!
//! Both search paths score a doc by summing [`term`] over the words it
//! shares with the query, each term rounded to fixed point ([`fixed`]), then
//! applying [`finish`]. Integer sums do not depend on the order of their
//! terms, so the scores are bit-identical however a path orders its work:
//! the sequential path merges word lists, the inverted path splits the
//! query's words over threads.

use crate::config::Scoring;

/// IDF weights from document frequencies over `n` documents.
pub(crate) fn idf(df: &[u32], n: u64) -> Vec<f32> {
    df.iter()
        .map(|&d| (((1 + n) as f64 / (1 + u64::from(d)) as f64).ln() + 1.0) as f32)
        .collect()
}

/// (‖tf·idf‖₂, ‖tf·idf‖₁) of a histogram.
pub(crate) fn norms(entries: &[(u32, u32)], idf: &[f32]) -> (f32, f32) {
    let mut sq = 0f32;
    let mut l1 = 0f32;
    for &(w, tf) in entries {
        let v = tf as f32 * idf.get(w as usize).copied().unwrap_or(0.0);
        sq += v * v;
        l1 += v;
    }
    (sq.sqrt(), l1)
}

/// A query's normalised weights, strictly increasing by word.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QueryVector {
    pub entries: Vec<(u32, f32)>,
}

impl QueryVector {
    /// Normalises `tf·idf` by the L2 norm (cosine) or the L1 norm (L1).
    pub(crate) fn new(hist: &[(u32, u32)], idf: &[f32], scoring: Scoring) -> QueryVector {
        let (cos, l1) = norms(hist, idf);
        let n = match scoring {
            Scoring::Cosine => cos,
            Scoring::L1 => l1,
        };
        let entries = if n > 0.0 {
            hist.iter()
                .map(|&(w, tf)| {
                    (
                        w,
                        tf as f32 * idf.get(w as usize).copied().unwrap_or(0.0) / n,
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        QueryVector { entries }
    }

    /// Drops the lightest entries, keeping the fewest heaviest ones whose
    /// share of the query's weight reaches `share`: of Σq² for cosine, of
    /// Σq for L1 (each 1 for a normalised query). The normalisation stays
    /// the whole query's, so every doc's score only loses the dropped
    /// words' terms: at most √(1 − share) for cosine (Cauchy–Schwarz, both
    /// vectors of unit norm) and 1 − share for L1 (each term is at most its
    /// q). `share` ≥ 1 keeps everything. Equal weights are kept by lower
    /// word first, so the choice does not depend on anything but the query.
    pub(crate) fn keep_share(&mut self, scoring: Scoring, share: f64) {
        if share >= 1.0 || self.entries.is_empty() {
            return;
        }
        let mass = |q: f32| match scoring {
            Scoring::Cosine => f64::from(q) * f64::from(q),
            Scoring::L1 => f64::from(q),
        };
        let total: f64 = self.entries.iter().map(|&(_, q)| mass(q)).sum();
        let mut by_weight: Vec<(u32, f32)> = self.entries.clone();
        by_weight.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut kept = 0.0;
        let mut n = 0;
        for &(_, q) in &by_weight {
            if kept >= share * total {
                break;
            }
            kept += mass(q);
            n += 1;
        }
        by_weight.truncate(n.max(1));
        by_weight.sort_by_key(|e| e.0);
        self.entries = by_weight;
    }
}

/// One shared word's contribution to a doc's accumulator.
#[inline]
pub(crate) fn term(scoring: Scoring, q: f32, tf: u32, idf: f32, l1_norm: f32) -> f32 {
    match scoring {
        Scoring::Cosine => q * (tf as f32 * idf),
        // ½‖q − d‖₁ over L1-normalised non-negative vectors is
        // 1 − Σ min(q_w, d_w): only shared words contribute.
        Scoring::L1 => {
            if l1_norm > 0.0 {
                q.min(tf as f32 * idf / l1_norm)
            } else {
                0.0
            }
        }
    }
}

/// One unit of [`fixed`]: 2^32. A term is at most tf·idf (the query is
/// normalised), and a doc's sum at most its own norm, far below 2^31 for
/// any real image, while 2^-32 is far below f32's resolution of a term.
const FIXED_ONE: f64 = 4_294_967_296.0;

/// A term in fixed point, truncated (`as` saturates; sums wrap, which keeps
/// them order-independent even for absurd stored frequencies).
#[inline(always)]
pub(crate) fn fixed(term: f32) -> u64 {
    (f64::from(term) * FIXED_ONE) as u64
}

/// A doc's score from its accumulated fixed-point sum.
#[inline]
pub(crate) fn finish(scoring: Scoring, acc: u64, cos_norm: f32) -> f32 {
    let acc = acc as f64 / FIXED_ONE;
    match scoring {
        Scoring::Cosine => {
            if cos_norm > 0.0 {
                (acc / f64::from(cos_norm)) as f32
            } else {
                0.0
            }
        }
        Scoring::L1 => acc as f32,
    }
}

/// A bound that lets a doc be passed over without finishing its score:
/// an accumulator it excludes finishes below the score it was made from,
/// so a top-k whose worst score that is would not take the doc. The test
/// is a multiplication and a comparison, where [`finish`] divides.
///
/// Exactness: the bar is the score less 2^-20 of it, in fixed point. An
/// excluded accumulator's exact quotient is then below the score by more
/// than the few f64 roundings of the test and of [`finish`] and the one
/// f32 rounding of its result (2^-24) together can move it, so for a
/// normal score its finished score is strictly below. At the extremes (a
/// subnormal or infinite score, reachable only with norms far outside
/// what [`norms`] computes) it can equal the score, never exceed
/// it; a top-k whose docs are offered in increasing doc order refuses
/// that doc too, as it loses the tie to every doc kept.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bar(f64);

impl Bar {
    /// The bar of `score`, a finished score (positive to exclude anything).
    #[inline]
    pub(crate) fn new(score: f32) -> Bar {
        Bar(f64::from(score) * (1.0 - 1.0 / f64::from(1u32 << 20)) * FIXED_ONE)
    }

    /// True only when `finish(scoring, acc, cos_norm)` is below the score
    /// the bar was made from (NaN norms and scores are never excluded).
    #[inline(always)]
    pub(crate) fn excludes(self, scoring: Scoring, acc: u64, cos_norm: f32) -> bool {
        let acc = acc as f64;
        match scoring {
            Scoring::Cosine => acc < self.0 * f64::from(cos_norm),
            Scoring::L1 => acc < self.0,
        }
    }
}

/// A sparse term-frequency histogram from a list of words.
pub(crate) fn histogram(words: &[u32]) -> Vec<(u32, u32)> {
    let mut w = words.to_vec();
    w.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::new();
    for x in w {
        match out.last_mut() {
            Some((lw, tf)) if *lw == x => *tf += 1,
            _ => out.push((x, 1)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_excludes_only_docs_that_finish_below_its_score() {
        for seed in 1..=20_000u64 {
            let mut rng = crate::testutil::XorShift::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut unit = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let scoring = if seed % 2 == 0 {
                Scoring::Cosine
            } else {
                Scoring::L1
            };
            // Up to 2^18: accumulators past 2^53, where `acc as f64` rounds.
            let scale = f64::from(1u32 << (seed % 19));
            let score = ((0.001 + unit() * 4.0) * scale) as f32;
            let cos = (0.01 + unit() * 100.0) as f32;
            // Around the accumulator that finishes exactly at `score`,
            // within a few f32 steps either way, and well below it.
            let at = f64::from(score)
                * FIXED_ONE
                * match scoring {
                    Scoring::Cosine => f64::from(cos),
                    Scoring::L1 => 1.0,
                };
            let spread = (unit() - 0.5) * 2.0 * 4.0 / f64::from(1u32 << 24);
            let near = (at * (1.0 + spread)) as u64;
            let bar = Bar::new(score);
            for acc in [near, near.saturating_add(1), near.saturating_sub(1)] {
                if bar.excludes(scoring, acc, cos) {
                    let s = finish(scoring, acc, cos);
                    assert!(
                        s < score,
                        "seed {seed}: {acc} excluded by the bar of {score}, finishes {s}"
                    );
                }
            }
            let below = (at * (1.0 - 1.0 / f64::from(1u32 << 18))) as u64;
            assert!(bar.excludes(scoring, below, cos), "seed {seed}");
        }
        // Norms a cosine score cannot divide by are never excluded (their
        // score is 0 either way); an infinite norm, scoring 0, is. No
        // accumulator is excluded by a bar of zero or NaN.
        for cos in [0.0, -0.0, -1.0, f32::NAN] {
            assert!(!Bar::new(1.0).excludes(Scoring::Cosine, 1, cos));
        }
        assert!(Bar::new(1.0).excludes(Scoring::Cosine, u64::MAX, f32::INFINITY));
        assert_eq!(finish(Scoring::Cosine, u64::MAX, f32::INFINITY), 0.0);
        assert!(!Bar::new(0.0).excludes(Scoring::L1, 1, 1.0));
        assert!(!Bar::new(f32::NAN).excludes(Scoring::L1, 1, 1.0));
    }

    #[test]
    fn fixed_point_keeps_positive_terms_and_sums_in_any_order() {
        // The smallest term a real query gives: q_w ≥ 1/‖q‖ with idf ≥ 1.
        assert!(fixed(1.0 / 20_000.0) > 0);
        let terms = [0.3f32, 1e-4, 7.25, 0.1, 2.0 / 3.0];
        let forward = terms.iter().fold(0u64, |a, &t| a.wrapping_add(fixed(t)));
        let backward = terms
            .iter()
            .rev()
            .fold(0u64, |a, &t| a.wrapping_add(fixed(t)));
        assert_eq!(forward, backward);
        let sum: f32 = terms.iter().sum();
        assert!((finish(Scoring::L1, forward, 0.0) - sum).abs() < 1e-6);
    }

    #[test]
    fn histogram_counts_sorted_words() {
        assert_eq!(histogram(&[5, 1, 5, 3, 5]), vec![(1, 1), (3, 1), (5, 3)]);
    }

    #[test]
    fn idf_is_positive_and_decreasing_in_df() {
        let w = idf(&[0, 1, 10], 10);
        assert!(w.iter().all(|v| *v > 0.0));
        assert!(w[0] > w[1] && w[1] > w[2]);
        assert!((w[2] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn keep_share_keeps_the_fewest_heaviest_words_reaching_the_share() {
        let idf = vec![1.0; 6];
        let h = vec![(0, 1), (1, 4), (2, 2), (3, 2), (4, 3), (5, 1)];
        for s in [Scoring::Cosine, Scoring::L1] {
            let full = QueryVector::new(&h, &idf, s);
            let mass = |v: &QueryVector| -> f64 {
                v.entries
                    .iter()
                    .map(|&(_, q)| match s {
                        Scoring::Cosine => f64::from(q * q),
                        Scoring::L1 => f64::from(q),
                    })
                    .sum()
            };
            for share in [0.05, 0.3, 0.5, 0.8, 0.95, 0.999] {
                let mut v = full.clone();
                v.keep_share(s, share);
                let what = format!("{s:?} {share}: {:?}", v.entries);
                assert!(mass(&v) >= share * mass(&full) - 1e-9, "{what}");
                // Kept entries are full entries, in word order, and every
                // dropped one weighs no more than the lightest kept one.
                assert!(v.entries.windows(2).all(|p| p[0].0 < p[1].0), "{what}");
                assert!(v.entries.iter().all(|e| full.entries.contains(e)), "{what}");
                let lightest = v.entries.iter().map(|e| e.1).fold(f32::MAX, f32::min);
                let dropped = full.entries.iter().filter(|e| !v.entries.contains(e));
                assert!(dropped.clone().all(|e| e.1 <= lightest), "{what}");
                // The fewest: without its lightest entry it is short.
                let short = mass(&v)
                    - match s {
                        Scoring::Cosine => f64::from(lightest * lightest),
                        Scoring::L1 => f64::from(lightest),
                    };
                assert!(short < share * mass(&full), "{what}");
            }
            let mut v = full.clone();
            v.keep_share(s, 1.0);
            assert_eq!(v, full);
        }
    }

    #[test]
    fn identical_vectors_score_one() {
        let idf = vec![1.0, 2.0, 0.5];
        let h = vec![(0, 2), (2, 1)];
        for s in [Scoring::Cosine, Scoring::L1] {
            let q = QueryVector::new(&h, &idf, s);
            let (cos, l1) = norms(&h, &idf);
            let acc = q
                .entries
                .iter()
                .zip(&h)
                .fold(0u64, |a, (&(w, qw), &(_, tf))| {
                    a + fixed(term(s, qw, tf, idf[w as usize], l1))
                });
            assert!((finish(s, acc, cos) - 1.0).abs() < 1e-5, "{s:?}");
        }
    }
}
