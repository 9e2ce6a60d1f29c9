//! The commit ledger: a small file beside sled's own, `mmindex-ledger` in
//! the index directory, holding how many durable commits the index has
//! acknowledged (see [`crate::store`], "Commit ledger").
//!
//! Layout (28 bytes, little-endian integers):
//!
//! | offset | bytes | field |
//! | ---: | ---: | --- |
//! | 0 | 8 | magic `MMLEDGER` |
//! | 8 | 4 | layout version, u32 LE ([`VERSION`]) |
//! | 12 | 8 | commits, u64 LE |
//! | 20 | 8 | the bitwise complement of commits, u64 LE |
//!
//! The complement catches a torn or damaged write: a value that fails it is
//! reported as unreadable, never taken as a count.

use super::DecodeError;

/// The first bytes of a ledger file.
pub const MAGIC: &[u8; 8] = b"MMLEDGER";
/// The layout this build writes and reads.
pub const VERSION: u32 = 1;
/// Bytes of a ledger.
pub const LEN: usize = 28;

const OFF_VERSION: usize = 8;
const OFF_COMMITS: usize = 12;
const OFF_CHECK: usize = 20;

/// The ledger's bytes for `commits`.
pub fn encode(commits: u64) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    b[..OFF_VERSION].copy_from_slice(MAGIC);
    b[OFF_VERSION..OFF_COMMITS].copy_from_slice(&VERSION.to_le_bytes());
    b[OFF_COMMITS..OFF_CHECK].copy_from_slice(&commits.to_le_bytes());
    b[OFF_CHECK..LEN].copy_from_slice(&(!commits).to_le_bytes());
    b
}

/// The commit count a ledger holds.
pub fn decode(b: &[u8]) -> Result<u64, DecodeError> {
    if b.len() != LEN {
        return Err(DecodeError::new(format!(
            "{} bytes, expected {LEN}",
            b.len()
        )));
    }
    if &b[..OFF_VERSION] != MAGIC {
        return Err(DecodeError::new("wrong magic bytes"));
    }
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let mut v = [0u8; 4];
    v.copy_from_slice(&b[OFF_VERSION..OFF_COMMITS]);
    let version = u32::from_le_bytes(v);
    if version != VERSION {
        return Err(DecodeError::new(format!(
            "ledger layout {version}, this build reads {VERSION}"
        )));
    }
    let commits = word(OFF_COMMITS);
    if word(OFF_CHECK) != !commits {
        return Err(DecodeError::new("the count fails its complement check"));
    }
    Ok(commits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        for n in [0, 1, 77, u64::MAX] {
            assert_eq!(decode(&encode(n)), Ok(n));
        }
        let good = encode(5);
        for i in 0..LEN {
            let mut bad = good;
            bad[i] ^= 0x10;
            assert!(decode(&bad).is_err(), "flip at {i} accepted");
        }
        assert!(decode(&good[..LEN - 1]).is_err());
        assert!(decode(&[]).is_err());
    }
}
