//! JPEG marker segments, walked the way libjpeg reads them (`jdmarker.c`).
//!
//! libjpeg takes the image size from the first start-of-frame marker it
//! meets, and how it meets markers decides which bytes that is:
//! - between segments it skips any bytes that are not `FF` (with a
//!   warning), any run of `FF` fill bytes, and `FF 00`;
//! - TEM (`FF 01`), RST0–7 (`FF D0`–`FF D7`) stand alone, with no length;
//! - every other known marker is followed by a 2-byte length that covers
//!   its payload, and the payload (an APPn's, say) is never parsed for
//!   markers;
//! - a second SOI, a scan before a frame, an end of image before the first
//!   scan, and unknown markers are fatal.
//!
//! Reading a length after a standalone marker lands the walk inside some
//! payload, where a crafted file can place a small fake frame header while
//! libjpeg decodes the real, huge one.

use std::ops::Range;

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const TEM: u8 = 0x01;

/// One marker as libjpeg reads it.
struct Marker {
    code: u8,
    /// The payload after the length bytes; empty for standalone markers,
    /// cut short where the data ends.
    payload: Range<usize>,
}

/// The markers of a JPEG from the one after SOI, in libjpeg's order.
struct Walk<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Walk<'a> {
    fn new(b: &'a [u8]) -> Result<Self, &'static str> {
        if !b.starts_with(&[0xFF, SOI]) {
            return Err("no start-of-image marker");
        }
        Ok(Walk { b, at: 2 })
    }

    fn next_marker(&mut self) -> Result<Marker, &'static str> {
        let b = self.b;
        let code = loop {
            while self.at < b.len() && b[self.at] != 0xFF {
                self.at += 1;
            }
            while self.at < b.len() && b[self.at] == 0xFF {
                self.at += 1;
            }
            let Some(&code) = b.get(self.at) else {
                return Err("the data ends before the first scan");
            };
            self.at += 1;
            // `FF 00` is stuffed data, discarded like stray bytes.
            if code != 0 {
                break code;
            }
        };
        match code {
            TEM | 0xD0..=0xD7 => Ok(Marker {
                code,
                payload: self.at..self.at,
            }),
            SOI => Err("a second start-of-image marker"),
            EOI => Err("an end-of-image marker before the first scan"),
            // JPG: reserved, refused by libjpeg.
            0xC8 => Err("a JPG marker"),
            // SOFn, DHT, DAC, SOS, DQT, DNL, DRI, APPn, COM.
            0xC0..=0xCF | 0xDA..=0xDD | 0xE0..=0xEF | 0xFE => {
                let len = super::be16(b, self.at).ok_or("the data ends in a segment length")?;
                if len < 2 {
                    return Err("a segment length below 2");
                }
                let start = self.at + 2;
                self.at += usize::from(len);
                Ok(Marker {
                    code,
                    payload: start..self.at.min(b.len()),
                })
            }
            _ => Err("an unknown marker"),
        }
    }
}

/// Whether `code` is a start-of-frame marker (SOF0–SOF15 less DHT, JPG and
/// DAC). libjpeg decodes SOF0, 1, 2, 9 and 10 and refuses the others after
/// reading their size, so all of them count as the frame.
fn is_frame(code: u8) -> bool {
    matches!(code, 0xC0..=0xCF) && !matches!(code, 0xC4 | 0xC8 | 0xCC)
}

/// Width and height from the frame header libjpeg reads.
pub(super) fn frame_size(b: &[u8]) -> Result<(u32, u32), &'static str> {
    let mut walk = Walk::new(b)?;
    loop {
        let m = walk.next_marker()?;
        if is_frame(m.code) {
            // Precision, then height and width.
            let p = &b[m.payload];
            if p.len() < 5 {
                return Err("a truncated frame header");
            }
            let h = u16::from_be_bytes([p[1], p[2]]);
            let w = u16::from_be_bytes([p[3], p[4]]);
            return Ok((u32::from(w), u32::from(h)));
        }
        if m.code == SOS {
            return Err("a scan before the frame header");
        }
    }
}

/// Whether a JPEG's entropy-coded data reaches an end-of-image marker.
///
/// libjpeg only warns about a truncated file and fills the missing rows with
/// grey, so truncation must be caught here. Data after the EOI (camera
/// trailers, appended videos) is allowed.
#[cfg(test)]
pub(crate) fn is_complete(b: &[u8]) -> bool {
    scans(b).is_some()
}

/// Most scans a JPEG may have. libjpeg passes over every block of the image
/// once per scan, and neither the pixel limit nor a reduced-size decode
/// bounds that time: a small progressive file of tens of thousands of
/// one-coefficient scans over a large frame would hold a core for hours.
/// Encoders write 1 (baseline) to about 12 (progressive) scans.
pub(crate) const MAX_SCANS: u32 = 256;

/// The scans of a complete JPEG (up to the end-of-image marker), or `None`
/// when the data does not reach one (see [`is_complete`]).
pub(crate) fn scans(b: &[u8]) -> Option<u32> {
    let Ok(mut walk) = Walk::new(b) else {
        return None;
    };
    let mut i = loop {
        match walk.next_marker() {
            Ok(m) if m.code == SOS => break walk.at,
            Ok(_) => {}
            Err(_) => return None,
        }
    };
    let mut scans = 1u32;
    // Entropy-coded data: 0xFF is followed by 0x00 (stuffing), a restart
    // marker, a fill byte, or a real marker (another scan's segments in
    // progressive files).
    while i + 1 < b.len() {
        if b[i] == 0xFF {
            match b[i + 1] {
                EOI => return Some(scans),
                0xFF => i += 1,
                SOS => {
                    scans = scans.saturating_add(1);
                    i += 2;
                }
                _ => i += 2,
            }
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_without_eoi() {
        // SOI, a SOS segment of length 2, two data bytes, EOI.
        let full = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0x34, 0xFF, 0xD9];
        assert!(is_complete(&full));
        assert!(!is_complete(&full[..8]));
        assert!(!is_complete(&full[..5]));
        // A fill byte before the EOI.
        let fill = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF, 0xFF, 0xD9];
        assert!(is_complete(&fill));
    }

    #[test]
    fn scans_are_counted_to_the_end_of_image() {
        // SOI, SOS (length 2), data, a second SOS, data, EOI.
        let two = [
            0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0x12, 0xFF, 0xDA, 0x00, 0x02, 0x34, 0xFF, 0xD9,
        ];
        assert_eq!(scans(&two), Some(2));
        assert_eq!(scans(&two[..12]), None);
    }

    #[test]
    fn fatal_markers_are_refused() {
        for (bytes, why) in [
            (
                &[0xFF, 0xD8, 0xFF, 0xD8][..],
                "a second start-of-image marker",
            ),
            (&[0xFF, 0xD8, 0xFF, 0xD9], "an end-of-image marker"),
            (&[0xFF, 0xD8, 0xFF, 0xDA, 0, 2], "a scan before"),
            (&[0xFF, 0xD8, 0xFF, 0x02], "an unknown marker"),
            (&[0xFF, 0xD8, 0xFF, 0xE1, 0, 1], "a segment length below 2"),
            (&[0xFF, 0xD8, 0xFF, 0xE1, 0, 9, 1], "the data ends"),
            (&[0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8, 1], "a truncated frame"),
        ] {
            match frame_size(bytes) {
                Err(e) => assert!(e.contains(why), "{bytes:02x?}: {e}"),
                Ok(d) => panic!("{bytes:02x?}: {d:?}"),
            }
        }
    }
}
