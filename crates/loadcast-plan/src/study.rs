//! The plan's capacity study: its `[capacity]` under what the command sets (flags, or the
//! demo's own settings), the volumes each scale aims at and the runway's forecast paths, all
//! from the [`ResolvedPlan`]: the one place a plan becomes a [`StudySpec`].

use std::time::Duration;

use loadcast_capacity::runway::PathPoint;
use loadcast_capacity::{RunwayInput, ScaleResult, ScaleTarget, SearchOptions, StudySpec};
use loadcast_forecast::SeriesProjection;

use crate::model::{CapacitySpec, DataScale};
use crate::resolve::ResolvedPlan;

/// What the command (flags, or the demo) sets over the plan's `[capacity]`.
#[derive(Clone, Debug, Default)]
pub struct StudySettings {
    pub from: Option<f64>,
    pub factor: Option<f64>,
    pub hold: Option<Duration>,
    pub warmup: Option<Duration>,
    pub precision: f64,
    pub max_steps: usize,
    /// `None`: the plan's `[capacity] data_scales`.
    pub scales: Option<Vec<DataScale>>,
    pub traffic_series: Option<String>,
    pub usl: bool,
    pub allow_database: Option<String>,
    /// Today's search, done already.
    pub today: Option<ScaleResult>,
    /// Searches at each scale [default: capacity.repeat, else 1].
    pub repeat: Option<usize>,
}

/// A forecast's path as the runway reads it.
pub fn runway_path(series: &SeriesProjection) -> Vec<PathPoint> {
    series
        .path
        .iter()
        .map(|q| PathPoint {
            t: q.t,
            point: q.band.point,
            lo95: q.band.lo95,
            hi95: q.band.hi95,
        })
        .collect()
}

/// The study's spec: the plan's `[capacity]` under the flags, volumes from the resolved plan.
pub fn study_spec(resolved: &ResolvedPlan<'_>, settings: &StudySettings) -> StudySpec {
    let plan = resolved.plan;
    let c = plan.capacity.clone().unwrap_or_else(|| CapacitySpec {
        from: None,
        factor: None,
        hold: None,
        warmup: None,
        data_scales: Vec::new(),
        table: None,
        users: Vec::new(),
        repeat: None,
    });
    let search = SearchOptions {
        from: settings.from.or(c.from).unwrap_or(50.0),
        factor: settings.factor.or(c.factor).unwrap_or(1.5),
        hold: settings.hold.or(c.hold).unwrap_or(Duration::from_secs(10)),
        warmup: settings
            .warmup
            .or(c.warmup)
            .unwrap_or(Duration::from_secs(3)),
        precision: settings.precision,
        max_steps: settings.max_steps,
        ..SearchOptions::default()
    };
    let table = resolved.measuring_table();
    let horizon_volume = table.as_deref().and_then(|t| resolved.horizon_volume_of(t));
    let scales = settings
        .scales
        .clone()
        .unwrap_or(c.data_scales)
        .into_iter()
        .filter(|s| !matches!(s, DataScale::Times(m) if (*m - 1.0).abs() < 1e-9))
        .map(|s| match s {
            DataScale::Times(m) => ScaleTarget::Times(m),
            DataScale::Horizon => ScaleTarget::Horizon(horizon_volume),
        })
        .collect();
    let data_series = table.as_deref().and_then(|t| {
        resolved
            .projection
            .as_ref()?
            .series(&resolved.data_series_of(t))
    });
    let runway = resolved
        .traffic_series(settings.traffic_series.as_deref())
        .map(|traffic| RunwayInput {
            traffic: runway_path(traffic),
            today: traffic.today(),
            data: data_series.map(runway_path),
            caveats: std::iter::once(traffic)
                .chain(data_series)
                .filter_map(|s| Some(format!("{}: {}", s.name, s.unsupported.as_deref()?)))
                .collect(),
            changes: std::iter::once(traffic)
                .chain(data_series)
                .flat_map(|s| s.changes.iter().map(|c| format!("{}: {c}", s.name)))
                .collect(),
        });
    StudySpec {
        plan_name: plan.name.clone(),
        plan_hash: plan.hash.clone(),
        target: plan.target.url(),
        started_at: loadcast_stats::time::format_time(loadcast_stats::time::now()),
        thresholds: plan.thresholds.clone(),
        search,
        table,
        scales,
        horizon_volume,
        usl_users: if settings.usl {
            Some(c.users)
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| vec![1, 2, 4, 8, 16, 32])
        } else {
            Vec::new()
        },
        runway,
        today: settings.today.clone(),
        repeat: settings.repeat.or(c.repeat).unwrap_or(1),
    }
}
