//! An exported vocabulary: a file (or bytes) holding everything that turns
//! an image into a record's words, so that any machine can describe images
//! for an index without opening it.
//!
//! ```text
//! 8 bytes   magic b"MMVOCAB\0"
//! u32 LE    layout version (1)
//! u8        feature: 0 SIFT, 1 RootSIFT, 2 ORB, 3 AKAZE, 4 BRISK
//! u32 LE    max_side       ┐
//! u64 LE    max_pixels     │ the extraction settings
//! u32 LE    max_features   │ (IndexConfig fields of the same names)
//! u32 LE    min_features   ┘
//! u32 LE    number of codebook entries, then each entry as
//!           u32 LE key length, key, u32 LE value length, value:
//!           the `g{N}.codebook` tree's entries in key order ([`codebook`])
//! u32 LE    number of IDF entries, then each as above: the `idf` chunks of
//!           `g{N}.stats`, in key order
//! u64 LE    FNV-1a 64 of every byte before it
//! ```
//!
//! The trailing hash is both the file's checksum and the vocabulary's id:
//! the encoding is canonical (entries in key order, fixed-width fields), so
//! the same vocabulary always has the same id, and indexes built on it can
//! be recognised as sharing it.

use super::codebook::{self, Entry};
use super::DecodeError;
use crate::config::Feature;
use crate::features::ExtractParams;
use crate::vocab::Codebook;

/// First bytes of an exported vocabulary.
pub const MAGIC: &[u8; 8] = b"MMVOCAB\0";
/// The layout this build writes and reads.
pub const VERSION: u32 = 1;

/// The extraction settings an exported vocabulary carries: the
/// [`IndexConfig`](crate::IndexConfig) fields of the same names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The feature family.
    pub feature: Feature,
    /// Longer side cap in pixels (0 = none).
    pub max_side: u32,
    /// Pixel limit before decoding (0 = none).
    pub max_pixels: u64,
    /// Strongest keypoints kept.
    pub max_features: u32,
    /// Fewer keypoints than this trigger lower detector thresholds.
    pub min_features: u32,
}

impl Settings {
    /// The settings of extraction parameters.
    pub fn of(p: &ExtractParams) -> Settings {
        Settings {
            feature: p.feature,
            max_side: p.max_side,
            max_pixels: p.max_pixels,
            max_features: p.max_features,
            min_features: p.min_features,
        }
    }

    /// The extraction parameters, refusing files above `max_file_bytes`.
    pub fn params(&self, max_file_bytes: u64) -> ExtractParams {
        ExtractParams {
            feature: self.feature,
            max_side: self.max_side,
            max_pixels: self.max_pixels,
            max_features: self.max_features,
            min_features: self.min_features,
            max_file_bytes,
        }
    }
}

/// A decoded exported vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Its extraction settings.
    pub settings: Settings,
    /// The codebook (flat or tree).
    pub codebook: Codebook,
    /// One IDF weight per word.
    pub idf: Vec<f32>,
    /// Its id (the trailing hash).
    pub id: u64,
}

fn feature_code(f: Feature) -> u8 {
    match f {
        Feature::Sift => 0,
        Feature::RootSift => 1,
        Feature::Orb => 2,
        Feature::Akaze => 3,
        Feature::Brisk => 4,
    }
}

fn feature_of(code: u8) -> Result<Feature, DecodeError> {
    Ok(match code {
        0 => Feature::Sift,
        1 => Feature::RootSift,
        2 => Feature::Orb,
        3 => Feature::Akaze,
        4 => Feature::Brisk,
        c => return Err(DecodeError::new(format!("unknown feature code {c}"))),
    })
}

/// FNV-1a, 64 bits: the file's checksum and id, and the hash that routes
/// record ids to shards.
pub fn fnv1a(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn put_entries(out: &mut Vec<u8>, entries: &[Entry]) {
    // Entry counts and lengths fit u32: a codebook holds at most a few
    // million words in chunks of 4,096.
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (k, v) in entries {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(k);
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v);
    }
}

/// Encodes a vocabulary; returns the bytes and its id.
pub fn encode(settings: &Settings, codebook: &Codebook, idf: &[f32]) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.push(feature_code(settings.feature));
    out.extend_from_slice(&settings.max_side.to_le_bytes());
    out.extend_from_slice(&settings.max_pixels.to_le_bytes());
    out.extend_from_slice(&settings.max_features.to_le_bytes());
    out.extend_from_slice(&settings.min_features.to_le_bytes());
    let mut cb = codebook::entries(codebook);
    cb.sort();
    put_entries(&mut out, &cb);
    put_entries(&mut out, &codebook::encode_idf(idf));
    let id = fnv1a(&out);
    out.extend_from_slice(&id.to_le_bytes());
    (out, id)
}

