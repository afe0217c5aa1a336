//! The candidate models. Each turns a training window into a point forecast; none is trusted by
//! default: [`crate::backtest`] scores every candidate on rolling holdouts and keeps the best.
//!
//! * Traffic: seasonal naive; the seasonal median of the last K cycles (robust to a holiday in
//!   the history); a seasonal profile times a robust trend (growth over months); a harmonic
//!   regression with yearly terms when the history spans enough of a year (the seasonal peak);
//!   augurs' MSTL with an AutoETS trend on series short enough for it.
//! * Data (cumulative volumes): drift, a linear trend and an exponential (log-linear) trend over
//!   a recent window. Growth of a table is not a seasonal curve.

use std::fmt;

use crate::history::SeriesKind;

mod seasonal;
mod trend;

use seasonal::{harmonic, median_profile, mstl_ets, profile_trend, seasonal_drift, theta};
use trend::robust_line;

/// The seasonal cycles a series can be modelled with, in samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Seasons {
    /// Samples per day, for sub-daily data with at least three days.
    pub day: Option<usize>,
    /// Samples per week, with at least three weeks.
    pub week: Option<usize>,
    /// Samples per year (fractional), with at least 1.5 years of daily or finer data.
    pub year: Option<f64>,
}

impl Seasons {
    /// The cycles that `len` samples every `step_seconds` can support.
    pub fn detect(step_seconds: f64, len: usize) -> Self {
        let per = |seconds: f64| seconds / step_seconds;
        let day = per(86_400.0);
        let week = per(7.0 * 86_400.0);
        let year = per(365.25 * 86_400.0);
        let whole =
            |p: f64| (p >= 2.0 && (p - p.round()).abs() < 1e-6).then_some(p.round() as usize);
        Self {
            day: whole(day).filter(|d| len >= 3 * d),
            week: whole(week).filter(|w| len >= 3 * w),
            year: (year >= 2.0 && len as f64 >= 1.5 * year).then_some(year),
        }
    }

    /// The cycle seasonal models repeat: the week when there is one, else the day, else the
    /// year rounded to whole samples (weekly or monthly data).
    pub fn main(&self) -> Option<usize> {
        self.week.or(self.day).or(self
            .year
            .filter(|y| *y <= 400.0)
            .map(|y| y.round() as usize))
    }
}

/// A candidate model.
#[derive(Clone, Debug, PartialEq)]
pub enum Model {
    /// The last cycle, repeated.
    SeasonalNaive { period: usize },
    /// The median of the last `cycles` cycles, slot by slot, repeated.
    SeasonalMedian { period: usize, cycles: usize },
    /// The median profile of the last `cycles` cycles, scaled by a trend fitted to the cycle
    /// means of the last `window` cycles (in logs: growth is a ratio).
    ProfileTrend {
        period: usize,
        cycles: usize,
        window: usize,
    },
    /// Least squares in logs: linear trend, yearly Fourier terms, and day-of-week (daily data)
    /// or a Fourier weekly/daily shape (finer data).
    Harmonic {
        year: f64,
        harmonics: usize,
        week: Option<usize>,
        day: Option<usize>,
        /// Fit on the last `window` samples only: a trend that changes pace is followed by
        /// its recent slope.
        window: Option<usize>,
    },
    /// The Theta method on the seasonally adjusted series (`period` 1: no season).
    Theta { period: usize },
    /// The last cycle moved by the median cycle-over-cycle change of the last `cycles`.
    SeasonalDrift { period: usize, cycles: usize },
    /// augurs: MSTL decomposition with an AutoETS trend.
    MstlEts { periods: Vec<usize> },
    /// The last value plus the mean step of the last `window` samples.
    Drift { window: usize },
    /// A straight line through the last `window` samples.
    Linear { window: usize },
    /// Exponential growth fitted to the last `window` samples.
    LogLinear { window: usize },
    /// The mean of two models' forecasts: when two candidates backtest almost alike, their
    /// mean is steadier than either choice.
    Mean(Box<Model>, Box<Model>),
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Model::SeasonalNaive { period } => write!(f, "seasonal naive ({period})"),
            Model::SeasonalMedian { period, cycles } => {
                write!(f, "seasonal median of up to {cycles} cycles ({period})")
            }
            Model::ProfileTrend { period, cycles, .. } => {
                write!(f, "seasonal profile ({period}, {cycles} cycles) × trend")
            }
            Model::Harmonic {
                harmonics,
                window,
                week,
                day,
                ..
            } => {
                write!(f, "trend + yearly harmonics ({harmonics})")?;
                if week.is_some() || day.is_some() {
                    write!(f, " + weekly shape")?;
                }
                match window {
                    Some(w) => write!(f, " over the last {w}"),
                    None => Ok(()),
                }
            }
            Model::MstlEts { periods } => write!(f, "MSTL {periods:?} + AutoETS (augurs)"),
            Model::Theta { period: 1 } => write!(f, "Theta"),
            Model::Theta { period } => write!(f, "Theta, seasonally adjusted ({period})"),
            Model::SeasonalDrift { period, cycles } => {
                write!(f, "seasonal drift ({period}, {cycles} cycles)")
            }
            Model::Drift { window } => write!(f, "drift ({window})"),
            Model::Linear { window } => write!(f, "linear trend ({window})"),
            Model::LogLinear { window } => write!(f, "exponential trend ({window})"),
            Model::Mean(a, b) => write!(f, "mean of {a} and {b}"),
        }
    }
}

