//! The HTML report in a real browser (Debian's headless Chromium): it loads offline with no
//! console error, every chart has drawn content, and a screenshot lands in the test output.
//! Plus a golden snapshot of the terminal summary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use loadcast_capacity::data::{self, DataPoint, Prediction};
use loadcast_capacity::runway::{self, PathPoint};
use loadcast_capacity::search::{BreakingPoint, Step};
use loadcast_capacity::{CapacityStudy, ScaleResult};
use loadcast_forecast::history::{History, SeriesKind};
use loadcast_forecast::{Options, Projection, project};
use loadcast_report::{HtmlInput, html_report};
use loadcast_stats::slo::{Metric, Threshold};
use loadcast_stats::{
    ErrorKind, GeneratorStats, RequestStats, RunMeta, RunResult, RunStatus, Second,
};

const DAY: i64 = 86_400;

/// A deterministic run: 60 seconds, latency creeping up, a burst of errors in the middle.
pub fn run() -> RunResult {
    let mut r = RunResult::new(RunMeta {
        plan_name: "shop".into(),
        plan_hash: "0123456789abcdef".into(),
        target: "http://127.0.0.1:8080".into(),
        model: "open".into(),
        started_at: "2026-11-24T10:00:00Z".into(),
        planned_seconds: 60.0,
        elapsed_seconds: 60.0,
        status: RunStatus::Complete,
        loadcast_version: "0.1.0".into(),
        shards: 1,
    });
    let mut total = RequestStats::new("GET /products");
    for t in 0..60u32 {
        let mut s = Second::new(t);
        s.scheduled = 200;
        s.sent = 200;
        s.completed = 200;
        for i in 0..200u64 {
            let ms = 5.0
                + f64::from(t) * 0.3
                + (i % 50) as f64 * 0.4
                + if i == 199 { 80.0 } else { 0.0 };
            let d = Duration::from_secs_f64(ms / 1e3);
            s.latency.record(d);
            total.latency.record(d);
            total.service.record(d.mul_f64(0.8));
        }
        if (25..30).contains(&t) {
            s.errors.insert(ErrorKind::Status(503), 12);
            s.errors.insert(ErrorKind::Timeout, 3);
        }
        total.count += 200;
        r.timeline.push(s);
    }
    total.ok = total.count - 75;
    total.errors.insert(ErrorKind::Status(503), 60);
    total.errors.insert(ErrorKind::Timeout, 15);
    total.status.insert(200, total.ok);
    r.requests.push(total);
    r.generator = GeneratorStats {
        scheduled: 12_000,
        started: 12_000,
        workers: 2,
        ..GeneratorStats::default()
    };
    r
}

/// Two years of daily traffic and an orders table growing faster.
pub fn projection() -> Projection {
    let start = 1_730_000_000 / DAY * DAY;
    let traffic = (0..730)
        .map(|d| {
            let season = 1.0 + 0.3 * ((d as f64 - 300.0) / 365.25 * std::f64::consts::TAU).cos();
            (
                start + d * DAY,
                (150.0 + 0.1 * d as f64) * season * if d % 7 >= 5 { 0.8 } else { 1.0 },
            )
        })
        .collect();
    let orders = (0..730)
        .map(|d| (start + d * DAY, 1e6 * 1.003f64.powi(d as i32)))
        .collect();
    let h = History::from_points(
        "test",
        None,
        vec![
            ("requests".into(), SeriesKind::Traffic, traffic),
            ("orders".into(), SeriesKind::Data, orders),
        ],
    )
    .unwrap();
    project(&h, &Options::horizon(Duration::from_secs(180 * DAY as u64))).unwrap()
}

fn step(rate: f64, p99: f64, errors: f64, passed: bool, phase: &str) -> Step {
    Step {
        rate,
        throughput: rate.min(400.0),
        p50_ms: p99 / 3.0,
        p99_ms: p99,
        error_rate: errors,
        passed,
        valid: true,
        note: (!passed).then(|| "FAIL  p99 <= 300ms".into()),
        phase: phase.into(),
        recovery_seconds: None,
        unrecovered: false,
    }
}

