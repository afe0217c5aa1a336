//! Merging results is exact: merging shards equals recording everything in one place.

use std::time::Duration;

use loadcast_stats::{Document, ErrorKind, RequestStats, RunMeta, RunResult, RunStatus, Second};
use proptest::prelude::*;

fn meta() -> RunMeta {
    RunMeta {
        plan_name: "p".into(),
        plan_hash: "h".into(),
        target: "http://127.0.0.1:1".into(),
        model: "open".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        planned_seconds: 1.0,
        elapsed_seconds: 1.0,
        status: RunStatus::Complete,
        loadcast_version: "test".into(),
        shards: 1,
        shard: None,
    }
}

fn shard(latencies_us: &[u64], errors: u64) -> RunResult {
    let mut result = RunResult::new(meta());
    let mut stats = RequestStats::new("GET /");
    let mut second = Second::new(0);
    for &us in latencies_us {
        stats.count += 1;
        stats.ok += 1;
        *stats.status.entry(200).or_default() += 1;
        stats.latency.record(Duration::from_micros(us));
        stats.service.record(Duration::from_micros(us));
        second.completed += 1;
        second.latency.record(Duration::from_micros(us));
    }
    stats.count += errors;
    if errors > 0 {
        stats.errors.insert(ErrorKind::Timeout, errors);
    }
    result.requests.push(stats);
    result.timeline.push(second);
    result
}

/// A shard that started `offset` seconds after 00:00:00 and recorded, in each of the seconds
/// it has (gaps allowed), the latencies given.
fn timed_shard(offset: u32, seconds: &[(u32, Vec<u64>)]) -> RunResult {
    let mut result = RunResult::new(RunMeta {
        started_at: format!("2026-01-01T00:00:{offset:02}Z"),
        ..meta()
    });
    let mut stats = RequestStats::new("GET /");
    for (t, latencies) in seconds {
        let mut second = Second::new(*t);
        for &us in latencies {
            stats.count += 1;
            stats.ok += 1;
            stats.latency.record(Duration::from_micros(us));
            second.sent += 1;
            second.completed += 1;
            second.latency.record(Duration::from_micros(us));
        }
        result.timeline.push(second);
    }
    result.requests.push(stats);
    result
}

fn seconds() -> impl Strategy<Value = Vec<(u32, Vec<u64>)>> {
    proptest::collection::btree_map(
        0u32..20,
        proptest::collection::vec(1u64..5_000_000, 0..20),
        0..12,
    )
    .prop_map(|m| m.into_iter().collect())
}

fn merged(parts: &[&RunResult]) -> RunResult {
    let mut out = parts[0].clone();
    for p in &parts[1..] {
        out.merge(p);
    }
    out
}

/// What a timeline says, by wall-clock second: (second after 00:00:00, sent, latencies).
fn by_wall_clock(r: &RunResult) -> Vec<(u32, u64, loadcast_stats::LatencyHistogram)> {
    let start = loadcast_stats::time::parse_time(&r.meta.started_at).unwrap() as u32 % 60;
    r.timeline
        .iter()
        .map(|s| (start + s.t, s.sent, s.latency.clone()))
        .collect()
}

proptest! {
    #[test]
    fn merging_shards_is_exact_and_associative_with_gaps_and_staggered_starts(
        a in seconds(), b in seconds(), c in seconds(),
        oa in 0u32..5, ob in 0u32..5, oc in 0u32..5,
    ) {
        let (a, b, c) = (timed_shard(oa, &a), timed_shard(ob, &b), timed_shard(oc, &c));
        let left = merged(&[&merged(&[&a, &b]), &c]);
        let right = merged(&[&a, &merged(&[&b, &c])]);
        let other_order = merged(&[&c, &a, &b]);
        for m in [&right, &other_order] {
            prop_assert_eq!(&left.requests[0].latency, &m.requests[0].latency);
            prop_assert_eq!(left.requests[0].count, m.requests[0].count);
            prop_assert_eq!(by_wall_clock(&left), by_wall_clock(m));
            prop_assert_eq!(&left.meta.started_at, &m.meta.started_at);
        }
        // Each wall-clock second holds exactly what the shards recorded in it.
        for (wall, sent, _) in by_wall_clock(&left) {
            let expected: u64 = [&a, &b, &c]
                .iter()
                .flat_map(|r| by_wall_clock(r))
                .filter(|(w, _, _)| *w == wall)
                .map(|(_, s, _)| s)
                .sum();
            prop_assert_eq!(sent, expected, "second {}", wall);
        }
        prop_assert_eq!(left.meta.shards, 3);
    }

    #[test]
    fn merge_equals_single_recording(
        a in proptest::collection::vec(1u64..10_000_000, 0..200),
        b in proptest::collection::vec(1u64..10_000_000, 0..200),
        ea in 0u64..5, eb in 0u64..5,
    ) {
        let mut merged = shard(&a, ea);
        merged.merge(&shard(&b, eb));
        let all: Vec<u64> = a.iter().chain(b.iter()).copied().collect();
        let single = shard(&all, ea + eb);
        prop_assert_eq!(&merged.requests[0].latency, &single.requests[0].latency);
        prop_assert_eq!(merged.requests[0].count, single.requests[0].count);
        prop_assert_eq!(merged.requests[0].error_count(), ea + eb);
        prop_assert_eq!(merged.timeline[0].completed, all.len() as u64);
        prop_assert_eq!(merged.meta.shards, 2);
    }

    #[test]
    fn json_round_trip(a in proptest::collection::vec(1u64..100_000_000, 0..100)) {
        let result = shard(&a, 1);
        let back = RunResult::from_json(&result.to_json(), "test").unwrap();
        prop_assert_eq!(back, result);
    }
}

#[test]
fn file_round_trip_and_version_check() {
    let dir = std::env::temp_dir().join(format!("loadcast-stats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r.json");
    let result = shard(&[100, 200, 300], 0);
    result.save(&path).unwrap();
    assert_eq!(RunResult::load(&path).unwrap(), result);

    let future = result
        .to_json()
        .replace("\"version\": 1", "\"version\": 99");
    std::fs::write(&path, future).unwrap();
    let err = RunResult::load(&path).unwrap_err().to_string();
    assert!(err.contains("version 99 is not supported"), "{err}");
    assert!(err.contains("r.json"), "{err}");

    std::fs::write(
        &path,
        "{\"format\": \"loadcast-result\",\n \"version\": 1,\n \"meta\": 3}",
    )
    .unwrap();
    let err = RunResult::load(&path).unwrap_err().to_string();
    assert!(err.contains("r.json:3:"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
