//! The extraction stage: sources in, per-record features out, in source
//! order, one batch at a time.
//!
//! A feeder thread hands images one by one to a rayon pool of `workers`
//! threads (OpenCV held at one thread meanwhile); an assembler thread puts
//! the results back in source order and sends them in batches down a bounded
//! crossbeam channel. Workers never wait for a whole batch to finish, so no
//! core idles at batch boundaries. The feeder takes a token per image and
//! the assembler returns it once the image has left in order, so at most
//! `WINDOW × batch_size` images are being described or waiting to be put in
//! order, and at most `DEPTH` finished batches wait for the consumer:
//! memory is bounded whatever the number of sources.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::{bounded, unbounded, Receiver};

use super::Source;
use crate::error::{Error, Result};
use crate::features::{self, ExtractParams, Features, ImageInput};
use crate::store::codec::doc::content_hash;
use crate::vocab::Codebook;
/// Batches extracted ahead of the consumer.
const DEPTH: usize = 2;
/// Images in flight, in batches.
const WINDOW: usize = 2;

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

/// Starts extracting `sources`, delivered in order in batches of
/// `batch_size`.
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
    let (out_tx, out_rx) = bounded::<Vec<Extracted>>(DEPTH);
    let window = (batch_size * WINDOW).max(workers * 2);
    let (token_tx, token_rx) = bounded::<()>(window);
    for _ in 0..window {
        // The channel has room for exactly `window` tokens.
        let _ = token_tx.send(());
    }
    let (done_tx, done_rx) = unbounded::<(usize, Extracted)>();
    let total = sources.len();
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(name.into())
            .spawn(f)
            .map_err(|e| Error::io(PathBuf::from("<thread>"), e))
    };
    spawn(
        "mmindex-feeder",
        Box::new(move || {
            for (i, source) in sources.into_iter().enumerate() {
                // The assembler hung up: the consumer is gone.
                if token_rx.recv().is_err() {
                    break;
                }
                let (done_tx, codebook) = (done_tx.clone(), codebook.clone());
                pool.spawn(move || {
                    let result = process(&source.input, &params, codebook.as_deref());
                    let _ = done_tx.send((i, Extracted { source, result }));
                });
            }
        }),
    )?;
    spawn(
        "mmindex-assembler",
        Box::new(move || {
            let mut waiting = BTreeMap::new();
            let mut next = 0;
            let mut batch = Vec::with_capacity(batch_size);
            for (i, e) in done_rx {
                waiting.insert(i, e);
                while let Some(e) = waiting.remove(&next) {
                    next += 1;
                    batch.push(e);
                    let _ = token_tx.send(());
                    let full = batch.len() == batch_size || next == total;
                    if full && out_tx.send(std::mem::take(&mut batch)).is_err() {
                        return;
                    }
                }
            }
        }),
    )?;
    Ok(out_rx)
}

pub(super) fn process(
    input: &ImageInput,
    params: &ExtractParams,
    codebook: Option<&Codebook>,
) -> Result<Item> {
    let (hash, features) = match input {
        ImageInput::Pixels(p) => (content_hash(p.data()), features::extract_pixels(p, params)?),
        _ => {
            let bytes = input.read(params.max_file_bytes)?;
            (
                content_hash(&bytes),
                features::extract_encoded(&bytes, &input.display_path(), params)?,
            )
        }
    };
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
