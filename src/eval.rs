//! Retrieval metrics for the evaluation harness (`examples/eval.rs`,
//! docs/EVALUATION.md).
//!
//! Every metric takes one query's ranking as relevance flags in rank order
//! (`true` where the hit belongs to the query's group) and the number of
//! relevant items stored, so they do not depend on how ids are spelt.

/// UKBench score of one query: how many of the first four hits are relevant
/// (0–4). Nistér & Stewénius's benchmark stores each object four times and
/// queries with each image, the image itself included.
pub fn ukbench_score(ranked: &[bool]) -> usize {
    ranked.iter().take(4).filter(|r| **r).count()
}

/// Average precision of one ranking: the mean, over the relevant items, of
/// the precision at each relevant item's rank; relevant items never ranked
/// count as precision 0. 0 when nothing is relevant.
pub fn average_precision(ranked: &[bool], relevant: usize) -> f64 {
    if relevant == 0 {
        return 0.0;
    }
    let mut found = 0usize;
    let mut sum = 0.0;
    for (i, r) in ranked.iter().enumerate() {
        if *r {
            found += 1;
            sum += found as f64 / (i + 1) as f64;
        }
    }
    (sum / relevant as f64).min(1.0)
}

/// Share of the relevant items found in the first `k` hits.
pub fn recall_at(ranked: &[bool], relevant: usize, k: usize) -> f64 {
    if relevant == 0 {
        return 0.0;
    }
    (ranked.iter().take(k).filter(|r| **r).count() as f64 / relevant as f64).min(1.0)
}

/// Whether the first hit is relevant, as 0 or 1 (recall@1 when the query
/// image itself is not stored: a hit at rank 1 is all a user looks at).
pub fn hit_at_1(ranked: &[bool]) -> f64 {
    f64::from(u8::from(ranked.first().copied().unwrap_or(false)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ukbench_counts_the_top_four() {
        assert_eq!(ukbench_score(&[true, true, false, true, true]), 3);
        assert_eq!(ukbench_score(&[]), 0);
    }

    #[test]
    fn average_precision_by_hand() {
        // Relevant at ranks 1 and 3 of 2 relevant: (1/1 + 2/3) / 2.
        let ap = average_precision(&[true, false, true, false], 2);
        assert!((ap - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        // One of two relevant items never ranked.
        assert!((average_precision(&[false, true], 2) - 0.25).abs() < 1e-12);
        assert_eq!(average_precision(&[true], 0), 0.0);
        assert_eq!(average_precision(&[true, true, true], 3), 1.0);
    }

    #[test]
    fn recall_counts_within_k() {
        assert_eq!(recall_at(&[false, true, true], 4, 2), 0.25);
        // More flagged hits than relevant items (inconsistent input) caps at 1.
        assert_eq!(recall_at(&[true; 20], 3, 10), 1.0);
        assert_eq!(hit_at_1(&[false, true]), 0.0);
        assert_eq!(hit_at_1(&[true]), 1.0);
    }
}
