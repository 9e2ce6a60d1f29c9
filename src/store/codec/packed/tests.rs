use super::*;
use proptest::prelude::*;

fn decode_all(b: &[u8], n: usize) -> Result<Vec<(u64, u32)>, DecodeError> {
    let mut pos = 0;
    let mut out = Vec::new();
    let (mut g, mut t) = ([0u64; FRAME], [0u32; FRAME]);
    let mut left = n;
    while left > 0 {
        let m = left.min(FRAME);
        get_frame(b, &mut pos, &mut g[..m], &mut t[..m])?;
        out.extend(g[..m].iter().copied().zip(t[..m].iter().copied()));
        left -= m;
    }
    if pos != b.len() {
        return Err(DecodeError::new("trailing"));
    }
    Ok(out)
}

proptest! {
    #[test]
    fn round_trip(pairs in proptest::collection::vec((any::<u64>().prop_map(|v| v >> (v % 64)), 1u32..=u32::MAX), 0..600)) {
        let mut b = Vec::new();
        put(&mut b, &pairs);
        prop_assert_eq!(decode_all(&b, pairs.len()).unwrap(), pairs);
    }

    /// Narrow widths take the specialised unpacking when 8 bytes follow
    /// the field and the general one otherwise: both must agree with
    /// the encoder, at every width.
    #[test]
    fn narrow_widths_round_trip(
        raw in proptest::collection::vec((any::<u64>(), any::<u32>()), 128..520),
        gw in 1u32..=32,
        tw in 0u32..=32,
    ) {
        let pairs: Vec<(u64, u32)> = raw
            .iter()
            .enumerate()
            .map(|(i, &(g, t))| {
                // Every 40th value keeps its high bits: an exception.
                let g = if i % 40 == 7 { g } else { g & ((1u64 << gw) - 1) };
                let t = if tw == 0 { 0 } else { t & (u32::MAX >> (32 - tw)) };
                (g, t.saturating_add(1))
            })
            .collect();
        let mut b = Vec::new();
        put(&mut b, &pairs);
        prop_assert_eq!(&decode_all(&b, pairs.len()).unwrap(), &pairs);
        // The same frames with slack after the value.
        let mut padded = b.clone();
        padded.extend_from_slice(&[0xAA; 16]);
        let (mut pos, mut got) = (0, Vec::new());
        let (mut g, mut t) = ([0u64; FRAME], [0u32; FRAME]);
        for chunk in pairs.chunks(FRAME) {
            let m = chunk.len();
            get_frame(&padded, &mut pos, &mut g[..m], &mut t[..m]).unwrap();
            got.extend(g[..m].iter().copied().zip(t[..m].iter().copied()));
        }
        prop_assert_eq!(pos, b.len());
        prop_assert_eq!(got, pairs);
    }

    #[test]
    fn only_canonical_bytes_decode(b: Vec<u8>, n in 0usize..300) {
        if let Ok(p) = decode_all(&b, n) {
            let mut again = Vec::new();
            put(&mut again, &p);
            prop_assert_eq!(again, b);
        }
    }
}

#[test]
fn exceptions_keep_the_width_of_the_bulk() {
    // Gaps 60–179 with one gap of 5,000 per frame, tf 1 with one tf 3.
    let pairs: Vec<(u64, u32)> = (0..1280u64)
        .map(|i| {
            let gap = if i % 128 == 5 {
                5_000
            } else {
                60 + (i * 37) % 120
            };
            (gap, if i % 128 == 9 { 3 } else { 1 })
        })
        .collect();
    let mut b = Vec::new();
    put(&mut b, &pairs);
    // Per frame: 4 header bytes, 128 gaps of 8 bits, no tf bits, one gap
    // exception (index, varint 5000 >> 8 = 19) and one tf exception
    // (index, varint 2).
    assert_eq!(b.len(), 10 * (4 + 128 + 2 + 2));
    assert_eq!(decode_all(&b, pairs.len()).unwrap(), pairs);
}

#[test]
fn exceptions_over_a_zero_width_stream() {
    let mut pairs = vec![(0u64, 1u32); 16];
    pairs[3] = (u64::MAX, u32::MAX);
    pairs[7] = (1 << 63, 2);
    let mut b = Vec::new();
    put(&mut b, &pairs);
    assert_eq!(&b[..4], &[0, 2, 0, 2]);
    assert_eq!(decode_all(&b, 16).unwrap(), pairs);
}

#[test]
fn widths_follow_the_rule() {
    assert_eq!(width([0u64; 16].into_iter(), 16), 0);
    // 16 values, 2 exceptions allowed: two large values do not widen.
    let v = [3u64, 1, 2, 3, 0, 1, 2, 3, 1, 1, 2, 3, 0, 0, 1000, 70_000];
    assert_eq!(width(v.into_iter(), 16), 2);
    // Three large values do.
    let v = [3u64, 1, 2, 3, 0, 1, 2, 3, 1, 1, 2, 3, 0, 900, 1000, 70_000];
    assert_eq!(width(v.into_iter(), 16), 10);
    // Short frames have no exceptions.
    assert_eq!(width([1u64, 1 << 40].into_iter(), 2), 41);
    assert_eq!(width([u64::MAX; 3].into_iter(), 3), 64);
}
