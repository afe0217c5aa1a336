//! Where a rate's regime changed inside its history, found on the means of whole cycles of its
//! main season (weeks of hourly or daily traffic, years of monthly), where the season cancels,
//! beside the year's own rise and fall when the history has a year of weeks (a spring peak is
//! not a step); three cycles on each side of the change (two after a step).
//!
//! * A lasting level shift ([`find`]): traffic that stepped up by half when a new customer came
//!   on a month ago, or fell by a third when a client moved away. Every model fitted across
//!   such a step learns a level between the two, and every backtest fold that spans it errs by
//!   the step, so the backtest would call the series unforecastable though its new level is
//!   plain. The history before the step is read at today's level (scaled by the step, the
//!   seasons and trend kept), with a note that says so. A line with a step must explain nearly
//!   all that a line leaves, far more than a bend does, and the step must stand far out of the
//!   cycle means' noise.
//! * A bend in the trend ([`bend`]): flat for months, growing 3% a week since a launch. The
//!   backtest then chooses the model on folds after the bend, as for a data volume's break.

use nalgebra::{DMatrix, DVector};

use crate::history::History;
use crate::model::Seasons;

/// A level shift: from sample `at` on, the series runs at [`LevelShift::factor`] times (or, when
/// it is not positive throughout, [`LevelShift::change_from`] plus) what its level was before.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LevelShift {
    pub at: usize,
    /// The step, in logs for a positive series (a ratio), else in the series' units.
    step: f64,
    log: bool,
}

impl LevelShift {
    /// The step as a ratio (1.5: up by half), for a positive series.
    pub fn factor(&self) -> Option<f64> {
        self.log.then(|| self.step.exp())
    }

    /// The step in the series' units, at level `before`.
    pub fn change_from(&self, before: f64) -> f64 {
        if self.log {
            before * (self.step.exp() - 1.0)
        } else {
            self.step
        }
    }

    /// What the step is and what was done about it, for the series' notes: "the level stepped
    /// up by 50% at 2025-05-31T00:00:00Z (a week's mean: 95.2 before, 143 after) …".
    /// `seasons` are those it was found with.
    pub fn describe(&self, history: &History, values: &[f64], seasons: &Seasons) -> String {
        let figure = loadcast_stats::figure::si;
        let cycle = seasons.main().unwrap_or(1);
        let cycle_name = if seasons.week == Some(cycle) {
            "week"
        } else if seasons.day == Some(cycle) {
            "day"
        } else if seasons.main().is_some() {
            "year"
        } else {
            "sample"
        };
        let mean =
            |r: std::ops::Range<usize>| values[r.clone()].iter().sum::<f64>() / r.len() as f64;
        let before = mean(self.at.saturating_sub(cycle)..self.at);
        let after = mean(self.at..(self.at + cycle).min(values.len()));
        let change = match self.factor() {
            Some(f) => format!("{:.0}%", (f - 1.0).abs() * 100.0),
            None => figure(self.change_from(before).abs()),
        };
        let direction = if self.step >= 0.0 { "up" } else { "down" };
        format!(
            "the level stepped {direction} by {change} at {} (a {cycle_name}'s mean: {} before, {} after) and stayed: the history before it is read at today's level, so that no model learns a level between the two",
            history.describe_time(self.at),
            figure(before),
            figure(after)
        )
    }

    /// `values` with the samples before the step read at today's level.
    pub fn level_out(&self, values: &[f64]) -> Vec<f64> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| match (i < self.at, self.log) {
                (false, _) => *v,
                (true, true) => v * self.step.exp(),
                (true, false) => v + self.step,
            })
            .collect()
    }
}

/// Cycles of the main season (or samples, without one) the means are taken over: at least this
/// many in the history, and [`SIDE_CYCLES`] on either side of a change, except that a step
/// needs only [`STEP_AFTER`] after it: two weeks at a new level is a level to forecast from
/// (a bend takes longer to tell from noise).
const MIN_CYCLES: usize = 10;
/// Beyond this many cycles (years of samples without a season) the search is not made: each
/// candidate costs a pass over the means.
const MAX_CYCLES: usize = 2_000;
const SIDE_CYCLES: usize = 3;
const STEP_AFTER: usize = 2;
/// A line with a step must leave at most this share of a line's residual error…
const OF_LINE: f64 = 0.2;
/// …and of a line that bends, wherever it bends (a growth rate that changed is not a step)…
const OF_BEND: f64 = 0.6;
/// …and the step must be this many standard deviations of the cycle means' residuals. A bend
/// must leave at most [`OF_LINE`] of a line's error, [`OF_BEND`] of a step's and this share of
/// a curve's, and have moved the level by [`STEP_SDS`] since.
const STEP_SDS: f64 = 8.0;
const OF_CURVE: f64 = 0.25;

