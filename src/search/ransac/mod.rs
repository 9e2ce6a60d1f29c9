//! Geometric verification: how many features of a query and of a stored
//! record map onto each other by one transform.
//!
//! Correspondences are pairs of features sharing a visual word. A SIFT-like
//! keypoint carries position, scale and orientation, so a single
//! correspondence already fixes a similarity transform (scale ratio,
//! rotation, translation): hypotheses come from single correspondences, as
//! in Philbin et al. 2007, and need no random sampling. Each hypothesis is
//! scored by the correspondences it maps within a tolerance whose scale and
//! orientation also agree; the best one is refined by least-squares affine
//! fits on its inliers (local optimisation), which absorbs moderate
//! perspective. Unoriented features (angle -1) form hypotheses from pairs of
//! correspondences instead.
//!
//! Cost is bounded per candidate: at most [`MAX_CORRESPONDENCES`] pairs and
//! [`MAX_HYPOTHESES`] hypotheses, each one pass over the pairs.

mod bins;

use self::bins::Bins;
use crate::store::codec::geometry::{Geometry, Outline, Point};

/// Pairs per shared word at most: a word occurring many times on both sides
/// (repeated texture) would add mostly wrong pairs. Words with more are
/// skipped.
const MAX_PER_WORD: usize = 4;
/// Correspondences kept per candidate, in word order.
pub(crate) const MAX_CORRESPONDENCES: usize = 1024;
/// Hypotheses tried per candidate, spread evenly over the correspondences.
/// With a fifth of the pairs right, 64 single-pair draws all miss with
/// probability 0.8^64 ≈ 6·10⁻⁷.
pub(crate) const MAX_HYPOTHESES: usize = 64;
/// Hypotheses from two pairs need both right (0.2² per draw): four times
/// as many keep the miss rate near 0.96^256 ≈ 3·10⁻⁵.
const MAX_HYPOTHESES_UNORIENTED: usize = 4 * MAX_HYPOTHESES;
/// Position tolerance as a share of the candidate's extent (its largest
/// keypoint coordinate, about its longer side).
const TOLERANCE: f32 = 0.025;
/// Lower bound of the position tolerance, in pixels.
const MIN_TOLERANCE: f32 = 3.0;
/// Largest factor between a pair's scale ratio and the hypothesis', as a
/// difference of logarithms: ln 1.8.
const LOG_SCALE_SLACK: f32 = 0.587_786_7;
/// Largest difference between a pair's rotation and the hypothesis', degrees.
const ANGLE_SLACK: f32 = 30.0;
/// Affine refinements of the best hypothesis.
const REFINEMENTS: usize = 2;

/// Reusable buffers: one per searching thread, so verification allocates
/// nothing per candidate once warm.
#[derive(Default)]
pub(crate) struct Scratch {
    pairs: Vec<(u32, u32)>,
    facts: Vec<Facts>,
    bins: Bins,
    inlier: Vec<bool>,
    fresh: Vec<bool>,
    used_q: Vec<bool>,
    used_c: Vec<bool>,
}

/// What every hypothesis test reads of one correspondence, laid out
/// contiguously: the two positions, the log of the scale ratio and the
/// rotation in degrees in [0, 360).
#[derive(Clone, Copy, Default)]
struct Facts {
    qx: f32,
    qy: f32,
    cx: f32,
    cy: f32,
    log_scale: f32,
    turn: f32,
}

impl Facts {
    fn of(q: &Point, c: &Point) -> Facts {
        Facts {
            qx: q.x,
            qy: q.y,
            cx: c.x,
            cy: c.y,
            log_scale: (c.size / q.size).ln(),
            turn: (c.angle - q.angle).rem_euclid(360.0),
        }
    }

    /// Whether this pair's scale ratio and rotation are within the slack of
    /// a hypothesis'. NaN (a zero size on both sides) agrees with nothing.
    #[inline]
    fn agrees(&self, log_scale: f32, turn: f32) -> bool {
        let d = (self.turn - turn).abs();
        ((self.log_scale - log_scale).abs() <= LOG_SCALE_SLACK) & (d.min(360.0 - d) <= ANGLE_SLACK)
    }

    #[inline]
    fn near(&self, m: &Affine, tol2: f32) -> bool {
        let (x, y) = m.map(self.qx, self.qy);
        let (dx, dy) = (x - self.cx, y - self.cy);
        dx * dx + dy * dy <= tol2
    }
}

/// A transform from query to candidate pixels: `[a b tx; c d ty]`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Affine([f32; 6]);

