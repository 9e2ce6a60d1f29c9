//! The `g{N}.geometry` value: a record's features as (visual word, keypoint),
//! what geometric re-ranking compares without touching the image again.
//!
//! Features are sorted by word (ties in extraction order), so they run
//! parallel to the doc's histogram: word w with tf t is t features in a row.
//! A generation stores its geometry in one of three forms ([`Form`]).
//!
//! [`Form::Narrow`] (generations created by format 5), 3 bytes a feature,
//! and [`Form::Packed`] (format 4), 4 bytes a feature, both with the words
//! implied by the histogram:
//!
//! ```text
//! varint   n, the number of features (the sum of the histogram's tfs)
//! u8       flags: bit 0 = keypoints carry an orientation; other bits 0
//! u8       s, 0 ≤ s ≤ 24: coordinates are cut into cells of 2^(12 − s) px
//!          (1 px when s = 12), the largest s whose cells number under
//!          C across the largest coordinate
//! then n × one little-endian value of B bytes, from bit 0 up:
//!          x cell: floor(x · 2^(s − 12)), c bits, read back as its centre
//!          y cell, likewise
//!          size: round(k · ln(size · 2^(s − 12) / b)), z bits, saturated
//!          angle: round(angle · 2^a / 360) mod 2^a, a bits (0 when unoriented)
//!
//!          form    B  C      c   z  k  b     a   size off by  angle off by
//!          Narrow  3  128    7   5  6  1/4   5   ≤ 8.7%       ≤ 5.6°
//!          Packed  4  1,024  10  6  8  1/2   6   ≤ 6.5%       ≤ 2.8°
//! ```
//! Cells number between C/2 and C across the largest coordinate, so a
//! coordinate is off by at most half a cell, at most 1/C of the image's
//! extent. Sizes are measured in cells, so every image's keypoints fit the
//! size bits whatever its resolution; sizes under b cells are stored as b
//! cells: in the narrow form, 2 px for a photo of 512–1,023 px, just above
//! SIFT's smallest keypoints (about 1.8 px at the default `max_side`). Both
//! forms stay within re-ranking's tolerances (2.5% of the extent, scales
//! within 1.8×, angles within 30°, docs/SCORING.md, "Geometric
//! re-ranking"); on the hard benchmark the narrow form ranks every
//! feature's verification as the packed one, within noise
//! (docs/EVALUATION.md, "Geometry precision").
//!
//! [`Form::Listed`] (generations of formats 1–3), about 7 bytes a feature,
//! each carrying its word:
//!
//! ```text
//! varint   n, the number of features
//! u8       flags: bit 0 = keypoints carry an orientation; other bits 0
//! u8       e: coordinates are stored as round(v · 2^e), 0 ≤ e ≤ 12
//! then n × varint  word − previous word (≥ 0)
//!          u16 LE  x · 2^e
//!          u16 LE  y · 2^e
//!          u8      size: round(16 · ln(size / 0.5)), saturated to 0..=255
//!          u8      angle: round(angle · 256 / 360) mod 256 (0 when unoriented)
//! ```
//! `e` is the largest exponent that keeps every coordinate below 2^16.
//!
//! The words are the generation's: a rebuild writes new values. A
//! generation keeps the form it was created with, so that adding records to
//! an index leaves it readable by the build that created it.
//!
//! Geometry is optional per doc: docs added from words alone
//! ([`IndexWriter::add_words`](crate::IndexWriter::add_words)) and indexes
//! written before this tree existed have none, and are re-ranked as having
//! no inliers. When present, its words are exactly the doc's histogram
//! (`verify` checks it; the packed form cannot hold other words).

use super::{varint, DecodeError};
use crate::features::Keypoint;

/// How a generation's geometry values are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Form {
    /// Each feature with its word, 7 bytes: generations of formats 1–3.
    Listed,
    /// 4 bytes a feature, words from the histogram: format 4.
    Packed,
    /// 3 bytes a feature, words from the histogram: format 5.
    Narrow,
}

impl Form {
    /// Whether the form takes its words from the doc's histogram.
    pub fn uses_histogram(self) -> bool {
        grid(self).is_some()
    }

