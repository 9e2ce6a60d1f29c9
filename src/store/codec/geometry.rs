//! The `g{N}.geometry` value: a record's features as (visual word, keypoint),
//! what geometric re-ranking compares without touching the image again.
//!
//! ```text
//! varint   n, the number of features
//! u8       flags: bit 0 = keypoints carry an orientation; other bits 0
//! u8       e: coordinates are stored as round(v · 2^e), 0 ≤ e ≤ 12
//! then n × varint  word − previous word (≥ 0: features are sorted by word)
//!          u16 LE  x · 2^e
//!          u16 LE  y · 2^e
//!          u8      size: round(16 · ln(size / 0.5)), saturated to 0..=255
//!          u8      angle: round(angle · 256 / 360) mod 256 (0 when unoriented)
//! ```
//! About 7 bytes per feature. `e` is the largest exponent that keeps every
//! coordinate below 2^16, so an image whose longer side is at most 1,024 px
//! (the default `max_side`) has coordinates to 1/64 px. A size step is 6%,
//! an angle step 1.4°: far finer than re-ranking's tolerances (docs/SCORING.md, "Geometric re-ranking").
//!
//! The words are the generation's: a rebuild writes new values.
//!
//! Geometry is optional per doc: docs added from words alone
//! ([`IndexWriter::add_words`](crate::IndexWriter::add_words)) and indexes
//! written before this tree existed have none, and are re-ranked as having
//! no inliers. When present, its words are exactly the doc's histogram
//! (`verify` checks it).

use super::{varint, DecodeError};
use crate::features::Keypoint;

/// Smallest keypoint size the log scale starts from.
const SIZE_BASE: f32 = 0.5;
/// Steps of the log scale per factor e.
const SIZE_STEPS: f32 = 16.0;
/// Largest coordinate exponent.
const MAX_SHIFT: u8 = 12;
/// Bytes of a feature after its word delta.
const FIXED: usize = 6;

/// One stored feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Its visual word.
    pub word: u32,
    /// Column, in pixels of the described image.
    pub x: f32,
    /// Row, in pixels of the described image.
    pub y: f32,
    /// Diameter of the described neighbourhood, in pixels.
    pub size: f32,
    /// Orientation in degrees in [0, 360), or -1 when unoriented.
    pub angle: f32,
}

/// A record's features, sorted by word (ties in extraction order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Geometry {
    /// The features.
    pub points: Vec<Point>,
}

impl Geometry {
    /// Pairs each feature's word with its keypoint (`words` and `keypoints`
    /// are parallel; extra entries of either are ignored).
    pub fn from_features(words: &[u32], keypoints: &[Keypoint]) -> Geometry {
        let mut points: Vec<Point> = words
            .iter()
            .zip(keypoints)
            .map(|(&word, k)| Point {
                word,
                x: k.x,
                y: k.y,
                size: k.size,
                angle: if k.angle >= 0.0 {
                    k.angle.rem_euclid(360.0)
                } else {
                    -1.0
                },
            })
            .collect();
        points.sort_by_key(|p| p.word);
        Geometry { points }
    }

    /// Whether every feature has an orientation.
    pub fn oriented(&self) -> bool {
        self.points.iter().all(|p| p.angle >= 0.0)
    }

    /// The (word, count) pairs: what the doc's histogram must hold.
    pub fn word_counts(&self) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = Vec::new();
        for p in &self.points {
            match out.last_mut() {
                Some((w, n)) if *w == p.word => *n += 1,
                _ => out.push((p.word, 1)),
            }
        }
        out
    }
}

