//! Key layouts.
//!
//! | tree | key |
//! | --- | --- |
//! | `records` | the external record id, raw bytes |
//! | `docs`, `g{N}.hist` | doc id: u64 big-endian (8 bytes) |
//! | `g{N}.postings` | word: u32 BE (4 bytes) ‖ first doc id of the block: u64 BE (8 bytes) |
//! | `g{N}.codebook`, `g{N}.stats` chunks | name bytes ‖ chunk no.: u32 BE |

use super::DecodeError;

/// A doc id key.
pub fn doc(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

/// Decodes a doc id key.
pub fn doc_from(k: &[u8]) -> Result<u64, DecodeError> {
    let a: [u8; 8] = k
        .try_into()
        .map_err(|_| DecodeError::new(format!("doc key of {} bytes, expected 8", k.len())))?;
    Ok(u64::from_be_bytes(a))
}

/// A posting-block key.
pub fn posting(word: u32, first_doc: u64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&word.to_be_bytes());
    k[4..].copy_from_slice(&first_doc.to_be_bytes());
    k
}

/// Decodes a posting-block key into (word, first doc).
pub fn posting_from(k: &[u8]) -> Result<(u32, u64), DecodeError> {
    if k.len() != 12 {
        return Err(DecodeError::new(format!(
            "posting key of {} bytes, expected 12",
            k.len()
        )));
    }
    let mut w = [0u8; 4];
    w.copy_from_slice(&k[..4]);
    let mut d = [0u8; 8];
    d.copy_from_slice(&k[4..]);
    Ok((u32::from_be_bytes(w), u64::from_be_bytes(d)))
}

/// A chunk key: `name ‖ chunk no. (u32 BE)`.
pub fn chunk(name: &[u8], no: u32) -> Vec<u8> {
    let mut k = name.to_vec();
    k.extend_from_slice(&no.to_be_bytes());
    k
}
