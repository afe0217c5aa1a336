use super::*;
use crate::data::{DataPoint, fit};
use crate::search::{BreakingPoint, Step};
use crate::study::ScaleResult;

const DAY: i64 = 86_400;

fn step(rate: f64, p99_ms: f64, passed: bool) -> Step {
    Step::measured(rate, p99_ms / 3.0, p99_ms, passed)
}

/// A scale that held up to `capacity`/s, its p99 rising from `p99` at 100/s to 3×`p99` there.
fn scale(label: &str, volume: f64, capacity: f64, p99: f64) -> ScaleResult {
    let steps = vec![
        step(100.0, p99, true),
        step(capacity, 3.0 * p99, true),
        step(capacity * 1.05, 50.0 * p99, false),
    ];
    ScaleResult {
        scale: label.into(),
        volume: Some(volume),
        bytes: None,
        breaking_point: BreakingPoint {
            max_rate: capacity,
            broke_at: Some(capacity * 1.05),
            first_broken: Some("p99".into()),
            generator_limited: false,
            steps,
            steps_after_break: 1,
            interrupted: false,
        },
        searches: Vec::new(),
        plans: Vec::new(),
    }
}

/// Capacity 1000/s at 1M rows, 500 at 2M, 250 at 4M (1/C = 0.001·V/1M, a scan), measured
/// ten days before `now`.
fn study(now: i64) -> CapacityStudy {
    let mut s = CapacityStudy::new(
        "shop",
        "hash",
        "http://127.0.0.1:1",
        &loadcast_stats::time::format_time(now - 10 * DAY),
    );
    s.table = Some("orders".into());
    s.scales = vec![
        scale("1x", 1e6, 1000.0, 10.0),
        scale("2x", 2e6, 500.0, 20.0),
        scale("4x", 4e6, 250.0, 40.0),
    ];
    let points: Vec<DataPoint> = s
        .scales
        .iter()
        .map(|sc| DataPoint::new(sc.volume.unwrap(), sc.breaking_point.capacity()))
        .collect();
    s.data_model = Some(fit(&points).unwrap());
    s
}

fn exact(points: impl Iterator<Item = (i64, f64)>) -> Vec<PathPoint> {
    points
        .map(|(t, v)| PathPoint {
            t,
            point: v,
            lo95: v,
            hi95: v,
        })
        .collect()
}

fn input<'a>(study: &'a CapacityStudy, now: i64, volume: f64, p99_ms: f64) -> WatchInput<'a> {
    WatchInput {
        plan_name: "shop".into(),
        plan_hash: "hash".into(),
        plan_path: "shop.toml".into(),
        source: "Prometheus at http://127.0.0.1:9".into(),
        now,
        study,
        study_origin: "run #1".into(),
        observed: Observed {
            at: now,
            traffic: 400.0,
            volume: Some(volume),
            p99_ms: Some(p99_ms),
        },
        // 400 → 800/s over 40 days; the data 1M → 3M rows.
        traffic: exact((0..=40).map(|d| (now + d * DAY, 400.0 + 10.0 * d as f64))),
        data: Some(exact(
            (0..=40).map(|d| (now + d * DAY, volume + 5e4 * d as f64)),
        )),
        forecasts: vec![ForecastHealth {
            series: "traffic".into(),
            model: "linear".into(),
            mase: 0.4,
            unsupported: None,
            changes: Vec::new(),
        }],
        previous: None,
        latency_tolerance: 1.5,
        notes: Vec::new(),
    }
}

#[test]
fn the_runway_is_the_hand_computed_one_with_the_capacity_todays_volume_leaves() {
    let now = 1_800_000_000 - 1_800_000_000 % DAY;
    let s = study(now);
    let cycle = judge(input(&s, now, 1e6, 12.0));
    // 400 + 10d > 1000 / (1 + 0.05d) ⇔ d > 15.68: day 16 (as in the runway's own test).
    assert_eq!(cycle.runway.data_aware.runs_out, Some(now + 16 * DAY));
    assert_eq!(cycle.runway_seconds(), Some(16 * DAY));
    // Traffic-only: capacity frozen at today's 1M rows (1000/s): 400 + 10d never passes it.
    assert_eq!(cycle.runway.traffic_only.runs_out, None);
    assert!(
        (cycle.capacity_now.capacity - 1000.0).abs() < 1.0,
        "{:?}",
        cycle.capacity_now
    );
    assert!((cycle.runway.data_aware.headroom_now - 2.5).abs() < 0.01);
    assert_eq!(cycle.traffic_peak, 800.0);
    // At the peak (day 40) the data is 3M rows: 1000/3 per second.
    assert!((cycle.capacity_at_peak.capacity - 1000.0 / 3.0).abs() < 1.0);
    assert_eq!(cycle.study.age_seconds, (10 * DAY) as f64);
    assert!(cycle.warnings.is_empty(), "{:?}", cycle.warnings);
}

#[test]
fn data_beyond_the_largest_measured_scale_asks_for_a_new_study() {
    let now = 1_800_000_000;
    let s = study(now);
    let cycle = judge(input(&s, now, 5e6, 60.0));
    let beyond = cycle
        .warnings
        .iter()
        .find(|w| w.kind() == "beyond_measured")
        .unwrap_or_else(|| panic!("no warning in {:?}", cycle.warnings));
    // 5M × 1.25 / 1M → 7x; the horizon's 7M rows → 7x too.
    assert_eq!(
        beyond,
        &WatchWarning::BeyondMeasured {
            volume: 5e6,
            largest: 4e6,
            rescale: vec![7.0],
        }
    );
    let message = beyond.message("shop.toml");
    assert!(
        message.contains("loadcast capacity shop.toml --scales 7x"),
        "{message}"
    );
    // Within the measured volumes: no such warning.
    let inside = judge(input(&s, now, 3e6, 30.0));
    assert!(
        inside
            .warnings
            .iter()
            .all(|w| w.kind() != "beyond_measured")
    );
}