/// Encodes a geometry; `points` must be sorted by word (as
/// [`Geometry::from_features`] leaves them).
pub fn encode(g: &Geometry) -> Vec<u8> {
    let oriented = g.oriented();
    let extent = g
        .points
        .iter()
        .map(|p| p.x.max(p.y))
        .fold(0f32, f32::max)
        .max(0.0);
    let e = shift_for(extent);
    let scale = f32::from(1u16 << e);
    let mut out = Vec::with_capacity(3 + g.points.len() * (FIXED + 1));
    varint::put(&mut out, g.points.len() as u64);
    out.push(u8::from(oriented));
    out.push(e);
    let mut prev = 0u32;
    for p in &g.points {
        varint::put(&mut out, u64::from(p.word.saturating_sub(prev)));
        prev = p.word;
        for v in [p.x, p.y] {
            // Coordinates of a described image are non-negative; a saturating
            // cast keeps any stray value in range.
            let q = (v * scale).round().clamp(0.0, 65535.0) as u16;
            out.extend_from_slice(&q.to_le_bytes());
        }
        let s = (SIZE_STEPS * (p.size.max(SIZE_BASE) / SIZE_BASE).ln())
            .round()
            .clamp(0.0, 255.0) as u8;
        let a = if oriented {
            ((p.angle * 256.0 / 360.0).round() as i64).rem_euclid(256) as u8
        } else {
            0
        };
        out.push(s);
        out.push(a);
    }
    out
}

/// The largest coordinate exponent that keeps `extent` below 65,535.
fn shift_for(extent: f32) -> u8 {
    let mut e = MAX_SHIFT;
    while e > 0 && extent * f32::from(1u16 << e) >= 65535.0 {
        e -= 1;
    }
    e
}

