//! `loadcast watch` against a real Prometheus (Debian's package, its TSDB backfilled by
//! `promtool`): production's traffic grows and its table grows faster, a capacity study is on
//! file. The runway against the date computed by hand, `--fail-under`, the warnings where
//! production has left the study behind, the endpoint scraped by Prometheus, the alerting rules
//! checked and tested by `promtool`, and a Prometheus that stops and comes back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use loadcast_capacity::data::{DataPoint, fit};
use loadcast_capacity::search::{BreakingPoint, Step};
use loadcast_capacity::watch::WatchCycle;
use loadcast_capacity::{CapacityStudy, ScaleResult};
use loadcast_stats::Document;
use loadcast_testkit::prometheus::{Prometheus, openmetrics, promtool};

use super::*;

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

// Production at the end of its history: 300/s growing 3/s a day (1% a day), and 1.5M rows of
// orders growing 30k a day (2% a day: the table grows faster).
const TRAFFIC_NOW: f64 = 300.0;
const TRAFFIC_PER_DAY: f64 = 3.0;
const ROWS_NOW: f64 = 1.5e6;
const ROWS_PER_DAY: f64 = 3e4;
/// The study's capacity is K / rows per second (1000/s at 1M rows: each request scans).
const K: f64 = 1e9;

/// Days until `TRAFFIC_NOW + a·d` first exceeds `K / (ROWS_NOW + b·d)`:
/// a·b·d² + (T·b + V·a)·d + T·V − K = 0.
fn runway_by_hand() -> f64 {
    let (a, b) = (TRAFFIC_PER_DAY, ROWS_PER_DAY);
    let (qa, qb, qc) = (
        a * b,
        TRAFFIC_NOW * b + ROWS_NOW * a,
        TRAFFIC_NOW * ROWS_NOW - K,
    );
    (-qb + (qb * qb - 4.0 * qa * qc).sqrt()) / (2.0 * qa)
}

/// The traffic-only answer: capacity frozen at today's rows.
fn traffic_only_by_hand() -> f64 {
    (K / ROWS_NOW - TRAFFIC_NOW) / TRAFFIC_PER_DAY
}

/// Four weeks of hourly production history ending at `end`.
fn production(end: i64) -> String {
    let hours: Vec<i64> = (0..=28 * 24).map(|i| end - i * HOUR).rev().collect();
    let days = |t: i64| (t - end) as f64 / DAY as f64;
    openmetrics(&[
        (
            r#"shop_requests_per_second{job="shop"}"#,
            hours
                .iter()
                .map(|&t| (t, TRAFFIC_NOW + TRAFFIC_PER_DAY * days(t)))
                .collect(),
        ),
        (
            "shop_orders_rows",
            hours
                .iter()
                .map(|&t| (t, (ROWS_NOW + ROWS_PER_DAY * days(t)).round()))
                .collect(),
        ),
        (
            "shop_p99_seconds",
            hours.iter().map(|&t| (t, 0.02)).collect(),
        ),
    ])
}

fn step(rate: f64, p99_ms: f64, passed: bool) -> Step {
    Step::measured(rate, p99_ms / 3.0, p99_ms, passed)
}

/// A study measured five days ago at 1M, 2M and 4M rows: capacity K/rows, p99 10 ms per million
/// rows at 100/s, three times that at the capacity.
fn write_study(dir: &Path, plan: &Path) -> PathBuf {
    let hash = loadcast_plan::load(plan).unwrap().hash;
    let now = loadcast_stats::time::now();
    let mut study = CapacityStudy::new(
        "watch",
        &hash,
        "http://127.0.0.1:1",
        &loadcast_stats::time::format_time(now - 5 * DAY),
    );
    study.table = Some("orders".into());
    for (label, rows) in [("1x", 1e6), ("2x", 2e6), ("4x", 4e6)] {
        let capacity = K / rows;
        let p99 = 10.0 * rows / 1e6;
        study.scales.push(ScaleResult {
            scale: label.into(),
            volume: Some(rows),
            bytes: None,
            breaking_point: BreakingPoint {
                max_rate: capacity,
                broke_at: Some(capacity * 1.02),
                first_broken: Some("p99 < 500ms".into()),
                generator_limited: false,
                steps: vec![
                    step(100.0, p99, true),
                    step(capacity, 3.0 * p99, true),
                    step(capacity * 1.02, 900.0, false),
                ],
                steps_after_break: 1,
                interrupted: false,
            },
            searches: Vec::new(),
            plans: Vec::new(),
        });
    }
    let points: Vec<DataPoint> = study
        .scales
        .iter()
        .map(|s| DataPoint {
            bracket: Some(s.breaking_point.interval()),
            ..DataPoint::new(s.volume.unwrap(), s.breaking_point.capacity())
        })
        .collect();
    study.data_model = Some(fit(&points).unwrap());
    let path = dir.join("capacity.json");
    std::fs::write(&path, study.to_json()).unwrap();
    path
}

