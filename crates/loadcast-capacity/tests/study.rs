//! Whole capacity studies against synthetic targets whose capacity is known by construction,
//! without the binary: the search, growth between scales, the capacity-vs-data fit, the runway,
//! and the study document that comes out.

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use loadcast_capacity::data::Form;
use loadcast_capacity::runway::PathPoint;
use loadcast_capacity::{
    CapacityError, CapacityStudy, RunwayInput, ScaleTarget, SearchOptions, run_study, search,
};
use loadcast_stats::{Cancel, Document};
use proptest::prelude::*;
use support::{ScanTarget, Table, options, scan_of_20k_rows, slo_p99, spec};

/// The found capacity must not depend on how the search steps: a step past capacity leaves a
/// backlog, and the target is let recover before the next step is judged.
#[test]
fn the_found_capacity_of_a_known_target_does_not_move_with_the_factor() {
    let rows = Rc::new(Cell::new(10_000.0));
    let mut found = Vec::new();
    for factor in [1.3, 1.5, 2.0, 3.0] {
        let mut target = ScanTarget::new(4.0, 0.004, 0.0, rows.clone());
        let point = search(&mut target, &slo_p99(100), &options(factor))
            .unwrap_or_else(|e| panic!("factor {factor}: {e}"));
        // The largest rate at which this queue's p99 holds 100 ms, from the model: ρ/(1−ρ) ·
        // 4.6 · 4 ms / 4 ≤ 96 ms ⇔ ρ ≤ 0.954, of a capacity of 1000/s.
        let truth = 1000.0 * 96.0 / (96.0 + 4.6);
        let recovered: Vec<f64> = point
            .steps
            .iter()
            .filter_map(|s| s.recovery_seconds)
            .collect();
        eprintln!(
            "factor {factor}: {:.1}/s (bracket {:?}), truth {truth:.1}/s, recoveries {recovered:?}",
            point.capacity(),
            point.interval()
        );
        assert!(
            !recovered.is_empty(),
            "a broken step is followed by a recovery"
        );
        assert!(
            point.steps.iter().all(|s| !s.unrecovered),
            "{:?}",
            point.steps
        );
        assert!(
            (point.capacity() / truth - 1.0).abs() < 0.04,
            "factor {factor}: found {:.1}/s, truth {truth:.1}/s; steps {:?}",
            point.capacity(),
            point.steps
        );
        found.push(point.capacity());
    }
    let (lo, hi) = found
        .iter()
        .fold((f64::MAX, 0.0_f64), |(a, b), c| (a.min(*c), b.max(*c)));
    assert!(hi / lo < 1.05, "capacities by factor: {found:?}");
}

/// A search that starts above the capacity (a `--from` chosen on a faster machine) steps down
/// and finds it, instead of reporting that the target holds nothing; a target that holds
/// nothing near the start (down) is not searched lower, so it costs no more waiting.
#[test]
fn a_search_that_starts_above_the_capacity_steps_down_to_it() {
    let rows = Rc::new(Cell::new(10_000.0));
    let truth = 1000.0 * 96.0 / (96.0 + 4.6);
    for from in [1_500.0, 3_000.0] {
        let mut target = ScanTarget::new(4.0, 0.004, 0.0, rows.clone());
        let start = SearchOptions {
            from,
            ..options(1.5)
        };
        let point = search(&mut target, &slo_p99(100), &start)
            .unwrap_or_else(|e| panic!("from {from}: {e}"));
        let phases: Vec<(f64, bool, &str)> = point
            .steps
            .iter()
            .map(|s| (s.rate, s.passed, s.phase.as_str()))
            .collect();
        assert!(
            (point.capacity() / truth - 1.0).abs() < 0.04,
            "from {from}/s: found {:.1}/s, truth {truth:.1}/s; steps {phases:?}",
            point.capacity()
        );
        assert!(
            phases.iter().any(|(_, _, phase)| *phase == "descend"),
            "{phases:?}"
        );
    }
    // A target that refuses every request is down: not searched lower.
    let mut down = Refusing;
    let start = SearchOptions {
        from: 1_500.0,
        ..options(1.5)
    };
    let point = search(&mut down, &slo_p99(100), &start).unwrap_or_else(|e| panic!("{e}"));
    let phases: Vec<(f64, bool, &str)> = point
        .steps
        .iter()
        .map(|s| (s.rate, s.passed, s.phase.as_str()))
        .collect();
    assert_eq!(point.capacity(), 0.0, "{phases:?}");
    assert_eq!(
        phases.len(),
        2,
        "the step and its confirmation only: {phases:?}"
    );
}