/// A series' means over whole cycles of its main season, counted back from the end so that the
/// last is today's; in logs when the series is positive (a change is then a ratio).
struct Cycles {
    cycle: usize,
    /// Samples before the first whole cycle.
    offset: usize,
    means: Vec<f64>,
    /// The series as the means read it.
    read: Vec<f64>,
    log: bool,
    design: Design,
}

impl Cycles {
    fn of(values: &[f64], seasons: &Seasons) -> Option<Self> {
        let n = values.len();
        let cycle = seasons.main().unwrap_or(1).max(1);
        let cycles = n / cycle;
        if !(MIN_CYCLES.max(2 * SIDE_CYCLES + 1)..=MAX_CYCLES).contains(&cycles)
            || values.iter().any(|v| !v.is_finite())
        {
            return None;
        }
        let log = values.iter().all(|v| *v > 0.0);
        let read: Vec<f64> = if log {
            values.iter().map(|v| v.ln()).collect()
        } else {
            values.to_vec()
        };
        let offset = n - cycles * cycle;
        let means: Vec<f64> = (0..cycles)
            .map(|k| {
                let start = offset + k * cycle;
                read[start..start + cycle].iter().sum::<f64>() / cycle as f64
            })
            .collect();
        // A year of weeks still rises and falls with the seasons: its harmonics join the line.
        let year = seasons.year.map(|y| y / cycle as f64).filter(|y| *y >= 4.0);
        let design = Design::new(&means, year);
        Some(Self {
            cycle,
            offset,
            means,
            read,
            log,
            design,
        })
    }

    /// The residual error of the best fit with `change` added, over the cycles a change may
    /// begin at, and where.
    fn best(&self, change: fn(usize) -> Extra) -> Option<(f64, usize)> {
        let after = match change(0) {
            Extra::Step(_) => STEP_AFTER,
            _ => SIDE_CYCLES,
        };
        (SIDE_CYCLES..=self.means.len() - after)
            .filter_map(|j| self.design.error(Some(change(j))).map(|e| (e, j)))
            .min_by(|a, b| a.0.total_cmp(&b.0))
    }
}

/// The lasting level shift of `values`, modelled with `seasons`, if it has one.
pub fn find(values: &[f64], seasons: &Seasons) -> Option<LevelShift> {
    let c = Cycles::of(values, seasons)?;
    let (n, cycle, offset, read) = (values.len(), c.cycle, c.offset, &c.read);
    let line = c.design.error(None)?;
    let (step_error, first) = c.best(Extra::Step)?;
    let bend = c.best(Extra::Bend).map_or(line, |b| b.0.min(line));
    if !(step_error < OF_LINE * line && step_error < OF_BEND * bend) {
        return None;
    }
    // The sample it began at: where the change from one cycle to the next is largest over a
    // whole cycle, within the cycles either side of the first one found at the new level.
    let sign = c.design.fit(Extra::Step(first), None)?.0.signum();
    let lo = (offset + (first - 1) * cycle).max(cycle);
    let hi = (offset + (first + 1) * cycle).min(n - cycle);
    // Prefix sums of the change from the cycle before, over the window's reach.
    let mut changes = vec![0.0; hi + cycle - lo + 1];
    for i in lo..hi + cycle {
        changes[i - lo + 1] = changes[i - lo] + read[i] - read[i - cycle];
    }
    let across = |b: usize| sign * (changes[b - lo + cycle] - changes[b - lo]);
    let at = (lo..=hi).max_by(|a, b| across(*a).total_cmp(&across(*b)))?;
    // The step, refitted without the cycle the change fell inside (it is neither level).
    let mixed = (at > offset && (at - offset) % cycle != 0).then(|| (at - offset) / cycle);
    let first_after = (at.saturating_sub(offset)).div_ceil(cycle);
    let (step, sd) = c.design.fit(Extra::Step(first_after), mixed)?;
    (step.abs() > STEP_SDS * sd).then_some(LevelShift {
        at,
        step,
        log: c.log,
    })
}