/// Decodes a geometry, checking every bound. Only the encoder's own output
/// decodes (one byte form per geometry), so a decoded value re-encodes to
/// the same bytes.
pub fn decode(b: &[u8]) -> Result<Geometry, DecodeError> {
    let mut pos = 0;
    let n = varint::get(b, &mut pos)?;
    let (flags, e) = match b.get(pos..pos + 2) {
        Some(&[f, e]) => (f, e),
        _ => return Err(DecodeError::new("geometry header is truncated")),
    };
    pos += 2;
    if flags > 1 {
        return Err(DecodeError::new(format!(
            "unknown geometry flags {flags:#x}"
        )));
    }
    if e > MAX_SHIFT {
        return Err(DecodeError::new(format!(
            "coordinate exponent {e} above {MAX_SHIFT}"
        )));
    }
    // Each feature takes at least FIXED + 1 bytes: refuse counts the value
    // cannot hold before allocating for them.
    if n > ((b.len() - pos) / (FIXED + 1)) as u64 {
        return Err(DecodeError::new(format!("geometry claims {n} features")));
    }
    let oriented = flags & 1 == 1;
    let scale = f32::from(1u16 << e);
    let mut points = Vec::with_capacity(n as usize);
    let mut word = 0u32;
    for _ in 0..n {
        let delta = varint::get_u32(b, &mut pos)?;
        word = word
            .checked_add(delta)
            .ok_or_else(|| DecodeError::new("geometry word overflows 32 bits"))?;
        let f = b
            .get(pos..pos + FIXED)
            .ok_or_else(|| DecodeError::new("geometry feature is truncated"))?;
        pos += FIXED;
        let x = f32::from(u16::from_le_bytes([f[0], f[1]])) / scale;
        let y = f32::from(u16::from_le_bytes([f[2], f[3]])) / scale;
        let size = SIZE_BASE * (f32::from(f[4]) / SIZE_STEPS).exp();
        let angle = if oriented {
            f32::from(f[5]) * 360.0 / 256.0
        } else if f[5] != 0 {
            return Err(DecodeError::new("angle stored for an unoriented feature"));
        } else {
            -1.0
        };
        points.push(Point {
            word,
            x,
            y,
            size,
            angle,
        });
    }
    if pos != b.len() {
        return Err(DecodeError::new(format!(
            "{} trailing bytes after the geometry",
            b.len() - pos
        )));
    }
    let geometry = Geometry { points };
    // An empty geometry counts as oriented, so that every value has one
    // byte form (else `00 00 0c` would decode and re-encode as `00 01 0c`).
    if oriented != geometry.oriented() {
        return Err(DecodeError::new(
            "orientation flag disagrees with the stored angles",
        ));
    }
    let extent = geometry
        .points
        .iter()
        .map(|p| p.x.max(p.y))
        .fold(0f32, f32::max);
    if e != shift_for(extent) {
        return Err(DecodeError::new(format!(
            "coordinate exponent {e} is not the one its coordinates give"
        )));
    }
    Ok(geometry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kp(x: f32, y: f32, size: f32, angle: f32) -> Keypoint {
        Keypoint { x, y, size, angle }
    }

    #[test]
    fn round_trip_is_close_and_reencoding_is_exact() {
        let g = Geometry::from_features(
            &[7, 3, 7, 1000],
            &[
                kp(10.25, 700.5, 3.2, 359.9),
                kp(0.0, 0.0, 0.1, 0.0),
                kp(1023.9, 511.0, 80.0, 90.0),
                kp(5.0, 6.0, 12.0, 181.0),
            ],
        );
        assert_eq!(
            g.points.iter().map(|p| p.word).collect::<Vec<_>>(),
            vec![3, 7, 7, 1000]
        );
        let bytes = encode(&g);
        assert!(bytes.len() <= 3 + 4 * 8, "{} bytes", bytes.len());
        let d = decode(&bytes).unwrap();
        for (a, b) in g.points.iter().zip(&d.points) {
            assert_eq!(a.word, b.word);
            assert!(
                (a.x - b.x).abs() < 0.02 && (a.y - b.y).abs() < 0.02,
                "{a:?} {b:?}"
            );
            assert!(
                (a.size.max(SIZE_BASE) / b.size).ln().abs() < 0.04,
                "{a:?} {b:?}"
            );
            let da = (a.angle - b.angle).rem_euclid(360.0);
            assert!(da.min(360.0 - da) < 0.8, "{a:?} {b:?}");
        }
        assert_eq!(encode(&d), bytes);
        assert_eq!(g.word_counts(), vec![(3, 1), (7, 2), (1000, 1)]);
    }

    #[test]
    fn large_images_lower_the_exponent_and_unoriented_points_keep_minus_one() {
        let g = Geometry::from_features(
            &[1, 2],
            &[kp(30000.0, 5.0, 4.0, -1.0), kp(1.0, 1.0, 4.0, 10.0)],
        );
        assert!(!g.oriented());
        let bytes = encode(&g);
        let d = decode(&bytes).unwrap();
        assert!((d.points[0].x - 30000.0).abs() < 1.0);
        assert!(d.points.iter().all(|p| p.angle == -1.0));
    }

    #[test]
    fn damaged_values_are_errors() {
        let g = Geometry::from_features(&[1, 5, 9], &[kp(1.0, 2.0, 3.0, 4.0); 3]);
        let bytes = encode(&g);
        for cut in 0..bytes.len() {
            assert!(
                decode(&bytes[..cut]).is_err(),
                "prefix of {cut} bytes decoded"
            );
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode(&long).is_err());
        let mut flags = bytes.clone();
        flags[1] = 0x80;
        assert!(decode(&flags).is_err());
        for e in [11, 13] {
            let mut shift = bytes.clone();
            shift[2] = e;
            assert!(decode(&shift).is_err(), "exponent {e}");
        }
        // A huge claimed count is refused before allocating.
        let mut huge = Vec::new();
        varint::put(&mut huge, u64::MAX >> 1);
        huge.extend_from_slice(&[1, 6]);
        assert!(decode(&huge).is_err());
        assert_eq!(decode(&[0, 1, 12]).unwrap(), Geometry::default());
        assert!(decode(&[0, 1, 0]).is_err(), "non-canonical exponent");
        assert!(decode(&[0, 0, 12]).is_err(), "non-canonical flag");
    }
}
