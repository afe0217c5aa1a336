//! The HTML report in a real browser (Debian's headless Chromium): it loads offline with no
//! console error, every chart has drawn content, and a screenshot lands in the test output.
//! Plus a golden snapshot of the terminal summary.

use std::path::{Path, PathBuf};
use std::process::Command;

use loadcast_report::{HtmlInput, html_report};
use loadcast_testkit::chromium::{binary as chromium, headless};

mod fixtures;

use fixtures::{projection, run, study};

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
fn a_stored_study_shows_its_runway_and_a_forecast_its_notes_as_the_terminal_does() {
    // `report 1 --html` on a capacity study has no projection file: the runway the terminal
    // prints was missing from the page.
    let mut p = projection();
    let s = study(&p);
    let runway = s.runway.as_ref().expect("the fixture study has a runway");
    let html = html_report(&HtmlInput {
        title: "loadcast report: shop",
        capacity: Some(&s),
        ..Default::default()
    });
    assert!(html.contains("<h2>Runway</h2>"), "{html}");
    let headroom = format!("{:.2}×", runway.data_aware.headroom_now);
    assert!(html.contains(&headroom), "{headroom} not in {html}");
    // The forecast's notes (one-offs kept out, series that started later) are on the page.
    p.notes
        .push("requests: 1 sample far outside its usual range kept out of the fit".into());
    let html = html_report(&HtmlInput {
        title: "loadcast report: forecast",
        projection: Some(&p),
        ..Default::default()
    });
    assert!(
        html.contains(
            "<li>requests: 1 sample far outside its usual range kept out of the fit</li>"
        ),
        "{html}"
    );
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

/// A CI script sees the coordinated-omission gap the terminal shows: service time (from the
/// send) beside the latency from the intended start, and the generator's health.
#[test]
fn the_json_summary_carries_service_time_and_the_generators_health() {
    let r = run();
    let summary = loadcast_report::summary_json(&r);
    let total = &summary["total"];
    let (intended, service) = (
        total["p99_ms"].as_f64().unwrap(),
        total["service"]["p99_ms"].as_f64().unwrap(),
    );
    let want = r.total().service.quantile(0.99).as_secs_f64() * 1e3;
    assert!((service - want).abs() < 1e-9, "{summary}");
    assert!(service < intended, "{summary}");
    for key in [
        "scheduled",
        "started",
        "late",
        "dropped",
        "abandoned",
        "users",
    ] {
        assert!(summary["generator"][key].is_u64(), "{key}: {summary}");
    }
}
