//! Correspondences grouped by their own scale ratio and rotation, so that a
//! hypothesis counts only the pairs that can agree with it.
//!
//! A pair supports an oriented hypothesis only if its log scale ratio is
//! within [`LOG_SCALE_SLACK`] of the hypothesis' and its rotation within
//! [`ANGLE_SLACK`] degrees. Cells are a little wider than that on both axes
//! (so float rounding at a cell edge cannot matter), so every pair that can
//! agree lies in the hypothesis' cell or a neighbour:
//! 3 rotation rows of 3 adjacent scale cells, each row one contiguous run
//! of the sorted pairs. Clamping out-of-range scales into the edge cells
//! keeps this true (clamping never moves two values further apart). The
//! count over those runs equals the count over all pairs.

use super::{Facts, ANGLE_SLACK, LOG_SCALE_SLACK};

/// Rotation cells: the most that are still wider than [`ANGLE_SLACK`].
const TURNS: usize = (360.0 / ANGLE_SLACK) as usize - 1;
const TURN_WIDTH: f32 = 360.0 / TURNS as f32;
/// Scale cells, centred on a ratio of 1: ±12 cells of about ln 1.8 reach
/// ratios beyond 10⁶, far past any detector's range; the rest is clamped.
const SCALES: usize = 24;
const SCALE_WIDTH: f32 = LOG_SCALE_SLACK * 1.01;
const CELLS: usize = TURNS * SCALES;

/// The pairs of one candidate sorted by cell, and where each cell starts.
#[derive(Default)]
pub(super) struct Bins {
    sorted: Vec<Facts>,
    starts: Vec<u32>,
    cells: Vec<u16>,
}

fn turn_cell(turn: f32) -> usize {
    // `turn` is in [0, 360]; 360 (rounding of a tiny negative angle) is the
    // last cell, a neighbour of the first.
    ((turn / TURN_WIDTH) as usize).min(TURNS - 1)
}

fn scale_cell(log_scale: f32) -> usize {
    // Shifted to be non-negative before truncating, so truncation is floor.
    // NaN agrees with nothing: any cell will do (`max` maps it to 0).
    let c = (log_scale / SCALE_WIDTH + (SCALES / 2) as f32).max(0.0);
    (c as usize).min(SCALES - 1)
}

impl Bins {
    /// Sorts `facts` into cells (a counting sort).
    pub(super) fn fill(&mut self, facts: &[Facts]) {
        self.cells.clear();
        self.cells.extend(
            facts
                .iter()
                .map(|f| (turn_cell(f.turn) * SCALES + scale_cell(f.log_scale)) as u16),
        );
        self.starts.clear();
        self.starts.resize(CELLS + 1, 0);
        for &c in &self.cells {
            self.starts[c as usize + 1] += 1;
        }
        for i in 0..CELLS {
            self.starts[i + 1] += self.starts[i];
        }
        self.sorted.clear();
        self.sorted
            .resize(facts.len(), facts.first().copied().unwrap_or_default());
        let mut next: [u32; CELLS] = [0; CELLS];
        next.copy_from_slice(&self.starts[..CELLS]);
        for (f, &c) in facts.iter().zip(&self.cells) {
            let at = &mut next[c as usize];
            self.sorted[*at as usize] = *f;
            *at += 1;
        }
    }

    /// The runs of pairs that can agree with a hypothesis of this scale
    /// ratio and rotation: up to three slices.
    pub(super) fn near(&self, log_scale: f32, turn: f32) -> impl Iterator<Item = &[Facts]> {
        let t = turn_cell(turn);
        let s = scale_cell(log_scale);
        let (lo, hi) = (s.saturating_sub(1), (s + 1).min(SCALES - 1));
        [(t + TURNS - 1) % TURNS, t, (t + 1) % TURNS]
            .into_iter()
            .map(move |row| {
                let a = self.starts[row * SCALES + lo] as usize;
                let b = self.starts[row * SCALES + hi + 1] as usize;
                &self.sorted[a..b]
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(log_scale: f32, turn: f32) -> Facts {
        Facts {
            log_scale,
            turn,
            ..Facts::default()
        }
    }

    /// Every pair that agrees with a hypothesis is in its runs, over a grid
    /// of values that includes every cell edge, the clamped ends, 360° and
    /// NaN.
    #[test]
    fn every_agreeing_pair_is_in_the_hypothesis_runs() {
        let mut values = Vec::new();
        for i in -30..=30 {
            for d in [-1e-4f32, 0.0, 1e-4] {
                values.push(i as f32 * LOG_SCALE_SLACK / 2.0 + d);
            }
        }
        values.extend([f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 40.0, -40.0]);
        let mut turns = Vec::new();
        for i in 0..=24 {
            for d in [-1e-3f32, 0.0, 1e-3] {
                turns.push((i as f32 * 15.0 + d).clamp(0.0, 360.0));
            }
        }
        let facts: Vec<Facts> = values
            .iter()
            .flat_map(|&s| turns.iter().map(move |&t| fact(s, t)))
            .collect();
        let mut bins = Bins::default();
        bins.fill(&facts);
        assert_eq!(bins.sorted.len(), facts.len());
        for &s in &values {
            for &t in &turns {
                let all = facts.iter().filter(|f| f.agrees(s, t)).count();
                let within: usize = bins
                    .near(s, t)
                    .map(|run| run.iter().filter(|f| f.agrees(s, t)).count())
                    .sum();
                assert_eq!(within, all, "hypothesis log scale {s}, turn {t}");
            }
        }
    }
}
