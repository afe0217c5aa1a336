//! Where a history is read from: a CSV file, or Prometheus' range API over a window that ends
//! on a whole step.

use std::path::PathBuf;
use std::time::Duration;

use crate::ForecastError;
use crate::clock::WallClock;
use crate::history::{CsvSpec, History, NamedPoints, SeriesSpec};
use crate::resample::{Resample, resample_points};

/// How much of Prometheus' history to read, and at what resolution.
#[derive(Clone, Copy, Debug)]
pub struct PrometheusWindow {
    pub since: Duration,
    /// The window's end (Unix seconds); now when `None`.
    pub until: Option<i64>,
    pub step: Duration,
}

/// A history to read.
#[derive(Clone, Debug)]
pub enum HistorySource {
    Csv {
        path: PathBuf,
        spec: CsvSpec,
    },
    Prometheus {
        url: String,
        series: Vec<SeriesSpec>,
        window: PrometheusWindow,
    },
}

/// What [`Fetched::points`] placed: origin, step, samples, clock hint.
type SourcePoints = (String, Option<Duration>, Vec<NamedPoints>, Option<String>);

/// What a source holds, fetched once however often it is placed on a clock: a CSV's text, or
/// Prometheus' samples (instants) at its step.
enum Fetched {
    Csv {
        text: String,
        origin: String,
        spec: CsvSpec,
    },
    Prometheus {
        points: Vec<NamedPoints>,
        origin: String,
        step: Duration,
    },
}

impl Fetched {
    /// What errors call the source, the step it was read at (Prometheus'), its samples (on
    /// `clock`'s wall time when there is one), and a hint that it was kept on a local clock.
    fn points(&self, clock: Option<&WallClock>) -> Result<SourcePoints, ForecastError> {
        match self {
            Fetched::Csv { text, origin, spec } => {
                let read = crate::history::parse_csv_points(text, origin, spec, clock)?;
                Ok((origin.clone(), None, read.series, read.clock_hint))
            }
            Fetched::Prometheus {
                points,
                origin,
                step,
            } => {
                let points = match clock {
                    Some(clock) => clock.from_instants(points.clone()),
                    None => points.clone(),
                };
                Ok((origin.clone(), Some(*step), points, None))
            }
        }
    }
}

/// How long Prometheus may take to answer one range query.
const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(30);

impl HistorySource {
    /// The history as its source holds it: on UTC's clock, at its own step.
    pub fn read(&self) -> Result<History, ForecastError> {
        self.read_prepared(None, None)
    }

    /// The history to forecast: on `clock` when one is given ([`crate::clock`]), on the
    /// coarser step `resample` when one is asked (`--resample`, bucketed on that clock). A CSV
    /// whose samples fit no grid of their own (an export run at a different hour each day) is
    /// bucketed by that step directly: the user named the step, so the samples need not agree
    /// on one.
    pub fn read_prepared(
        &self,
        resample: Option<Resample>,
        clock: Option<&WallClock>,
    ) -> Result<History, ForecastError> {
        Self::prepare(&self.fetch()?, resample, clock)
    }

    /// [`HistorySource::read_prepared`] on what the source held: a history sampled daily or
    /// coarser is placed again without the clock from the same text or samples, not read twice.
    fn prepare(
        fetched: &Fetched,
        resample: Option<Resample>,
        clock: Option<&WallClock>,
    ) -> Result<History, ForecastError> {
        let (origin, step, points, hint) = fetched.points(clock)?;
        let (points, on_clock) = match clock {
            Some(clock) => {
                let (points, note) = clock.settle(points);
                (points, Some((clock.clone(), note)))
            }
            None => (points, None),
        };
        let attach = |mut history: History| {
            history.notes.extend(hint.clone());
            history
                .notes
                .extend(on_clock.as_ref().map(|(_, note)| note.clone()));
            history.on_clock(on_clock.as_ref().map(|(clock, _)| clock.clone()))
        };
        let buckets = resample.map(|to| (to, points.clone()));
        let placed = match (History::from_points(&origin, step, points), buckets) {
            // A history sampled daily or coarser is dated as its timestamps date it: on a wall
            // clock, a sample taken at midnight UTC would be the evening before in New York.
            (Ok(history), _) if history.step.as_secs() >= 86_400 && clock.is_some() => {
                let mut as_kept = Self::prepare(fetched, resample, None)?;
                as_kept.notes.push(format!(
                    "--tz {}: not applied, as the history's step is {}: a wall clock matters within a day",
                    clock.map_or("", WallClock::name),
                    history.grid.describe(history.step)
                ));
                return Ok(as_kept);
            }
            (Ok(history), _) => attach(history),
            (Err(ForecastError::Input { .. }), Some((to, points))) => {
                return Ok(attach(resample_points(points, to, &origin)?));
            }
            // Grid errors print wall times as if UTC: say which clock they are on.
            (
                Err(ForecastError::Input {
                    origin,
                    line,
                    series,
                    cause,
                }),
                None,
            ) if clock.is_some() => {
                return Err(ForecastError::Input {
                    origin,
                    line,
                    series,
                    cause: format!(
                        "{cause} (the times are on {}'s wall clock)",
                        clock.map_or("", WallClock::name)
                    ),
                });
            }
            (Err(e), _) => return Err(e),
        };
        match resample {
            Some(to) => placed.resample(to, &origin),
            None => Ok(placed),
        }
    }

    /// The source's samples as it holds them: the file's text, or one range query per series.
    fn fetch(&self) -> Result<Fetched, ForecastError> {
        match self {
            HistorySource::Csv { path, spec } => {
                let text = std::fs::read_to_string(path).map_err(|e| ForecastError::Io {
                    path: path.clone(),
                    cause: e.to_string(),
                })?;
                Ok(Fetched::Csv {
                    text,
                    origin: self.name(),
                    spec: spec.clone(),
                })
            }
            HistorySource::Prometheus {
                url,
                series,
                window,
            } => {
                let end = window.until.unwrap_or_else(crate::history::now);
                // On a whole step, so that reruns read the same samples.
                let step = window.step.as_secs().max(1) as i64;
                let end = end - end.rem_euclid(step);
                let points = crate::prometheus::query_range_points(
                    url,
                    series,
                    end - window.since.as_secs() as i64,
                    end,
                    window.step,
                    PROMETHEUS_TIMEOUT,
                )?;
                Ok(Fetched::Prometheus {
                    points,
                    origin: crate::prometheus::origin(url),
                    step: window.step,
                })
            }
        }
    }

    /// The growth shapes its series were pinned to.
    pub fn pins(&self) -> Vec<(String, crate::model::Shape)> {
        let series = match self {
            HistorySource::Csv { spec, .. } => &spec.series,
            HistorySource::Prometheus { series, .. } => series,
        };
        series
            .iter()
            .filter_map(|s| s.shape.map(|shape| (s.name.clone(), shape)))
            .collect()
    }

    /// The file or server, as listed in the run store.
    pub fn name(&self) -> String {
        match self {
            HistorySource::Csv { path, .. } => path.display().to_string(),
            HistorySource::Prometheus { url, .. } => url.clone(),
        }
    }
}
