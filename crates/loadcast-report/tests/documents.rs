//! Every document loadcast writes reads back as the same document — run results, projections
//! and capacity studies, from arbitrary contents, empty ones included — and a document whose
//! empty parts are left out (an older loadcast, another tool, a hand edit) still reads as the
//! same document: a missing list, map or absent value means "none", never an error.

use std::time::Duration;

use loadcast_capacity::CapacityStudy;
use loadcast_forecast::Projection;
use loadcast_forecast::history::{History, SeriesKind};
use loadcast_stats::slo::{Metric, Threshold, ThresholdOutcome};
use loadcast_stats::{
    Document, ErrorKind, GeneratorStats, RequestStats, RunMeta, RunResult, RunStatus, Second,
};
use proptest::prelude::*;
use serde_json::Value;

mod fixtures;

/// The JSON with every `null`, `[]` and `{}` member taken out, recursively (array elements
/// stay: their position is their meaning).
fn without_empty_parts(json: &str) -> String {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(members) => {
                members.retain(|_, v| {
                    strip(v);
                    !(v.is_null()
                        || v.as_array().is_some_and(Vec::is_empty)
                        || v.as_object().is_some_and(serde_json::Map::is_empty))
                });
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut value: Value = serde_json::from_str(json).expect("loadcast wrote JSON");
    strip(&mut value);
    value.to_string()
}

/// The start of a long document, enough to see what it was.
fn head(json: &str) -> &str {
    let end = json.char_indices().nth(1500).map_or(json.len(), |(i, _)| i);
    &json[..end]
}

/// Written, read back, and read back again without its empty parts: the same document.
fn reads_back<D: Document + PartialEq + std::fmt::Debug>(document: &D) -> Result<(), String> {
    let json = document.to_json();
    let back = D::from_json(&json, "written").map_err(|e| format!("{e}\n{}", head(&json)))?;
    if &back != document {
        return Err(format!("read back differs; written:\n{}", head(&json)));
    }
    let sparse = without_empty_parts(&json);
    let back = D::from_json(&sparse, "sparse").map_err(|e| format!("{e}\n{}", head(&sparse)))?;
    if &back != document {
        return Err(format!("sparse read differs; sparse:\n{}", head(&sparse)));
    }
    Ok(())
}

fn error_kind() -> impl Strategy<Value = ErrorKind> {
    prop_oneof![
        Just(ErrorKind::ConnectRefused),
        Just(ErrorKind::ConnectTimeout),
        Just(ErrorKind::Connect),
        Just(ErrorKind::Tls),
        Just(ErrorKind::Timeout),
        Just(ErrorKind::Reset),
        Just(ErrorKind::Protocol),
        Just(ErrorKind::Check),
        (400u16..600).prop_map(ErrorKind::Status),
    ]
}

fn request() -> impl Strategy<Value = RequestStats> {
    (
        "[a-z /]{1,12}",
        proptest::collection::vec(1u64..5_000_000, 0..40),
        proptest::collection::btree_map(error_kind(), 1u64..1000, 0..3),
        proptest::collection::btree_map(100u16..600, 1u64..1000, 0..3),
        0u64..1 << 40,
    )
        .prop_map(|(name, micros, errors, status, bytes)| {
            let mut r = RequestStats::new(name);
            for us in &micros {
                r.latency.record(Duration::from_micros(*us));
                r.service.record(Duration::from_micros(us / 2 + 1));
            }
            r.ok = micros.len() as u64;
            r.count = r.ok + errors.values().sum::<u64>();
            r.errors = errors;
            r.status = status;
            r.bytes_sent = bytes;
            r.bytes_received = bytes / 3;
            r
        })
}

fn second() -> impl Strategy<Value = Second> {
    (
        0u32..3600,
        0u64..10_000,
        0u64..10_000,
        proptest::collection::btree_map(error_kind(), 1u64..100, 0..2),
        0u64..100,
        proptest::collection::vec(1u64..1_000_000, 0..10),
    )
        .prop_map(|(t, scheduled, sent, errors, late, micros)| {
            let mut s = Second::new(t);
            s.scheduled = scheduled;
            s.sent = sent;
            s.completed = sent / 2;
            s.errors = errors;
            s.late = late;
            s.in_flight = sent - sent / 2;
            for us in micros {
                s.latency.record(Duration::from_micros(us));
            }
            s
        })
}

fn outcome() -> impl Strategy<Value = ThresholdOutcome> {
    (
        proptest::option::of("[a-z]{1,8}"),
        prop_oneof![
            (0.5f64..0.9999).prop_map(|quantile| Metric::Latency { quantile }),
            Just(Metric::LatencyMean),
            Just(Metric::LatencyMax),
            Just(Metric::ErrorRate),
        ],
        0.0f64..10.0,
        proptest::option::of(0.0f64..10.0),
    )
        .prop_map(|(scope, metric, limit, actual)| ThresholdOutcome {
            threshold: Threshold {
                scope,
                metric,
                limit,
            },
            actual,
            passed: actual.is_some_and(|a| a <= limit),
        })
}

fn run_result() -> impl Strategy<Value = RunResult> {
    (
        proptest::collection::vec(request(), 0..4),
        proptest::collection::vec(second(), 0..6),
        proptest::collection::vec(outcome(), 0..3),
        (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(0.0f64..1e4),
            1u32..8,
            proptest::array::uniform8(0u64..1 << 32),
        ),
    )
        .prop_map(
            |(requests, timeline, thresholds, (open, complete, cpu, shards, counts))| {
                let mut r = RunResult::new(RunMeta {
                    plan_name: "plan".into(),
                    plan_hash: "ab".repeat(32),
                    target: "http://127.0.0.1:8080".into(),
                    model: if open { "open" } else { "closed" }.into(),
                    started_at: "2026-12-01T10:00:00Z".into(),
                    planned_seconds: 60.0,
                    elapsed_seconds: 61.25,
                    status: if complete {
                        RunStatus::Complete
                    } else {
                        RunStatus::Interrupted
                    },
                    loadcast_version: "0.1.0".into(),
                    shards,
                    shard: (shards == 1).then_some(loadcast_stats::shard::ShardTag {
                        index: 1,
                        count: 4,
                        attempt: u64::from(cpu.is_some()),
                    }),
                });
                r.requests = requests;
                r.timeline = timeline;
                r.thresholds = thresholds;
                let [
                    scheduled,
                    late,
                    dropped,
                    exhausted,
                    users,
                    abandoned,
                    vus,
                    opened,
                ] = counts;
                r.generator = GeneratorStats {
                    scheduled,
                    started: scheduled - dropped.min(scheduled),
                    late,
                    waited_for_capacity: late / 2,
                    dropped,
                    feeder_exhausted: exhausted,
                    users,
                    identities: users / 2,
                    abandoned,
                    max_vus: vus,
                    max_in_flight: vus / 2,
                    connections_opened: opened,
                    retries: opened / 3,
                    lag_total_us: late * 1000,
                    lag_max_us: late,
                    latency_limit_ms: (opened % 2 == 0).then_some(50.0),
                    over_latency_limit: late / 3,
                    skipped: dropped / 2,
                    cpu_seconds: cpu,
                    workers: shards,
                };
                r
            },
        )
}

/// Daily history of `days` days: traffic with a weekly cycle, and (optionally) a table growing.
fn history(days: i64, growth: f64, with_data: bool, seed: u64) -> History {
    let mut rng = fastrand::Rng::with_seed(seed);
    let start = 1_780_000_000 / 86_400 * 86_400;
    let traffic = (0..days)
        .map(|d| {
            let weekly = if d % 7 >= 5 { 0.7 } else { 1.0 };
            let noise = 1.0 + (rng.f64() - 0.5) * 0.1;
            (
                start + d * 86_400,
                (100.0 + growth * d as f64) * weekly * noise,
            )
        })
        .collect();
    let mut series = vec![("requests".to_string(), SeriesKind::Traffic, traffic)];
    if with_data {
        let rows = (0..days)
            .map(|d| {
                (
                    start + d * 86_400,
                    1e5 * (1.0 + growth / 100.0).powi(d as i32),
                )
            })
            .collect();
        series.push(("orders".to_string(), SeriesKind::Data, rows));
    }
    History::from_points("generated", None, series).expect("a valid history")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_run_result_reads_back(result in run_result()) {
        reads_back(&result).map_err(TestCaseError::fail)?;
    }
}

proptest! {
    // A projection runs every model's backtest: fewer cases, each a real forecast.
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn every_projection_reads_back(
        days in 60i64..240,
        growth in -0.2f64..2.0,
        with_data in any::<bool>(),
        horizon_days in 5u64..90,
        seed in any::<u64>(),
    ) {
        let h = history(days, growth, with_data, seed);
        let options = loadcast_forecast::Options::horizon(Duration::from_secs(horizon_days * 86_400));
        let projection: Projection = loadcast_forecast::project(&h, &options)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        reads_back(&projection).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn empty_documents_read_back() {
    let run = RunResult::new(RunMeta {
        plan_name: String::new(),
        plan_hash: String::new(),
        target: String::new(),
        model: "open".into(),
        started_at: String::new(),
        planned_seconds: 0.0,
        elapsed_seconds: 0.0,
        status: RunStatus::Interrupted,
        loadcast_version: String::new(),
        shards: 1,
        shard: None,
    });
    reads_back(&run).unwrap_or_else(|e| panic!("{e}"));
    let study = CapacityStudy::new("", "", "", "");
    reads_back(&study).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_full_study_and_its_projection_read_back_with_unbounded_figures() {
    let projection = fixtures::projection();
    reads_back(&projection).unwrap_or_else(|e| panic!("{e}"));
    let mut study = fixtures::study(&projection);
    reads_back(&study).unwrap_or_else(|e| panic!("{e}"));
    // An interval with no upper end and a headroom with no demand are infinite: written as
    // null, read back as infinite.
    if let Some(p) = study.at_horizon.as_mut() {
        p.high = f64::INFINITY;
    }
    if let Some(r) = study.runway.as_mut() {
        r.traffic_only.headroom_now = f64::INFINITY;
    }
    reads_back(&study).unwrap_or_else(|e| panic!("{e}"));
    reads_back(&fixtures::run()).unwrap_or_else(|e| panic!("{e}"));
}