/// Longest series MSTL+AutoETS is tried on: it measured 150 ms per fit on 10,000 points.
const MSTL_MAX_LEN: usize = 2_000;

/// The candidates worth backtesting for a series of `len` samples.
///
/// `len` is the length of the shortest training window the backtest fits on; `full` the whole
/// series (which decides what is affordable).
pub fn candidates(kind: SeriesKind, seasons: &Seasons, len: usize, full: usize) -> Vec<Model> {
    let mut out = Vec::new();
    match kind {
        SeriesKind::Data => {
            for window in [len / 4, len / 2, len] {
                let window = window.max(4).min(len);
                out.push(Model::LogLinear { window });
                out.push(Model::Linear { window });
            }
            out.push(Model::Drift {
                window: (len / 4).max(2),
            });
            out.dedup();
        }
        SeriesKind::Traffic => {
            if let Some(period) = seasons.main() {
                let have = len / period;
                out.push(Model::SeasonalNaive { period });
                if have >= 2 {
                    out.push(Model::SeasonalDrift { period, cycles: 3 });
                    out.push(Model::Theta { period });
                }
                if have >= 3 {
                    out.push(Model::SeasonalMedian { period, cycles: 4 });
                }
                if have >= 5 {
                    out.push(Model::SeasonalMedian { period, cycles: 8 });
                }
                if have >= 6 {
                    for window in [4, (have / 2).clamp(4, 26)] {
                        out.push(Model::ProfileTrend {
                            period,
                            cycles: 4.min(have),
                            window,
                        });
                    }
                    out.dedup();
                }
            } else {
                out.push(Model::Drift {
                    window: (len / 4).max(2),
                });
                out.push(Model::Linear {
                    window: (len / 2).max(4),
                });
                out.push(Model::Theta { period: 1 });
            }
            if let Some(year) = seasons.year {
                // The whole history, and the last five years when there are more than six.
                let mut windows = vec![None];
                let recent = (5.0 * year).round() as usize;
                if len > recent + year as usize {
                    windows.push(Some(recent));
                }
                for window in windows {
                    for harmonics in [3, 6] {
                        out.push(Model::Harmonic {
                            year,
                            harmonics,
                            week: seasons.week,
                            day: seasons.day,
                            window,
                        });
                    }
                }
            }
            if full <= MSTL_MAX_LEN {
                let periods: Vec<usize> =
                    [seasons.day, seasons.week].into_iter().flatten().collect();
                if !periods.is_empty() {
                    out.push(Model::MstlEts { periods });
                }
            }
        }
    }
    out
}

/// A model could not be fitted to this window.
#[derive(Debug)]
pub struct FitError(pub String);

