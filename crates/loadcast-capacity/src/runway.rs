//! Runway: when the projected peak traffic first exceeds the capacity the projected data volume
//! leaves — and, beside it, the traffic-only answer (capacity frozen at today's data), which is
//! the answer that fooled the team in the post-mortem.
//!
//! The interval comes from simulation: each draw moves the traffic forecast, the data forecast
//! and the capacity fit within their own uncertainty (each as one whole-path deviation: a
//! forecast that is high is high throughout; each side of a band as wide as it is, so a capacity
//! with no upper bound is not also given an extreme lower one), and records the first crossing.

use serde::{Deserialize, Serialize};

use crate::data::{DataModel, Prediction};

/// One point of a forecast path: time (Unix seconds), the point value, and its 95% band.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathPoint {
    pub t: i64,
    pub point: f64,
    pub lo95: f64,
    pub hi95: f64,
}

/// Capacity (per second) as a function of data volume, with a 95% interval.
pub trait CapacityCurve {
    fn at(&self, volume: f64) -> Prediction;
}

impl CapacityCurve for DataModel {
    fn at(&self, volume: f64) -> Prediction {
        self.predict(volume)
    }
}

/// A capacity that does not depend on data volume (the traffic-only view).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Flat(pub Prediction);

impl CapacityCurve for Flat {
    fn at(&self, _: f64) -> Prediction {
        self.0
    }
}

/// Headroom and the date it runs out, for one view (data-aware or traffic-only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunwayView {
    /// Capacity / demand now (above 1: headroom; below: already over); infinite (`null`) with
    /// no demand.
    #[serde(
        with = "loadcast_stats::document::unbounded",
        default = "loadcast_stats::document::unbounded::infinite"
    )]
    pub headroom_now: f64,
    /// At the forecast's traffic peak.
    #[serde(
        with = "loadcast_stats::document::unbounded",
        default = "loadcast_stats::document::unbounded::infinite"
    )]
    pub headroom_at_peak: f64,
    /// At the horizon.
    #[serde(
        with = "loadcast_stats::document::unbounded",
        default = "loadcast_stats::document::unbounded::infinite"
    )]
    pub headroom_at_horizon: f64,
    /// The first time (Unix seconds) the point forecast of traffic exceeds the point capacity;
    /// `None`: not within the horizon.
    pub runs_out: Option<i64>,
    /// 10% and 90% of the simulated first crossings; `None` where at least that share of draws
    /// never crosses within the horizon.
    pub runs_out_p10: Option<i64>,
    pub runs_out_p90: Option<i64>,
    /// Share of draws that cross within the horizon.
    pub chance_within_horizon: f64,
}

/// Both views, side by side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Runway {
    pub now: i64,
    pub horizon: i64,
    pub data_aware: RunwayView,
    pub traffic_only: RunwayView,
    /// How many days earlier the data-aware runway ends (horizon when one never ends).
    pub days_earlier: Option<f64>,
    /// Why capacity could not follow the data forecast (no fit of capacity against data
    /// volume, no data series): `data_aware` then holds today's capacity, the traffic-only
    /// view again, and is not to be shown as a view of growing data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_data_aware: Option<String>,
}

/// Why capacity cannot follow the data forecast, when it cannot: no fit of capacity against
/// data volume, or no data series to follow. The study and each watch cycle say it alike.
pub fn not_data_aware(fitted: bool, data_series: bool) -> Option<&'static str> {
    if !fitted {
        Some(
            "capacity was not fitted against data volume: that takes two data volumes or more whose searches measured a capacity (--scales 1x,2x,horizon)",
        )
    } else if !data_series {
        Some("the forecast has no data series for the capacity to follow")
    } else {
        None
    }
}

impl RunwayView {
    /// A view that runs out on `runs_out` for certain (its 10–90% range is that date), with
    /// headroom 0.8× today's at the peak: the shape of a synthetic runway (tests, examples).
    pub fn certain(headroom_now: f64, runs_out: Option<i64>) -> Self {
        Self {
            headroom_now,
            headroom_at_peak: headroom_now * 0.8,
            headroom_at_horizon: headroom_now,
            runs_out,
            runs_out_p10: runs_out,
            runs_out_p90: runs_out,
            chance_within_horizon: f64::from(u8::from(runs_out.is_some())),
        }
    }
}