/// A target that answers every request with an error: down.
struct Refusing;

impl loadcast_capacity::Probe for Refusing {
    fn measure(
        &mut self,
        rate: f64,
        hold: Duration,
    ) -> Result<loadcast_stats::RunResult, loadcast_capacity::ProbeError> {
        let sent = (rate * hold.as_secs_f64()).round() as u64;
        Ok(support::result(rate, hold, 0, sent, 1.0, 1.0))
    }
}

/// One figure: the capacity is the highest rate measured to hold the SLO, and the SLO the
/// search quotes is the one that broke at the bracket's upper end.
#[test]
fn the_capacity_is_the_last_good_rate_and_the_broken_slo_is_the_brackets() {
    let rows = Rc::new(Cell::new(0.0));
    let mut target = ScanTarget::new(4.0, 0.01, 0.0, rows);
    let point = search(&mut target, &slo_p99(100), &options(1.5)).unwrap();
    let (good, bad) = point.interval();
    assert_eq!(point.capacity(), good);
    assert_eq!(point.capacity(), point.max_rate);
    let broken = point
        .steps
        .iter()
        .rev()
        .find(|s| !s.passed && s.rate == bad)
        .expect("the bracket's upper end was measured");
    assert_eq!(point.first_broken, broken.note, "{:?}", point.steps);
    assert!(point.steps.iter().any(|s| s.passed && s.rate == good));
}

/// Three repeated studies of a scan at 1×, 2×, 4× with a few percent of measurement noise each:
/// the same form every time, and 8× predicted within 10% of the target's capacity there.
#[test]
fn repeated_studies_of_a_scan_choose_the_same_form_and_predict_8x_within_10_percent() {
    let base_rows = 20_000.0;
    for (run, noise) in [[1.0, 1.0, 1.0], [1.03, 0.97, 1.02], [0.98, 1.03, 0.97]]
        .iter()
        .enumerate()
    {
        let rows = Rc::new(Cell::new(base_rows));
        let mut target = ScanTarget::new(4.0, 0.002, 0.0000005, rows.clone());
        target.queueing = false;
        let truth_8x = target.capacity_at(8.0 * base_rows);
        let noise_cell = target.noise.clone();
        let mut table = Table {
            rows: rows.clone(),
            fail_to_grow: false,
            bytes_per_row: 100.0,
        };
        let mut probe = NoisyByScale {
            target: &mut target,
            noise: noise_cell,
            by_scale: *noise,
            base_rows,
        };
        let study = run_study(
            &spec(
                vec![ScaleTarget::Times(2.0), ScaleTarget::Times(4.0)],
                Some(8.0 * base_rows),
            ),
            &mut probe,
            Some(&mut table),
            &mut (),
            &Cancel::new(),
        )
        .unwrap();
        let model = study.data_model.as_ref().expect("three scales fit");
        for s in &study.scales {
            let v = s.volume.unwrap();
            eprintln!(
                "  {} {v} rows: {:.1}/s {:?}, truth {:.1}/s",
                s.scale,
                s.breaking_point.capacity(),
                s.breaking_point.interval(),
                4.0 / (0.002 + 0.0000005 * v)
            );
            for st in &s.breaking_point.steps {
                eprintln!(
                    "    {:.1} {} p99 {:.1} rec {:?} {:?}",
                    st.rate, st.passed, st.p99_ms, st.recovery_seconds, st.phase
                );
            }
        }
        let predicted = study.at_horizon.expect("a horizon volume was given");
        eprintln!(
            "run {run}: form {:?} (tried {:?}), 8x predicted {:.1}/s ({:.1}–{:.1}), truth {truth_8x:.1}/s",
            model.form, model.tried, predicted.capacity, predicted.low, predicted.high
        );
        assert_eq!(model.form, Form::Inverse, "run {run}: {:?}", model.tried);
        assert!(
            (predicted.capacity / truth_8x - 1.0).abs() < 0.10,
            "run {run}: {predicted:?} vs {truth_8x}"
        );
        assert!(predicted.low <= truth_8x && truth_8x <= predicted.high * 1.05);
        assert_eq!(
            study.scales.iter().map(|s| s.volume).collect::<Vec<_>>(),
            vec![
                Some(base_rows),
                Some(2.0 * base_rows),
                Some(4.0 * base_rows)
            ]
        );
    }
}

