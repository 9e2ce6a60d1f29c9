//! The `docs` tree value: one record's metadata, bincode-encoded.

use bincode::{Decode, Encode};

use super::DecodeError;

/// Metadata of one stored record. Key: doc id (u64 BE).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct DocRecord {
    /// The external record id (the user's key).
    pub record_id: Vec<u8>,
    /// Where the image came from: its path bytes, or empty for in-memory input.
    pub source: Vec<u8>,
    /// FNV-1a 64 of the image bytes.
    pub content_hash: u64,
}

/// Encodes a doc record.
pub fn encode(d: &DocRecord) -> Vec<u8> {
    super::encode_bincode(d)
}

/// Decodes a doc record.
pub fn decode(b: &[u8]) -> Result<DocRecord, DecodeError> {
    super::decode_bincode(b)
}

/// FNV-1a, 64 bits: a stable content fingerprint (not a security hash).
pub fn content_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_claimed_lengths_are_refused_without_allocating() {
        // Found by fuzzing: a record id claiming 0xFF0201FC bytes.
        assert!(decode(&[0xfc, 0xff, 0x01, 0x02, 0xff, 0x2e]).is_err());
    }

    #[test]
    fn round_trip() {
        let d = DocRecord {
            record_id: b"a/b.jpg".to_vec(),
            source: b"/data/a/b.jpg".to_vec(),
            content_hash: content_hash(b"bytes"),
        };
        assert_eq!(decode(&encode(&d)), Ok(d));
    }
}
