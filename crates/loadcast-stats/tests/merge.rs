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

proptest! {
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