impl Affine {
    #[inline]
    fn map(&self, x: f32, y: f32) -> (f32, f32) {
        let m = &self.0;
        (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5])
    }

    /// The similarity taking `q` onto `c` by their scales and orientations.
    fn from_one(q: &Point, c: &Point) -> Option<Affine> {
        let s = c.size / q.size;
        if !s.is_finite() || s <= 0.0 {
            return None;
        }
        let t = (c.angle - q.angle).to_radians();
        let (a, b) = (s * t.cos(), s * t.sin());
        Some(Affine([
            a,
            -b,
            c.x - (a * q.x - b * q.y),
            b,
            a,
            c.y - (b * q.x + a * q.y),
        ]))
    }

    /// The similarity taking segment q1→q2 onto c1→c2.
    fn from_two(q1: &Point, q2: &Point, c1: &Point, c2: &Point) -> Option<Affine> {
        let (qx, qy) = (q2.x - q1.x, q2.y - q1.y);
        let (cx, cy) = (c2.x - c1.x, c2.y - c1.y);
        let n = qx * qx + qy * qy;
        if n < 1.0 {
            return None;
        }
        // c = (a + ib)·q in complex numbers.
        let a = (cx * qx + cy * qy) / n;
        let b = (cy * qx - cx * qy) / n;
        Some(Affine([
            a,
            -b,
            c1.x - (a * q1.x - b * q1.y),
            b,
            a,
            c1.y - (b * q1.x + a * q1.y),
        ]))
    }
}

/// One side of a verification: features sorted by word (all of a record's,
/// or only those whose words the other side has), and the outline of all
/// the record's features.
#[derive(Clone, Copy)]
pub(crate) struct Side<'a> {
    pub(crate) points: &'a [Point],
    pub(crate) outline: Outline,
}

