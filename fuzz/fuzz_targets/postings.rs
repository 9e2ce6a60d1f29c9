//! Posting blocks and keys, in both layouts: decoding never panics, and
//! what decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmindex::store::codec::{keys, postings, Layout};

fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let (key, value) = data.split_at(12);
    let Ok((_, first)) = keys::posting_from(key) else { return };
    for layout in [Layout::Varint, Layout::Packed] {
        if let Ok(p) = postings::decode(layout, first, value) {
            assert_eq!(postings::encode(layout, first, &p), value);
        }
    }
});
