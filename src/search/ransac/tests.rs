use super::*;

/// SplitMix64, seeded: deterministic noise for the tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// A query of `n` features, and a candidate holding `inl` of them moved
/// by a similarity (scale 0.7, 25°, shift) plus `n - inl` unrelated ones
/// under the same words.
fn scene(seed: u64, n: usize, inl: usize, oriented: bool) -> (Geometry, Geometry) {
    let mut r = Rng(seed);
    let (s, t) = (0.7f32, 25f32.to_radians());
    let mut q = Vec::new();
    let mut c = Vec::new();
    for i in 0..n {
        let word = (r.next() % 5000) as u32;
        let (x, y) = (r.unit() * 800.0, r.unit() * 600.0);
        let size = 2.0 + r.unit() * 20.0;
        let angle = if oriented { r.unit() * 360.0 } else { -1.0 };
        q.push(Point {
            word,
            x,
            y,
            size,
            angle,
        });
        let p = if i < inl {
            Point {
                word,
                x: s * (t.cos() * x - t.sin() * y) + 100.0 + r.unit(),
                y: s * (t.sin() * x + t.cos() * y) + 40.0 + r.unit(),
                size: size * s,
                angle: if oriented {
                    (angle + 25.0).rem_euclid(360.0)
                } else {
                    -1.0
                },
            }
        } else {
            Point {
                word,
                x: r.unit() * 700.0,
                y: r.unit() * 700.0,
                size: 2.0 + r.unit() * 20.0,
                angle: if oriented { r.unit() * 360.0 } else { -1.0 },
            }
        };
        c.push(p);
    }
    q.sort_by_key(|p| p.word);
    c.sort_by_key(|p| p.word);
    (Geometry { points: q }, Geometry { points: c })
}

#[test]
fn finds_the_transform_among_outliers() {
    for seed in 1..=5u64 {
        for oriented in [true, false] {
            let (q, c) = scene(seed, 400, 80, oriented);
            let n = inliers(Side::of(&q), Side::of(&c), &mut Scratch::default());
            assert!(
                (70..=100).contains(&n),
                "seed {seed}, oriented {oriented}: {n} inliers, expected about 80"
            );
        }
    }
}

/// The count the binned, pruned search must equal: every hypothesis
/// scored over every pair, the best one refined.
fn reference(q: &Geometry, c: &Geometry) -> u32 {
    let mut s = Scratch::default();
    correspondences(&q.points, &c.points, &mut s.pairs);
    let pairs = s.pairs.clone();
    if pairs.len() < 2 {
        return pairs.len() as u32;
    }
    let o = Outline::of(c);
    let tol = (TOLERANCE * o.extent).max(MIN_TOLERANCE);
    let oriented = q.oriented() && c.oriented();
    let facts: Vec<Facts> = pairs
        .iter()
        .map(|&(a, b)| Facts::of(&q.points[a as usize], &c.points[b as usize]))
        .collect();
    let ok = |f: &Facts, m: &Affine, h: &Facts| {
        f.near(m, tol * tol) && (!oriented || f.agrees(h.log_scale, h.turn))
    };
    let n = pairs.len();
    let tries = n.min(if oriented {
        MAX_HYPOTHESES
    } else {
        MAX_HYPOTHESES_UNORIENTED
    });
    let mut best: Option<(usize, Affine, Facts)> = None;
    for h in 0..tries {
        let i = h * n / tries;
        let (a, b) = pairs[i];
        let model = if oriented {
            Affine::from_one(&q.points[a as usize], &c.points[b as usize])
        } else {
            let (qa, ca) = pairs[(i + n / 2 + h) % n];
            Affine::from_two(
                &q.points[a as usize],
                &q.points[qa as usize],
                &c.points[b as usize],
                &c.points[ca as usize],
            )
        };
        let Some(model) = model else { continue };
        let count = facts.iter().filter(|f| ok(f, &model, &facts[i])).count();
        if best.as_ref().is_none_or(|b| count > b.0) {
            best = Some((count, model, facts[i]));
        }
    }
    let Some((_, model, h)) = best else { return 0 };
    let mut inlier: Vec<bool> = facts.iter().map(|f| ok(f, &model, &h)).collect();
    let (mut uq, mut uc) = (Vec::new(), Vec::new());
    let (nq, nc) = (q.points.len(), c.points.len());
    let mut count = unique(&pairs, &inlier, &mut uq, &mut uc, nq, nc);
    for _ in 0..REFINEMENTS {
        let Some(fit) = fit_affine(&facts, &inlier) else {
            break;
        };
        let fresh: Vec<bool> = facts.iter().map(|f| f.near(&fit, tol * tol)).collect();
        let gained = unique(&pairs, &fresh, &mut uq, &mut uc, nq, nc);
        if gained <= count {
            break;
        }
        count = gained;
        inlier = fresh;
    }
    count
}

/// Binning pairs by scale and rotation, skipping hypotheses that cannot
/// win, and reading only the candidate's features under query words
/// change no count.
#[test]
fn pruned_verification_counts_what_the_exhaustive_one_counts() {
    let mut scratch = Scratch::default();
    for seed in 1..=40u64 {
        for oriented in [true, false] {
            let inl = [0, 3, 12, 60, 150][(seed % 5) as usize];
            let (q, mut c) = scene(seed, 300, inl, oriented);
            // Scales and rotations spread across cell edges.
            let mut r = Rng(seed ^ 0xA5A5);
            for p in &mut c.points {
                p.size *= 1.7f32.powf(r.unit() * 2.0 - 1.0);
                if oriented {
                    p.angle = (p.angle + r.unit() * 50.0 - 25.0).rem_euclid(360.0);
                }
            }
            let expected = reference(&q, &c);
            let got = inliers(Side::of(&q), Side::of(&c), &mut scratch);
            assert_eq!(got, expected, "seed {seed}, oriented {oriented}");
            // The candidate cut to the query's words, with its outline.
            let words: std::collections::BTreeSet<u32> = q.points.iter().map(|p| p.word).collect();
            let cut: Vec<Point> = c
                .points
                .iter()
                .copied()
                .filter(|p| words.contains(&p.word))
                .collect();
            let side = Side {
                points: &cut,
                outline: Outline::of(&c),
            };
            let got = inliers(Side::of(&q), side, &mut scratch);
            assert_eq!(got, expected, "seed {seed}, oriented {oriented}, cut");
        }
    }
}

#[test]
fn unrelated_features_give_few_inliers() {
    for seed in 1..=5u64 {
        let (q, c) = scene(seed, 400, 0, true);
        let n = inliers(Side::of(&q), Side::of(&c), &mut Scratch::default());
        assert!(n <= 5, "seed {seed}: {n} chance inliers");
    }
}

#[test]
fn degenerate_inputs_do_not_panic() {
    let mut s = Scratch::default();
    let empty = Geometry::default();
    assert_eq!(inliers(Side::of(&empty), Side::of(&empty), &mut s), 0);
    let p = Point {
        word: 1,
        x: 5.0,
        y: 5.0,
        size: 0.0,
        angle: 0.0,
    };
    let one = Geometry {
        points: vec![p, p, p],
    };
    assert!(inliers(Side::of(&one), Side::of(&one), &mut s) <= 3);
}
