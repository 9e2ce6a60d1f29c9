//! Doc records, meta integers, the stored configuration, a generation's
//! unsealed docs' state and the commit ledger: decoding never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmindex::store::codec::{doc, ledger, meta, unsealed};

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = doc::decode(data) {
        assert_eq!(doc::decode(&doc::encode(&d)), Ok(d));
    }
    let _ = meta::u32_from(data);
    let _ = meta::u64_from(data);
    let _ = meta::decode_config(data);
    if let Ok(t) = unsealed::decode(data) {
        assert_eq!(unsealed::decode(&unsealed::encode(&t)), Ok(t));
    }
    if let Ok(n) = ledger::decode(data) {
        assert_eq!(ledger::encode(n).as_slice(), data);
    }
});
