//! Codebook header, centroid chunks and IDF chunks: decoding never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmindex::store::codec::codebook;

fuzz_target!(|data: &[u8]| {
    let split = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
    let (head, rest) = data.split_at(split);
    if let Ok(h) = codebook::decode_header(head) {
        let chunks: Vec<Vec<u8>> = rest.chunks(4096).map(<[u8]>::to_vec).collect();
        let _ = codebook::decode(&h, &chunks);
        let _ = codebook::decode_idf(&chunks, h.words as usize);
    }
});