/// Where a rate's trend bent inside its history (traffic flat for months that has grown 3% a
/// week since a launch), if it did: the first sample of the first whole cycle on the new
/// trend. A line that bends there must explain nearly all that a line leaves, far more than a
/// step or a curve (a parabola) does, and its trend since must have moved the level well out
/// of the cycle means' noise.
pub fn bend(values: &[f64], seasons: &Seasons) -> Option<usize> {
    let c = Cycles::of(values, seasons)?;
    let line = c.design.error(None)?;
    let (bend_error, j) = c.best(Extra::Bend)?;
    let step = c.best(Extra::Step).map_or(line, |s| s.0);
    let curve = c.design.error(Some(Extra::Curve))?;
    let (change, sd) = c.design.fit(Extra::Bend(j), None)?;
    // The bend's regressor counts cycles over the history's length.
    let moved = change * (c.means.len() - 1 - j) as f64 / c.means.len() as f64;
    (bend_error < OF_LINE * line
        && bend_error < OF_BEND * step
        && bend_error < OF_CURVE * curve
        && moved.abs() > STEP_SDS * sd)
        .then_some(c.offset + j * c.cycle)
}

/// What is added to the line (and the year's harmonics) through the cycle means.
#[derive(Clone, Copy)]
enum Extra {
    /// 1 from cycle `j` on: a step.
    Step(usize),
    /// Cycles since `j` (over the history's length): a bend in the line.
    Bend(usize),
    /// Time squared: a curve.
    Curve,
}

/// Least squares through the cycle means: a line, two yearly harmonics when a year spans
/// several cycles, and one [`Extra`] column; by normal equations, so that each candidate costs
/// one pass over the means.
struct Design {
    /// The base columns, cycle by cycle.
    rows: Vec<Vec<f64>>,
    y: Vec<f64>,
    xtx: DMatrix<f64>,
    xty: DVector<f64>,
    yy: f64,
}

impl Design {
    fn new(y: &[f64], year: Option<f64>) -> Self {
        let k = y.len() as f64;
        let rows: Vec<Vec<f64>> = (0..y.len())
            .map(|i| {
                let mut row = vec![1.0, i as f64 / k];
                if let Some(year) = year {
                    for h in 1..=2 {
                        let angle = std::f64::consts::TAU * h as f64 * i as f64 / year;
                        row.extend([angle.sin(), angle.cos()]);
                    }
                }
                row
            })
            .collect();
        let q = rows[0].len();
        let mut xtx = DMatrix::zeros(q, q);
        let mut xty = DVector::zeros(q);
        for (row, v) in rows.iter().zip(y) {
            for a in 0..q {
                xty[a] += row[a] * v;
                for b in 0..q {
                    xtx[(a, b)] += row[a] * row[b];
                }
            }
        }
        Self {
            rows,
            y: y.to_vec(),
            xtx,
            xty,
            yy: y.iter().map(|v| v * v).sum(),
        }
    }

    fn extra(&self, extra: Extra, i: usize) -> f64 {
        let k = self.y.len() as f64;
        match extra {
            Extra::Step(j) => f64::from(u8::from(i >= j)),
            Extra::Bend(j) => i.saturating_sub(j) as f64 / k,
            Extra::Curve => (i as f64 / k).powi(2),
        }
    }

    /// The residual sum of squares of the base columns and `extra`.
    fn error(&self, extra: Option<Extra>) -> Option<f64> {
        let Some(extra) = extra else {
            let beta = self.xtx.clone().cholesky()?.solve(&self.xty);
            return Some((self.yy - beta.dot(&self.xty)).max(0.0));
        };
        let q = self.xtx.nrows();
        let mut xtx = self.xtx.clone().insert_row(q, 0.0).insert_column(q, 0.0);
        let mut xty = self.xty.clone().insert_row(q, 0.0);
        for (i, (row, v)) in self.rows.iter().zip(&self.y).enumerate() {
            let r = self.extra(extra, i);
            for (a, x) in row.iter().enumerate() {
                xtx[(a, q)] += x * r;
            }
            xtx[(q, q)] += r * r;
            xty[q] += r * v;
        }
        for a in 0..q {
            xtx[(q, a)] = xtx[(a, q)];
        }
        let beta = xtx.cholesky()?.solve(&xty);
        Some((self.yy - beta.dot(&xty)).max(0.0))
    }

