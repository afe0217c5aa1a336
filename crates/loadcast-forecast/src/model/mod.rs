//! The candidate models. Each turns a training window into a point forecast; none is trusted by
//! default: [`crate::backtest`] scores every candidate on rolling holdouts and keeps the best.
//!
//! * Traffic: seasonal naive; the seasonal median of the last K cycles (robust to a holiday in
//!   the history); a seasonal profile times a robust trend (growth over months); a harmonic
//!   regression with yearly terms when the history spans enough of a year (the seasonal peak);
//!   seasonal ETS for seasons up to 24 (monthly, quarterly, daily-with-weekdays); the Theta
//!   family and AutoETS on the seasonally adjusted series; seasonal drift; augurs' MSTL with an
//!   ETS trend on the last cycles of the day, the week or a long year.
//! * Data (cumulative volumes): drift, a linear trend and an exponential (log-linear) trend over
//!   a recent window, AutoETS, the line since the last change of trend, a plateau (retention),
//!   and the sum of a seasonal model of the increments (seasonal write rates).

use std::fmt;

use crate::history::SeriesKind;

mod adjusted;
mod ets;
mod seasonal;
mod trend;

use adjusted::{ets, theta};
use seasonal::{harmonic, median_profile, mstl_ets, seasonal_drift};
pub(crate) use trend::break_in_trend;
use trend::{changepoint, robust_line};

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

    /// The cycles, in words: "daily (48 samples)", "weekly (336 samples)".
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(d) = self.day {
            out.push(format!("daily ({d} samples)"));
        }
        if let Some(w) = self.week {
            out.push(format!("weekly ({w} samples)"));
        }
        if let Some(y) = self.year {
            out.push(format!("yearly ({y:.1} samples)"));
        }
        out
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

/// Whether `y` repeats every `period` samples: the autocorrelation of its first differences
/// (a trend does not count) at that lag is positive and significant (95%), and large enough to
/// matter (0.1).
pub fn repeats_at(y: &[f64], period: usize) -> bool {
    let d: Vec<f64> = y.windows(2).map(|w| w[1] - w[0]).collect();
    let n = d.len();
    if period == 0 || n <= 2 * period {
        return false;
    }
    let mean = d.iter().sum::<f64>() / n as f64;
    let var: f64 = d.iter().map(|v| (v - mean).powi(2)).sum();
    if var <= 0.0 {
        return false;
    }
    let r = d[period..]
        .iter()
        .zip(&d)
        .map(|(a, b)| (a - mean) * (b - mean))
        .sum::<f64>()
        / var;
    r > (1.96 / (n as f64).sqrt()).max(0.1)
}

/// A growth shape a user can pin a data series to (`--data orders=orders_rows:linear`); the
/// backtest still checks it and refuses a pin that forecasts much worse than its best model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Linear,
    Exponential,
    /// Its growth changed (a launch): the trend since the change.
    Changepoint,
    /// It stopped growing (retention deletes old rows): flat.
    Plateau,
    /// It grows by a seasonal write rate.
    Seasonal,
}

impl Shape {
    pub const ALL: [(&'static str, Shape); 5] = [
        ("linear", Shape::Linear),
        ("exponential", Shape::Exponential),
        ("changepoint", Shape::Changepoint),
        ("plateau", Shape::Plateau),
        ("seasonal", Shape::Seasonal),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("?", |(n, _)| n)
    }
}

impl std::str::FromStr for Shape {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .find(|(n, _)| *n == text)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                format!("{text:?} is not a growth shape: {}", names.join(", "))
            })
    }
}

