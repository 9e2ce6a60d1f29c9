//! Synthetic records for scale measurements: word histograms whose words
//! are drawn Zipf-distributed over a vocabulary, added through the library
//! API (no image extraction). Shared by `examples/scale.rs` and
//! `benches/search.rs`, so that both fill and query the same collections.
//!
//! With the same parameters and seed, the same records come out: the word
//! permutation, then a 1,000-record sample for IDF, then the records, all
//! from one generator; queries come from their own generator (seed 7).

use mmindex::vocab::Codebook;
use mmindex::{Feature, Index, RecordId, RunOptions};
use ndarray::Array2;

#[allow(dead_code)]
#[path = "../../tests/common/rng.rs"]
mod rng;
pub use rng::Rng;

/// Draws words with P(w) ∝ 1/(w+1)^s by inverting the cumulative table.
struct Zipf(Vec<f64>);

impl Zipf {
    /// Word `w` (before the shuffle) drawn with weight `counts[w]` when
    /// counts are given, else `1 / (w + 1)^s` over `k` words.
    fn new(k: usize, s: f64, counts: Option<&[f64]>) -> Zipf {
        let mut acc = 0.0;
        let mut c: Vec<f64> = (0..k)
            .map(|w| {
                acc += match counts {
                    Some(c) => c.get(w).copied().unwrap_or(0.0),
                    None => 1.0 / ((w + 1) as f64).powf(s),
                };
                acc
            })
            .collect();
        for v in &mut c {
            *v /= acc;
        }
        Zipf(c)
    }

    fn draw(&self, rng: &mut Rng) -> u32 {
        let u = rng.unit();
        self.0.partition_point(|&c| c < u).min(self.0.len() - 1) as u32
    }
}

/// The shape of a synthetic collection.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Vocabulary size.
    pub words: usize,
    /// Features (word draws) per record.
    pub features: usize,
    /// Zipf exponent of word frequencies.
    pub zipf: f64,
    /// Seed of the records' generator.
    pub seed: u64,
    /// Each word's weight (its occurrences in real records, say) instead of
    /// the Zipf law; `words` is then its length.
    pub counts: Option<&'static [f64]>,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            words: 100_000,
            features: 1_000,
            zipf: 0.6,
            seed: 1,
            counts: None,
        }
    }
}

/// A generator of records of one shape.
pub struct Corpus {
    shape: Shape,
    zipf: Zipf,
    /// Words are shuffled so that frequent words are not all small numbers.
    perm: Vec<u32>,
    rng: Rng,
}

impl Corpus {
    pub fn new(shape: Shape) -> Corpus {
        let mut rng = Rng::new(shape.seed);
        let k = shape.words;
        let mut perm: Vec<u32> = (0..k as u32).collect();
        for i in (1..k).rev() {
            perm.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        Corpus {
            zipf: Zipf::new(k, shape.zipf, shape.counts),
            shape,
            perm,
            rng,
        }
    }

    fn draw(zipf: &Zipf, perm: &[u32], features: usize, rng: &mut Rng) -> Vec<u32> {
        (0..features)
            .map(|_| perm[zipf.draw(rng) as usize])
            .collect()
    }

    /// The next record's words (one per feature).
    pub fn record(&mut self) -> Vec<u32> {
        Self::draw(&self.zipf, &self.perm, self.shape.features, &mut self.rng)
    }

    /// `n` query records, the same for every corpus of this shape.
    pub fn queries(&self, n: usize) -> Vec<Vec<u32>> {
        self.queries_seeded(n, 7)
    }

    /// `n` query records from generator `seed`: other seeds than 7 give
    /// queries to warm a process with, none of them a timed one.
    pub fn queries_seeded(&self, n: usize, seed: u64) -> Vec<Vec<u32>> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| Self::draw(&self.zipf, &self.perm, self.shape.features, &mut rng))
            .collect()
    }

    /// IDF weights from a sample of 1,000 records, as training computes them.
    pub fn idf(&mut self, n: usize) -> Vec<f32> {
        let k = self.shape.words;
        let mut df = vec![0u32; k];
        let sample = 1_000.min(n.max(1));
        for _ in 0..sample {
            let mut ws = self.record();
            ws.sort_unstable();
            ws.dedup();
            for w in ws {
                df[w as usize] += 1;
            }
        }
        df.iter()
            .map(|&d| (((1 + sample) as f64 / (1 + d) as f64).ln() + 1.0) as f32)
            .collect()
    }
}

