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
        let sum = rest.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
            (h ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        bytes.extend_from_slice(&sum.to_le_bytes());
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
