//! Doc records, meta integers and the stored configuration: decoding never
//! panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmindex::store::codec::{doc, meta};

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = doc::decode(data) {
        assert_eq!(doc::decode(&doc::encode(&d)), Ok(d));
    }
    let _ = meta::u32_from(data);
    let _ = meta::u64_from(data);
    let _ = meta::decode_config(data);
});
