//! Histogram values, in both layouts: decoding never panics, and what
//! decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmindex::store::codec::{hist, Layout};

fuzz_target!(|data: &[u8]| {
    for layout in [Layout::Varint, Layout::Packed] {
        if let Ok(h) = hist::decode(layout, data) {
            assert_eq!(hist::encode(layout, &h), data);
        }
    }
});