impl Runway {
    /// The data-aware view, when capacity followed the data forecast.
    pub fn data_view(&self) -> Option<&RunwayView> {
        self.not_data_aware.is_none().then_some(&self.data_aware)
    }

    /// Marks a runway whose capacity could not follow the data, and why.
    pub fn without_data(mut self, why: String) -> Self {
        self.not_data_aware = Some(why);
        self.days_earlier = None;
        self
    }
}

fn ratio(capacity: f64, demand: f64) -> f64 {
    if demand > 0.0 {
        capacity / demand
    } else {
        f64::INFINITY
    }
}

/// A draw `z` (standard normal) of a value whose 95% band is `[lo, hi]` around `point`: a
/// lognormal on each side with the σ that side of the band implies (a split normal in log
/// space), so an unbounded upper end widens the upper side only. An infinite end counts as
/// 100× the point.
fn deviate(point: f64, lo: f64, hi: f64, z: f64) -> f64 {
    if point <= 0.0 {
        return point;
    }
    let up = if hi > point {
        (hi.min(point * 100.0) / point).ln()
    } else {
        0.0
    };
    let down = if lo > 0.0 && lo < point {
        (point / lo).ln()
    } else if lo <= 0.0 {
        // A band that reaches down to nothing says no more than its upper side does.
        up
    } else {
        0.0
    };
    point * (z * if z >= 0.0 { up } else { down } / 1.96).exp()
}

/// Draws for the interval.
const DRAWS: usize = 2000;

