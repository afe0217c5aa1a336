//! `loadcast watch`'s judgement, next to the runway it recomputes: production's traffic and data
//! (observed now, and forecast from production's own history) against the latest capacity
//! study — headroom now and at the forecast peak, the runway with its interval beside the
//! traffic-only one, the capacity today's data volume leaves, and where production has left the
//! study behind (more data than was ever measured, latency worse than the study predicts, a
//! forecast whose backtest on recent data has degraded). Each cycle is one [`WatchCycle`].
//!
//! The crate reads no metrics: the caller hands in what production showed.

use serde::{Deserialize, Serialize};

use crate::data::Prediction;
use crate::runway::{self, CapacityCurve, Flat, PathPoint, Runway};
use crate::study::CapacityStudy;

pub const WATCH_FORMAT: &str = "loadcast-watch";
pub const WATCH_VERSION: u32 = 1;

impl loadcast_stats::Document for WatchCycle {
    const FORMAT: &'static str = WATCH_FORMAT;
    const VERSION: u32 = WATCH_VERSION;
    const WHAT: &'static str = "watch cycle";
}

/// What production showed at the end of its history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observed {
    /// The last sample (Unix seconds).
    pub at: i64,
    /// Traffic (per second, in the plan's arrival unit).
    pub traffic: f64,
    /// Rows of the table the study measured.
    pub volume: Option<f64>,
    /// Production's p99 latency (milliseconds).
    pub p99_ms: Option<f64>,
}

/// How a forecast of production's history did on its own backtest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForecastHealth {
    pub series: String,
    pub model: String,
    /// Backtest MASE on the recent history (below 1 beats a naive forecast).
    #[serde(with = "loadcast_stats::document::undefined")]
    pub mase: f64,
    /// Why the history does not support a date, when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
    /// What changed inside the history that the forecast rests on (a lasting step in traffic,
    /// a trend that broke).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

/// Where production has left the study (or its forecast) behind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WatchWarning {
    /// The data has grown past the largest volume the study measured: the capacity at today's
    /// volume is an extrapolation.
    BeyondMeasured {
        volume: f64,
        largest: f64,
        /// Scales (multiples of the study's 1x) to measure next.
        rescale: Vec<f64>,
    },
    /// At today's traffic and volume production is slower than the study predicts: the service
    /// changed since it was measured.
    LatencyWorse {
        observed_ms: f64,
        predicted_ms: f64,
        traffic: f64,
        tolerance: f64,
    },
    /// The forecast of production's history is no better than a naive one, got clearly worse
    /// since the last cycle, or the history does not support a date.
    ForecastDegraded {
        series: String,
        mase: f64,
        previous: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unsupported: Option<String>,
    },
    /// The forecast of production's history rests on a change inside it (traffic that stepped
    /// to a new level, a trend that broke): the runway holds only if the change lasts.
    ForecastChange { series: String, change: String },
    /// The study has one scale only: its capacity does not fall with the data.
    NoDataModel,
    /// Today's capacity in the study is only a lower bound (its generator fell behind, or the
    /// search was stopped): headroom and runway from it understate the real ones, and an
    /// alert on them may be about the generator, not the service.
    LowerBound { capacity: f64 },
}