    /// The value of the generation stats' `geometry` key naming this form
    /// (`[1]` packed, `[2]` narrow); a listed generation has no such key.
    pub fn marker(self) -> Option<[u8; 1]> {
        match self {
            Form::Listed => None,
            Form::Packed => Some([1]),
            Form::Narrow => Some([2]),
        }
    }

    /// The form a generation's stats name: `None` (no `geometry` key) is
    /// listed.
    pub fn from_marker(marker: Option<&[u8]>) -> Result<Form, DecodeError> {
        match marker {
            None => Ok(Form::Listed),
            Some([1]) => Ok(Form::Packed),
            Some([2]) => Ok(Form::Narrow),
            Some(other) => Err(DecodeError::new(format!(
                "unknown geometry form {other:02x?}"
            ))),
        }
    }
}

/// Smallest keypoint size the listed form's log scale starts from, px.
const SIZE_BASE: f32 = 0.5;
/// Steps of the listed form's log scale per factor e.
const SIZE_STEPS: f32 = 16.0;
/// Largest coordinate exponent of the listed form.
const MAX_SHIFT: u8 = 12;
/// Bytes of a listed feature after its word delta.
const FIXED: usize = 6;

/// The packed cell exponent at which a cell is 1 px.
const UNIT_STEP: i32 = 12;
/// Largest packed cell exponent (cells of 2^-12 px).
const MAX_STEP: u8 = 24;

/// One packed form's bit budget (the table in the module docs).
struct Grid {
    /// Bytes a feature.
    bytes: usize,
    /// Bits of a cell coordinate: 2^cell_bits cells across.
    cell_bits: u32,
    /// Bits of the size code.
    size_bits: u32,
    /// Size codes per factor e.
    size_steps: f32,
    /// The size of code 0, in cells: smaller sizes are stored as it.
    size_base: f32,
    /// Bits of the angle code.
    angle_bits: u32,
    /// The size codes' sizes in cells, `size_base · e^(code / size_steps)`.
    sizes: &'static std::sync::OnceLock<Vec<f32>>,
}

static PACKED_SIZES: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
static NARROW_SIZES: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();

static PACKED: Grid = Grid {
    bytes: 4,
    cell_bits: 10,
    size_bits: 6,
    size_steps: 8.0,
    size_base: 0.5,
    angle_bits: 6,
    sizes: &PACKED_SIZES,
};

static NARROW: Grid = Grid {
    bytes: 3,
    cell_bits: 7,
    size_bits: 5,
    size_steps: 6.0,
    size_base: 0.25,
    angle_bits: 5,
    sizes: &NARROW_SIZES,
};

/// The bit budget of a form whose words come from the histogram.
fn grid(form: Form) -> Option<&'static Grid> {
    match form {
        Form::Listed => None,
        Form::Packed => Some(&PACKED),
        Form::Narrow => Some(&NARROW),
    }
}

impl Grid {
    fn cells(&self) -> f32 {
        (1u32 << self.cell_bits) as f32
    }

    fn cell_mask(&self) -> u32 {
        (1 << self.cell_bits) - 1
    }

    fn size_shift(&self) -> u32 {
        2 * self.cell_bits
    }

    fn angle_shift(&self) -> u32 {
        2 * self.cell_bits + self.size_bits
    }

    fn size_codes(&self) -> u32 {
        1 << self.size_bits
    }

    fn angle_codes(&self) -> u32 {
        1 << self.angle_bits
    }

    fn sizes(&self) -> &[f32] {
        self.sizes.get_or_init(|| {
            (0..self.size_codes())
                .map(|code| self.size_base * (code as f32 / self.size_steps).exp())
                .collect()
        })
    }

    /// The largest cell exponent whose cells number under `cells()` across
    /// `extent`.
    fn step_for(&self, extent: f32) -> u8 {
        let mut s = MAX_STEP;
        while s > 0 && extent * cells_per_px(s) >= self.cells() {
            s -= 1;
        }
        s
    }
}

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

/// Encodes a geometry in `form`; `points` must be sorted by word (as
/// [`Geometry::from_features`] leaves them).
pub fn encode(form: Form, g: &Geometry) -> Vec<u8> {
    match form {
        Form::Listed => encode_listed(g),
        Form::Packed => encode_packed(&PACKED, g),
        Form::Narrow => encode_packed(&NARROW, g),
    }
}