/// A candidate model.
#[derive(Clone, Debug, PartialEq)]
pub enum Model {
    /// The last cycle, repeated.
    SeasonalNaive { period: usize },
    /// The median of the last `cycles` cycles, slot by slot, repeated.
    SeasonalMedian { period: usize, cycles: usize },
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
    /// Exponential smoothing with the season inside the model (ETS: A,·,A or M,·,M with no,
    /// additive or damped trend, by AICc); for the short seasons of monthly, quarterly and
    /// weekly data.
    SeasonalEts { period: usize },
    /// The Theta method on the seasonally adjusted series (`period` 1: no season).
    Theta { period: usize },
    /// Exponential smoothing (AutoETS, non-seasonal) on the seasonally adjusted series.
    Ets { period: usize },
    /// The last cycle moved by the median cycle-over-cycle change of the last `cycles`.
    SeasonalDrift { period: usize, cycles: usize },
    /// augurs: MSTL decomposition with an AutoETS trend.
    /// Fitted on the last `window` samples (whole longest cycles): a long history costs no
    /// more than six cycles of it, and the trend is today's.
    MstlEts { periods: Vec<usize>, window: usize },
    /// The last value plus the mean step of the last `window` samples.
    Drift { window: usize },
    /// A straight line through the last `window` samples.
    Linear { window: usize },
    /// Exponential growth fitted to the last `window` samples.
    LogLinear { window: usize },
    /// The line of the samples after the series' last change of trend (none found: the
    /// whole series), from today's value: a launch that changed the growth rate is not averaged
    /// with the time before it. In logs when `log` (a growth rate changed).
    Changepoint { log: bool },
    /// Flat at the mean of the last `window` samples: the baseline every other model must beat
    /// for its trend or season to be believed.
    Level { window: usize },
    /// A volume forecast from its increments: `inner` forecasts what is added each step (a
    /// seasonal write rate), summed onto today's volume.
    Cumulative(Box<Model>),
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
            Model::MstlEts { periods, window } => {
                write!(
                    f,
                    "MSTL {periods:?} + AutoETS over at most the last {window} (augurs)"
                )
            }
            Model::SeasonalEts { period } => write!(f, "ETS with a season of {period}"),
            Model::Theta { period: 1 } => write!(f, "Theta"),
            Model::Theta { period } => write!(f, "Theta, seasonally adjusted ({period})"),
            Model::Ets { period: 1 } => write!(f, "AutoETS (augurs)"),
            Model::Ets { period } => write!(f, "AutoETS, seasonally adjusted ({period}; augurs)"),
            Model::SeasonalDrift { period, cycles } => {
                write!(f, "seasonal drift ({period}, {cycles} cycles)")
            }
            Model::Drift { window } => write!(f, "drift ({window})"),
            Model::Linear { window } => write!(f, "linear trend ({window})"),
            Model::LogLinear { window } => write!(f, "exponential trend ({window})"),
            Model::Mean(a, b) => write!(f, "mean of {a} and {b}"),
            Model::Changepoint { log: false } => write!(f, "linear trend since its last change"),
            Model::Changepoint { log: true } => {
                write!(f, "exponential trend since its last change")
            }
            Model::Level { window } => write!(f, "level: the mean of the last {window}"),
            Model::Cumulative(inner) => write!(f, "cumulative {inner} of the increments"),
        }
    }
}

/// Cycles of the longest season MSTL is fitted on, at most (each fit takes the cycles its
/// window has): the trend stays today's, and a year of hourly data costs ten weeks of it. Six
/// weeks of half-hours forecast taylor at MASE 0.94, ten at 0.90; twelve cost 1,000 hourly
/// series 56 s instead of 40 s.
const MSTL_CYCLES: usize = 10;