#[test]
fn latency_worse_than_the_study_predicts_is_a_warning_and_within_tolerance_is_not() {
    let now = 1_800_000_000;
    let s = study(now);
    // At 1.5M rows and 400/s the study predicts: at 1M, 10 ms at 100/s → 30 ms at 1000/s, so
    // 16.67 ms at 400/s; at 2M, 20 → 60 ms at 500/s, so 50 ms at 400/s; halfway: 33.3 ms.
    let predicted = predicted_p99(&s, 1.5e6, 400.0).unwrap();
    assert!(
        (predicted - (16.667 + 50.0) / 2.0).abs() < 0.01,
        "{predicted}"
    );
    let slow = judge(input(&s, now, 1.5e6, 3.0 * predicted));
    let worse: Vec<_> = slow
        .warnings
        .iter()
        .filter(|w| w.kind() == "latency_worse")
        .collect();
    assert_eq!(worse.len(), 1, "{:?}", slow.warnings);
    assert!(worse[0].message("shop.toml").contains("has changed"));
    let fine = judge(input(&s, now, 1.5e6, 1.2 * predicted));
    assert!(fine.warnings.is_empty(), "{:?}", fine.warnings);
}

#[test]
fn a_forecast_that_degraded_or_never_beat_naive_is_flagged() {
    let now = 1_800_000_000;
    let s = study(now);
    let good = judge(input(&s, now, 1e6, 12.0));
    let mut poor = input(&s, now, 1e6, 12.0);
    poor.forecasts[0].mase = 1.4;
    assert_eq!(judge(poor).warnings[0].kind(), "forecast_degraded");
    // 0.4 → 0.7: below 1, but much worse than the last cycle.
    let mut rose = input(&s, now, 1e6, 12.0);
    rose.forecasts[0].mase = 0.7;
    rose.previous = Some(&good);
    let cycle = judge(rose);
    assert_eq!(
        cycle.warnings,
        vec![WatchWarning::ForecastDegraded {
            series: "traffic".into(),
            mase: 0.7,
            previous: Some(0.4),
            unsupported: None,
        }]
    );
    let mut steady = input(&s, now, 1e6, 12.0);
    steady.forecasts[0].mase = 0.45;
    steady.previous = Some(&good);
    assert!(judge(steady).warnings.is_empty());
}

#[test]
fn a_forecast_resting_on_a_change_in_production_says_so() {
    let now = 1_800_000_000;
    let s = study(now);
    let mut stepped = input(&s, now, 1e6, 12.0);
    let change = "the level stepped up by 40% at 2026-10-21";
    stepped.forecasts[0].changes = vec![change.into()];
    let cycle = judge(stepped);
    assert_eq!(
        cycle.warnings,
        [WatchWarning::ForecastChange {
            series: "traffic".into(),
            change: change.into(),
        }]
    );
    assert!(
        cycle.warnings[0]
            .message("shop.toml")
            .contains("(the level stepped up by 40% at 2026-10-21): the runway holds only if that change lasts"),
        "{:?}",
        cycle.warnings[0].message("shop.toml")
    );
    assert!(WatchWarning::KINDS.contains(&cycle.warnings[0].kind()));
}

#[test]
fn a_study_whose_capacity_is_a_lower_bound_says_so() {
    let now = 1_800_000_000;
    let mut s = study(now);
    s.scales[0].breaking_point.generator_limited = true;
    let cycle = judge(input(&s, now, 1e6, 12.0));
    assert_eq!(
        cycle.warnings,
        [WatchWarning::LowerBound { capacity: 1000.0 }]
    );
    assert!(
        cycle.warnings[0]
            .message("shop.toml")
            .contains("1000.0/s, is only a lower bound"),
        "{:?}",
        cycle.warnings
    );
    assert!(WatchWarning::KINDS.contains(&cycle.warnings[0].kind()));
}

#[test]
fn a_study_of_one_scale_warns_and_one_of_another_plan_file_notes_it() {
    let now = 1_800_000_000;
    let mut s = study(now);
    s.scales.truncate(1);
    s.data_model = None;
    s.plan_hash = "older".into();
    let cycle = judge(input(&s, now, 1e6, 12.0));
    let kinds: Vec<&str> = cycle.warnings.iter().map(WatchWarning::kind).collect();
    assert_eq!(kinds, ["no_data_model"]);
    assert!(
        cycle.notes[0].contains("another version of the plan file"),
        "{:?}",
        cycle.notes
    );
    // Capacity does not fall with the data: both views agree, for the metrics, and the
    // runway says it has no data-aware view.
    assert_eq!(
        cycle.runway.data_aware.runs_out,
        cycle.runway.traffic_only.runs_out
    );
    assert!(
        cycle.runway.data_view().is_none()
            && cycle
                .runway
                .not_data_aware
                .as_deref()
                .is_some_and(|w| w.contains("not fitted against data volume")),
        "{:?}",
        cycle.runway
    );
}
