//! The header probe: arbitrary bytes never make it panic, and what it reads
//! is what the decoder allocates. When a probed header is small enough to
//! decode here, the decoded image (no downscaling) must have exactly the
//! probed size, up to the transposition an EXIF orientation applies.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mmindex::features::{extract_encoded, read_header, ExtractParams};
use mmindex::{Error, Feature, IndexConfig};

/// Decoding is checked up to this many pixels, to keep runs fast.
const DECODE_PIXELS: u64 = 1 << 22;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("<fuzz>");
    let header = match read_header(data, path) {
        Ok(h) => h,
        Err(Error::Image { .. }) => return,
        Err(e) => panic!("unexpected error kind: {e}"),
    };
    assert!(header.width > 0 && header.height > 0, "{header:?}");
    assert!(header.buffer_pixels() >= header.pixels(), "{header:?}");
    if header.buffer_pixels() > DECODE_PIXELS {
        return;
    }
    let cfg = IndexConfig {
        feature: Feature::Orb,
        max_pixels: DECODE_PIXELS,
        max_side: 0,
        ..IndexConfig::default()
    };
    match extract_encoded(data, path, &ExtractParams::from(&cfg)) {
        Ok(f) => {
            let (w, h) = (header.width, header.height);
            assert!(
                f.size == (w, h) || f.size == (h, w),
                "probed {w}x{h}, decoded {}x{}",
                f.size.0,
                f.size.1
            );
        }
        Err(Error::Image { .. }) => {}
        Err(e) => panic!("unexpected error kind: {e}"),
    }
});
