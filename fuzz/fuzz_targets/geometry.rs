//! Geometry values in every form: decoding never panics, and what decodes
//! re-encodes to the same bytes. For the forms that take their words from
//! the histogram (packed, narrow), the input's first byte k is followed by
//! k (word gap, tf) byte pairs: the histogram the value is decoded against.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmindex::store::codec::geometry::{self, Form};

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = geometry::decode_listed(data) {
        assert_eq!(geometry::encode(Form::Listed, &g), data);
    }
    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    let k = usize::from(k % 32);
    let Some((hist, value)) = rest.split_at_checked(2 * k) else {
        return;
    };
    let mut word = 0u32;
    let entries: Vec<(u32, u32)> = hist
        .chunks_exact(2)
        .enumerate()
        .map(|(i, p)| {
            word += u32::from(p[0]) + u32::from(i > 0);
            (word, u32::from(p[1] % 8) + 1)
        })
        .collect();
    for form in [Form::Packed, Form::Narrow] {
        if let Ok(g) = geometry::decode_packed(form, value, &entries) {
            assert_eq!(geometry::encode(form, &g), value);
            assert_eq!(g.word_counts(), entries);
        }
    }
});