/// Creates an index at `dir` and fills it with `n` records of `shape`, in
/// batches of `batch` (sealing at `seal` unsealed postings when given);
/// returns the seconds spent adding.
pub fn fill(
    dir: &std::path::Path,
    n: usize,
    shape: Shape,
    batch: usize,
    seal: Option<u64>,
) -> mmindex::Result<f64> {
    let mut corpus = Corpus::new(shape);
    let mut builder = Index::builder().feature(Feature::Sift);
    if let Some(s) = seal {
        builder = builder.seal_postings(s);
    }
    let index = builder.open(dir)?;
    let mut w = index.writer(RunOptions {
        batch_size: batch,
        ..RunOptions::default()
    })?;
    let idf = corpus.idf(n);
    w.install_codebook(
        Codebook::from_float(Array2::zeros((shape.words, 1))),
        Some(idf),
    )?;
    add_records(&mut w, &mut corpus, batch, 0, n)
}

/// Adds records to the index at `dir`, which a fill of `shape` made (and
/// perhaps grew) before, until it holds `n`: the records that follow its
/// last one in the generator's stream, so that it then holds the records a
/// fill of `n` makes. The IDF sample is the first fill's: 1,000 records
/// whenever that fill held at least 1,000, so an index holding fewer is
/// refused (its sample cannot be replayed). `seal` as for [`fill`] (a
/// run-time setting, not stored). Returns the records it held before and
/// the seconds spent adding, or an error when it holds fewer than 1,000
/// or more than `n` records, or its ids are not `r0`, `r1`, ... in order.
pub fn grow(
    dir: &std::path::Path,
    n: usize,
    shape: Shape,
    batch: usize,
    seal: Option<u64>,
) -> mmindex::Result<(usize, f64)> {
    let mut builder = Index::builder();
    if let Some(s) = seal {
        builder = builder.seal_postings(s);
    }
    let index = builder.open(dir)?;
    let have = usize::try_from(index.stats()?.records).unwrap_or(usize::MAX);
    let in_order = have >= 1_000
        && index.contains(format!("r{}", have - 1))?
        && !index.contains(format!("r{have}"))?;
    if have > n || !in_order {
        return Err(mmindex::Error::InvalidConfig(format!(
            "{}: {have} records; growing needs a synthetic fill of 1,000 to {n} records",
            dir.display()
        )));
    }
    let mut corpus = Corpus::new(shape);
    // The stream as the first fill drew it: its IDF sample, then its records.
    corpus.idf(have);
    for _ in 0..have {
        corpus.record();
    }
    let mut w = index.writer(RunOptions {
        batch_size: batch,
        ..RunOptions::default()
    })?;
    Ok((have, add_records(&mut w, &mut corpus, batch, have, n)?))
}

/// Adds records `done..n`, the next ones of the stream `corpus` stands
/// at, `batch` at a time; returns the seconds it took.
fn add_records(
    w: &mut mmindex::IndexWriter,
    corpus: &mut Corpus,
    batch: usize,
    mut done: usize,
    n: usize,
) -> mmindex::Result<f64> {
    let batch = batch.max(1);
    let started = std::time::Instant::now();
    while done < n {
        let m = batch.min(n - done);
        let recs = (0..m)
            .map(|i| (RecordId::from(format!("r{}", done + i)), corpus.record()))
            .collect();
        w.add_words(recs)?;
        done += m;
    }
    Ok(started.elapsed().as_secs_f64())
}
