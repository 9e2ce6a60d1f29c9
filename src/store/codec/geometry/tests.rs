use super::*;

fn kp(x: f32, y: f32, size: f32, angle: f32) -> Keypoint {
    Keypoint { x, y, size, angle }
}

#[test]
fn listed_round_trip_is_close_and_reencoding_is_exact() {
    let g = Geometry::from_features(
        &[7, 3, 7, 1000],
        &[
            kp(10.25, 700.5, 3.2, 359.9),
            kp(0.0, 0.0, 0.1, 0.0),
            kp(1023.9, 511.0, 80.0, 90.0),
            kp(5.0, 6.0, 12.0, 181.0),
        ],
    );
    assert_eq!(
        g.points.iter().map(|p| p.word).collect::<Vec<_>>(),
        vec![3, 7, 7, 1000]
    );
    let bytes = encode(Form::Listed, &g);
    assert!(bytes.len() <= 3 + 4 * 8, "{} bytes", bytes.len());
    let d = decode_listed(&bytes).unwrap();
    for (a, b) in g.points.iter().zip(&d.points) {
        assert_eq!(a.word, b.word);
        assert!(
            (a.x - b.x).abs() < 0.02 && (a.y - b.y).abs() < 0.02,
            "{a:?} {b:?}"
        );
        assert!(
            (a.size.max(SIZE_BASE) / b.size).ln().abs() < 0.04,
            "{a:?} {b:?}"
        );
        let da = (a.angle - b.angle).rem_euclid(360.0);
        assert!(da.min(360.0 - da) < 0.8, "{a:?} {b:?}");
    }
    assert_eq!(encode(Form::Listed, &d), bytes);
    assert_eq!(g.word_counts(), vec![(3, 1), (7, 2), (1000, 1)]);
}

#[test]
fn large_images_lower_the_exponent_and_unoriented_points_keep_minus_one() {
    let g = Geometry::from_features(
        &[1, 2],
        &[kp(30000.0, 5.0, 4.0, -1.0), kp(1.0, 1.0, 4.0, 10.0)],
    );
    assert!(!g.oriented());
    let bytes = encode(Form::Listed, &g);
    let d = decode_listed(&bytes).unwrap();
    assert!((d.points[0].x - 30000.0).abs() < 1.0);
    assert!(d.points.iter().all(|p| p.angle == -1.0));
}