pub fn study(p: &Projection) -> CapacityStudy {
    let mut s = CapacityStudy::new(
        "shop",
        "0123456789abcdef",
        "http://127.0.0.1:8080",
        "2026-11-24T10:00:00Z",
    );
    s.table = Some("orders".into());
    s.thresholds = vec![Threshold::latency(
        None,
        Metric::Latency { quantile: 0.99 },
        Duration::from_millis(300),
    )];
    for (scale, volume, cap) in [
        ("1x", 2.0e6, 420.0),
        ("2x", 4.0e6, 300.0),
        ("4x", 8.0e6, 190.0),
    ] {
        s.scales.push(ScaleResult {
            scale: scale.into(),
            volume: Some(volume),
            bytes: Some(volume * 120.0),
            breaking_point: BreakingPoint {
                max_rate: cap * 0.97,
                broke_at: Some(cap * 1.03),
                first_broken: Some("FAIL  p99 <= 300ms".into()),
                generator_limited: false,
                steps: vec![
                    step(cap * 0.3, 20.0, 0.0, true, "geometric"),
                    step(cap * 0.6, 35.0, 0.0, true, "geometric"),
                    step(cap * 0.97, 120.0, 0.0, true, "bisect"),
                    step(cap * 1.2, 900.0, 0.04, false, "geometric"),
                    step(cap * 1.2, 950.0, 0.05, false, "confirm"),
                ],
                steps_after_break: 2,
            },
        });
    }
    let points: Vec<DataPoint> = s
        .scales
        .iter()
        .map(|x| DataPoint {
            volume: x.volume.unwrap(),
            capacity: x.breaking_point.capacity(),
            bytes: x.bytes,
            bracket: Some(x.breaking_point.interval()),
        })
        .collect();
    let model = data::fit(&points).unwrap();
    let orders = p.series("orders").unwrap();
    s.horizon_volume = Some(orders.at_horizon.point);
    s.at_horizon = Some(model.predict(orders.at_horizon.point));
    let path = |name: &str| -> Vec<PathPoint> {
        p.series(name)
            .unwrap()
            .path
            .iter()
            .map(|q| PathPoint {
                t: q.t,
                point: q.band.point,
                lo95: q.band.lo95,
                hi95: q.band.hi95,
            })
            .collect()
    };
    let today = Prediction {
        capacity: 420.0,
        low: 407.0,
        high: 433.0,
    };
    s.runway = Some(runway::runway(
        &path("requests"),
        &path("orders"),
        &model,
        today,
    ));
    s.data_model = Some(model);
    s
}

use loadcast_testkit::chromium::{binary as chromium, headless};