/// A key and its value, borrowed from the input.
type Borrowed<'a> = (&'a [u8], &'a [u8]);

/// A cursor over the bytes, every read bounds-checked.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or_else(|| DecodeError::new("exported vocabulary is truncated"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn entries(&mut self) -> Result<Vec<Borrowed<'a>>, DecodeError> {
        let n = self.u32()?;
        // Each entry takes at least 8 bytes: the count cannot make the
        // vector larger than the input.
        let mut out = Vec::with_capacity((n as usize).min(self.b.len() / 8));
        for _ in 0..n {
            let k = self.u32()? as usize;
            let k = self.take(k)?;
            let v = self.u32()? as usize;
            let v = self.take(v)?;
            if out
                .last()
                .is_some_and(|(last, _): &(&[u8], &[u8])| *last >= k)
            {
                return Err(DecodeError::new("entries out of key order"));
            }
            out.push((k, v));
        }
        Ok(out)
    }
}

/// Decodes an exported vocabulary.
pub fn decode(b: &[u8]) -> Result<Decoded, DecodeError> {
    if b.len() < MAGIC.len() || &b[..MAGIC.len()] != MAGIC {
        return Err(DecodeError::new("not an exported mmindex vocabulary"));
    }
    let Some(body) = b.len().checked_sub(8).map(|n| &b[..n]) else {
        return Err(DecodeError::new("exported vocabulary is truncated"));
    };
    let mut r = Reader {
        b: body,
        at: MAGIC.len(),
    };
    let version = r.u32()?;
    if version != VERSION {
        return Err(DecodeError::new(format!(
            "exported vocabulary layout {version}; this build reads {VERSION}"
        )));
    }
    let mut sum = [0u8; 8];
    sum.copy_from_slice(&b[body.len()..]);
    let id = u64::from_le_bytes(sum);
    if fnv1a(body) != id {
        return Err(DecodeError::new(
            "exported vocabulary fails its checksum (damaged or cut)",
        ));
    }
    let feature = feature_of(r.array::<1>()?[0])?;
    let max_side = r.u32()?;
    let max_pixels = r.u64()?;
    let max_features = r.u32()?;
    let min_features = r.u32()?;
    if max_features == 0 {
        return Err(DecodeError::new("max_features is 0"));
    }
    let cb = r.entries()?;
    let idf = r.entries()?;
    if r.at != body.len() {
        return Err(DecodeError::new("bytes after the IDF entries"));
    }
    let codebook = codebook::decode_entries(&cb)?;
    if codebook.is_binary() != feature.is_binary() {
        return Err(DecodeError::new(format!(
            "codebook kind does not match feature {feature}"
        )));
    }
    if codebook.words() < 2 {
        return Err(DecodeError::new("a codebook needs at least 2 words"));
    }
    let idf_chunks: Vec<Vec<u8>> = codebook::chunks_of(&idf, codebook::IDF)?
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    if idf_chunks.len() != idf.len() {
        return Err(DecodeError::new("an IDF entry that is not an IDF chunk"));
    }
    let idf = codebook::decode_idf(&idf_chunks, codebook.words())?;
    Ok(Decoded {
        settings: Settings {
            feature,
            max_side,
            max_pixels,
            max_features,
            min_features,
        },
        codebook,
        idf,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> (Settings, Codebook, Vec<f32>) {
        let centroids = ndarray::Array2::from_shape_vec((3, 2), vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5]);
        let settings = Settings {
            feature: Feature::Sift,
            max_side: 1024,
            max_pixels: 250_000_000,
            max_features: 2000,
            min_features: 50,
        };
        let codebook = Codebook::from_float(centroids.expect("shape"));
        (settings, codebook, vec![0.5, 1.0, 2.0])
    }

    #[test]
    fn round_trips_with_a_stable_id() {
        let (s, cb, idf) = parts();
        let (bytes, id) = encode(&s, &cb, &idf);
        let back = decode(&bytes).expect("decode");
        assert_eq!((back.settings, &back.codebook, &back.idf), (s, &cb, &idf));
        assert_eq!(back.id, id);
        assert_eq!(
            encode(&back.settings, &back.codebook, &back.idf),
            (bytes, id),
            "re-encoding is identical"
        );
        let mut other = idf.clone();
        other[0] = 0.25;
        assert_ne!(
            encode(&s, &cb, &other).1,
            id,
            "another IDF is another vocabulary"
        );
    }

    #[test]
    fn every_cut_and_every_flipped_byte_is_refused() {
        let (s, cb, idf) = parts();
        let (bytes, _) = encode(&s, &cb, &idf);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "prefix of {cut} bytes");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode(&b).is_err(), "byte {i} flipped");
        }
    }
}