/// Applies a per-scale noise factor to the target's capacity (scales known by their rows).
struct NoisyByScale<'a> {
    target: &'a mut ScanTarget,
    noise: Rc<Cell<f64>>,
    by_scale: [f64; 3],
    base_rows: f64,
}

impl loadcast_capacity::Probe for NoisyByScale<'_> {
    fn measure(
        &mut self,
        rate: f64,
        hold: Duration,
    ) -> Result<loadcast_stats::RunResult, loadcast_capacity::ProbeError> {
        let scale = (self.target.rows.get() / self.base_rows).log2().round() as usize;
        self.noise.set(self.by_scale[scale.min(2)]);
        self.target.measure(rate, hold)
    }
}

/// A scale the data did not reach is an error, never a label on today's capacity.
#[test]
fn a_scale_that_was_not_reached_is_an_error() {
    let (mut target, mut table) = scan_of_20k_rows();
    table.fail_to_grow = true;
    let err = run_study(
        &spec(vec![ScaleTarget::Times(2.0)], None),
        &mut target,
        Some(&mut table),
        &mut (),
        &Cancel::new(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            CapacityError::ScaleNotReached { reached, target, .. } if reached == 20_000.0 && target == 40_000.0
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("2x scale was not reached"),
        "{err}"
    );
    // Data scales without anything to grow them are refused up front.
    let err = run_study(
        &spec(vec![ScaleTarget::Times(2.0)], None),
        &mut target,
        None,
        &mut (),
        &Cancel::new(),
    )
    .unwrap_err();
    assert!(matches!(err, CapacityError::NoDatabase), "{err}");
}

/// Two scales: the fit says it has no degrees of freedom, and its interval is the brackets'.
#[test]
fn a_two_scale_study_says_its_fit_has_no_degrees_of_freedom() {
    let (mut target, mut table) = scan_of_20k_rows();
    let study = run_study(
        &spec(vec![ScaleTarget::Times(2.0)], Some(80_000.0)),
        &mut target,
        Some(&mut table),
        &mut (),
        &Cancel::new(),
    )
    .unwrap();
    let model = study.data_model.as_ref().unwrap();
    assert_eq!(model.dof, 0);
    assert!(
        study
            .warnings
            .iter()
            .any(|w| w.contains("no degrees of freedom")),
        "{:?}",
        study.warnings
    );
    let p = study.at_horizon.unwrap();
    assert!(
        p.high.is_finite() && p.low < p.capacity && p.capacity < p.high,
        "{p:?}"
    );
}

/// The runway and every figure read back from the document exactly — infinities included
/// (a headroom with no demand, an interval with no upper bound).
#[test]
fn a_study_with_a_runway_reads_back_exactly() {
    let (mut target, mut table) = scan_of_20k_rows();
    let day = 86_400;
    let traffic: Vec<PathPoint> = (0..=180)
        .map(|d| PathPoint {
            t: d * day,
            point: 300.0 + 3.0 * d as f64,
            lo95: 250.0 + 2.0 * d as f64,
            hi95: 350.0 + 4.0 * d as f64,
        })
        .collect();
    let data: Vec<PathPoint> = (0..=180)
        .map(|d| PathPoint {
            t: d * day,
            point: 20_000.0 + 500.0 * d as f64,
            lo95: 20_000.0 + 400.0 * d as f64,
            hi95: 20_000.0 + 600.0 * d as f64,
        })
        .collect();
    let mut s = spec(
        vec![ScaleTarget::Times(2.0), ScaleTarget::Times(4.0)],
        Some(110_000.0),
    );
    s.runway = Some(RunwayInput {
        today: traffic[0].point,
        traffic,
        data: Some(data),
        caveats: Vec::new(),
        changes: Vec::new(),
    });
    let study = run_study(&s, &mut target, Some(&mut table), &mut (), &Cancel::new()).unwrap();
    let runway = study.runway.as_ref().expect("a runway");
    assert!(
        runway.data_view().and_then(|v| v.runs_out).is_some(),
        "{runway:?}"
    );
    let back = CapacityStudy::from_json(&study.to_json(), "study.json").unwrap();
    assert_eq!(back, study);
    // An empty study too, and one with an unbounded interval.
    let mut empty = CapacityStudy::new("p", "h", "t", "s");
    empty.at_horizon = Some(loadcast_capacity::data::Prediction {
        capacity: 20.9,
        low: 0.0,
        high: f64::INFINITY,
    });
    let back = CapacityStudy::from_json(&empty.to_json(), "empty.json").unwrap();
    assert_eq!(back, empty);
}

/// Ctrl-C during a study: the scales searched stand, nothing is guessed.
#[test]
fn a_cancelled_study_keeps_the_scales_already_searched() {
    let rows = Rc::new(Cell::new(20_000.0));
    let target = ScanTarget::new(4.0, 0.002, 0.0000005, rows.clone());
    let mut table = Table {
        rows,
        fail_to_grow: false,
        bytes_per_row: 100.0,
    };
    let cancel = Cancel::new();
    let mut probe = CancelAfter {
        target,
        measurements: 0,
        after: 30,
        cancel: cancel.clone(),
    };
    let study = run_study(
        &spec(vec![ScaleTarget::Times(2.0), ScaleTarget::Times(4.0)], None),
        &mut probe,
        Some(&mut table),
        &mut (),
        &cancel,
    )
    .unwrap();
    assert!(
        !study.scales.is_empty() && study.scales.len() <= 3,
        "{}",
        study.scales.len()
    );
    // Only the scale being searched when it stopped is marked, and no fit rests on it.
    let (last, before) = study.scales.split_last().expect("a scale");
    assert!(before.iter().all(|s| !s.breaking_point.interrupted));
    let complete = study.scales.len() - usize::from(last.breaking_point.interrupted);
    assert!(study.data_model.is_none() || complete >= 2);
}

/// Stopped in the middle of a search: the steps measured are kept, the figure is the highest
/// rate they held and is called a lower bound everywhere, and no runway is drawn from it.
#[test]
fn a_search_stopped_midway_keeps_its_steps_as_a_lower_bound_and_draws_no_runway() {
    let rows = Rc::new(Cell::new(20_000.0));
    let target = ScanTarget::new(4.0, 0.002, 0.0000005, rows);
    let cancel = Cancel::new();
    // The warm-up and two steps, then the user stops it.
    let mut probe = CancelAfter {
        target,
        measurements: 0,
        after: 3,
        cancel: cancel.clone(),
    };
    let mut s = spec(Vec::new(), None);
    s.table = None;
    s.runway = Some(RunwayInput {
        today: 10.0,
        traffic: vec![PathPoint {
            t: 0,
            point: 10.0,
            lo95: 9.0,
            hi95: 11.0,
        }],
        data: None,
        caveats: Vec::new(),
        changes: Vec::new(),
    });
    let study = run_study(&s, &mut probe, None, &mut (), &cancel).unwrap();
    assert_eq!(study.scales.len(), 1, "{study:?}");
    let point = &study.scales[0].breaking_point;
    assert!(point.interrupted);
    assert_eq!(point.steps.len(), 2, "{point:?}");
    assert!(point.steps.iter().all(|s| s.passed), "{point:?}");
    assert_eq!(
        point.capacity(),
        20.0 * 1.5,
        "the higher of the two rates held"
    );
    assert_eq!(point.broke_at, None);
    assert!(
        study.warnings.iter().any(|w| w
            .contains("interrupted during the search at 1x after 2 steps")
            && w.contains("lower bound")),
        "{:?}",
        study.warnings
    );
    assert!(study.runway.is_none(), "{:?}", study.runway);
    let back = CapacityStudy::from_json(&study.to_json(), "study.json").unwrap();
    assert_eq!(back, study);
}

struct CancelAfter {
    target: ScanTarget,
    measurements: usize,
    after: usize,
    cancel: Cancel,
}

impl loadcast_capacity::Probe for CancelAfter {
    fn measure(
        &mut self,
        rate: f64,
        hold: Duration,
    ) -> Result<loadcast_stats::RunResult, loadcast_capacity::ProbeError> {
        self.measurements += 1;
        if self.measurements > self.after {
            self.cancel.cancel();
            return Err(loadcast_capacity::ProbeError::Interrupted);
        }
        self.target.measure(rate, hold)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the target, the study loadcast writes is the study it reads.
    #[test]
    fn every_study_round_trips(
        workers in 1.0f64..16.0,
        base_ms in 0.5f64..20.0,
        per_row in 0.0f64..2e-6,
        scales in 0usize..3,
        horizon in proptest::option::of(1e4f64..1e6),
    ) {
        let rows = Rc::new(Cell::new(10_000.0));
        let mut target = ScanTarget::new(workers, base_ms / 1e3, per_row, rows.clone());
        let mut table = Table { rows, fail_to_grow: false, bytes_per_row: 80.0 };
        let scales = [ScaleTarget::Times(2.0), ScaleTarget::Times(3.0)][..scales.min(2)].to_vec();
        let study = run_study(
            &spec(scales, horizon),
            &mut target,
            Some(&mut table),
            &mut (),
            &Cancel::new(),
        )
        .unwrap();
        let back = CapacityStudy::from_json(&study.to_json(), "study.json").unwrap();
        prop_assert_eq!(back, study);
    }
}

/// Late arrivals are measured from their intended start: a step that held the SLO with some of
/// them late held it under harsher load, and stands; a step that broke with the generator late
/// says nothing (unless it broke on service time too); dropped arrivals void a pass.
#[test]
fn late_arrivals_void_a_break_but_not_a_pass_and_dropped_ones_void_both() {
    use loadcast_capacity::search::judge;
    let slo = slo_p99(100);
    let options = SearchOptions::default();
    let hold = Duration::from_secs(10);
    // 1000 arrivals at 100/s, 50 of them late.
    let mut passed = support::result(100.0, hold, 1000, 0, 0.010, 0.050);
    passed.generator.late = 50;
    assert!(judge(&passed, 100.0, &slo, &options, "geometric").valid);
    // p99 300 ms from the intended start, but 10 ms from the actual send: the generator's delay.
    let mut broke = support::result(100.0, hold, 1000, 0, 0.010, 0.300);
    broke.generator.late = 50;
    broke.requests[0].service = loadcast_stats::LatencyHistogram::new();
    for _ in 0..1000 {
        broke.requests[0].service.record(Duration::from_millis(10));
    }
    let step = judge(&broke, 100.0, &slo, &options, "geometric");
    assert!(!step.passed && !step.valid, "{step:?}");
    assert!(step.note.unwrap().contains("50 late"));
    let mut dropped = support::result(100.0, hold, 950, 0, 0.010, 0.050);
    dropped.generator.dropped = 50;
    assert!(!judge(&dropped, 100.0, &slo, &options, "geometric").valid);
    // Two late arrivals of a short step are a scheduler hiccup, not a generator limit.
    let mut short = support::result(100.0, Duration::from_secs(1), 100, 0, 0.010, 0.300);
    short.generator.late = 2;
    short.requests[0].service = broke.requests[0].service.clone();
    assert!(judge(&short, 100.0, &slo, &options, "geometric").valid);
}

/// A runway drawn from a forecast its history does not support says so beside the dates, as
/// does one whose forecast rests on a change inside its history (the dates hold if it lasts).
#[test]
fn a_runway_from_an_unsupported_forecast_carries_the_caveat() {
    let (mut target, mut table) = scan_of_20k_rows();
    let day = 86_400;
    let traffic: Vec<PathPoint> = (0..=90)
        .map(|d| PathPoint {
            t: d * day,
            point: 300.0 + 3.0 * d as f64,
            lo95: 250.0 + 2.0 * d as f64,
            hi95: 350.0 + 4.0 * d as f64,
        })
        .collect();
    let mut s = spec(vec![ScaleTarget::Times(2.0)], None);
    let why = "requests: the history does not support a forecast at this horizon: backtest MASE 2.3 (above 2)";
    let change = "requests: the level stepped up by 40% at 2026-10-21";
    s.runway = Some(RunwayInput {
        today: traffic[0].point,
        traffic,
        data: None,
        caveats: vec![why.to_string()],
        changes: vec![change.to_string()],
    });
    let study = run_study(&s, &mut target, Some(&mut table), &mut (), &Cancel::new())
        .unwrap_or_else(|e| panic!("the study ran: {e}"));
    assert!(study.runway.is_some(), "the dates are still given");
    assert!(
        study
            .warnings
            .iter()
            .any(|w| w.contains(why) && w.contains("read them as a range, not a date")),
        "the caveat stands beside the runway: {:?}",
        study.warnings
    );
    assert!(
        study
            .warnings
            .iter()
            .any(|w| w.contains(change) && w.contains("its dates hold only if that change lasts")),
        "the change the forecast rests on stands beside the runway: {:?}",
        study.warnings
    );
}

/// A runway whose capacity cannot follow the data (one data volume searched, or no data
/// series) has no data-aware view: it is not the traffic-only one under another name, nor
/// "0 days earlier".
#[test]
fn a_runway_that_cannot_follow_the_data_has_no_data_aware_view() {
    let day = 86_400;
    let path = |from: f64, by: f64| -> Vec<PathPoint> {
        (0..=90)
            .map(|d| PathPoint {
                t: d * day,
                point: from + by * d as f64,
                lo95: from + 0.8 * by * d as f64,
                hi95: from + 1.2 * by * d as f64,
            })
            .collect()
    };
    for (scales, data, why) in [
        (
            vec![],
            Some(path(20_000.0, 500.0)),
            "two data volumes or more",
        ),
        (
            vec![ScaleTarget::Times(2.0)],
            None,
            "the forecast has no data series",
        ),
    ] {
        let (mut target, mut table) = scan_of_20k_rows();
        let mut s = spec(scales, None);
        let traffic = path(300.0, 3.0);
        s.runway = Some(RunwayInput {
            today: traffic[0].point,
            traffic,
            data,
            caveats: Vec::new(),
            changes: Vec::new(),
        });
        let study = run_study(&s, &mut target, Some(&mut table), &mut (), &Cancel::new())
            .unwrap_or_else(|e| panic!("the study ran: {e}"));
        let runway = study.runway.as_ref().expect("a runway");
        assert!(
            runway.data_view().is_none()
                && runway.days_earlier.is_none()
                && runway
                    .not_data_aware
                    .as_deref()
                    .is_some_and(|w| w.contains(why)),
            "{} scales: {runway:?}",
            study.scales.len()
        );
        let back = CapacityStudy::from_json(&study.to_json(), "study.json")
            .unwrap_or_else(|e| panic!("the study reads back: {e}"));
        assert_eq!(back, study);
    }
}

/// A generator that cannot send more than `ceiling` arrivals a second: the rest are dropped.
struct Ceiling<'a> {
    target: &'a mut ScanTarget,
    ceiling: f64,
}

impl loadcast_capacity::Probe for Ceiling<'_> {
    fn measure(
        &mut self,
        rate: f64,
        hold: Duration,
    ) -> Result<loadcast_stats::RunResult, loadcast_capacity::ProbeError> {
        let mut result = self.target.measure(rate, hold)?;
        if rate > self.ceiling {
            result.generator.dropped = ((rate - self.ceiling) * hold.as_secs_f64()) as u64;
        }
        Ok(result)
    }
}