/// The candidates worth backtesting for a series of `len` samples.
///
/// `len` is the length of the shortest training window the backtest fits on.
pub fn candidates(kind: SeriesKind, seasons: &Seasons, len: usize) -> Vec<Model> {
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
            out.push(Model::Level { window: 1 });
            out.push(Model::Ets { period: 1 });
            out.push(Model::Changepoint { log: false });
            out.push(Model::Changepoint { log: true });
            // A table whose write rate has a season (busier in the peak months) grows along
            // the sum of that season.
            if let Some(period) = seasons.main().filter(|p| len >= 3 * p) {
                out.push(Model::Cumulative(Box::new(Model::SeasonalDrift {
                    period,
                    cycles: 3,
                })));
                out.push(Model::Cumulative(Box::new(Model::SeasonalMedian {
                    period,
                    cycles: 4,
                })));
                out.push(Model::Cumulative(Box::new(Model::Ets { period })));
            }
            if let Some(year) = seasons.year {
                out.push(Model::Cumulative(Box::new(Model::Harmonic {
                    year,
                    harmonics: 2,
                    week: None,
                    day: None,
                    window: None,
                })));
            }
            out.dedup();
        }
        SeriesKind::Traffic => {
            if let Some(period) = seasons.main() {
                let have = len / period;
                out.push(Model::SeasonalNaive { period });
                if have >= 2 {
                    out.push(Model::SeasonalDrift { period, cycles: 3 });
                    out.push(Model::Theta { period });
                    if period <= 52 {
                        out.push(Model::Ets { period });
                    }
                }
                if have >= 3 {
                    out.push(Model::SeasonalMedian { period, cycles: 4 });
                    if period <= ets::MAX_PERIOD {
                        out.push(Model::SeasonalEts { period });
                    }
                }
                if have >= 5 {
                    out.push(Model::SeasonalMedian { period, cycles: 8 });
                }
            } else {
                out.push(Model::Drift {
                    window: (len / 4).max(2),
                });
                out.push(Model::Linear {
                    window: (len / 2).max(4),
                });
                out.push(Model::Theta { period: 1 });
                out.push(Model::Ets { period: 1 });
            }
            out.push(Model::Level { window: len });
            // Quarterly data's year has two harmonics, which are its per-quarter shape: the
            // seasonal models fit that directly (as a candidate it only won backtests it then
            // lost out of sample: UKgas MASE 1.23 -> 1.43).
            if let Some(year) = seasons.year.filter(|y| *y >= 6.0) {
                // The whole history, and the last five years when there are more than six.
                let mut windows = vec![None];
                let recent = (5.0 * year).round() as usize;
                if len > recent + year as usize {
                    windows.push(Some(recent));
                }
                // A whole number of samples a year (monthly: 12) has year / 2 distinct
                // harmonics; more alias the ones below, and would only repeat a candidate.
                let distinct = if (year - year.round()).abs() < 1e-9 {
                    (year.round() as usize / 2).max(1)
                } else {
                    usize::MAX
                };
                for window in windows {
                    for harmonics in [3, 6].map(|h: usize| h.min(distinct)) {
                        out.push(Model::Harmonic {
                            year,
                            harmonics,
                            week: seasons.week,
                            day: seasons.day,
                            window,
                        });
                    }
                }
                out.dedup();
            }
            // A long yearly season (weekly data: 52) with no day or week: MSTL is what
            // decomposes it; the short ones (monthly, quarterly) have their own models.
            let yearly = seasons
                .main()
                .filter(|p| *p >= 24 && seasons.day.is_none() && seasons.week.is_none());
            let periods: Vec<usize> = [seasons.day, seasons.week, yearly]
                .into_iter()
                .flatten()
                .collect();
            if let Some(&longest) = periods.last() {
                if len >= 3 * longest {
                    let window = MSTL_CYCLES * longest;
                    out.push(Model::MstlEts { periods, window });
                }
            }
        }
    }
    out
}

