//! Exported vocabularies: decoding never panics, and whatever decodes
//! re-encodes to the same bytes and quantizes without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mmindex::features::Descriptors;
use mmindex::store::codec::exported;

fuzz_target!(|data: &[u8]| {
    // Raw input rarely passes the checksum: the first byte chooses between
    // the bytes as given and the bytes with a correct checksum appended.
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        bytes.extend_from_slice(&exported::fnv1a(rest).to_le_bytes());
    }
    if let Ok(d) = exported::decode(&bytes) {
        let (again, id) = exported::encode(&d.settings, &d.codebook, &d.idf);
        assert_eq!(id, d.id);
        assert_eq!(again, bytes);
        let w = d.codebook.width();
        let probe = if d.codebook.is_binary() {
            Descriptors::Binary {
                bytes: w,
                data: vec![0xa5; w],
            }
        } else {
            Descriptors::Float {
                dim: w,
                data: vec![0.5; w],
            }
        };
        let _ = d.codebook.quantize(&probe);
    }
});