impl Model {
    /// The point forecast for the `horizon` samples after `y`.
    pub fn forecast(&self, y: &[f64], horizon: usize) -> Result<Vec<f64>, FitError> {
        let n = y.len();
        let need = |k: usize, what: &str| {
            if n < k {
                Err(FitError(format!("{what} needs {k} samples, has {n}")))
            } else {
                Ok(())
            }
        };
        match *self {
            Model::SeasonalNaive { period } => {
                need(period, "seasonal naive")?;
                Ok((0..horizon).map(|i| y[n - period + i % period]).collect())
            }
            Model::SeasonalMedian { period, cycles } => {
                // Up to `cycles`: a young series uses the cycles it has.
                need(period * 3, "a seasonal median")?;
                let profile = median_profile(y, period, cycles.min(n / period));
                Ok((0..horizon).map(|i| profile[(n + i) % period]).collect())
            }
            Model::ProfileTrend {
                period,
                cycles,
                window,
            } => {
                need(period * cycles.max(window), "profile × trend")?;
                profile_trend(y, period, cycles, window, horizon)
            }
            Model::Harmonic {
                year,
                harmonics,
                week,
                day,
                window,
            } => {
                // Keep the calendar phase: the window starts on a whole number of days.
                let start = window.map_or(0, |w| n.saturating_sub(w));
                let start = start - start % week.or(day).unwrap_or(1);
                harmonic(&y[start..], start, year, harmonics, week, day, horizon)
            }
            Model::MstlEts { ref periods } => mstl_ets(y, periods, horizon),
            Model::Theta { period } => theta(y, period, horizon),
            Model::SeasonalDrift { period, cycles } => seasonal_drift(y, period, cycles, horizon),
            Model::Mean(ref a, ref b) => {
                let a = a.forecast(y, horizon)?;
                let b = b.forecast(y, horizon)?;
                Ok(a.iter().zip(&b).map(|(a, b)| (a + b) / 2.0).collect())
            }
            Model::Drift { window } => {
                need(2, "drift")?;
                let w = window.clamp(1, n - 1);
                let slope = (y[n - 1] - y[n - 1 - w]) / w as f64;
                Ok((1..=horizon).map(|h| y[n - 1] + slope * h as f64).collect())
            }
            Model::Linear { window } => {
                need(3, "a linear trend")?;
                let w = window.clamp(3, n);
                // The slope of the window, from today's volume: a table is tomorrow what it is
                // today plus its growth, so the fit's level is not allowed to jump on day one.
                let (_, b) = robust_line(&y[n - w..]);
                Ok((1..=horizon).map(|h| y[n - 1] + b * h as f64).collect())
            }
            Model::LogLinear { window } => {
                need(3, "an exponential trend")?;
                let w = window.clamp(3, n);
                let recent = &y[n - w..];
                if recent.iter().any(|v| *v <= 0.0) {
                    return Err(FitError(
                        "an exponential trend needs positive values".into(),
                    ));
                }
                let logs: Vec<f64> = recent.iter().map(|v| v.ln()).collect();
                let (_, b) = robust_line(&logs);
                Ok((1..=horizon)
                    .map(|h| y[n - 1] * (b * h as f64).exp())
                    .collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seasonal_models_line_up_with_the_calendar() {
        // Period 4, seven samples: the forecast starts at slot 7 % 4 = 3.
        let y = [0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0];
        let naive = Model::SeasonalNaive { period: 4 }.forecast(&y, 5).unwrap();
        assert_eq!(naive, [3.0, 10.0, 11.0, 12.0, 3.0]);
        let y: Vec<f64> = (0..40)
            .map(|i| (i % 4) as f64 + if i == 37 { 100.0 } else { 0.0 })
            .collect();
        let median = Model::SeasonalMedian {
            period: 4,
            cycles: 8,
        }
        .forecast(&y, 4)
        .unwrap();
        assert_eq!(median, [0.0, 1.0, 2.0, 3.0], "the outlier at 37 is ignored");
    }

    #[test]
    fn trends_extrapolate_growth() {
        let y: Vec<f64> = (0..100).map(|i| 100.0 * 1.01f64.powi(i)).collect();
        let f = Model::LogLinear { window: 50 }.forecast(&y, 10).unwrap();
        assert!((f[9] / (100.0 * 1.01f64.powi(109)) - 1.0).abs() < 1e-9);
        let y: Vec<f64> = (0..50).map(|i| 3.0 + 2.0 * i as f64).collect();
        let f = Model::Linear { window: 50 }.forecast(&y, 2).unwrap();
        assert!((f[1] - (3.0 + 2.0 * 51.0)).abs() < 1e-9);
        let f = Model::Drift { window: 10 }.forecast(&y, 3).unwrap();
        assert_eq!(f, [101.0 + 2.0, 101.0 + 4.0, 101.0 + 6.0]);
    }

    #[test]
    fn profile_times_trend_grows_the_profile() {
        // Weekly profile of period 7 growing 2% per cycle.
        let y: Vec<f64> = (0..70)
            .map(|i| (10.0 + (i % 7) as f64) * 1.02f64.powf(i as f64 / 7.0))
            .collect();
        let f = Model::ProfileTrend {
            period: 7,
            cycles: 1,
            window: 10,
        }
        .forecast(&y, 14)
        .unwrap();
        let truth: Vec<f64> = (70..84)
            .map(|i| (10.0 + (i % 7) as f64) * 1.02f64.powf(i as f64 / 7.0))
            .collect();
        for (a, b) in f.iter().zip(&truth) {
            assert!((a / b - 1.0).abs() < 0.02, "{a} vs {b}");
        }
    }

    #[test]
    fn seasons_follow_the_step_and_length() {
        let s = Seasons::detect(1800.0, 10_000);
        assert_eq!((s.day, s.week, s.year), (Some(48), Some(336), None));
        let s = Seasons::detect(86_400.0, 800);
        assert_eq!((s.day, s.week), (None, Some(7)));
        assert!(s.year.is_some());
        assert!(Seasons::detect(86_400.0, 400).year.is_none());
    }
}