fn view(
    traffic: &[PathPoint],
    data: &[PathPoint],
    capacity: &dyn CapacityCurve,
    headroom_now: f64,
    seed: u64,
) -> RunwayView {
    let volume_at = |t: i64, pick: &dyn Fn(&PathPoint) -> f64| -> f64 {
        // The data path at time t (step-wise: the latest point at or before t).
        let mut value = data.first().map_or(0.0, pick);
        for p in data {
            if p.t <= t {
                value = pick(p);
            } else {
                break;
            }
        }
        value
    };
    let last = traffic.last().copied();
    let peak = traffic
        .iter()
        .copied()
        .max_by(|a, b| a.point.total_cmp(&b.point));
    let headroom = |p: Option<PathPoint>| {
        p.map_or(f64::INFINITY, |p| {
            ratio(capacity.at(volume_at(p.t, &|d| d.point)).capacity, p.point)
        })
    };
    let runs_out = traffic
        .iter()
        .find(|p| p.point > capacity.at(volume_at(p.t, &|d| d.point)).capacity)
        .map(|p| p.t);
    let mut rng = fastrand::Rng::with_seed(seed);
    let normal = |rng: &mut fastrand::Rng| {
        let (u1, u2) = (rng.f64().max(1e-12), rng.f64());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let mut crossings: Vec<Option<i64>> = Vec::with_capacity(DRAWS);
    for _ in 0..DRAWS {
        let (zt, zd, zc) = (normal(&mut rng), normal(&mut rng), normal(&mut rng));
        let crossing = traffic.iter().find_map(|p| {
            let demand = deviate(p.point, p.lo95, p.hi95, zt);
            let volume = volume_at(p.t, &|d| deviate(d.point, d.lo95, d.hi95, zd));
            let c = capacity.at(volume);
            let cap = deviate(c.capacity, c.low, c.high, zc);
            (demand > cap).then_some(p.t)
        });
        crossings.push(crossing);
    }
    let within = crossings.iter().filter(|c| c.is_some()).count();
    let mut times: Vec<i64> = crossings.iter().flatten().copied().collect();
    times.sort_unstable();
    // Draws that never cross sort after the horizon: quantiles past them are "beyond".
    let quantile = |q: f64| {
        let rank = (q * DRAWS as f64).ceil() as usize;
        (rank >= 1 && rank <= times.len()).then(|| times[rank - 1])
    };
    RunwayView {
        headroom_now,
        headroom_at_peak: headroom(peak),
        headroom_at_horizon: headroom(last),
        runs_out,
        runs_out_p10: quantile(0.10),
        runs_out_p90: quantile(0.90),
        chance_within_horizon: within as f64 / DRAWS as f64,
    }
}

/// The data-aware runway (capacity follows the data forecast) beside the traffic-only one
/// (capacity as measured at today's volume). `demand_today` is the traffic now is judged by:
/// the history's peak over its last cycle (a forecast's "today"), or what production showed in
/// a watch; not the forecast's first step, which may be a quiet night or a Sunday.
pub fn runway(
    traffic: &[PathPoint],
    data: &[PathPoint],
    capacity: &dyn CapacityCurve,
    today: Prediction,
    demand_today: f64,
) -> Runway {
    // Now the data has not grown yet: both views divide today's capacity (the one measured
    // figure), not the fitted curve's value at today's volume, which misses it by the fit's error.
    let headroom_now = ratio(today.capacity, demand_today);
    let data_aware = view(traffic, data, capacity, headroom_now, 1);
    let traffic_only = view(traffic, data, &Flat(today), headroom_now, 1);
    let horizon = traffic.last().map_or(0, |p| p.t);
    let days_earlier = match (data_aware.runs_out, traffic_only.runs_out) {
        (Some(a), Some(b)) => Some((b - a) as f64 / 86_400.0),
        (Some(a), None) => Some((horizon - a) as f64 / 86_400.0),
        _ => None,
    };
    Runway {
        now: traffic.first().map_or(0, |p| p.t),
        horizon,
        data_aware,
        traffic_only,
        days_earlier,
        not_data_aware: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn exact(points: &[(i64, f64)]) -> Vec<PathPoint> {
        points
            .iter()
            .map(|&(d, v)| PathPoint {
                t: d * DAY,
                point: v,
                lo95: v,
                hi95: v,
            })
            .collect()
    }

    fn fixed(c: f64) -> Prediction {
        Prediction {
            capacity: c,
            low: c,
            high: c,
        }
    }

    /// Capacity 1000/s at 1M rows, falling as 1/C = 0.001 · V/1M (a scan).
    struct Scan;

    impl CapacityCurve for Scan {
        fn at(&self, volume: f64) -> Prediction {
            fixed(1000.0 / (volume / 1e6))
        }
    }

    #[test]
    fn hand_computed_runway_data_aware_and_traffic_only() {
        // Traffic 400 → 800/s over 40 days (10/s a day); data 1M → 3M rows (50k a day).
        let traffic: Vec<(i64, f64)> = (0..=40).map(|d| (d, 400.0 + 10.0 * d as f64)).collect();
        let data: Vec<(i64, f64)> = (0..=40).map(|d| (d, 1e6 + 5e4 * d as f64)).collect();
        let r = runway(&exact(&traffic), &exact(&data), &Scan, fixed(1000.0), 400.0);
        // Data-aware: 400 + 10d > 1000 / (1 + 0.05d)  ⇔  0.5d² + 30d − 600 > 0 ⇔ d > 15.68: day 16.
        assert_eq!(r.data_aware.runs_out, Some(16 * DAY));
        // Headroom now: 1000 / 400; at the horizon: (1000/3) / 800.
        assert!((r.data_aware.headroom_now - 2.5).abs() < 1e-9);
        assert!((r.data_aware.headroom_at_horizon - 1000.0 / 3.0 / 800.0).abs() < 1e-9);
        // Traffic-only: capacity stays 1000: 400 + 10d > 1000 ⇔ d > 60: not within 40 days.
        assert_eq!(r.traffic_only.runs_out, None);
        assert_eq!(r.traffic_only.chance_within_horizon, 0.0);
        assert!((r.traffic_only.headroom_at_peak - 1000.0 / 800.0).abs() < 1e-9);
        assert_eq!(r.days_earlier, Some(24.0));
        // Exact inputs: every draw agrees.
        assert_eq!(r.data_aware.runs_out_p10, Some(16 * DAY));
        assert_eq!(r.data_aware.runs_out_p90, Some(16 * DAY));
    }

    #[test]
    fn already_over_capacity_and_never_running_out() {
        let traffic = exact(&[(0, 1200.0), (10, 1300.0)]);
        let data = exact(&[(0, 1e6), (10, 1e6)]);
        let over = runway(&traffic, &data, &Flat(fixed(1000.0)), fixed(1000.0), 1200.0);
        assert_eq!(
            over.data_aware.runs_out,
            Some(0),
            "already over: runs out now"
        );
        assert!(over.data_aware.headroom_now < 1.0);
        let calm = runway(
            &exact(&[(0, 10.0), (10, 20.0)]),
            &data,
            &Flat(fixed(1000.0)),
            fixed(1000.0),
            10.0,
        );
        assert_eq!(calm.data_aware.runs_out, None);
        assert_eq!(calm.data_aware.runs_out_p90, None);
        assert_eq!(calm.days_earlier, None);
        assert!((calm.data_aware.headroom_at_horizon - 50.0).abs() < 1e-9);
    }

    #[test]
    fn headroom_now_is_judged_by_todays_demand_not_the_forecasts_first_step() {
        // The forecast starts on a quiet day (300/s); today's peak was 500/s.
        let traffic = exact(&[(0, 300.0), (1, 500.0), (10, 500.0)]);
        let data = exact(&[(0, 1e6)]);
        let r = runway(&traffic, &data, &Flat(fixed(1000.0)), fixed(1000.0), 500.0);
        assert_eq!(r.data_aware.headroom_now, 2.0);
        assert_eq!(r.traffic_only.headroom_now, 2.0);
    }

    #[test]
    fn headroom_now_is_todays_measured_capacity_in_both_views() {
        // The fitted curve says 1100/s at today's 1M rows; the search measured 1000/s.
        let traffic = exact(&[(0, 400.0), (10, 400.0)]);
        let data = exact(&[(0, 1e6), (10, 1e6)]);
        let r = runway(&traffic, &data, &Flat(fixed(1100.0)), fixed(1000.0), 400.0);
        assert_eq!(r.data_aware.headroom_now, 2.5);
        assert_eq!(r.traffic_only.headroom_now, 2.5);
        // Later points follow each view's own capacity.
        assert!((r.data_aware.headroom_at_horizon - 2.75).abs() < 1e-9);
    }

    #[test]
    fn an_unbounded_upper_capacity_does_not_widen_its_lower_side() {
        // Capacity 1000/s, at least 800 at 95%, no upper bound; traffic a steady 500/s. Only a
        // capacity far below its lower bound would cross: no draw may.
        let traffic = exact(&[(0, 500.0), (30, 500.0)]);
        let data = exact(&[(0, 1e6)]);
        let capacity = Prediction {
            capacity: 1000.0,
            low: 800.0,
            high: f64::INFINITY,
        };
        let r = runway(&traffic, &data, &Flat(capacity), capacity, 500.0);
        assert_eq!(r.data_aware.chance_within_horizon, 0.0, "{r:?}");
        assert_eq!(r.data_aware.runs_out_p10, None);
    }

    #[test]
    fn uncertainty_widens_the_date_into_an_interval() {
        // Traffic crosses a flat 1000/s on day 30 at the point forecast, ±20% at 95%.
        let traffic: Vec<PathPoint> = (0..=60)
            .map(|d| {
                let v = 700.0 + 10.0 * d as f64;
                PathPoint {
                    t: d * DAY,
                    point: v,
                    lo95: v / 1.2,
                    hi95: v * 1.2,
                }
            })
            .collect();
        let data = exact(&[(0, 1e6)]);
        let r = runway(&traffic, &data, &Flat(fixed(1000.0)), fixed(1000.0), 700.0);
        assert_eq!(r.data_aware.runs_out, Some(31 * DAY));
        let (p10, p90) = (
            r.data_aware.runs_out_p10.unwrap(),
            r.data_aware.runs_out_p90.unwrap(),
        );
        assert!(
            p10 < 31 * DAY && p90 > 31 * DAY,
            "{} .. {}",
            p10 / DAY,
            p90 / DAY
        );
    }
}