impl WatchWarning {
    /// The label of the `loadcast_watch_warning` metric.
    pub fn kind(&self) -> &'static str {
        match self {
            WatchWarning::BeyondMeasured { .. } => "beyond_measured",
            WatchWarning::LatencyWorse { .. } => "latency_worse",
            WatchWarning::ForecastDegraded { .. } => "forecast_degraded",
            WatchWarning::ForecastChange { .. } => "forecast_change",
            WatchWarning::NoDataModel => "no_data_model",
            WatchWarning::LowerBound { .. } => "lower_bound",
        }
    }

    /// Every kind, so the endpoint can show 0 for those that do not apply.
    pub const KINDS: [&'static str; 6] = [
        "beyond_measured",
        "latency_worse",
        "forecast_degraded",
        "forecast_change",
        "no_data_model",
        "lower_bound",
    ];

    /// For people; `plan` is the plan file, for the command to run.
    pub fn message(&self, plan: &str) -> String {
        match self {
            WatchWarning::BeyondMeasured {
                volume,
                largest,
                rescale,
            } => {
                let scales: Vec<String> = rescale.iter().map(|m| format!("{m}x")).collect();
                format!(
                    "production's data ({volume:.0} rows) has passed the largest volume the study measured ({largest:.0} rows): today's capacity is an extrapolation; re-measure at {} — `loadcast capacity {plan} --scales {}`",
                    scales.join(" and "),
                    scales.join(",")
                )
            }
            WatchWarning::LatencyWorse {
                observed_ms,
                predicted_ms,
                traffic,
                tolerance,
            } => format!(
                "production's p99 is {observed_ms:.1} ms at {traffic:.1}/s, more than {tolerance}× the {predicted_ms:.1} ms the study predicts at this traffic and volume: the service has changed since it was measured, so its capacity may have too; re-measure — `loadcast capacity {plan}`"
            ),
            WatchWarning::ForecastDegraded {
                series,
                mase,
                previous,
                unsupported,
            } => match unsupported {
                Some(why) => format!(
                    "the forecast of {series} is not supported by its recent history ({why}): read the runway as a range, not a date"
                ),
                None => format!(
                    "the forecast of {series} has degraded on recent data: backtest MASE {mase:.2}{} — no better than a naive forecast; read the runway as a range, not a date",
                    previous.map_or(String::new(), |p| format!(" (last cycle {p:.2})"))
                ),
            },
            WatchWarning::ForecastChange { series, change } => format!(
                "the forecast of {series} rests on a change inside production's history ({change}): the runway holds only if that change lasts"
            ),
            WatchWarning::NoDataModel => format!(
                "the study measured one data scale only, so its capacity does not fall as the data grows: the data-aware runway is the traffic-only one; measure more scales — `loadcast capacity {plan} --scales 2x,4x`"
            ),
            WatchWarning::LowerBound { capacity } => format!(
                "the study's capacity today, {capacity:.1}/s, is only a lower bound (its generator fell behind, or the search was stopped): the headroom and runway here understate the service's, so an alert on them may be about the generator; re-measure with enough load (load.max_in_flight) — `loadcast capacity {plan}`"
            ),
        }
    }
}

/// Which study a cycle judged against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyRef {
    /// `run #12`, or the file.
    pub origin: String,
    pub started_at: String,
    pub age_seconds: f64,
    /// The largest data volume it measured (rows).
    pub largest_volume: Option<f64>,
    /// Today's capacity as it measured it (per second).
    pub capacity: f64,
}

/// One cycle of `loadcast watch`: the figures and the warnings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WatchCycle {
    pub format: String,
    pub version: u32,
    pub plan_name: String,
    pub plan_hash: String,
    /// The plan file, for the commands the warnings suggest.
    pub plan_path: String,
    /// When the cycle ran (RFC 3339 and Unix seconds).
    pub at: String,
    pub at_unix: i64,
    /// Where production's history came from.
    pub source: String,
    pub table: Option<String>,
    pub study: StudyRef,
    pub observed: Observed,
    /// The capacity production's current data volume leaves (per second, 95% interval).
    pub capacity_now: Prediction,
    /// The forecast's traffic peak within the horizon, and when.
    pub traffic_peak: f64,
    pub traffic_peak_at: i64,
    /// The capacity the data forecast leaves at that peak.
    pub capacity_at_peak: Prediction,
    /// Data-aware beside traffic-only (capacity frozen at the current volume).
    pub runway: Runway,
    #[serde(default)]
    pub forecasts: Vec<ForecastHealth>,
    #[serde(default)]
    pub warnings: Vec<WatchWarning>,
    /// What was assumed or could not be read on the way.
    #[serde(default)]
    pub notes: Vec<String>,
}

impl WatchCycle {
    /// Seconds from the cycle to the data-aware point runway (`None`: not within the horizon).
    pub fn runway_seconds(&self) -> Option<i64> {
        self.runway
            .data_aware
            .runs_out
            .map(|t| (t - self.observed.at).max(0))
    }
}

/// What a cycle judges.
#[derive(Clone, Debug)]
pub struct WatchInput<'a> {
    pub plan_name: String,
    pub plan_hash: String,
    pub plan_path: String,
    pub source: String,
    /// When the cycle runs (Unix seconds).
    pub now: i64,
    pub study: &'a CapacityStudy,
    pub study_origin: String,
    pub observed: Observed,
    /// Production's forecast paths (traffic; rows of the study's table).
    pub traffic: Vec<PathPoint>,
    pub data: Option<Vec<PathPoint>>,
    pub forecasts: Vec<ForecastHealth>,
    /// The cycle before, to tell a forecast that degraded from one that was always poor.
    pub previous: Option<&'a WatchCycle>,
    pub latency_tolerance: f64,
    pub notes: Vec<String>,
}

