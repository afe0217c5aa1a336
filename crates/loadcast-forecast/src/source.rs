//! Where a history is read from: a CSV file, or Prometheus' range API over a window that ends
//! on a whole step.

use std::path::PathBuf;
use std::time::Duration;

use crate::ForecastError;
use crate::history::{CsvSpec, History, SeriesSpec};
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

/// How long Prometheus may take to answer one range query.
const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(30);

impl HistorySource {
    pub fn read(&self) -> Result<History, ForecastError> {
        match self {
            HistorySource::Csv { path, spec } => crate::history::read_csv(path, spec),
            HistorySource::Prometheus {
                url,
                series,
                window,
            } => {
                let end = window.until.unwrap_or_else(crate::history::now);
                // On a whole step, so that reruns read the same samples.
                let step = window.step.as_secs().max(1) as i64;
                let end = end - end.rem_euclid(step);
                crate::prometheus::query_range(
                    url,
                    series,
                    end - window.since.as_secs() as i64,
                    end,
                    window.step,
                    PROMETHEUS_TIMEOUT,
                )
            }
        }
    }

    /// The history on the coarser step `to` (`--resample`). A CSV whose samples fit no grid
    /// of their own (an export run at a different hour each day) is bucketed by that step
    /// directly: the user named the step, so the samples need not agree on one.
    pub fn read_resampled(&self, to: Resample) -> Result<History, ForecastError> {
        let origin = self.name();
        match self {
            HistorySource::Csv { path, spec } => {
                let points = crate::history::read_csv_points(path, spec)?;
                match History::from_points(&origin, None, points.clone()) {
                    Ok(history) => history.resample(to, &origin),
                    Err(ForecastError::Input { .. }) => resample_points(points, to, &origin),
                    Err(e) => Err(e),
                }
            }
            HistorySource::Prometheus { .. } => self.read()?.resample(to, &origin),
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
