//! The `meta` tree: fixed names with small values.
//!
//! | key | value |
//! | --- | --- |
//! | `magic` | the 8 bytes [`MAGIC`](super::MAGIC) |
//! | `format` | format version, u32 BE |
//! | `config` | [`IndexConfig`](crate::IndexConfig), bincode |
//! | `active` | active generation, u32 BE (absent = no codebook yet) |
//! | `next_doc` | next doc id to assign, u64 BE |
//! | `commits` | durable commits so far, u64 BE (absent = 0; see the commit ledger, [`ledger`](super::ledger)) |

use super::DecodeError;

/// Key of the magic bytes.
pub const MAGIC: &[u8] = b"magic";
/// Key of the format version.
pub const FORMAT: &[u8] = b"format";
/// Key of the index configuration.
pub const CONFIG: &[u8] = b"config";
/// Key of the active generation.
pub const ACTIVE: &[u8] = b"active";
/// Key of the doc id counter.
pub const NEXT_DOC: &[u8] = b"next_doc";
/// Key of the durable commit counter.
pub const COMMITS: &[u8] = b"commits";

/// Decodes a u32 BE value.
pub fn u32_from(b: &[u8]) -> Result<u32, DecodeError> {
    b.try_into()
        .map(u32::from_be_bytes)
        .map_err(|_| DecodeError::new(format!("{} bytes, expected a 4-byte integer", b.len())))
}

/// Decodes a u64 BE value.
pub fn u64_from(b: &[u8]) -> Result<u64, DecodeError> {
    b.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| DecodeError::new(format!("{} bytes, expected an 8-byte integer", b.len())))
}

/// Decodes the stored configuration and checks its ranges.
pub fn decode_config(b: &[u8]) -> Result<crate::IndexConfig, DecodeError> {
    let c: crate::IndexConfig = super::decode_bincode(b)?;
    c.validate()
        .map_err(|e| DecodeError::new(format!("stored configuration out of range: {e}")))?;
    Ok(c)
}

/// Encodes the configuration.
pub fn encode_config(c: &crate::IndexConfig) -> Vec<u8> {
    super::encode_bincode(c)
}