impl Model {
    /// The growth shape this model forecasts, for the data models a user can pin.
    pub fn shape(&self) -> Option<Shape> {
        match self {
            Model::Linear { .. } | Model::Drift { .. } => Some(Shape::Linear),
            Model::LogLinear { .. } => Some(Shape::Exponential),
            Model::Changepoint { .. } => Some(Shape::Changepoint),
            Model::Level { .. } => Some(Shape::Plateau),
            Model::Cumulative(_) => Some(Shape::Seasonal),
            _ => None,
        }
    }
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
            Model::MstlEts {
                ref periods,
                window,
            } => {
                // Whole cycles, so that the seasonal phases stay put.
                let w = window.min(n / periods[periods.len() - 1] * periods[periods.len() - 1]);
                mstl_ets(&y[n - w.max(1)..], periods, horizon)
            }
            Model::Theta { period } => theta(y, period, horizon),
            Model::Ets { period } => ets(y, period, horizon),
            Model::SeasonalEts { period } => ets::seasonal_ets(y, period, horizon),
            Model::SeasonalDrift { period, cycles } => seasonal_drift(y, period, cycles, horizon),
            Model::Changepoint { log } => {
                need(24, "a change of trend")?;
                if log && y.iter().any(|v| *v <= 0.0) {
                    return Err(FitError(
                        "an exponential trend needs positive values".into(),
                    ));
                }
                let series: Vec<f64> = if log {
                    y.iter().map(|v| v.ln()).collect()
                } else {
                    y.to_vec()
                };
                let since = changepoint(&series).unwrap_or(0);
                let (_, b) = robust_line(&series[since..]);
                Ok((1..=horizon)
                    .map(|h| {
                        if log {
                            y[n - 1] * (b * h as f64).exp()
                        } else {
                            y[n - 1] + b * h as f64
                        }
                    })
                    .collect())
            }
            Model::Level { window } => {
                need(1, "a level")?;
                let w = window.clamp(1, n);
                let level = y[n - w..].iter().sum::<f64>() / w as f64;
                Ok(vec![level; horizon])
            }
            Model::Cumulative(ref inner) => {
                need(3, "a cumulative model")?;
                let increments: Vec<f64> = y.windows(2).map(|w| w[1] - w[0]).collect();
                let added = inner.forecast(&increments, horizon)?;
                Ok(added
                    .iter()
                    .scan(y[n - 1], |volume, a| {
                        *volume += a;
                        Some(*volume)
                    })
                    .collect())
            }
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
    fn yearly_harmonics_are_candidates_where_they_are_not_the_seasons_own_shape() {
        let yearly = |year: f64| Seasons {
            day: None,
            week: None,
            year: Some(year),
        };
        let harmonics = |seasons: &Seasons| -> Vec<usize> {
            candidates(SeriesKind::Traffic, seasons, 120)
                .into_iter()
                .filter_map(|m| match m {
                    Model::Harmonic {
                        harmonics,
                        window: None,
                        ..
                    } => Some(harmonics),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(harmonics(&yearly(12.0)), [3, 6]);
        assert!(harmonics(&yearly(4.0)).is_empty());
    }

    #[test]
    fn six_harmonics_fit_any_monthly_shape_exactly() {
        // Twelve free monthly factors on exponential growth: six harmonics (the sixth a cosine
        // alone, its sine being zero at every month) span them and forecast them back.
        let shape = [1.0, 0.8, 1.3, 0.9, 1.1, 1.6, 0.7, 1.2, 1.0, 0.95, 1.4, 0.85];
        let truth = |t: usize| 100.0 * 1.01f64.powi(t as i32) * shape[t % 12];
        let y: Vec<f64> = (0..96).map(truth).collect();
        let f = Model::Harmonic {
            year: 12.0,
            harmonics: 6,
            week: None,
            day: None,
            window: None,
        }
        .forecast(&y, 24)
        .unwrap();
        for (h, v) in f.iter().enumerate() {
            let want = truth(96 + h);
            assert!((v / want - 1.0).abs() < 1e-6, "month {h}: {v} vs {want}");
        }
    }

    #[test]
    fn mstl_fits_the_cycles_each_window_has_up_to_ten() {
        // Candidates are listed from the shortest backtest window (four weeks of half-hours);
        // a longer history must still be fitted on up to ten of its weeks, not four.
        let seasons = Seasons {
            day: Some(48),
            week: Some(336),
            year: None,
        };
        let mstl = candidates(SeriesKind::Traffic, &seasons, 4 * 336)
            .into_iter()
            .find(|m| matches!(m, Model::MstlEts { .. }))
            .unwrap();
        assert_eq!(
            mstl,
            Model::MstlEts {
                periods: vec![48, 336],
                window: 10 * 336
            }
        );
        let y: Vec<f64> = (0..12 * 336)
            .map(|t| {
                let day = (t % 48) as f64 / 48.0 * std::f64::consts::TAU;
                100.0 + t as f64 * 0.01 + 20.0 * day.sin() + if t % 336 < 48 { 15.0 } else { 0.0 }
            })
            .collect();
        let whole = mstl.forecast(&y, 48).unwrap();
        let last_ten = mstl.forecast(&y[2 * 336..], 48).unwrap();
        let last_four = mstl.forecast(&y[8 * 336..], 48).unwrap();
        assert_eq!(whole, last_ten);
        assert_ne!(whole, last_four);
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
