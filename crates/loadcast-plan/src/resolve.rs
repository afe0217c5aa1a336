//! A plan resolved against a projection: what "horizon" means, computed once and read by every
//! command. For each data series the volume at the horizon with the plan's bound (point, p80,
//! p95); the traffic series and its peak with the plan's traffic bound; the table whose rows
//! measure the data volume; and the forecast of the plan's own `[history]` when no projection
//! is given. `grow`, `capacity`, `plan render` and `plan init` all take their volumes from here,
//! so two commands can never aim at different volumes for one plan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use loadcast_forecast::clock::WallClock;
use loadcast_forecast::history::{CsvSpec, History, SeriesKind, SeriesSpec};
use loadcast_forecast::resample::Resample;
use loadcast_forecast::source::{HistorySource, PrometheusWindow};
use loadcast_forecast::{Band, ForecastError, Projection, SeriesProjection};

use crate::database::{RowsTarget, TableSpec};
use crate::model::{Bound, HistorySpec, Plan};

/// How far ahead a plan looks when its `[horizon]` does not say.
pub const DEFAULT_HORIZON: Duration = Duration::from_secs(6 * 2_630_016);

/// A plan with its projection.
#[derive(Clone, Debug)]
pub struct ResolvedPlan<'a> {
    pub plan: &'a Plan,
    pub projection: Option<Projection>,
    /// Which bound of the data forecast the plan tests at.
    pub data_bound: Bound,
    pub traffic_bound: Bound,
}

/// Every data series' volume at a projection's horizon, at `bound`: what a table that grows
/// to "horizon" grows to, with a plan or without one.
pub fn horizon_volumes(projection: &Projection, bound: Bound) -> BTreeMap<String, f64> {
    projection
        .series
        .iter()
        .filter(|s| s.kind == SeriesKind::Data)
        .map(|s| (s.name.clone(), pick(&s.at_horizon, bound)))
        .collect()
}

/// One value of a forecast band.
pub fn pick(band: &Band, bound: Bound) -> f64 {
    match bound {
        Bound::Point => band.point,
        Bound::Upper80 => band.hi80,
        Bound::Upper95 => band.hi95,
    }
}

impl<'a> ResolvedPlan<'a> {
    /// `projection`: one given by the user; `None` forecasts the plan's `[history]` (if any).
    pub fn new(plan: &'a Plan, projection: Option<Projection>) -> Result<Self, ForecastError> {
        let projection = match projection {
            Some(p) => Some(p),
            None => forecast_history(plan)?,
        };
        Ok(Self::with_projection(plan, projection))
    }

    /// No forecast is made: the projection is exactly what is given.
    pub fn with_projection(plan: &'a Plan, projection: Option<Projection>) -> Self {
        let horizon = plan.horizon;
        Self {
            plan,
            projection,
            data_bound: horizon.map_or(Bound::Point, |h| h.data),
            traffic_bound: horizon.map_or(Bound::Point, |h| h.traffic),
        }
    }

    /// How far ahead the plan looks.
    pub fn horizon(&self) -> Duration {
        horizon_of(self.plan)
    }

    /// Every data series' volume at the horizon, with the plan's data bound.
    pub fn horizon_volumes(&self) -> BTreeMap<String, f64> {
        self.projection
            .as_ref()
            .map(|p| horizon_volumes(p, self.data_bound))
            .unwrap_or_default()
    }

    /// The data series that forecasts a table: the one its `rows = "horizon:SERIES"` names,
    /// else the one named like the table.
    pub fn data_series_of(&self, table: &str) -> String {
        self.plan
            .database
            .as_ref()
            .and_then(|d| d.tables.iter().find(|t| t.name == table))
            .and_then(|t| match &t.rows {
                RowsTarget::Horizon { series: Some(s) } => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| table.to_string())
    }

    /// A table's volume at the horizon, with the plan's data bound.
    pub fn horizon_volume_of(&self, table: &str) -> Option<f64> {
        self.horizon_volumes()
            .get(&self.data_series_of(table))
            .copied()
    }

    /// The table whose rows measure the data volume: `[capacity] table`, else the first table
    /// the plan grows.
    pub fn measuring_table(&self) -> Option<String> {
        self.plan
            .capacity
            .as_ref()
            .and_then(|c| c.table.clone())
            .or_else(|| {
                self.plan
                    .database
                    .as_ref()
                    .and_then(|d| d.tables.first().map(|t| t.name.clone()))
            })
    }

    /// A traffic series of the projection: the one named, else the first.
    pub fn traffic_series(&self, name: Option<&str>) -> Option<&SeriesProjection> {
        let p = self.projection.as_ref()?;
        match name {
            Some(n) => p.series(n),
            None => p.series.iter().find(|s| s.kind == SeriesKind::Traffic),
        }
    }

    /// The peak traffic to plan for, with the plan's traffic bound.
    pub fn traffic_peak(&self, name: Option<&str>) -> Option<f64> {
        self.traffic_series(name)
            .map(|s| pick(&s.peak, self.traffic_bound))
    }
}

fn horizon_of(plan: &Plan) -> Duration {
    plan.horizon.map_or(DEFAULT_HORIZON, |h| h.until)
}

/// The series a plan's `[history]` declares: traffic columns by their own name, data series by
/// the name the plan gives them, with the growth shapes it pins.
pub fn history_series(history: &HistorySpec) -> Vec<SeriesSpec> {
    history
        .traffic
        .iter()
        .map(|c| SeriesSpec::new(c, c, SeriesKind::Traffic))
        .chain(history.data.iter().map(|(name, column)| {
            SeriesSpec {
                shape: history
                    .shapes
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, shape)| *shape),
                ..SeriesSpec::new(name, column, SeriesKind::Data)
            }
        }))
        .collect()
}