/// A capacity that is only a lower bound dates no runway: a generator that topped out at
/// 100/s below today's 150/s of traffic said "runs out now" of a target that holds 333/s.
#[test]
fn a_capacity_that_is_only_a_lower_bound_dates_no_runway() {
    let (mut target, _) = scan_of_20k_rows();
    let truth = target.capacity();
    let mut probe = Ceiling {
        target: &mut target,
        ceiling: 100.0,
    };
    let day = 86_400;
    let traffic: Vec<PathPoint> = (0..=90)
        .map(|d| PathPoint {
            t: d * day,
            point: 150.0 + d as f64,
            lo95: 140.0 + d as f64,
            hi95: 160.0 + d as f64,
        })
        .collect();
    let mut s = spec(Vec::new(), None);
    s.runway = Some(RunwayInput {
        today: traffic[0].point,
        traffic,
        data: None,
        caveats: Vec::new(),
        changes: Vec::new(),
    });
    let study = run_study(&s, &mut probe, None, &mut (), &Cancel::new())
        .unwrap_or_else(|e| panic!("the study ran: {e}"));
    let today = study
        .today()
        .unwrap_or_else(|| panic!("no scale: {study:?}"));
    assert!(
        today.lower_bound() && today.capacity() <= 100.0,
        "the generator's ceiling, not the target's {truth:.0}/s: {:?}",
        today.breaking_point
    );
    assert!(study.runway.is_none(), "{:?}", study.runway);
    assert!(
        study
            .warnings
            .iter()
            .any(|w| w.starts_with("no runway: today's capacity, ")
                && w.contains("is only a lower bound")),
        "{:?}",
        study.warnings
    );
}
