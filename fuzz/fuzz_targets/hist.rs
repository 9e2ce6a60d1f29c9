//! Histogram values: decoding never panics, and what decodes re-encodes to
//! the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmindex::store::codec::hist;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = hist::decode(data) {
        assert_eq!(hist::encode(&h), data);
    }
});