fn encode_listed(g: &Geometry) -> Vec<u8> {
    let oriented = g.oriented();
    let e = shift_for(extent(&g.points));
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

/// The head both forms share: the feature count, the flags (only bit 0
/// known) and the coordinate exponent, and where the features start.
fn header(b: &[u8]) -> Result<(u64, u8, u8, usize), DecodeError> {
    let mut pos = 0;
    let n = varint::get(b, &mut pos)?;
    let (flags, e) = match b.get(pos..pos + 2) {
        Some(&[f, e]) => (f, e),
        _ => return Err(DecodeError::new("geometry header is truncated")),
    };
    if flags > 1 {
        return Err(DecodeError::new(format!(
            "unknown geometry flags {flags:#x}"
        )));
    }
    Ok((n, flags, e, pos + 2))
}

/// Decodes a [`Form::Listed`] geometry, checking every bound. Only the
/// encoder's own output decodes (one byte form per geometry), so a decoded
/// value re-encodes to the same bytes.
pub fn decode_listed(b: &[u8]) -> Result<Geometry, DecodeError> {
    let (n, flags, e, mut pos) = header(b)?;
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
    if e != shift_for(extent(&geometry.points)) {
        return Err(DecodeError::new(format!(
            "coordinate exponent {e} is not the one its coordinates give"
        )));
    }
    Ok(geometry)
}

/// The cell size of exponent `s`, in cells per pixel: 2^(s − 12), exact.
fn cells_per_px(s: u8) -> f32 {
    2f32.powi(i32::from(s) - UNIT_STEP)
}

fn encode_packed(grid: &Grid, g: &Geometry) -> Vec<u8> {
    let oriented = g.oriented();
    let s = grid.step_for(extent(&g.points));
    let f = cells_per_px(s);
    let mut out = Vec::with_capacity(12 + g.points.len() * grid.bytes);
    varint::put(&mut out, g.points.len() as u64);
    out.push(u8::from(oriented));
    out.push(s);
    let top_cell = grid.cells() - 1.0;
    let cell = |v: f32| (v * f).floor().clamp(0.0, top_cell) as u32;
    let top_size = (grid.size_codes() - 1) as f32;
    let angles = grid.angle_codes();
    for p in &g.points {
        let base = grid.size_base;
        let size = (grid.size_steps * ((p.size * f).max(base) / base).ln())
            .round()
            .clamp(0.0, top_size) as u32;
        let angle = if oriented {
            ((p.angle * angles as f32 / 360.0).round() as i64).rem_euclid(i64::from(angles)) as u32
        } else {
            0
        };
        let v = cell(p.x)
            | cell(p.y) << grid.cell_bits
            | size << grid.size_shift()
            | angle << grid.angle_shift();
        out.extend_from_slice(&v.to_le_bytes()[..grid.bytes]);
    }
    out
}

/// Decodes a geometry of a form whose words come from the histogram
/// ([`Form::uses_histogram`]) for a doc with the histogram `entries`
/// ((word, tf), increasing by word), checking every bound. Only the
/// encoder's own output decodes, so a decoded value re-encodes to the same
/// bytes.
pub fn decode_packed(
    form: Form,
    b: &[u8],
    entries: &[(u32, u32)],
) -> Result<Geometry, DecodeError> {
    let mut points = Vec::new();
    decode_packed_where(form, b, entries, |_| true, &mut points)?;
    Ok(Geometry { points })
}

/// What re-ranking needs of a whole geometry when only some of its
/// features are decoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outline {
    /// The largest coordinate of any feature (0 when empty).
    pub extent: f32,
    /// Whether every feature has an orientation (true when empty).
    pub oriented: bool,
}

impl Outline {
    /// The outline of a fully decoded geometry.
    pub fn of(g: &Geometry) -> Outline {
        Outline {
            extent: extent(&g.points),
            oriented: g.oriented(),
        }
    }
}

/// Decodes into `out` (cleared first) only the features whose word `keep`
/// accepts; `keep` is asked once per histogram entry, in word order. The
/// whole value is checked as [`decode_packed`] checks it, and the outline
/// is that of every feature.
pub fn decode_packed_where(
    form: Form,
    b: &[u8],
    entries: &[(u32, u32)],
    keep: impl FnMut(u32) -> bool,
    out: &mut Vec<Point>,
) -> Result<Outline, DecodeError> {
    out.clear();
    // A feature's width is a constant of each decoder, so that reading a
    // feature is one fixed-size load in re-ranking's loop.
    match form {
        Form::Packed => decode_grid::<4>(&PACKED, b, entries, keep, out),
        Form::Narrow => decode_grid::<3>(&NARROW, b, entries, keep, out),
        Form::Listed => Err(DecodeError::new(
            "a listed geometry carries its words: not decoded with a histogram",
        )),
    }
}