#[test]
fn damaged_values_are_errors() {
    let g = Geometry::from_features(&[1, 5, 9], &[kp(1.0, 2.0, 3.0, 4.0); 3]);
    let bytes = encode(Form::Listed, &g);
    for cut in 0..bytes.len() {
        assert!(
            decode_listed(&bytes[..cut]).is_err(),
            "prefix of {cut} bytes decoded"
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(decode_listed(&long).is_err());
    let mut flags = bytes.clone();
    flags[1] = 0x80;
    assert!(decode_listed(&flags).is_err());
    for e in [11, 13] {
        let mut shift = bytes.clone();
        shift[2] = e;
        assert!(decode_listed(&shift).is_err(), "exponent {e}");
    }
    // A huge claimed count is refused before allocating.
    let mut huge = Vec::new();
    varint::put(&mut huge, u64::MAX >> 1);
    huge.extend_from_slice(&[1, 6]);
    assert!(decode_listed(&huge).is_err());
    assert_eq!(decode_listed(&[0, 1, 12]).unwrap(), Geometry::default());
    assert!(decode_listed(&[0, 1, 0]).is_err(), "non-canonical exponent");
    assert!(decode_listed(&[0, 0, 12]).is_err(), "non-canonical flag");
}

/// A seeded random geometry of `n` features over `words` words in an
/// image of `extent` px.
fn random(seed: u64, n: usize, words: u32, extent: f32, oriented: bool) -> Geometry {
    let mut r = crate::testutil::XorShift::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut unit = || (r.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
    let ws: Vec<u32> = (0..n).map(|_| (unit() * words as f32) as u32).collect();
    let kps: Vec<Keypoint> = (0..n)
        .map(|_| {
            kp(
                unit() * extent,
                unit() * extent,
                extent * (0.002 + unit() / 4.0),
                if oriented { unit() * 360.0 } else { -1.0 },
            )
        })
        .collect();
    Geometry::from_features(&ws, &kps)
}

/// The forms whose words come from the histogram, with their bytes a
/// feature, cells across the extent (at least half of them are used), and
/// the largest errors of a size (as a log) and an angle (degrees).
const PACKED_FORMS: [(Form, usize, f32, f32, f32); 2] = [
    (Form::Packed, 4, 1024.0, 0.0626, 2.82),
    (Form::Narrow, 3, 128.0, 0.0834, 5.63),
];

#[test]
fn packed_round_trip_is_within_a_cell_and_reencoding_is_exact() {
    for (form, bytes_each, cells, size_err, angle_err) in PACKED_FORMS {
        for (seed, extent, oriented) in [
            (1, 1023.9, true),
            (2, 1024.0, true),
            (3, 300.0, false),
            (4, 5000.0, true),
            (5, 7.0, true),
            (6, 0.1, true),
        ] {
            let g = random(seed, 200, 50, extent, oriented);
            let bytes = encode(form, &g);
            let varint_n = if g.points.len() < 128 { 1 } else { 2 };
            assert_eq!(
                bytes.len(),
                varint_n + 2 + bytes_each * g.points.len(),
                "{form:?} seed {seed}"
            );
            let entries = g.word_counts();
            let d = decode_packed(form, &bytes, &entries)
                .unwrap_or_else(|e| panic!("{form:?} seed {seed}: {e:?}"));
            // Half a cell: cells number at least half of `cells` across the
            // extent, and are at least 2^-12 px.
            let tol = (extent / cells).max(1.0 / 8192.0);
            let budget = grid(form).expect("a packed form");
            let floor = budget.size_base / cells_per_px(budget.step_for(super::extent(&g.points)));
            for (a, b) in g.points.iter().zip(&d.points) {
                assert_eq!(a.word, b.word, "{form:?} seed {seed}");
                assert!(
                    (a.x - b.x).abs() <= tol && (a.y - b.y).abs() <= tol,
                    "{form:?} seed {seed}: {a:?} {b:?}"
                );
                let ratio = (a.size / b.size).ln().abs();
                // Sizes under code 0's are stored as it.
                assert!(
                    ratio < size_err || (a.size < floor && b.size == floor),
                    "{form:?} seed {seed}: {a:?} {b:?}"
                );
                if oriented {
                    let da = (a.angle - b.angle).rem_euclid(360.0);
                    assert!(
                        da.min(360.0 - da) <= angle_err,
                        "{form:?} seed {seed}: {a:?} {b:?}"
                    );
                } else {
                    assert_eq!(b.angle, -1.0);
                }
            }
            assert_eq!(encode(form, &d), bytes, "{form:?} seed {seed}");
        }
    }
}

/// SIFT's smallest keypoints (its first octave, about 1.8–3.6 px at the
/// default `max_side`) keep their scale in both forms: re-ranking compares
/// scale ratios within 1.8×, so a size stored twice as large would lose
/// their matches.
#[test]
fn small_sift_sizes_keep_their_scale_in_a_photo_sized_image() {
    let sizes = [1.8f32, 2.1, 2.5, 3.0, 3.6, 5.0, 12.0, 40.0, 150.0];
    let kps: Vec<Keypoint> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| kp(100.0 * i as f32, 999.0, size, 10.0))
        .collect();
    let words: Vec<u32> = (0..sizes.len() as u32).collect();
    let g = Geometry::from_features(&words, &kps);
    for form in [Form::Packed, Form::Narrow] {
        let d = decode_packed(form, &encode(form, &g), &g.word_counts()).unwrap();
        for (a, b) in g.points.iter().zip(&d.points) {
            let ratio = (a.size / b.size).max(b.size / a.size);
            assert!(
                ratio < 1.12,
                "{form:?}: {} px stored as {} px",
                a.size,
                b.size
            );
        }
    }
}

#[test]
fn a_narrow_feature_takes_three_bytes_a_packed_one_four_and_a_listed_one_seven() {
    let g = random(7, 1000, 1000, 1000.0, true);
    assert_eq!(encode(Form::Narrow, &g).len(), 2 + 2 + 3000);
    assert_eq!(encode(Form::Packed, &g).len(), 2 + 2 + 4000);
    let listed = encode(Form::Listed, &g).len();
    assert!(listed >= 7000, "{listed}");
}

#[test]
fn the_stats_marker_names_each_form_and_nothing_else() {
    for form in [Form::Listed, Form::Packed, Form::Narrow] {
        let marker = form.marker();
        assert_eq!(Form::from_marker(marker.as_ref().map(|m| &m[..])), Ok(form));
        assert_eq!(form.uses_histogram(), marker.is_some());
    }
    for bad in [&[][..], &[0], &[3], &[1, 0]] {
        assert!(Form::from_marker(Some(bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn damaged_packed_values_are_errors() {
    for (form, width, cells, _, _) in PACKED_FORMS {
        let half = cells as u32 / 2;
        let cell_bits = cells.log2() as u32;
        let g = random(8, 5, 4, 600.0, true);
        let entries = g.word_counts();
        let bytes = encode(form, &g);
        assert!(decode_packed(form, &bytes, &entries).is_ok());
        assert!(
            decode_packed(Form::Listed, &bytes, &entries).is_err(),
            "listed geometry is not decoded with a histogram"
        );
        for cut in 0..bytes.len() {
            assert!(
                decode_packed(form, &bytes[..cut], &entries).is_err(),
                "{form:?}: prefix of {cut} bytes decoded"
            );
        }
        let mut long = bytes.clone();
        long.extend_from_slice(&vec![0; width]);
        assert!(decode_packed(form, &long, &entries).is_err());
        // A histogram with other counts than the geometry's.
        let mut more = entries.clone();
        more[0].1 += 1;
        assert!(decode_packed(form, &bytes, &more).is_err());
        assert!(decode_packed(form, &bytes, &entries[1..]).is_err());
        let mut flags = bytes.clone();
        flags[1] = 2;
        assert!(decode_packed(form, &flags, &entries).is_err());
        for s in [25, 255] {
            let mut step = bytes.clone();
            step[2] = s;
            assert!(
                decode_packed(form, &step, &entries).is_err(),
                "{form:?}: cell exponent {s}"
            );
        }
        // Cells under half of `cells` across the largest coordinate: a finer
        // exponent would fit, so this one is not the encoder's.
        let one = [(3, 1)];
        let mut coarse = vec![1, 1, 12];
        coarse.extend_from_slice(&((half - 1) | 5 << cell_bits).to_le_bytes()[..width]);
        assert!(
            decode_packed(form, &coarse, &one).is_err(),
            "{form:?}: non-canonical exponent"
        );
        coarse[3..3 + width].copy_from_slice(&half.to_le_bytes()[..width]);
        assert!(
            decode_packed(form, &coarse, &one).is_ok(),
            "{form:?}: cell {half} at 12 is canonical"
        );
        // An angle on an unoriented geometry: the top bit of the first
        // feature.
        let u = random(9, 3, 4, 600.0, false);
        let mut ub = encode(form, &u);
        ub[3 + width - 1] |= 0x80;
        assert!(decode_packed(form, &ub, &u.word_counts()).is_err());
        // A huge claimed count is refused before allocating.
        let mut huge = Vec::new();
        varint::put(&mut huge, u64::MAX >> 1);
        huge.extend_from_slice(&[1, 12]);
        assert!(decode_packed(form, &huge, &[(0, u32::MAX)]).is_err());
        assert_eq!(
            decode_packed(form, &[0, 1, 24], &[]).unwrap(),
            Geometry::default()
        );
        assert!(
            decode_packed(form, &[0, 1, 12], &[]).is_err(),
            "non-canonical exponent"
        );
        assert!(
            decode_packed(form, &[0, 0, 24], &[]).is_err(),
            "non-canonical flag"
        );
    }
}

/// Decoding only some words gives exactly those features of the full
/// decode, in order, and the outline of every feature.
#[test]
fn a_partial_decode_is_the_full_decode_filtered() {
    for (form, seed, extent, oriented) in [
        (Form::Packed, 11, 640.0, true),
        (Form::Packed, 12, 4000.0, false),
        (Form::Narrow, 13, 2.0, true),
        (Form::Narrow, 14, 3000.0, true),
        (Form::Narrow, 15, 900.0, false),
    ] {
        let g = random(seed, 300, 40, extent, oriented);
        let entries = g.word_counts();
        let bytes = encode(form, &g);
        let full = decode_packed(form, &bytes, &entries).unwrap();
        for modulus in [1, 2, 3, 7, 1000] {
            let wanted = |w: u32| w.is_multiple_of(modulus);
            let mut asked = Vec::new();
            let mut out = vec![Point {
                word: 0,
                x: 0.0,
                y: 0.0,
                size: 0.0,
                angle: 0.0,
            }];
            let outline = decode_packed_where(
                form,
                &bytes,
                &entries,
                |w| {
                    asked.push(w);
                    wanted(w)
                },
                &mut out,
            )
            .unwrap();
            let expected: Vec<Point> = full
                .points
                .iter()
                .copied()
                .filter(|p| wanted(p.word))
                .collect();
            assert_eq!(out, expected, "seed {seed}, modulus {modulus}");
            assert_eq!(outline, Outline::of(&full), "seed {seed}");
            assert_eq!(
                asked,
                entries.iter().map(|e| e.0).collect::<Vec<_>>(),
                "asked once per word, in order"
            );
        }
    }
    let empty = encode(Form::Narrow, &Geometry::default());
    let outline =
        decode_packed_where(Form::Narrow, &empty, &[], |_| true, &mut Vec::new()).unwrap();
    assert_eq!(
        outline,
        Outline {
            extent: 0.0,
            oriented: true
        }
    );
}