/// A backtest MASE this far above the last cycle's has degraded, even below 1.
const DEGRADED_RISE: f64 = 1.5;

/// Judges one cycle.
pub fn judge(input: WatchInput<'_>) -> WatchCycle {
    let study = input.study;
    let mut warnings = Vec::new();
    let mut notes = input.notes;
    let today = study.today();
    let measured_today = today.map(|t| {
        let (low, high) = t.interval();
        Prediction {
            capacity: t.capacity(),
            low,
            high,
        }
    });
    let base = study.scales.first().and_then(|s| s.volume);
    let largest = study
        .scales
        .iter()
        .filter_map(|s| s.volume)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let model = study.data_model.as_ref().filter(|_| input.data.is_some());
    if study.data_model.is_none() {
        warnings.push(WatchWarning::NoDataModel);
    }
    if let Some(t) = today.filter(|t| t.lower_bound()) {
        warnings.push(WatchWarning::LowerBound {
            capacity: t.capacity(),
        });
    }
    if study.plan_hash != input.plan_hash {
        // The hash covers the whole file, [watch] included: a note, not a stale study.
        notes.push(format!(
            "the study was measured with another version of the plan file (hash {}): if the load, the scenarios or the target changed since, re-measure — `loadcast capacity {}`",
            &study.plan_hash[..study.plan_hash.len().min(12)],
            input.plan_path
        ));
    }
    let fallback = measured_today.unwrap_or(Prediction {
        capacity: 0.0,
        low: 0.0,
        high: 0.0,
    });
    let capacity_at = |volume: Option<f64>| match (model, volume) {
        (Some(m), Some(v)) => m.predict(v),
        _ => fallback,
    };
    let capacity_now = capacity_at(input.observed.volume);
    if let (Some(volume), Some(largest)) = (input.observed.volume, largest) {
        if volume > largest * 1.001 {
            let base = base.unwrap_or(largest);
            let horizon = input
                .data
                .as_ref()
                .and_then(|d| d.last())
                .map_or(volume, |p| p.point);
            warnings.push(WatchWarning::BeyondMeasured {
                volume,
                largest,
                rescale: rescale(volume, horizon, base),
            });
        }
    }
    if let (Some(observed), Some(volume)) = (input.observed.p99_ms, input.observed.volume) {
        match predicted_p99(study, volume, input.observed.traffic) {
            Some(predicted) if observed > predicted * input.latency_tolerance => {
                warnings.push(WatchWarning::LatencyWorse {
                    observed_ms: observed,
                    predicted_ms: predicted,
                    traffic: input.observed.traffic,
                    tolerance: input.latency_tolerance,
                })
            }
            Some(_) => {}
            None => notes.push(
                "the study has no step that held at this volume: production's latency is not compared".into(),
            ),
        }
    }
    for f in &input.forecasts {
        let previous = input
            .previous
            .and_then(|p| p.forecasts.iter().find(|g| g.series == f.series))
            .map(|g| g.mase)
            .filter(|m| m.is_finite());
        let rose = previous.is_some_and(|p| f.mase > p * DEGRADED_RISE && f.mase > 0.5);
        if f.unsupported.is_some() || f.mase > 1.0 || rose {
            warnings.push(WatchWarning::ForecastDegraded {
                series: f.series.clone(),
                mase: f.mase,
                previous,
                unsupported: f.unsupported.clone(),
            });
        }
        warnings.extend(f.changes.iter().map(|change| WatchWarning::ForecastChange {
            series: f.series.clone(),
            change: change.clone(),
        }));
    }
    let data_path = input.data.clone().unwrap_or_else(|| {
        vec![PathPoint {
            t: input.observed.at,
            point: input.observed.volume.unwrap_or(1.0),
            lo95: input.observed.volume.unwrap_or(1.0),
            hi95: input.observed.volume.unwrap_or(1.0),
        }]
    });
    let flat = Flat(fallback);
    let curve: &dyn CapacityCurve = match model {
        Some(m) => m,
        None => &flat,
    };
    // In a watch "now" is what production showed: the headroom now is the capacity today's
    // volume leaves over today's traffic, in both views.
    let runway = runway::runway(
        &input.traffic,
        &data_path,
        curve,
        capacity_now,
        input.observed.traffic,
    );
    // Its figures stay for the metrics' data_aware view (alerts keep a series); its text shows
    // the traffic-only view alone, as a study's does.
    let runway = match runway::not_data_aware(study.data_model.is_some(), input.data.is_some()) {
        Some(why) => runway.without_data(why.into()),
        None => runway,
    };
    let peak = input
        .traffic
        .iter()
        .copied()
        .max_by(|a, b| a.point.total_cmp(&b.point));
    let (traffic_peak, traffic_peak_at) = peak
        .map_or((input.observed.traffic, input.observed.at), |p| {
            (p.point, p.t)
        });
    let volume_at_peak = data_path
        .iter()
        .take_while(|p| p.t <= traffic_peak_at)
        .last()
        .or(data_path.first())
        .map(|p| p.point);
    let study_at = loadcast_stats::time::parse_time(&study.started_at).unwrap_or(input.now);
    WatchCycle {
        format: WATCH_FORMAT.into(),
        version: WATCH_VERSION,
        plan_name: input.plan_name,
        plan_hash: input.plan_hash,
        plan_path: input.plan_path,
        at: loadcast_stats::time::format_time(input.now),
        at_unix: input.now,
        source: input.source,
        table: study.table.clone(),
        study: StudyRef {
            origin: input.study_origin,
            started_at: study.started_at.clone(),
            age_seconds: (input.now - study_at).max(0) as f64,
            largest_volume: largest,
            capacity: fallback.capacity,
        },
        observed: input.observed,
        capacity_now,
        traffic_peak,
        traffic_peak_at,
        capacity_at_peak: capacity_at(volume_at_peak),
        runway,
        forecasts: input.forecasts,
        warnings,
        notes,
    }
}