    /// The coefficient of `extra` and the standard deviation of the residuals, leaving the
    /// cycle `skip` out.
    fn fit(&self, extra: Extra, skip: Option<usize>) -> Option<(f64, f64)> {
        let kept: Vec<usize> = (0..self.y.len()).filter(|i| Some(*i) != skip).collect();
        let q = self.rows[0].len() + 1;
        let x = DMatrix::from_fn(kept.len(), q, |r, c| {
            let i = kept[r];
            self.rows[i]
                .get(c)
                .copied()
                .unwrap_or_else(|| self.extra(extra, i))
        });
        let y = DVector::from_iterator(kept.len(), kept.iter().map(|i| self.y[*i]));
        let beta = (x.transpose() * &x)
            .cholesky()?
            .solve(&(x.transpose() * &y));
        let freedom = kept.len().checked_sub(q).filter(|f| *f > 0)? as f64;
        let error = (x * &beta - y).norm_squared();
        Some((beta[q - 1], (error / freedom).sqrt()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEKS: Seasons = Seasons {
        day: Some(24),
        week: Some(168),
        year: None,
    };

    fn weekly_traffic(days: usize, level: impl Fn(usize) -> f64, seed: u64) -> Vec<f64> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..days * 24)
            .map(|h| {
                let (d, hour) = (h / 24, h % 24);
                let day = 100.0 + 80.0 * (std::f64::consts::TAU * (hour as f64 - 6.0) / 24.0).sin();
                let week = if d % 7 >= 5 { 0.75 } else { 1.0 };
                level(d) * week * day * (1.0 + 0.05 * (rng.f64() - 0.5) * 3.4)
            })
            .collect()
    }

    #[test]
    fn a_step_is_found_at_its_hour_and_a_ramp_or_a_flat_series_is_not_a_step() {
        let up = weekly_traffic(180, |d| if d >= 150 { 1.5 } else { 1.0 }, 1);
        let shift = find(&up, &WEEKS).expect("a 50% step 30 days before the end");
        assert_eq!(shift.at, 150 * 24, "{shift:?}");
        let factor = shift.factor().unwrap_or(f64::NAN);
        assert!((factor - 1.5).abs() < 0.03, "{factor}");
        let down = weekly_traffic(180, |d| if d >= 140 { 0.6 } else { 1.0 }, 2);
        let shift = find(&down, &WEEKS).expect("a 40% fall 40 days before the end");
        assert!(shift.at.abs_diff(140 * 24) <= 1, "{shift:?}");
        let ramp = weekly_traffic(180, |d| 1.0 + d as f64 / 360.0, 3);
        assert_eq!(find(&ramp, &WEEKS), None);
        let bend = weekly_traffic(180, |d| 1.0 + (d.max(120) - 120) as f64 / 60.0, 4);
        assert_eq!(find(&bend, &WEEKS), None);
        let flat = weekly_traffic(180, |_| 1.0, 5);
        assert_eq!(find(&flat, &WEEKS), None);
    }

    #[test]
    fn a_bend_is_found_near_its_week_and_a_line_a_curve_or_a_step_is_not_a_bend() {
        let week_of = |at: Option<usize>| at.map(|a| a as f64 / 168.0);
        let bent = weekly_traffic(180, |d| 1.03f64.powf(d.saturating_sub(120) as f64 / 7.0), 6);
        let at = week_of(bend(&bent, &WEEKS));
        // Day 120 is week 17.1; the first whole week on the new trend starts at most a week
        // either side of it.
        assert!(at.is_some_and(|w| (w - 17.1).abs() <= 1.0), "{at:?}");
        let line = weekly_traffic(180, |d| 1.002f64.powi(d as i32), 7);
        assert_eq!(bend(&line, &WEEKS), None);
        let curve = weekly_traffic(180, |d| 1.0 + (d as f64 / 180.0).powi(2), 8);
        assert_eq!(bend(&curve, &WEEKS), None);
        let step = weekly_traffic(180, |d| if d >= 120 { 1.3 } else { 1.0 }, 9);
        assert_eq!(bend(&step, &WEEKS), None);
    }

    #[test]
    fn any_series_is_read_without_a_panic_and_a_change_lies_inside_it() {
        let mut rng = fastrand::Rng::with_seed(10);
        for _ in 0..2_000 {
            let n = rng.usize(0..400);
            let period = [None, Some(1), Some(2), Some(7), Some(12), Some(24)][rng.usize(0..6)];
            let kind = rng.u8(0..4);
            let values: Vec<f64> = (0..n)
                .map(|i| match kind {
                    0 => 5.0,
                    1 => rng.f64() * 100.0 - 50.0,
                    2 => f64::from(u8::from(i > n / 2)) * 1e6,
                    _ => (i as f64).powi(3) * rng.f64(),
                })
                .collect();
            let seasons = Seasons {
                day: None,
                week: period,
                year: rng.bool().then(|| rng.f64() * 400.0),
            };
            if let Some(shift) = find(&values, &seasons) {
                assert!(shift.at > 0 && shift.at < n, "{shift:?} in {n}");
                let leveled = shift.level_out(&values);
                assert!(leveled.iter().all(|v| v.is_finite()), "{shift:?}");
            }
            if let Some(at) = bend(&values, &seasons) {
                assert!(at < n, "{at} in {n}");
            }
        }
    }
}