/// The little-endian value of a feature of `W` bytes.
#[inline(always)]
fn feature_value<const W: usize>(chunk: &[u8]) -> u32 {
    const { assert!(W <= 4) };
    let mut le = [0u8; 4];
    le[..W].copy_from_slice(&chunk[..W]);
    u32::from_le_bytes(le)
}

/// [`decode_packed_where`] for a grid of `W`-byte features
/// (`grid.bytes == W`).
fn decode_grid<const W: usize>(
    grid: &Grid,
    b: &[u8],
    entries: &[(u32, u32)],
    mut keep: impl FnMut(u32) -> bool,
    out: &mut Vec<Point>,
) -> Result<Outline, DecodeError> {
    debug_assert_eq!(grid.bytes, W);
    let width = W;
    let (n, flags, s, pos) = header(b)?;
    if s > MAX_STEP {
        return Err(DecodeError::new(format!(
            "cell exponent {s} above {MAX_STEP}"
        )));
    }
    let body = &b[pos..];
    if body.len() as u64 != n.saturating_mul(width as u64) {
        return Err(DecodeError::new(format!(
            "geometry of {n} features has {} bytes of features",
            body.len()
        )));
    }
    let features: u64 = entries.iter().map(|&(_, tf)| u64::from(tf)).sum();
    if features != n {
        return Err(DecodeError::new(format!(
            "geometry holds {n} features, its histogram {features}"
        )));
    }
    let oriented = flags & 1 == 1;
    // An empty geometry counts as oriented (one byte form per value).
    if n == 0 && !oriented {
        return Err(DecodeError::new(
            "orientation flag disagrees with the stored angles",
        ));
    }
    let f = cells_per_px(s);
    let sizes = grid.sizes();
    let mask = grid.cell_mask();
    let (size_shift, angle_shift) = (grid.size_shift(), grid.angle_shift());
    let size_mask = grid.size_codes() - 1;
    let degrees_per_code = 360.0 / grid.angle_codes() as f32;
    let centre = |c: u32| (c as f32 + 0.5) / f;
    // What every feature must satisfy, in one branch-free pass: the largest
    // cell (the canonical exponent's check) and any angle bits.
    let (mut top, mut angles) = (0u32, 0u32);
    for chunk in body.chunks_exact(width) {
        let v = feature_value::<W>(chunk);
        top = top.max(v & mask).max((v >> grid.cell_bits) & mask);
        angles |= v >> angle_shift;
    }
    if !oriented && angles != 0 {
        return Err(DecodeError::new("angle stored for an unoriented feature"));
    }
    let top_cell = (n > 0).then_some(top);
    // Then only the wanted words' features: feature k is bytes
    // width·k..width·(k + 1).
    let mut first = 0usize;
    for &(word, tf) in entries {
        // The tfs sum to n (checked above), so every range is in the body.
        let end = first + tf as usize;
        if keep(word) {
            for chunk in body[first * width..end * width].chunks_exact(width) {
                let v = feature_value::<W>(chunk);
                out.push(Point {
                    word,
                    x: centre(v & mask),
                    y: centre((v >> grid.cell_bits) & mask),
                    // The mask keeps the code below the table's length.
                    size: sizes[((v >> size_shift) & size_mask) as usize] / f,
                    angle: if oriented {
                        (v >> angle_shift) as f32 * degrees_per_code
                    } else {
                        -1.0
                    },
                });
            }
        }
        first = end;
    }
    let extent = top_cell.map_or(0.0, centre);
    if s != grid.step_for(extent) {
        return Err(DecodeError::new(format!(
            "cell exponent {s} is not the one its coordinates give"
        )));
    }
    Ok(Outline { extent, oriented })
}

/// The largest coordinate of `points` (0 when empty).
fn extent(points: &[Point]) -> f32 {
    points.iter().map(|p| p.x.max(p.y)).fold(0f32, f32::max)
}

#[cfg(test)]
mod tests;