impl<'a> Side<'a> {
    /// A whole geometry.
    pub(crate) fn of(g: &'a Geometry) -> Side<'a> {
        Side {
            points: &g.points,
            outline: Outline::of(g),
        }
    }
}

/// The number of query features that one transform maps onto candidate
/// features of the same word (each feature counted once on either side).
/// Features whose word the other side lacks change nothing, so a side may
/// leave them out.
pub(crate) fn inliers(q: Side<'_>, c: Side<'_>, scratch: &mut Scratch) -> u32 {
    let Scratch {
        pairs,
        facts,
        bins,
        inlier,
        fresh,
        used_q,
        used_c,
    } = scratch;
    correspondences(q.points, c.points, pairs);
    if pairs.len() < 2 {
        return pairs.len() as u32;
    }
    let tol = (TOLERANCE * c.outline.extent).max(MIN_TOLERANCE);
    let tol2 = tol * tol;
    let oriented = q.outline.oriented && c.outline.oriented;
    let pairs: &[(u32, u32)] = pairs;
    facts.clear();
    facts.extend(
        pairs
            .iter()
            .map(|&(a, b)| Facts::of(&q.points[a as usize], &c.points[b as usize])),
    );
    let facts: &[Facts] = facts;
    // Whether pair `f` supports a hypothesis. Both tests are evaluated
    // without branching (`&`), so a count over a run of pairs vectorises.
    let supports = |f: &Facts, m: &Affine, log_scale: f32, turn: f32| {
        f.near(m, tol2) & (!oriented | f.agrees(log_scale, turn))
    };
    let count = |run: &[Facts], m: &Affine, log_scale: f32, turn: f32| -> usize {
        run.iter()
            .map(|f| usize::from(supports(f, m, log_scale, turn)))
            .sum()
    };
    if oriented {
        bins.fill(facts);
    }

    let n = pairs.len();
    let tries = n.min(if oriented {
        MAX_HYPOTHESES
    } else {
        MAX_HYPOTHESES_UNORIENTED
    });
    let mut best: Option<(usize, Affine, f32, f32)> = None;
    for h in 0..tries {
        let i = h * n / tries;
        let (a, b) = pairs[i];
        let (qp, cp) = (&q.points[a as usize], &c.points[b as usize]);
        let model = if oriented {
            Affine::from_one(qp, cp)
        } else {
            // A partner spread away from `i` through the list.
            let (qa, ca) = pairs[(i + n / 2 + h) % n];
            Affine::from_two(qp, &q.points[qa as usize], cp, &c.points[ca as usize])
        };
        let Some(model) = model else { continue };
        let support = if oriented {
            let (log_scale, turn) = (facts[i].log_scale, facts[i].turn);
            // Only the pairs of the neighbouring cells can agree; a
            // hypothesis replaces the best only with strictly more support,
            // so one whose runs hold no more than the best's count is
            // skipped. Both give the count over all pairs.
            let floor = best.as_ref().map_or(0, |b| b.0);
            let within: usize = bins.near(log_scale, turn).map(<[Facts]>::len).sum();
            if best.is_some() && within <= floor {
                continue;
            }
            let k = bins
                .near(log_scale, turn)
                .map(|run| count(run, &model, log_scale, turn))
                .sum();
            (k, log_scale, turn)
        } else {
            (count(facts, &model, 0.0, 0.0), 0.0, 0.0)
        };
        if best.as_ref().is_none_or(|b| support.0 > b.0) {
            best = Some((support.0, model, support.1, support.2));
        }
    }
    let Some((_, model, log_scale, turn)) = best else {
        return 0;
    };

    // Inliers of the hypothesis, then affine fits on them while they gain.
    inlier.clear();
    inlier.extend(facts.iter().map(|f| supports(f, &model, log_scale, turn)));
    let mut count = unique(
        pairs,
        inlier,
        used_q,
        used_c,
        q.points.len(),
        c.points.len(),
    );
    for _ in 0..REFINEMENTS {
        let Some(fit) = fit_affine(facts, inlier) else {
            break;
        };
        fresh.clear();
        fresh.extend(facts.iter().map(|f| f.near(&fit, tol2)));
        let gained = unique(pairs, fresh, used_q, used_c, q.points.len(), c.points.len());
        if gained <= count {
            break;
        }
        count = gained;
        std::mem::swap(inlier, fresh);
    }
    count
}

/// Inlier pairs counted with each feature at most once on either side.
fn unique(
    pairs: &[(u32, u32)],
    inlier: &[bool],
    used_q: &mut Vec<bool>,
    used_c: &mut Vec<bool>,
    q_len: usize,
    c_len: usize,
) -> u32 {
    used_q.clear();
    used_q.resize(q_len, false);
    used_c.clear();
    used_c.resize(c_len, false);
    let mut n = 0;
    for (&(a, b), &ok) in pairs.iter().zip(inlier) {
        let (a, b) = (a as usize, b as usize);
        if ok && !used_q[a] && !used_c[b] {
            used_q[a] = true;
            used_c[b] = true;
            n += 1;
        }
    }
    n
}

/// Pairs of features sharing a word, by a merge over both word-sorted lists.
fn correspondences(q: &[Point], c: &[Point], out: &mut Vec<(u32, u32)>) {
    out.clear();
    let (mut i, mut j) = (0, 0);
    while i < q.len() && j < c.len() && out.len() < MAX_CORRESPONDENCES {
        let (wq, wc) = (q[i].word, c[j].word);
        if wq < wc {
            i += 1;
        } else if wc < wq {
            j += 1;
        } else {
            let i_end = i + q[i..].iter().take_while(|p| p.word == wq).count();
            let j_end = j + c[j..].iter().take_while(|p| p.word == wq).count();
            if (i_end - i) * (j_end - j) <= MAX_PER_WORD {
                for a in i..i_end {
                    for b in j..j_end {
                        out.push((a as u32, b as u32));
                    }
                }
            }
            i = i_end;
            j = j_end;
        }
    }
    out.truncate(MAX_CORRESPONDENCES);
}

/// Least-squares affine transform over the inlier pairs (coordinates
/// centred, in f64), or `None` when they are too few or collinear.
fn fit_affine(facts: &[Facts], inlier: &[bool]) -> Option<Affine> {
    let chosen = || {
        facts
            .iter()
            .zip(inlier)
            .filter(|(_, ok)| **ok)
            .map(|(f, _)| (f.qx, f.qy, f.cx, f.cy))
    };
    let m = chosen().count();
    if m < 4 {
        return None;
    }
    let (mut qx, mut qy, mut cx, mut cy) = (0f64, 0f64, 0f64, 0f64);
    for (px, py, rx, ry) in chosen() {
        qx += f64::from(px);
        qy += f64::from(py);
        cx += f64::from(rx);
        cy += f64::from(ry);
    }
    let mf = m as f64;
    let (qx, qy, cx, cy) = (qx / mf, qy / mf, cx / mf, cy / mf);
    // Normal equations of [u v]·[a b; c d]ᵀ = [u' v'] on centred points.
    let (mut suu, mut suv, mut svv) = (0f64, 0f64, 0f64);
    let (mut sux, mut svx, mut suy, mut svy) = (0f64, 0f64, 0f64, 0f64);
    for (px, py, rx, ry) in chosen() {
        let (u, v) = (f64::from(px) - qx, f64::from(py) - qy);
        let (x, y) = (f64::from(rx) - cx, f64::from(ry) - cy);
        suu += u * u;
        suv += u * v;
        svv += v * v;
        sux += u * x;
        svx += v * x;
        suy += u * y;
        svy += v * y;
    }
    let det = suu * svv - suv * suv;
    if det.abs() <= 1e-9 * (suu * svv).max(1.0) {
        return None;
    }
    let a = (sux * svv - svx * suv) / det;
    let b = (svx * suu - sux * suv) / det;
    let cc = (suy * svv - svy * suv) / det;
    let d = (svy * suu - suy * suv) / det;
    let tx = cx - a * qx - b * qy;
    let ty = cy - cc * qx - d * qy;
    let out = [a, b, tx, cc, d, ty].map(|v| v as f32);
    out.iter().all(|v| v.is_finite()).then_some(Affine(out))
}

#[cfg(test)]
mod tests;
