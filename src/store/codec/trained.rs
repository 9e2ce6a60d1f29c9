//! The `trained` value of `g{N}.stats` (format 4): what the generation's
//! vocabulary was trained on, so that `stats` and `add` can tell when the
//! collection has outgrown it.
//!
//! ```text
//! trained  u64 BE  images the codebook was trained on
//!          u64 BE  descriptors extracted from them
//! ```
//! Absent from generations created before format 4 and from those whose
//! codebook was given rather than trained (`IndexWriter::install_codebook`).

use super::DecodeError;

/// The decoded `trained` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Trained {
    /// Images the codebook was trained on.
    pub images: u64,
    /// Descriptors extracted from them.
    pub descriptors: u64,
}

/// Encodes the `trained` value (16 bytes).
pub fn encode(t: &Trained) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&t.images.to_be_bytes());
    out[8..].copy_from_slice(&t.descriptors.to_be_bytes());
    out
}

/// Decodes the `trained` value.
pub fn decode(b: &[u8]) -> Result<Trained, DecodeError> {
    let b: &[u8; 16] = b
        .try_into()
        .map_err(|_| DecodeError::new(format!("trained value of {} bytes, not 16", b.len())))?;
    let (images, descriptors) = b.split_at(8);
    let u64_of = |s: &[u8]| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_be_bytes(a)
    };
    Ok(Trained {
        images: u64_of(images),
        descriptors: u64_of(descriptors),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_lengths() {
        let t = Trained {
            images: 500,
            descriptors: 612_345,
        };
        assert_eq!(decode(&encode(&t)).unwrap(), t);
        for len in [0, 8, 15, 17, 24] {
            assert!(decode(&vec![0; len]).is_err(), "{len} bytes");
        }
    }
}