/// The forecast a plan's `[history]` and `[horizon]` ask for (what `loadcast forecast --plan`
/// writes: the same inputs, resampling, events and pins); `None` when the plan has no history.
pub fn forecast_history(plan: &Plan) -> Result<Option<Projection>, ForecastError> {
    if plan.history.is_none() {
        return Ok(None);
    }
    let inputs = forecast_inputs(ForecastAsk {
        plan: Some((plan, &plan.path)),
        ..ForecastAsk::default()
    })?;
    let history = inputs.history()?;
    loadcast_forecast::project(&history, &inputs.options()).map(Some)
}

/// What `loadcast forecast` was asked; the plan's `[history]` and `[horizon]` fill in what the
/// flags leave out.
#[derive(Clone, Debug, Default)]
pub struct ForecastAsk<'a> {
    /// The plan, and the file it came from (for errors).
    pub plan: Option<(&'a Plan, &'a Path)>,
    pub csv: Option<PathBuf>,
    pub prometheus: Option<(String, PrometheusWindow)>,
    pub timestamp: Option<String>,
    pub series: Vec<SeriesSpec>,
    pub horizon: Option<Duration>,
    pub events: Option<PathBuf>,
    pub resample: Option<Resample>,
    /// `--tz`: the wall clock the history's days follow.
    pub clock: Option<WallClock>,
}

/// The history to read, how to prepare it and how far ahead to forecast it.
#[derive(Clone, Debug)]
pub struct ForecastInputs {
    pub source: HistorySource,
    pub horizon: Duration,
    /// What the store lists the forecast under: the plan's name, else the history's source.
    pub name: String,
    /// Events and holidays kept out of the fit.
    pub events: Option<PathBuf>,
    pub resample: Option<Resample>,
    /// The wall clock its days follow, when not UTC's.
    pub clock: Option<WallClock>,
}

impl ForecastInputs {
    /// The history read, resampled and with its events kept out, ready to forecast.
    pub fn history(&self) -> Result<History, ForecastError> {
        let mut history = self
            .source
            .read_prepared(self.resample, self.clock.as_ref())?;
        if let Some(path) = &self.events {
            history.exclude_events(&loadcast_forecast::events::read_events(path)?);
        }
        Ok(history)
    }

    /// The forecast's options: the horizon and the pinned growth shapes.
    pub fn options(&self) -> loadcast_forecast::Options {
        loadcast_forecast::Options {
            pins: self.source.pins(),
            ..loadcast_forecast::Options::horizon(self.horizon)
        }
    }
}

/// Resolves a forecast's inputs: flags first, then the plan.
pub fn forecast_inputs(ask: ForecastAsk<'_>) -> Result<ForecastInputs, ForecastError> {
    let history = match ask.plan {
        Some((plan, path)) => Some(plan.history.as_ref().ok_or_else(|| {
            ForecastError::Options(format!(
                "{}: the plan has no [history] section (csv = \"…\", traffic = […], data = {{ … }})",
                path.display()
            ))
        })?),
        None => None,
    };
    let horizon = ask.horizon.unwrap_or_else(|| {
        ask.plan
            .map_or(DEFAULT_HORIZON, |(plan, _)| horizon_of(plan))
    });
    let series = match (ask.series.is_empty(), history) {
        (true, Some(h)) => history_series(h),
        _ => ask.series,
    };
    if series.is_empty() {
        return Err(ForecastError::Options(
            "declare at least one series with --traffic COLUMN or --data COLUMN".into(),
        ));
    }
    let csv = ask.csv.or_else(|| history.map(|h| h.csv.clone()));
    let source = match (csv, ask.prometheus) {
        (Some(path), _) => HistorySource::Csv {
            path,
            spec: CsvSpec {
                timestamp: ask
                    .timestamp
                    .or_else(|| history.and_then(|h| h.timestamp.clone())),
                series,
            },
        },
        (None, Some((url, window))) => HistorySource::Prometheus {
            url,
            series,
            window,
        },
        (None, None) => {
            return Err(ForecastError::Options(
                "give a history CSV or --prometheus URL".into(),
            ));
        }
    };
    let name = ask
        .plan
        .map_or_else(|| source.name(), |(plan, _)| plan.name.clone());
    Ok(ForecastInputs {
        source,
        horizon,
        name,
        events: ask
            .events
            .or_else(|| history.and_then(|h| h.events.clone())),
        resample: ask.resample.or_else(|| history.and_then(|h| h.resample)),
        clock: ask.clock.or_else(|| history.and_then(|h| h.clock.clone())),
    })
}

