//! Every persisted byte layout, with its format version.
//!
//! Conventions, for every layout below:
//! - integer keys are big-endian, so sled's lexicographic order is numeric;
//! - fixed-width values are big-endian integers and little-endian IEEE floats
//!   (as written by `to_le_bytes`), stated at each layout;
//! - structured records use bincode 2 with [`bincode::config::standard`]
//!   (little-endian, variable-length integers);
//! - varints are LEB128 (7 bits per byte, low group first, high bit = more).
//!
//! A decoder never panics on any input: it returns
//! [`Error::Corruption`](crate::Error::Corruption) naming tree and key.

pub mod codebook;
pub mod doc;
pub mod exported;
pub mod geometry;
pub mod hist;
pub mod keys;
pub mod ledger;
pub mod meta;
pub mod packed;
pub mod postings;
pub mod trained;
pub mod unsealed;
pub mod varint;
pub mod vocab_tree;

use crate::error::Error;

/// The on-disk format this build writes. Bump on any layout change; `open`
/// refuses versions outside [`OLDEST_FORMAT`]`..=FORMAT_VERSION` with
/// `IncompatibleFormat`.
///
/// - 1: the first format.
/// - 2: a generation's codebook may be a vocabulary tree (the `tree` key in
///   `g{N}.codebook`); a generation may have a complete `g{N}.norms` (marked
///   by `norms` in its stats); docs may have geometry (`g{N}.geometry`, written
///   since format 1 by this build too: a format-1 reader ignores it).
///
/// - 3: a generation may keep its newest docs out of the posting blocks
///   (the `tail` value in its stats, [`unsealed`]); such a generation's blocks
///   are written by seals, not appended to per batch.
///
/// - 4: a generation may store its geometry packed, 4 bytes a feature with
///   the words taken from the histogram (the `geometry` key in its stats,
///   [`geometry::Form::Packed`]); a generation records what its vocabulary
///   was trained on (the `trained` key, [`trained`]).
///
/// - 5: a generation may store its geometry narrow, 3 bytes a feature (the
///   `geometry` key's value `[2]`, [`geometry::Form::Narrow`]).
///
/// Every layout of an older format is unchanged in the newer ones, so older
/// indexes open as they are (their generations keep the old posting
/// layout); an index is marked with this build's format when it is created,
/// and when a new generation is activated (in the same transaction), since
/// that generation may use a layout an older build cannot read.
pub const FORMAT_VERSION: u32 = 5;

/// How a generation's posting blocks and histograms are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layout {
    /// LEB128 varints per gap and tf: generations of formats 1 and 2.
    Varint,
    /// Bit-packed frames ([`packed`]): generations that seal (format 3).
    Packed,
}

/// The oldest format this build reads.
pub const OLDEST_FORMAT: u32 = 1;

/// The first value in `meta`, naming the directory as an mmindex index.
pub const MAGIC: &[u8; 8] = b"MMINDEX\0";

/// Why a value failed to decode, before the caller adds tree and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl DecodeError {
    pub(crate) fn new(m: impl Into<String>) -> DecodeError {
        DecodeError(m.into())
    }

    /// Attaches the tree and key the value was read from.
    pub fn at(self, tree: &str, key: &[u8]) -> Error {
        Error::Corruption {
            tree: tree.to_string(),
            key: hex(key),
            reason: self.0,
        }
    }
}

/// Lower-case hex of a key, for error messages.
pub fn hex(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

/// Largest structured value decoded: bincode refuses to allocate for
/// lengths beyond it, so that a doc record claiming a 4 GB id fails
/// instead of allocating it.
pub const BINCODE_LIMIT: usize = 16 << 20;

type Config = bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<BINCODE_LIMIT>,
>;

pub(crate) fn bincode_config() -> Config {
    bincode::config::standard().with_limit::<BINCODE_LIMIT>()
}

/// Decodes a whole bincode value: trailing bytes are corruption too.
pub(crate) fn decode_bincode<T: bincode::Decode<()>>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (v, used) = bincode::decode_from_slice(bytes, bincode_config())
        .map_err(|e| DecodeError::new(format!("bincode: {e}")))?;
    if used != bytes.len() {
        return Err(DecodeError::new(format!(
            "{} trailing bytes",
            bytes.len() - used
        )));
    }
    Ok(v)
}

pub(crate) fn encode_bincode<T: bincode::Encode>(v: &T) -> Vec<u8> {
    // Without the decoding limit: values are bounded where they enter (record
    // ids by `MAX_RECORD_ID`), and encoding into a Vec cannot otherwise fail.
    bincode::encode_to_vec(v, bincode::config::standard()).unwrap_or_default()
}

/// Longest external record id accepted, in bytes.
pub const MAX_RECORD_ID: usize = 64 << 10;

/// Reads a little-endian f32 at `at`.
pub(crate) fn f32_at(b: &[u8], at: usize) -> Result<f32, DecodeError> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(f32::from_le_bytes)
        .ok_or_else(|| DecodeError::new("value too short for a float"))
}
