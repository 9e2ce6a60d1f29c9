//! The `tail` and `sealing` values of `g{N}.stats` (format 3): where a
//! generation's posting blocks end, and what its unsealed docs hold.
//!
//! Docs at or above the sealed watermark (the *unsealed* docs) have histograms but no
//! postings yet; searches invert their histograms in memory, and a *seal*
//! moves them into posting blocks once they hold enough postings
//! (docs/STORAGE.md, "Sealing"). A generation without a `tail` value (formats
//! 1 and 2) keeps every posting in blocks and appends per batch.
//!
//! ```text
//! tail     u64 BE  sealed watermark: postings of docs below it are in blocks,
//!                  and no block holds a doc at or above it
//!          u64 BE  epoch: incremented by every batch that removes an unsealed doc,
//!                  so in-memory inversions of the unsealed docs know to start over
//!          u64 BE  postings of the unsealed docs (histogram entries)
//! sealing  u64 BE  the watermark a seal in progress moves to; present only
//!                  while a seal runs (or after one was interrupted: finished
//!                  on the next open)
//! ```

use super::{meta, DecodeError};

/// The decoded `tail` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnsealedState {
    /// Sealed watermark: docs below it have their postings in blocks.
    pub sealed_below: u64,
    /// Bumped when an unsealed doc is removed.
    pub epoch: u64,
    /// Postings of the docs at or above the watermark.
    pub postings: u64,
}

/// Encodes the `tail` value (24 bytes).
pub fn encode(t: &UnsealedState) -> [u8; 24] {
    let mut out = [0u8; 24];
    out[..8].copy_from_slice(&t.sealed_below.to_be_bytes());
    out[8..16].copy_from_slice(&t.epoch.to_be_bytes());
    out[16..].copy_from_slice(&t.postings.to_be_bytes());
    out
}

/// Decodes the `tail` value: exactly three u64 BE.
pub fn decode(b: &[u8]) -> Result<UnsealedState, DecodeError> {
    if b.len() != 24 {
        return Err(DecodeError::new(format!(
            "tail value of {} bytes, expected 24",
            b.len()
        )));
    }
    Ok(UnsealedState {
        sealed_below: meta::u64_from(&b[..8])?,
        epoch: meta::u64_from(&b[8..16])?,
        postings: meta::u64_from(&b[16..])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(a: u64, b: u64, c: u64) {
            let t = UnsealedState { sealed_below: a, epoch: b, postings: c };
            prop_assert_eq!(decode(&encode(&t)), Ok(t));
        }

        #[test]
        fn never_panics(b: Vec<u8>) {
            let _ = decode(&b);
        }
    }
}