/// `loadcast grow` cannot tell what to write.
#[derive(Debug, thiserror::Error)]
pub enum GoalError {
    #[error("nothing to grow: [database.tables.NAME] rows = … in the plan, or --rows TABLE=TARGET")]
    NothingToGrow,
    #[error(
        "a table grows to the horizon, but there is no forecast: give --projection FILE, or a plan with [history]"
    )]
    NoForecast,
}

/// What `loadcast grow` writes: each table's target (the plan's, then the flags' over them),
/// and the volumes a `"horizon"` target resolves to.
#[derive(Clone, Debug)]
pub struct GrowthGoals {
    pub tables: Vec<TableSpec>,
    /// Row counts at the horizon by data series.
    pub horizon: BTreeMap<String, f64>,
    /// What a data series' forecast carries that whoever grows a table to it must know, by
    /// series: [`forecast_cautions`].
    pub cautions: BTreeMap<String, Vec<String>>,
}

/// A table's `"horizon"` target resolved: the series it follows, its row count there, and
/// that forecast's cautions.
#[derive(Clone, Debug, PartialEq)]
pub struct HorizonTarget<'a> {
    pub table: &'a str,
    pub series: &'a str,
    pub rows: f64,
    pub cautions: &'a [String],
}

/// Why a series' forecast should not be taken at its word: the history does not support a
/// forecast at the horizon, or the forecast rests on a change inside the history (a step in
/// the level, a trend that broke) that must last for it to hold: the two the capacity study
/// warns of beside its runway, said where a table is grown to the horizon.
pub fn forecast_cautions(series: &SeriesProjection) -> Vec<String> {
    series
        .unsupported
        .iter()
        .cloned()
        .chain(series.changes.iter().map(|change| {
            format!("it rests on a change inside its history ({change}), and holds only if that change lasts")
        }))
        .collect()
}

impl GrowthGoals {
    pub fn new(
        plan_tables: &[TableSpec],
        overrides: impl IntoIterator<Item = TableSpec>,
    ) -> Result<Self, GoalError> {
        let mut tables = plan_tables.to_vec();
        for table in overrides {
            TableSpec::set_target(&mut tables, table);
        }
        if tables.is_empty() {
            return Err(GoalError::NothingToGrow);
        }
        Ok(Self {
            tables,
            horizon: BTreeMap::new(),
            cautions: BTreeMap::new(),
        })
    }

    /// Whether a table grows to the horizon (and so needs a forecast).
    pub fn needs_horizon(&self) -> bool {
        self.tables
            .iter()
            .any(|g| matches!(g.rows, RowsTarget::Horizon { .. }))
    }

    /// Resolves the horizon targets against `projection`'s data series at `bound` (the plan's,
    /// or the one given): [`horizon_volumes`], each with its forecast's cautions.
    pub fn at_horizon(
        mut self,
        projection: Option<&Projection>,
        bound: Bound,
    ) -> Result<Self, GoalError> {
        let volumes = projection.map_or_else(BTreeMap::new, |p| horizon_volumes(p, bound));
        if self.needs_horizon() && volumes.is_empty() {
            return Err(GoalError::NoForecast);
        }
        self.horizon = volumes;
        self.cautions = projection
            .into_iter()
            .flat_map(|p| &p.series)
            .filter(|s| s.kind == SeriesKind::Data)
            .map(|s| (s.name.clone(), forecast_cautions(s)))
            .filter(|(_, cautions)| !cautions.is_empty())
            .collect();
        Ok(self)
    }

    /// What "horizon" means for each table that grows to it: an absolute count that replaces
    /// (never adds to) today's, with its forecast's cautions.
    pub fn horizon_targets(&self) -> Vec<HorizonTarget<'_>> {
        self.tables
            .iter()
            .filter_map(|goal| {
                let RowsTarget::Horizon { series } = &goal.rows else {
                    return None;
                };
                let name = series.as_deref().unwrap_or(&goal.name);
                let (series, rows) = self.horizon.get_key_value(name)?;
                Some(HorizonTarget {
                    table: goal.name.as_str(),
                    series,
                    rows: *rows,
                    cautions: self.cautions.get(name).map_or(&[], Vec::as_slice),
                })
            })
            .collect()
    }
}
