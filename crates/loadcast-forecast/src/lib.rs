//! loadcast's forecast stage: history in, a [`Projection`] of traffic **and** data volume at the
//! horizon out, with honest uncertainty.
//!
//! * [`history`]: CSV (timestamp plus declared series) and Prometheus `query_range`, on a
//!   regular grid; gaps filled and reported; duplicates, non-numbers and off-grid samples are
//!   errors naming the line and series.
//! * [`model`]: seasonal baselines, seasonal medians, seasonal drift, yearly harmonics,
//!   seasonal ETS (fitted by likelihood), the Theta family and AutoETS on the seasonally
//!   adjusted series, augurs' MSTL for several seasons; drift, linear, exponential, changepoint,
//!   plateau and cumulative shapes for data volumes.
//! * [`clock`]: the local wall clock a history's days follow, when it has one
//!   (`--tz Europe/Berlin`): modelled on it, written out as instants.
//! * [`seasons`]: which cycles a series is modelled with: detected and kept when the series
//!   repeats at them, or requested.
//! * [`backtest`]: every candidate is scored on rolling holdouts; the lowest MASE wins (with
//!   the next model it did not clearly beat, as a mean), and the backtest errors calibrate the
//!   80% and 95% intervals.
//!
//! ```
//! use std::time::Duration;
//! use loadcast_forecast::{history::{History, SeriesKind}, Options, project};
//!
//! // Two years of a table growing 3% a month, sampled daily.
//! let points = (0..730).map(|d| (d * 86_400, 1e6 * 1.03f64.powf(d as f64 / 30.4))).collect();
//! let history = History::from_points("example", None, vec![("orders".into(), SeriesKind::Data, points)]).unwrap();
//! let projection = project(&history, &Options::horizon(Duration::from_secs(180 * 86_400))).unwrap();
//! let orders = &projection.series[0];
//! assert!((orders.at_horizon.point / (1e6 * 1.03f64.powf(909.0 / 30.4)) - 1.0).abs() < 0.02);
//! ```

pub mod backtest;
pub mod clock;
pub mod events;
pub mod grid;
pub mod history;
pub mod model;
pub mod prometheus;
pub mod regime;
pub mod resample;
pub mod seasons;
pub mod source;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use backtest::{Accuracy, Band};
use history::{History, Series, SeriesKind, format_time};
use model::Seasons;
use seasons::seasons_for;
pub use seasons::{Season, Seasonality};

/// Why a forecast could not be made. Every variant names the series or the input it is about.
#[derive(Debug, thiserror::Error)]
pub enum ForecastError {
    #[error("{}: {cause}", path.display())]
    Io { path: PathBuf, cause: String },
    #[error("{origin}{}: {}{cause}", line.map_or(String::new(), |l| format!(":{l}")), series.as_ref().map_or(String::new(), |s| format!("series {s}: ")))]
    Input {
        origin: String,
        line: Option<usize>,
        series: Option<String>,
        cause: String,
    },
    #[error("series {series}: {points} samples are too few ({needed} needed): {why}")]
    TooShort {
        series: String,
        points: usize,
        needed: usize,
        why: String,
    },
    #[error("series {series}: {cause}")]
    Model { series: String, cause: String },
    #[error("Prometheus at {url}: {cause}")]
    Prometheus { url: String, cause: String },
    #[error("{0}")]
    Options(String),
}

/// What to forecast.
#[derive(Clone, Debug)]
pub struct Options {
    pub horizon: Duration,
    /// `None`: every season the history supports. `Some`: exactly these, and an error when the
    /// history is too short for one of them.
    pub seasons: Option<Vec<Season>>,
    /// Most points kept in the projection's paths (charts).
    pub path_points: usize,
    /// Growth shapes pinned by series name (`--data orders=orders_rows:linear`).
    pub pins: Vec<(String, model::Shape)>,
}

impl Options {
    pub fn horizon(horizon: Duration) -> Self {
        Self {
            horizon,
            seasons: None,
            path_points: 400,
            pins: Vec::new(),
        }
    }
}

/// The format name and version of a projection file.
pub const PROJECTION_FORMAT: &str = "loadcast-projection";
pub const PROJECTION_VERSION: u32 = 1;

impl loadcast_stats::Document for Projection {
    const FORMAT: &'static str = PROJECTION_FORMAT;
    const VERSION: u32 = PROJECTION_VERSION;
    const WHAT: &'static str = "projection";
}

