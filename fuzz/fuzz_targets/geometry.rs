//! Geometry values: decoding never panics, and what decodes re-encodes to
//! the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmindex::store::codec::geometry;

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = geometry::decode(data) {
        assert_eq!(geometry::encode(&g), data);
    }
});
