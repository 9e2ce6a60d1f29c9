//! TIFF: the size from the first directory (IFD0), which is the page
//! OpenCV's `imdecode` reads, and the tile or strip its buffer is sized by.
//!
//! OpenCV allocates one tile (or strip) of 4-byte pixels at a time and
//! libtiff clears all of it, so a 100×100 image in 16384×16384 tiles costs
//! a gigabyte: the probe reports such a block with the size.

use super::Block;

const IMAGE_WIDTH: u16 = 256;
const IMAGE_LENGTH: u16 = 257;
const ROWS_PER_STRIP: u16 = 278;
const TILE_WIDTH: u16 = 322;
const TILE_LENGTH: u16 = 323;
const TAGS: [u16; 5] = [
    IMAGE_WIDTH,
    IMAGE_LENGTH,
    ROWS_PER_STRIP,
    TILE_WIDTH,
    TILE_LENGTH,
];

/// Width, height and the decoder's block when larger than the image.
///
/// The size fields must be single SHORT or LONG values, as libtiff requires
/// of them (it converts a few other integer types, which are refused here);
/// a duplicate is refused too (libtiff would take the first).
pub(super) fn probe(b: &[u8]) -> Result<(u32, u32, Option<Block>), String> {
    let big = b.starts_with(b"MM");
    let u16_at = |at: usize| {
        super::bytes::<2>(b, at).map(|v| {
            if big {
                u16::from_be_bytes(v)
            } else {
                u16::from_le_bytes(v)
            }
        })
    };
    let u32_at = |at: usize| {
        super::bytes::<4>(b, at).map(|v| {
            if big {
                u32::from_be_bytes(v)
            } else {
                u32::from_le_bytes(v)
            }
        })
    };
    let ifd = u32_at(4).ok_or("truncated header")? as usize;
    let count = u16_at(ifd).ok_or("the first directory is outside the file")?;
    let mut values: [Option<u32>; 5] = [None; 5];
    for i in 0..usize::from(count) {
        let at = ifd.saturating_add(2 + 12 * i);
        let tag = u16_at(at).ok_or("the first directory is truncated")?;
        let Some(slot) = TAGS.iter().position(|&t| t == tag) else {
            continue;
        };
        let typ = u16_at(at.saturating_add(2)).ok_or("the first directory is truncated")?;
        let n = u32_at(at.saturating_add(4)).ok_or("the first directory is truncated")?;
        if n != 1 {
            return Err(format!("tag {tag} has {n} values"));
        }
        let value = match typ {
            3 => u32::from(u16_at(at.saturating_add(8)).ok_or("the first directory is truncated")?),
            4 => u32_at(at.saturating_add(8)).ok_or("the first directory is truncated")?,
            _ => return Err(format!("tag {tag} has type {typ}, not SHORT or LONG")),
        };
        if values[slot].replace(value).is_some() {
            return Err(format!("tag {tag} appears twice"));
        }
    }
    let [w, h, rows, tile_w, tile_h] = values;
    let w = w.ok_or("no ImageWidth")?;
    let h = h.ok_or("no ImageLength")?;
    // OpenCV takes a missing or zero tile side, and a strip height of zero
    // or 2^32-1 (libtiff's "one strip"), as the image's.
    let or_image = |v: Option<u32>, side: u32| v.filter(|&v| v != 0).unwrap_or(side);
    let block = if tile_w.is_some() || tile_h.is_some() {
        Block::Tiles(or_image(tile_w, w), or_image(tile_h, h))
    } else {
        Block::Strips(w, or_image(rows.filter(|&r| r != u32::MAX), h))
    };
    let larger = block.pixels() > u64::from(w) * u64::from(h);
    Ok((w, h, larger.then_some(block)))
}