/// Traffic and data volume at the horizon: what the rest of loadcast plans for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    pub format: String,
    pub version: u32,
    /// Last sample of the history (RFC 3339): the "now" of the projection.
    pub as_of: String,
    pub as_of_unix: i64,
    pub history_start: String,
    /// The step: nominal seconds (a month's is [`grid::NOMINAL_MONTH`]), and in words on its
    /// calendar ("monthly (on the 1st)", "1h with gaps by design: …").
    pub step_seconds: u64,
    #[serde(default)]
    pub grid: String,
    pub horizon_end: String,
    pub horizon_end_unix: i64,
    #[serde(default)]
    pub series: Vec<SeriesProjection>,
    /// What was repaired or assumed on the way (filled gaps, seasons not supported).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One series projected to the horizon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesProjection {
    pub name: String,
    pub kind: SeriesKind,
    /// The model chosen by backtest, and every candidate's backtest MASE.
    pub model: String,
    #[serde(default)]
    pub candidates: Vec<CandidateScore>,
    /// Last observed value.
    pub last: f64,
    /// Today's peak: the largest value of the last seasonal cycle (traffic), or the last value
    /// (data).
    pub current_peak: f64,
    pub at_horizon: Band,
    /// The largest point forecast within the horizon (the seasonal peak is what breaks
    /// systems), with its band, and when it is.
    pub peak: Band,
    pub peak_at: String,
    pub peak_at_unix: i64,
    /// `peak / current_peak − 1` for traffic, `at_horizon / last − 1` for data; undefined
    /// (`null`) when the series is at zero now.
    #[serde(with = "loadcast_stats::document::undefined")]
    pub growth: f64,
    /// The chosen model's accuracy on the selection backtest.
    pub backtest: Accuracy,
    /// The forecast, downsampled for charts (traffic keeps each bucket's peak).
    #[serde(default)]
    pub path: Vec<PathPoint>,
    /// The end of the history, downsampled the same way.
    #[serde(default)]
    pub history: Vec<(i64, f64)>,
    /// The seasonal cycles found in the history ("daily (48 samples)").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seasons: Vec<String>,
    /// Why no date should be read from this forecast, when none should.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
    /// How the model was chosen, when the user should know (a pin followed or refused).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What changed inside the history that the forecast rests on (also among the notes): a
    /// lasting step in a rate's level, a trend that broke. A runway dated from this forecast
    /// holds only if the change lasts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

impl SeriesProjection {
    /// The figure growth is measured from, which every report prints as "today": a traffic
    /// series' highest value over its last cycle (the peak it must meet now), a data series'
    /// last value.
    pub fn today(&self) -> f64 {
        match self.kind {
            SeriesKind::Traffic => self.current_peak,
            SeriesKind::Data => self.last,
        }
    }

