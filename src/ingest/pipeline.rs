//! The extraction stage: sources in, per-record features out, in source
//! order, one batch at a time.
//!
//! A producer thread extracts each batch on a rayon pool of `workers`
//! threads (OpenCV held at one thread meanwhile) and sends it down a bounded
//! crossbeam channel, so at most `DEPTH` batches wait for the consumer: the
//! images in memory are bounded by `(DEPTH + 2) × batch_size` whatever the
//! number of sources.

use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver};
use rayon::prelude::*;

use super::Source;
use crate::error::{Error, Result};
use crate::features::{self, BulkThreads, ExtractParams, Features, ImageInput};
use crate::store::codec::doc::content_hash;
use crate::vocab::Codebook;

/// Batches extracted ahead of the consumer.
const DEPTH: usize = 2;

/// One source's extraction outcome.
pub(crate) struct Extracted {
    pub source: Source,
    pub result: Result<Item>,
}

/// A successfully described image.
pub(crate) struct Item {
    pub features: Features,
    /// Visual words of each feature, when a codebook was given.
    pub words: Option<Vec<u32>>,
    pub hash: u64,
}

/// Starts extracting `sources` in batches of `batch_size`.
pub(crate) fn extract_batches(
    sources: Vec<Source>,
    params: ExtractParams,
    codebook: Option<Arc<Codebook>>,
    workers: usize,
    batch_size: usize,
) -> Result<Receiver<Vec<Extracted>>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("mmindex-extract-{i}"))
        .build()
        .map_err(|e| Error::InvalidConfig(format!("cannot start {workers} workers: {e}")))?;
    let (tx, rx) = bounded::<Vec<Extracted>>(DEPTH);
    std::thread::Builder::new()
        .name("mmindex-pipeline".into())
        .spawn(move || {
            let _threads = BulkThreads::enter();
            let mut sources = sources.into_iter();
            loop {
                let chunk: Vec<Source> = sources.by_ref().take(batch_size).collect();
                if chunk.is_empty() {
                    break;
                }
                let out: Vec<Extracted> = pool.install(|| {
                    chunk
                        .into_par_iter()
                        .map(|source| {
                            let result = process(&source.input, &params, codebook.as_deref());
                            Extracted { source, result }
                        })
                        .collect()
                });
                // The consumer hung up (it failed): stop extracting.
                if tx.send(out).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| Error::io(PathBuf::from("<thread>"), e))?;
    Ok(rx)
}

fn process(
    input: &ImageInput,
    params: &ExtractParams,
    codebook: Option<&Codebook>,
) -> Result<Item> {
    let (bytes, path);
    let bytes: &[u8] = match input {
        ImageInput::Path(p) => {
            bytes = features::read_file(p)?;
            path = p.clone();
            &bytes
        }
        ImageInput::Bytes(b) => {
            path = PathBuf::from("<bytes>");
            b
        }
    };
    let hash = content_hash(bytes);
    let features = features::extract_encoded(bytes, &path, params)?;
    let words = match codebook {
        Some(cb) => Some(cb.quantize(&features.descriptors)?),
        None => None,
    };
    Ok(Item {
        features,
        words,
        hash,
    })
}
