//! The JSON shapes the commands print and the server returns.

use serde::Serialize;

/// One result in `search --json` and `POST /search`.
#[derive(Serialize)]
pub struct JsonHit {
    id: String,
    score: f32,
    /// Geometric inliers, when the hit was re-ranked.
    #[serde(skip_serializing_if = "Option::is_none")]
    inliers: Option<u32>,
    /// The shard holding the record, when several are served as one.
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<usize>,
}

fn json_hit(h: &mmindex::Hit, shard: Option<usize>) -> JsonHit {
    JsonHit {
        id: h.id.to_string_lossy(),
        score: h.score,
        inliers: h.inliers,
        shard,
    }
}

/// Hits in their JSON form.
pub fn json_hits(hits: &[mmindex::Hit]) -> Vec<JsonHit> {
    hits.iter().map(|h| json_hit(h, None)).collect()
}

/// Hits of several shards searched as one, in their JSON form.
pub fn json_shard_hits(hits: &[mmindex::ShardHit]) -> Vec<JsonHit> {
    hits.iter()
        .map(|h| json_hit(&h.hit, Some(h.shard)))
        .collect()
}

/// `stats --json` and `GET /stats`.
#[derive(Serialize)]
pub struct JsonStats {
    records: u64,
    words: u64,
    generation: u32,
    feature: String,
    postings: u64,
    bytes_on_disk: u64,
    pub bytes_per_record: f64,
    /// The vocabulary tree's [branching, depth]; null for a flat codebook.
    tree: Option<(u32, u32)>,
    /// Postings of records not yet sealed into posting blocks.
    unsealed_postings: u64,
    /// Images the vocabulary was trained on (null when not recorded).
    trained_images: Option<u64>,
    /// The collection has outgrown its vocabulary: `rebuild` advised.
    vocabulary_outgrown: bool,
    /// Present from the CLI (it reads the whole index), absent from the
    /// server's cheap `GET /stats`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub space: Option<JsonSpace>,
}

/// Logical bytes per kind of data, in all and per record.
#[derive(Serialize)]
pub struct JsonSpace {
    postings_bytes: u64,
    posting_blocks: u64,
    histogram_bytes: u64,
    norms_bytes: u64,
    geometry_bytes: u64,
    codebook_bytes: u64,
    metadata_bytes: u64,
    postings_per_record: f64,
    histograms_per_record: f64,
    norms_per_record: f64,
    geometry_per_record: f64,
    metadata_per_record: f64,
}

pub fn per(bytes: u64, records: u64) -> f64 {
    if records > 0 {
        bytes as f64 / records as f64
    } else {
        0.0
    }
}

/// The JSON form of [`mmindex::Space`] for `records` records.
pub fn space_json(s: &mmindex::Space, records: u64) -> JsonSpace {
    JsonSpace {
        postings_bytes: s.postings,
        posting_blocks: s.posting_blocks,
        histogram_bytes: s.histograms,
        norms_bytes: s.norms,
        geometry_bytes: s.geometry,
        codebook_bytes: s.codebook,
        metadata_bytes: s.metadata,
        postings_per_record: per(s.postings, records),
        histograms_per_record: per(s.histograms, records),
        norms_per_record: per(s.norms, records),
        geometry_per_record: per(s.geometry, records),
        metadata_per_record: per(s.metadata, records),
    }
}

/// The JSON form of [`mmindex::Stats`].
pub fn stats_json(s: &mmindex::Stats) -> JsonStats {
    JsonStats {
        records: s.records,
        words: s.words,
        generation: s.generation,
        feature: s.feature.to_string(),
        postings: s.postings,
        bytes_on_disk: s.bytes_on_disk,
        bytes_per_record: per(s.bytes_on_disk, s.records),
        tree: s.tree.map(|t| (t.branching, t.depth)),
        unsealed_postings: s.unsealed_postings,
        trained_images: s.trained_images,
        vocabulary_outgrown: s.vocabulary_outgrown,
        space: None,
    }
}