/// The scales to measure next, as multiples of the study's 1x: past today's volume with room
/// to spare, and the forecast's volume at the horizon.
fn rescale(volume: f64, horizon: f64, base: f64) -> Vec<f64> {
    if base <= 0.0 {
        return vec![2.0];
    }
    let next = (volume * 1.25 / base).ceil().max(2.0);
    let far = (horizon / base).ceil();
    if far > next {
        vec![next, far]
    } else {
        vec![next]
    }
}

/// The p99 (ms) the study measured at `rate` and `volume`: along each scale's steps that held,
/// interpolated in rate (flat below the first step), then between the two scales around the
/// volume (the nearest beyond the measured ones). `None` when no step held.
pub fn predicted_p99(study: &CapacityStudy, volume: f64, rate: f64) -> Option<f64> {
    let mut at_scales: Vec<(f64, f64)> = study
        .scales
        .iter()
        .filter_map(|s| Some((s.volume?, p99_along(&s.breaking_point.steps, rate)?)))
        .collect();
    at_scales.sort_by(|a, b| a.0.total_cmp(&b.0));
    interpolate(&at_scales, volume)
}

fn p99_along(steps: &[crate::search::Step], rate: f64) -> Option<f64> {
    let mut held: Vec<(f64, f64)> = steps
        .iter()
        .filter(|s| s.valid && s.passed)
        .map(|s| (s.rate, s.p99_ms))
        .collect();
    held.sort_by(|a, b| a.0.total_cmp(&b.0));
    held.dedup_by(|a, b| a.0 == b.0);
    interpolate(&held, rate)
}

/// Linear interpolation over points sorted by x; flat beyond both ends.
fn interpolate(points: &[(f64, f64)], x: f64) -> Option<f64> {
    let first = points.first()?;
    let last = points.last()?;
    if x <= first.0 {
        return Some(first.1);
    }
    if x >= last.0 {
        return Some(last.1);
    }
    points.windows(2).find_map(|w| {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        (x >= x0 && x <= x1).then(|| {
            if x1 > x0 {
                y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            } else {
                y0
            }
        })
    })
}

/// What `loadcast watch` serves between cycles: the last good cycle, and how the cycles went.
#[derive(Clone, Debug, Default)]
pub struct WatchState {
    pub last: Option<WatchCycle>,
    pub last_success: Option<i64>,
    pub cycles: u64,
    pub errors: u64,
    pub last_error: Option<String>,
}

impl WatchState {
    pub fn succeeded(&mut self, cycle: WatchCycle) {
        self.cycles += 1;
        self.last_success = Some(cycle.at_unix);
        self.last = Some(cycle);
        self.last_error = None;
    }

    pub fn failed(&mut self, error: String) {
        self.cycles += 1;
        self.errors += 1;
        self.last_error = Some(error);
    }
}

#[cfg(test)]
mod tests;