#[test]
fn the_html_report_loads_in_chromium_with_every_chart_drawn() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-report");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let p = projection();
    let s = study(&p);
    let r = run();
    let html = html_report(&HtmlInput {
        title: "loadcast report: shop",
        run: Some(&r),
        capacity: Some(&s),
        projection: Some(&p),
        traffic_series: Some("requests"),
        narrative: vec!["A test of every chart.".into()],
    });
    // Self-contained: nothing is fetched from anywhere.
    for needle in ["src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(needle), "the report refers to {needle}");
    }
    let page = dir.join("report.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());

    let (dom, log) = loadcast_testkit::chromium::dump_dom(&page, &dir.join("profile-dom"));
    let console_errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") && (l.contains("Uncaught") || l.contains("Error")))
        .collect();
    assert!(
        console_errors.is_empty(),
        "console errors: {console_errors:?}"
    );
    let attribute = |name: &str| -> String {
        let at = dom
            .find(&format!("{name}=\""))
            .unwrap_or_else(|| panic!("no {name} in the DOM: the page's check did not run"));
        let rest = &dom[at + name.len() + 2..];
        rest[..rest.find('"').unwrap()].to_string()
    };
    assert_eq!(
        attribute("data-figures"),
        "8",
        "all eight charts are on the page"
    );
    assert_eq!(
        attribute("data-charts"),
        "8",
        "empty: {}",
        attribute("data-empty")
    );
    assert_eq!(attribute("data-empty"), "");

    let shot = dir.join("report.png");
    let out = Command::new(chromium())
        .args(headless(&dir.join("profile-shot")))
        .args([
            "--window-size=1600,4200",
            &format!("--screenshot={}", shot.display()),
            &url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 50_000,
        "{} bytes",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}

/// `(x, text)` of every text element of an SVG.
fn svg_texts(svg: &str) -> Vec<(f64, String)> {
    svg.split("<text")
        .skip(1)
        .filter_map(|element| {
            let x = element
                .split("x=\"")
                .nth(1)?
                .split('"')
                .next()?
                .parse()
                .ok()?;
            let body = element.split_once('>')?.1.split("</text>").next()?;
            Some((
                x,
                body.trim()
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&apos;", "'")
                    .replace("&amp;", "&"),
            ))
        })
        .collect()
}

#[test]
fn every_legend_sits_beside_its_plot_and_names_what_the_chart_draws() {
    use loadcast_report::charts;
    let p = projection();
    let s = study(&p);
    let r = run();
    let traffic = p.series("requests").unwrap();
    let runway = s.runway.as_ref().unwrap();
    let charts: Vec<(&str, Option<String>, Vec<&str>)> = vec![
        (
            "throughput",
            charts::throughput(&r),
            vec![
                "arrivals scheduled/s",
                "requests completed/s",
                "requests sent/s",
            ],
        ),
        (
            "latency",
            charts::latency_over_time(&r),
            vec!["p50", "p90", "p99"],
        ),
        (
            "distribution",
            charts::latency_distribution(&r),
            vec!["from intended start", "service time (from send)"],
        ),
        (
            "errors",
            charts::errors_over_time(&r),
            vec!["http_503", "timeout"],
        ),
        (
            "capacity curve",
            charts::capacity_curve(&s),
            vec!["SLO p99 <= 300ms", "p99 at 1x data", "errors (right axis)"],
        ),
        (
            "capacity vs data",
            charts::capacity_vs_data(&s),
            vec!["fit: ", "measured", "predicted at the horizon's"],
        ),
        (
            "forecast",
            charts::forecast_fan(traffic, Some(runway), None),
            vec!["95% band", "history", "forecast"],
        ),
        (
            "runway",
            charts::runway_comparison(runway),
            vec!["traffic-only: ", "data-aware: "],
        ),
    ];
    for (name, svg, legend) in charts {
        let svg = svg.unwrap_or_else(|| panic!("{name}: no chart drawn"));
        let texts = svg_texts(&svg);
        // The plot is the chart's left 550 px; its legend starts right of it.
        for entry in legend {
            let found: Vec<&(f64, String)> =
                texts.iter().filter(|(_, t)| t.starts_with(entry)).collect();
            assert!(
                !found.is_empty() && found.iter().all(|(x, _)| *x >= 550.0),
                "{name}: legend entry {entry:?} not (only) beside the plot: {found:?}\nall texts: {texts:?}"
            );
        }
    }
    // The time axis of a forecast is dated: every tick label is a date within its range.
    let fan = svg_texts(&charts::forecast_fan(traffic, None, None).unwrap());
    let dates: Vec<&String> = fan
        .iter()
        .map(|(_, t)| t)
        .filter(|t| t.len() == 10 && t.starts_with("20") && t.as_bytes()[4] == b'-')
        .collect();
    assert!(dates.len() >= 3, "date ticks: {dates:?} of {fan:?}");
    assert!(!fan.iter().any(|(_, t)| t.contains("days from")), "{fan:?}");
}

#[test]
fn a_forecast_without_a_capacity_study_is_not_called_a_runway() {
    let p = projection();
    let html = html_report(&HtmlInput {
        title: "loadcast report: forecast",
        projection: Some(&p),
        traffic_series: Some("requests"),
        ..Default::default()
    });
    assert!(html.contains("<h2>Forecast</h2>"), "{html}");
    assert!(!html.to_lowercase().contains("runway"), "{html}");
    let s = study(&p);
    let html = html_report(&HtmlInput {
        title: "loadcast report: shop",
        projection: Some(&p),
        capacity: Some(&s),
        traffic_series: Some("requests"),
        ..Default::default()
    });
    assert!(html.contains("<h2>Forecast and runway</h2>"));
}

#[test]
fn the_terminal_summary_matches_its_snapshot() {
    let text = loadcast_report::terminal_summary(&run());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/terminal_summary.txt");
    // Written only on request: a missing snapshot is a failure, never a snapshot of whatever
    // the code prints today.
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with UPDATE_SNAPSHOTS=1 and review it",
            path.display()
        )
    });
    assert_eq!(
        text, expected,
        "rerun with UPDATE_SNAPSHOTS=1 after a deliberate change"
    );
}
