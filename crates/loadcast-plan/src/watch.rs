//! A plan's `[watch]` made into one cycle of `loadcast watch`: production's history read from
//! Prometheus and forecast exactly as `loadcast forecast --plan` forecasts a history (the same
//! [`ForecastInputs`]: horizon, events), today's values and production's latency, judged against
//! a capacity study by [`loadcast_capacity::watch::judge`].

use std::time::Duration;

use loadcast_capacity::CapacityStudy;
use loadcast_capacity::watch::{ForecastHealth, Observed, WatchCycle, WatchInput, judge};
use loadcast_forecast::ForecastError;
use loadcast_forecast::history::{SeriesKind, SeriesSpec};
use loadcast_forecast::source::{HistorySource, PrometheusWindow};

use crate::model::{Plan, WatchSpec};
use crate::resolve::{ForecastInputs, ResolvedPlan};
use crate::study::runway_path;

/// How long Prometheus may take to answer the latency query.
const LATENCY_TIMEOUT: Duration = Duration::from_secs(30);

/// The series name of production's traffic in a cycle's forecast.
pub const TRAFFIC_SERIES: &str = "traffic";

/// What one cycle judges.
#[derive(Clone, Debug)]
pub struct CycleAsk<'a> {
    pub plan: &'a Plan,
    /// The plan's `[watch]`, with what the command line sets over it.
    pub spec: &'a WatchSpec,
    pub study: &'a CapacityStudy,
    /// `run #12` or the study's file.
    pub study_origin: String,
    pub previous: Option<&'a WatchCycle>,
    /// When the cycle runs (Unix seconds): the end of the history read.
    pub now: i64,
}

/// The forecast inputs of a cycle: the plan's `[watch]` queries over its window, with the
/// plan's horizon and events.
pub fn watch_inputs(
    plan: &Plan,
    spec: &WatchSpec,
    table: Option<&str>,
    now: i64,
) -> ForecastInputs {
    let mut series = vec![SeriesSpec::new(
        TRAFFIC_SERIES,
        &spec.traffic,
        SeriesKind::Traffic,
    )];
    if let Some(data) = &spec.data {
        series.push(SeriesSpec::new(
            table.unwrap_or("data"),
            data,
            SeriesKind::Data,
        ));
    }
    ForecastInputs {
        source: HistorySource::Prometheus {
            url: spec.prometheus.clone(),
            series,
            window: PrometheusWindow {
                since: spec.since,
                until: Some(now),
                step: spec.step,
            },
        },
        horizon: ResolvedPlan::with_projection(plan, None).horizon(),
        name: plan.name.clone(),
        events: plan.history.as_ref().and_then(|h| h.events.clone()),
        resample: None,
        clock: plan.history.as_ref().and_then(|h| h.clock.clone()),
    }
}

/// Reads production, forecasts it and judges it against the study.
pub fn watch_cycle(ask: &CycleAsk<'_>) -> Result<WatchCycle, ForecastError> {
    let plan = ask.plan;
    let spec = ask.spec;
    let table = ask
        .study
        .table
        .clone()
        .or_else(|| ResolvedPlan::with_projection(plan, None).measuring_table());
    let inputs = watch_inputs(plan, spec, table.as_deref(), ask.now);
    let history = inputs.history()?;
    let projection = loadcast_forecast::project(&history, &inputs.options())?;
    let mut notes: Vec<String> = projection.notes.clone();
    notes.extend(projection.staleness(ask.now));
    let traffic = projection
        .series(TRAFFIC_SERIES)
        .ok_or_else(|| ForecastError::Options("production's traffic was not forecast".into()))?;
    let data = table
        .as_deref()
        .filter(|_| spec.data.is_some())
        .and_then(|t| projection.series(t));
    let p99_ms = match &spec.latency_p99 {
        None => None,
        Some(query) => match loadcast_forecast::prometheus::instant(
            &spec.prometheus,
            "watch.latency_p99",
            query,
            projection.as_of_unix,
            LATENCY_TIMEOUT,
        ) {
            Ok(Some(seconds)) => Some(seconds * 1000.0),
            Ok(None) => {
                notes.push(
                    "watch.latency_p99 returned no value: production's latency is not compared"
                        .into(),
                );
                None
            }
            Err(e) => {
                notes.push(format!("production's latency is not compared: {e}"));
                None
            }
        },
    };
    let forecasts = std::iter::once(traffic)
        .chain(data)
        .map(|s| ForecastHealth {
            series: s.name.clone(),
            model: s.model.clone(),
            mase: s.backtest.mase,
            unsupported: s.unsupported.clone(),
            changes: s.changes.clone(),
        })
        .collect();
    Ok(judge(WatchInput {
        plan_name: plan.name.clone(),
        plan_hash: plan.hash.clone(),
        plan_path: plan.path.display().to_string(),
        source: inputs.source.name(),
        now: ask.now,
        study: ask.study,
        study_origin: ask.study_origin.clone(),
        observed: Observed {
            at: projection.as_of_unix,
            traffic: traffic.last,
            volume: data.map(|d| d.last),
            p99_ms,
        },
        traffic: runway_path(traffic),
        data: data.map(runway_path),
        forecasts,
        previous: ask.previous,
        latency_tolerance: spec.latency_tolerance,
        notes,
    }))
}