    /// The growth as the reports print it: "+35%", or "n/a" from zero (no ratio to speak of).
    pub fn growth_percent(&self) -> String {
        if self.growth.is_finite() {
            format!("{:+.0}%", self.growth * 100.0)
        } else {
            "n/a".into()
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateScore {
    pub model: String,
    /// `None`: it could not be fitted on every fold.
    pub mase: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathPoint {
    pub t: i64,
    #[serde(flatten)]
    pub band: Band,
}

impl Projection {
    pub fn series(&self, name: &str) -> Option<&SeriesProjection> {
        self.series.iter().find(|s| s.name == name)
    }

    /// A warning when the history ended more than a week before `now`: the forecast counts its
    /// dates from the history's last day, not from today.
    pub fn staleness(&self, now: i64) -> Option<String> {
        let days = (now - self.as_of_unix) / 86_400;
        (days > 7).then(|| {
            format!(
                "the history ends on {}, {days} days ago: the forecast's \"now\" is that day, so its peak and horizon dates are counted from then, not from today",
                history::format_date(self.as_of_unix)
            )
        })
    }

    /// The history's step on its calendar: "1 day", "monthly on the 1st" (projections written
    /// before calendars were named carry only the seconds).
    pub fn step(&self) -> String {
        if self.grid.is_empty() {
            grid::step_words(self.step_seconds)
        } else {
            self.grid.clone()
        }
    }

    /// What the reports' "today" column holds, for the series this projection has: a seasonal
    /// traffic series' figure is the peak of its last cycle, not its last sample, and a reader
    /// comparing it with the history's last line must be told so; a traffic series without a
    /// season (yearly samples) has no cycle, and its figure is its last value.
    pub fn today_legend(&self) -> String {
        let traffic: Vec<&SeriesProjection> = self
            .series
            .iter()
            .filter(|s| s.kind == SeriesKind::Traffic)
            .collect();
        // A projection written before seasons were listed has none: a peak above the last
        // value still shows it was taken over a cycle.
        let cyclic = traffic
            .iter()
            .filter(|s| !s.seasons.is_empty() || s.current_peak != s.last)
            .count();
        let acyclic = traffic.len() - cyclic;
        if traffic.is_empty() {
            return "today: the last value; growth is the value at the horizon against it".into();
        }
        if traffic.len() == self.series.len() {
            let today = match (cyclic, acyclic) {
                (_, 0) => "the highest value over the last cycle",
                (0, _) => "the last value",
                _ => {
                    "the highest value over the last cycle (the last value of a series without a season)"
                }
            };
            return format!("today: {today}; growth is the forecast peak against it");
        }
        let today = match (cyclic, acyclic) {
            (_, 0) => {
                "a traffic series' highest value over its last cycle, a data series' last value"
            }
            (0, _) => "each series' last value",
            _ => {
                "a traffic series' highest value over its last cycle (its last value without a season), a data series' last value"
            }
        };
        format!(
            "today: {today}; growth is the forecast peak (traffic) or the value at the horizon (data) against it"
        )
    }

    /// "traffic +35% by the peak on 2027-03-14, orders +140%".
    pub fn growth_summary(&self) -> String {
        self.series
            .iter()
            .map(|s| format!("{} {}", s.name, s.growth_percent()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Fewest samples any series needs.
const MIN_SAMPLES: usize = 8;

/// Projects every series of the history to the horizon.
pub fn project(history: &History, options: &Options) -> Result<Projection, ForecastError> {
    let step = history.step.as_secs_f64();
    if options.horizon.as_secs_f64() < step {
        return Err(ForecastError::Options(format!(
            "the horizon ({}) is shorter than the history's step ({})",
            humantime::format_duration(options.horizon),
            humantime::format_duration(history.step)
        )));
    }
    let steps = history.steps_in(options.horizon).max(1);
    // A history much shorter than the horizon cannot say where the series goes: far past
    // ten times its length a forecast is a guess with a date on it.
    let span = (history.end() - history.time_of(0)).max(0) as f64;
    let horizon = options.horizon.as_secs_f64();
    let days = |s: f64| format!("{:.0} days", (s / 86_400.0).max(0.0));
    if span * 10.0 < horizon {
        return Err(ForecastError::Options(format!(
            "the history covers {} but the horizon is {}: a forecast more than ten times as long as its history is a guess (give more history, or a horizon of at most {})",
            days(span),
            days(horizon),
            days(span * 10.0)
        )));
    }
    let mut notes = history.notes.clone();
    if span < horizon {
        notes.push(format!(
            "the history covers {}, less than the {} horizon: seasons longer than the history are not seen, and the intervals widen past what it can test",
            days(span),
            days(horizon)
        ));
    }
    let results = parallel_map(&history.series, |series| {
        project_series(history, series, steps, options)
    });
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        let s: SeriesProjection = r?;
        notes.extend(s.notes.iter().map(|n| format!("{}: {n}", s.name)));
        if let Some(why) = &s.unsupported {
            notes.push(format!("{}: {why}", s.name));
        }
        out.push(s);
    }
    let end = history.end();
    let horizon_end = history.time_of(history.len() - 1 + steps);
    Ok(Projection {
        format: PROJECTION_FORMAT.into(),
        version: PROJECTION_VERSION,
        as_of: format_time(end),
        as_of_unix: end,
        history_start: format_time(history.time_of(0)),
        step_seconds: history.step.as_secs(),
        grid: history.describe_grid(),
        horizon_end: format_time(horizon_end),
        horizon_end_unix: horizon_end,
        series: out,
        notes,
    })
}

/// A series' fit, the same for a projection and for each fold of its backtest: gross one-offs
/// kept out ([`events::without_one_offs`]: a rate's spikes, a volume's jumps; before the
/// seasons are tested, as a spike hides a season from that test too), a rate's lasting step in
/// level read away ([`regime::find`]), the seasons the series shows, the model chosen by
/// rolling backtests (on folds after a break in its trend, when it has one), and its forecast
/// with calibrated bands.
struct Fit {
    seasons: Seasons,
    selection: backtest::Selection,
    bands: Vec<Band>,
    /// What was kept out as one-offs, when anything was.
    one_offs: Option<String>,
    /// What changed inside the history that the forecast rests on, in words: a lasting step in
    /// a rate's level, read away; a trend that broke, modelled from after the break.
    changes: Vec<String>,
}

fn fit(
    history: &History,
    series: &Series,
    requested: Option<&[Season]>,
    steps: usize,
    pin: Option<model::Shape>,
) -> Result<Fit, ForecastError> {
    let failed = |cause: String| ForecastError::Model {
        series: series.name.clone(),
        cause,
    };
    let (values, one_offs) = events::without_one_offs(history, series);
    let mut changes = Vec::new();
    let calendar = history.grid.seasons(history.step, values.len());
    let shift = match series.kind {
        SeriesKind::Traffic => regime::find(&values, &calendar),
        SeriesKind::Data => None,
    };
    let values = match shift {
        Some(shift) => {
            changes.push(shift.describe(history, &values, &calendar));
            shift.level_out(&values)
        }
        None => values,
    };
    let cleaned = Series {
        name: series.name.clone(),
        kind: series.kind,
        values,
    };
    let seasons = seasons_for(&cleaned, history, requested)?;
    let y = &cleaned.values;
    let selection = backtest::select(y, series.kind, &seasons, steps, pin).map_err(failed)?;
    let point = selection
        .model
        .forecast(y, steps)
        .map_err(|e| failed(e.0))?;
    let bands = point
        .iter()
        .enumerate()
        .map(|(h, p)| selection.calibration.band(*p, h, series.kind))
        .collect();
    changes.extend(selection.trend_changed.map(|change| {
        format!(
            "its trend changed around {}: the model is chosen, and its band calibrated, on backtest folds after the change, not on the history before it",
            history.describe_time(change)
        )
    }));
    Ok(Fit {
        seasons,
        selection,
        bands,
        one_offs,
        changes,
    })
}

fn project_series(
    history: &History,
    series: &Series,
    steps: usize,
    options: &Options,
) -> Result<SeriesProjection, ForecastError> {
    let y = &series.values;
    let n = y.len();
    if n < MIN_SAMPLES {
        return Err(ForecastError::TooShort {
            series: series.name.clone(),
            points: n,
            needed: MIN_SAMPLES,
            why: "a trend needs a few samples to hold out and test".into(),
        });
    }
    let pin = options
        .pins
        .iter()
        .find(|(name, _)| *name == series.name)
        .map(|(_, shape)| *shape);
    let Fit {
        seasons,
        selection,
        bands,
        one_offs,
        changes,
    } = fit(history, series, options.seasons.as_deref(), steps, pin)?;
    let time_of = |h: usize| history.time_of(n + h);
    let (peak_index, _) = bands
        .iter()
        .enumerate()
        .fold((0, f64::MIN), |(bi, bv), (i, b)| {
            if b.point > bv { (i, b.point) } else { (bi, bv) }
        });
    let last = y[n - 1];
    // Every season listed in the projection has a cycle to take today's peak over: a long
    // year with no other season (hourly data pinned to `yearly`) takes the year's.
    let cycle = seasons
        .main()
        .or(seasons.year.map(|y| y.round() as usize))
        .unwrap_or(1)
        .min(n);
    let current_peak = match series.kind {
        SeriesKind::Traffic => y[n - cycle..].iter().copied().fold(f64::MIN, f64::max),
        SeriesKind::Data => last,
    };
    let at_horizon = bands[steps - 1];
    // The peak's bounds are the highest bounds within the horizon, so that no value of the
    // path (the horizon's included) has an upper bound above the peak's.
    let highest = |f: fn(&Band) -> f64| bands.iter().map(f).fold(f64::MIN, f64::max);
    let peak = Band {
        hi80: highest(|b| b.hi80),
        hi95: highest(|b| b.hi95),
        ..bands[peak_index]
    };
    let growth = match series.kind {
        SeriesKind::Traffic => ratio(peak.point, current_peak),
        SeriesKind::Data => ratio(at_horizon.point, last),
    };
    let mut path: Vec<PathPoint> =
        downsample(&bands, options.path_points, series.kind, |b| b.point)
            .into_iter()
            .map(|i| PathPoint {
                t: time_of(i),
                band: bands[i],
            })
            .collect();
    // On a wall clock, the hour it skips names the same instant as the hour after it.
    path.dedup_by_key(|p| p.t);
    let tail_len = n.min(steps.max(4 * cycle));
    let tail = &y[n - tail_len..];
    let history_points = downsample(tail, options.path_points, series.kind, |v| *v)
        .into_iter()
        .map(|i| (history.time_of(n - tail_len + i), tail[i]))
        .collect();
    Ok(SeriesProjection {
        name: series.name.clone(),
        kind: series.kind,
        model: selection.model.to_string(),
        candidates: selection
            .scores
            .iter()
            .map(|(m, s)| CandidateScore {
                model: m.to_string(),
                mase: *s,
            })
            .collect(),
        last,
        current_peak,
        at_horizon,
        peak,
        peak_at: format_time(time_of(peak_index)),
        peak_at_unix: time_of(peak_index),
        growth,
        backtest: selection.accuracy,
        path,
        history: history_points,
        unsupported: selection.unsupported,
        notes: one_offs
            .into_iter()
            .chain(changes.iter().cloned())
            .chain(selection.notes)
            .collect(),
        changes,
        seasons: seasons.describe(),
    })
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b - 1.0 } else { f64::NAN }
}

/// Indices that keep at most `max` points: each bucket's largest value for traffic (the peaks
/// must survive), its last for data.
fn downsample<T>(
    items: &[T],
    max: usize,
    kind: SeriesKind,
    value: impl Fn(&T) -> f64,
) -> Vec<usize> {
    let per = items.len().div_ceil(max.max(1)).max(1);
    (0..items.len())
        .step_by(per)
        .map(|start| {
            let end = (start + per).min(items.len());
            match kind {
                SeriesKind::Data => end - 1,
                SeriesKind::Traffic => (start..end)
                    .max_by(|a, b| value(&items[*a]).total_cmp(&value(&items[*b])))
                    .unwrap_or(start),
            }
        })
        .collect()
}

/// Maps `f` over `items` on every CPU this process may use; results in order.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().max(1));
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= items.len() {
                            return mine;
                        }
                        mine.push((i, f(&items[i])));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Accuracy of the whole forecasting procedure (selection included) on rolling holdouts of
/// `holdout` steps: origins at `n − holdout`, `n − 2·holdout`, … while `min_train` samples
/// remain for training. Each fold chooses its model on its own training data only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesBacktest {
    pub name: String,
    pub kind: SeriesKind,
    pub accuracy: Accuracy,
    /// The model each fold chose.
    #[serde(default)]
    pub models: Vec<String>,
    /// The lag of the seasonal-naive error that scales MASE (1: none).
    #[serde(default)]
    pub scale_season: usize,
}

/// Runs the rolling-holdout backtest of every series.
pub fn backtest(
    history: &History,
    holdout: Duration,
    min_train: Option<usize>,
    seasons: Option<&[Season]>,
) -> Result<Vec<SeriesBacktest>, ForecastError> {
    let h = history.steps_in(holdout);
    if h == 0 {
        return Err(ForecastError::Options(
            "the holdout is shorter than one step of the history".into(),
        ));
    }
    let results = parallel_map(&history.series, |series| {
        let y = &series.values;
        let full = seasons_for(series, history, seasons)?;
        let min = min_train.unwrap_or_else(|| 4 * full.main().unwrap_or(3));
        let folds = backtest::origins(y.len(), h, h, min, usize::MAX);
        if folds.is_empty() {
            return Err(ForecastError::TooShort {
                series: series.name.clone(),
                points: y.len(),
                needed: min + h,
                why: match (min_train, full.main()) {
                    (None, Some(cycle)) => format!(
                        "a backtest holds out {h} samples after {min} of training (four cycles of {cycle} by default: --min-train sets fewer)"
                    ),
                    _ => format!("a backtest holds out {h} samples after {min} of training"),
                },
            });
        }
        let mut each = Vec::with_capacity(folds.len());
        let mut models = Vec::new();
        for &o in &folds {
            let train = History {
                start: history.start,
                step: history.step,
                grid: history.grid.clone(),
                clock: history.clock.clone(),
                series: vec![Series {
                    name: series.name.clone(),
                    kind: series.kind,
                    values: y[..o].to_vec(),
                }],
                notes: Vec::new(),
            };
            let Fit {
                selection, bands, ..
            } = fit(&train, &train.series[0], seasons, h, None)?;
            // Scored exactly as `project` forecasts: the bias-corrected point and its band.
            let pairs: Vec<(f64, f64)> = bands
                .iter()
                .map(|b| b.point)
                .zip(y[o..o + h].iter().copied())
                .collect();
            each.push(backtest::score(&pairs, &y[..o], full.main(), |i, _| {
                bands[i]
            }));
            models.push(selection.model.to_string());
        }
        Ok(SeriesBacktest {
            name: series.name.clone(),
            kind: series.kind,
            accuracy: Accuracy::mean(&each),
            models,
            scale_season: full.main().unwrap_or(1),
        })
    });
    results.into_iter().collect()
}
