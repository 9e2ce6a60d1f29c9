//! Posting blocks and keys: decoding never panics, and what decodes
//! re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmindex::store::codec::{keys, postings};

fuzz_target!(|data: &[u8]| {
    if data.len() < 12 {
        return;
    }
    let (key, value) = data.split_at(12);
    let Ok((_, first)) = keys::posting_from(key) else { return };
    if let Ok(p) = postings::decode(first, value) {
        assert_eq!(postings::encode(first, &p), value);
    }
});