fn write_watch_plan(
    dir: &Path,
    name: &str,
    prometheus: &str,
    data: &str,
    latency: &str,
) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            r#"name = "watch"
target = "http://127.0.0.1:1"

[load]
model = "open"
rate = "10/s"
duration = "1s"

[horizon]
until = "180d"

[watch]
prometheus = "{prometheus}"
traffic = 'shop_requests_per_second{{job="shop"}}'
data = '{data}'
latency_p99 = '{latency}'
since = "28d"
step = "1h"
interval = "2s"

[[scenario]]
[[scenario.step]]
get = "/"
"#
        ),
    )
    .unwrap();
    path
}

/// History that ends two hours ago: the TSDB's head keeps the latest two hours to itself.
fn history_end() -> i64 {
    let now = loadcast_stats::time::now();
    now - now % HOUR - 2 * HOUR
}

#[test]
fn watch_once_reports_the_hand_computed_runway_and_fails_under_the_limit() {
    // Prometheus and the forecasts beside another test's measurement would be its noise.
    let _alone = measuring_alone();
    let end = history_end();
    let prometheus = Prometheus::start_with_history(&production(end));
    let dir = workdir("watch-once");
    let plan = write_watch_plan(
        &dir,
        "watch",
        &prometheus.url(),
        "shop_orders_rows",
        "shop_p99_seconds",
    );
    let study = write_study(&dir, &plan);
    let study_arg = study.to_str().unwrap();
    let out = stored(
        &dir,
        &[
            "watch",
            "watch.toml",
            "--study",
            study_arg,
            "--once",
            "--json",
            "--fail-under",
            "20d",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let cycle = WatchCycle::from_json(&text(&out.stdout), "watch --once --json").unwrap();
    let by_hand = runway_by_hand();
    let runs_out = cycle.runway.data_aware.runs_out.expect("a runway end");
    let days = (runs_out - end) as f64 / DAY as f64;
    assert!(
        (days - by_hand).abs() <= 3.0,
        "runway {days:.1} days, by hand {by_hand:.1} days: {cycle:#?}"
    );
    let traffic_only = cycle
        .runway
        .traffic_only
        .runs_out
        .expect("a traffic-only end");
    let traffic_days = (traffic_only - end) as f64 / DAY as f64;
    assert!(
        (traffic_days - traffic_only_by_hand()).abs() <= 5.0,
        "traffic-only {traffic_days:.1} days, by hand {:.1}",
        traffic_only_by_hand()
    );
    eprintln!(
        "watch --once: runway {days:.2} days (by hand {by_hand:.2}), traffic-only {traffic_days:.2} days (by hand {:.2}), capacity now {:.1}/s",
        traffic_only_by_hand(),
        cycle.capacity_now.capacity
    );
    // The capacity 1.5M rows leave: K / 1.5M.
    assert!(
        (cycle.capacity_now.capacity / (K / ROWS_NOW) - 1.0).abs() < 0.02,
        "{:?}",
        cycle.capacity_now
    );
    assert!(
        (cycle.observed.traffic / TRAFFIC_NOW - 1.0).abs() < 0.01,
        "{:?}",
        cycle.observed
    );
    assert!(cycle.warnings.is_empty(), "{:#?}", cycle.warnings);
    assert_eq!(cycle.observed.at, end);

    // The same cycle for people, and a limit it is under: exit 3.
    let out = stored(
        &dir,
        &[
            "watch",
            "watch.toml",
            "--study",
            study_arg,
            "--once",
            "--fail-under",
            "60d",
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    assert_has(&stdout, "data-aware");
    assert_has(&stdout, "traffic-only");
    assert_has(&text(&out.stderr), "is under --fail-under (60d)");

    // Data past the largest measured scale and latency worse than the study predicts.
    write_watch_plan(
        &dir,
        "behind",
        &prometheus.url(),
        "shop_orders_rows * 4",
        "shop_p99_seconds * 10",
    );
    let out = stored(
        &dir,
        &["watch", "behind.toml", "--study", study_arg, "--once"],
    );
    let stdout = text(&out.stdout);
    assert_has(
        &stdout,
        "has passed the largest volume the study measured (4000000 rows)",
    );
    assert_has(&stdout, "`loadcast capacity behind.toml --scales 8x");
    assert_has(&stdout, "production's p99 is 200.0 ms");
    assert_has(&stdout, "the service has changed since it was measured");

    // Every cycle is in the store, and reads back as what it printed.
    let runs = stored(&dir, &["runs", "--kind", "watch"]);
    let listing = text(&runs.stdout);
    assert_eq!(
        listing.lines().filter(|l| l.contains("  watch ")).count(),
        3,
        "{listing}"
    );
    assert_has(&listing, "2 warning(s)");
    assert_has(
        &text(&stored(&dir, &["report", "3"]).stdout),
        "another version of the plan file",
    );
    let id = listing
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let detail = text(&stored(&dir, &["report", &id]).stdout);
    assert_has(&detail, "has passed the largest volume the study measured");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The watch as a process; killed when dropped.
struct Watching(Child);

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A metric's value on the watch's page.
fn metric(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| {
        let value = l.strip_prefix(series)?.strip_prefix(' ')?;
        match value {
            "+Inf" => Some(f64::INFINITY),
            v => v.parse().ok(),
        }
    })
}

/// Waits up to `limit` for `ready` to hold on the watch's page; fails with the last page.
fn wait_for(addr: &str, limit: Duration, what: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let page = loadcast_testkit::http_get(addr, "/metrics").unwrap_or_default();
        if ready(&page) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {limit:?}; the last page:\n{page}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Go's `humanizeDuration` for at least a day, as Prometheus' templates write it.
fn humanize_duration(seconds: f64) -> String {
    let d = seconds as i64;
    format!(
        "{}d {}h {}m {}s",
        d / DAY,
        (d / HOUR) % 24,
        (d / 60) % 60,
        d % 60
    )
}

#[test]
fn prometheus_scrapes_the_watch_its_rules_fire_and_the_watch_outlives_prometheus() {
    let _alone = measuring_alone();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let end = history_end();
    let mut prometheus =
        Prometheus::start_scraping(&production(end), &[("loadcast", addr.clone())]);
    let dir = workdir("watch-serve");
    let plan = write_watch_plan(
        &dir,
        "watch",
        &prometheus.url(),
        "shop_orders_rows",
        "shop_p99_seconds",
    );
    let study = write_study(&dir, &plan);

    // The rule file passes promtool.
    let out = stored(
        &dir,
        &[
            "watch",
            "watch.toml",
            "--rules",
            "rules.yml",
            "--fail-under",
            "60d",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let check = Command::new(promtool())
        .args(["check", "rules", "rules.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "promtool check rules: {}{}",
        text(&check.stdout),
        text(&check.stderr)
    );

    let store = dir.join("runs.db");
    let watching = Watching(
        loadcast()
            .args(["--store", store.to_str().unwrap(), "watch", "watch.toml"])
            .args([
                "--study",
                study.to_str().unwrap(),
                "--listen",
                &addr,
                "--cycles",
                "200",
            ])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("watch.log")).unwrap(),
            ))
            .spawn()
            .unwrap(),
    );
    let runway_series = r#"loadcast_runway_seconds{plan="watch",view="data_aware",bound="point"}"#;
    let page = wait_for(&addr, Duration::from_secs(60), "a first good cycle", |p| {
        metric(p, runway_series).is_some()
    });
    assert_eq!(
        metric(&page, r#"loadcast_watch_up{plan="watch"}"#),
        Some(1.0),
        "{page}"
    );
    // The page is the exposition format as promtool lints it.
    let mut lint = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        lint.stdin
            .take()
            .unwrap()
            .write_all(page.as_bytes())
            .unwrap();
    }
    let linted = lint.wait_with_output().unwrap();
    assert!(
        linted.status.success(),
        "promtool check metrics:\n{page}\n{}{}",
        text(&linted.stdout),
        text(&linted.stderr)
    );

    // Prometheus scrapes it: the runway is the hand-computed one there too.
    let deadline = Instant::now() + Duration::from_secs(60);
    let scraped = loop {
        let result = prometheus
            .query(r#"loadcast_runway_seconds{view="data_aware",bound="point"}"#)
            .unwrap_or_default();
        if let Some(sample) = result.first() {
            break sample.clone();
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped the watch; its page:\n{page}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let value: f64 = scraped["value"][1].as_str().unwrap().parse().unwrap();
    let days = value / DAY as f64;
    assert!(
        (days - runway_by_hand()).abs() <= 3.0,
        "scraped runway {days:.1} days, by hand {:.1}: {scraped}",
        runway_by_hand()
    );
    assert_eq!(scraped["metric"]["job"], "loadcast");

    // promtool test rules: the scraped series, as scraped, fires the runway alert.
    let rules = std::fs::read_to_string(dir.join("rules.yml")).unwrap();
    let description = rules
        .split("alert: LoadcastRunwayShort")
        .nth(1)
        .and_then(|r| {
            r.lines()
                .find_map(|l| l.trim().strip_prefix("description: "))
        })
        .unwrap()
        .to_string();
    let labels = scraped["metric"].as_object().unwrap();
    let selector: Vec<String> = labels
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap()))
        .collect();
    let exp_labels: String = labels
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| format!("              {k}: {}\n", v.as_str().unwrap()))
        .collect();
    let test = format!(
        "rule_files:\n  - rules.yml\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n      - series: 'loadcast_runway_seconds{{{}}}'\n        values: '{value}x30'\n    alert_rule_test:\n      - eval_time: 10m\n        alertname: LoadcastRunwayShort\n        exp_alerts:\n          - exp_labels:\n{exp_labels}              severity: page\n            exp_annotations:\n              summary: 'watch: capacity runs out in {} (under 60d)'\n              description: {description}\n      - eval_time: 10m\n        alertname: LoadcastHeadroomLow\n        exp_alerts: []\n",
        selector.join(","),
        humanize_duration(value)
    );
    std::fs::write(dir.join("rules.test.yml"), &test).unwrap();
    let tested = Command::new(promtool())
        .args(["test", "rules", "rules.test.yml"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        tested.status.success(),
        "promtool test rules:\n{test}\n{}{}",
        text(&tested.stdout),
        text(&tested.stderr)
    );

    // Prometheus stops: the last figures stay, with their age and the errors counted.
    prometheus.stop();
    let down = wait_for(&addr, Duration::from_secs(60), "a failed cycle", |p| {
        metric(p, r#"loadcast_watch_up{plan="watch"}"#) == Some(0.0)
            && metric(p, r#"loadcast_watch_errors_total{plan="watch"}"#).is_some_and(|e| e >= 1.0)
    });
    let kept = metric(&down, runway_series).unwrap_or_else(|| panic!("no runway kept:\n{down}"));
    assert!(
        (kept / DAY as f64 - runway_by_hand()).abs() <= 3.0,
        "{down}"
    );
    let last_good = metric(
        &down,
        r#"loadcast_watch_last_success_timestamp{plan="watch"}"#,
    )
    .unwrap();
    wait_for(
        &addr,
        Duration::from_secs(30),
        "the figures' age growing",
        |p| {
            metric(p, r#"loadcast_watch_figures_age_seconds{plan="watch"}"#)
                .is_some_and(|a| a >= 2.0)
        },
    );

    // It comes back: the watch recovers by itself.
    prometheus.start_again();
    let up = wait_for(
        &addr,
        Duration::from_secs(60),
        "a good cycle after the restart",
        |p| {
            metric(p, r#"loadcast_watch_up{plan="watch"}"#) == Some(1.0)
                && metric(p, r#"loadcast_watch_last_success_timestamp{plan="watch"}"#)
                    .is_some_and(|t| t > last_good)
        },
    );
    assert!(metric(&up, r#"loadcast_watch_errors_total{plan="watch"}"#).unwrap() >= 1.0);
    drop(watching);
    let log = std::fs::read_to_string(dir.join("watch.log")).unwrap_or_default();
    assert_has(&log, "watch cycle failed (the last figures stay)");
    let _ = std::fs::remove_dir_all(&dir);
}
