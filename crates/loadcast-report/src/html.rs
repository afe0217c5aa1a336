//! The HTML report: one self-contained file (inline SVG and CSS; no script, font or image from
//! anywhere) that opens offline. It renders a run, a capacity study and a projection — any of
//! them — and says plainly what the figures mean and where they cannot be trusted.

use std::fmt::Write as _;

use loadcast_capacity::CapacityStudy;
use loadcast_forecast::Projection;
use loadcast_forecast::history::SeriesKind;
use loadcast_stats::time::format_date;
use loadcast_stats::{RunResult, RunStatus, format_duration};

use crate::charts;
use crate::si;

/// What a report shows; every part is optional.
#[derive(Debug, Default)]
pub struct HtmlInput<'a> {
    pub title: &'a str,
    pub run: Option<&'a RunResult>,
    pub capacity: Option<&'a CapacityStudy>,
    pub projection: Option<&'a Projection>,
    /// The projection's traffic series to draw [default: the first].
    pub traffic_series: Option<&'a str>,
    /// Paragraphs shown at the top (the demo's story).
    pub narrative: Vec<String>,
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "
body { font-family: -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 2rem auto; max-width: 1600px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .3rem; }
.meta { color: #666; font-size: .9rem; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.4rem; }
.card.bad { border-color: #d62728; background: #fdf0f0; } .card.good { border-color: #2ca02c; background: #f1faf1; }
.warning { border-left: 4px solid #d62728; background: #fdf0f0; padding: .5rem 1rem; margin: .6rem 0; }
.story { border-left: 4px solid #1f77b4; background: #f0f6fc; padding: .6rem 1rem; margin: .6rem 0; font-size: 1.05rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border-bottom: 1px solid #eee; padding: .3rem .7rem; text-align: right; } th:first-child, td:first-child { text-align: left; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(760px, 1fr)); gap: 1rem; }
figure { margin: 0; } figcaption { color: #666; font-size: .85rem; margin-top: .2rem; }
.pass { color: #2ca02c; } .fail { color: #d62728; font-weight: bold; }
.date { white-space: nowrap; }
";

/// Counts what each chart drew and marks the page: `data-charts` (charts with content) and
/// `data-empty` (their names, when any is empty). Tests read these in a real browser.
const CHECK: &str = "
(function () {
  var figures = document.querySelectorAll('figure[data-chart]');
  var ok = 0, empty = [];
  figures.forEach(function (f) {
    var marks = f.querySelectorAll('svg polyline, svg path, svg polygon, svg circle, svg rect').length;
    if (marks > 5) { ok++; } else { empty.push(f.getAttribute('data-chart')); }
  });
  document.body.setAttribute('data-charts', String(ok));
  document.body.setAttribute('data-figures', String(figures.length));
  document.body.setAttribute('data-empty', empty.join(','));
})();
";

pub(crate) fn figure(out: &mut String, name: &str, svg: Option<String>, caption: &str) {
    if let Some(svg) = svg {
        let _ = writeln!(
            out,
            "<figure data-chart=\"{name}\">{svg}<figcaption>{}</figcaption></figure>",
            escape(caption)
        );
    }
}

fn card(out: &mut String, label: &str, value: &str, class: &str) {
    let _ = writeln!(
        out,
        "<div class=\"card {class}\"><span>{}</span><b>{}</b></div>",
        escape(label),
        escape(value)
    );
}

fn run_section(out: &mut String, r: &RunResult) {
    let total = r.total();
    let m = &r.meta;
    let _ = writeln!(out, "<h2>Load test: {}</h2>", escape(&m.plan_name));
    let _ = writeln!(
        out,
        "<p class=\"meta\">{} model against {} — started {}, {:.1} s of {:.1} s planned{}{}; plan hash {}</p>",
        escape(&m.model),
        escape(&m.target),
        escape(&m.started_at),
        m.elapsed_seconds,
        m.planned_seconds,
        if m.status == RunStatus::Interrupted {
            ", INTERRUPTED (partial result)"
        } else {
            ""
        },
        if m.shards > 1 {
            format!(", {} shards merged", m.shards)
        } else {
            String::new()
        },
        escape(&m.plan_hash[..m.plan_hash.len().min(12)])
    );
    let _ = writeln!(out, "<div class=\"cards\">");
    card(out, "throughput", &format!("{}/s", si(r.throughput())), "");
    card(out, "requests", &total.count.to_string(), "");
    card(
        out,
        "p50",
        &format_duration(total.latency.quantile(0.5)),
        "",
    );
    card(
        out,
        "p99",
        &format_duration(total.latency.quantile(0.99)),
        "",
    );
    card(
        out,
        "errors",
        &format!("{:.2}%", total.error_rate() * 100.0),
        if total.error_count() > 0 {
            "bad"
        } else {
            "good"
        },
    );
    if !r.thresholds.is_empty() {
        let failed = r.thresholds.iter().filter(|t| !t.passed).count();
        card(
            out,
            "thresholds",
            &if failed == 0 {
                "all pass".to_string()
            } else {
                format!("{failed} FAILED")
            },
            if failed == 0 { "good" } else { "bad" },
        );
    }
    let _ = writeln!(out, "</div>");
    let g = &r.generator;
    if g.miss_rate() > 0.01 {
        let _ = writeln!(
            out,
            "<p class=\"warning\">The generator missed {:.1}% of its schedule ({} late, {} dropped): latencies are measured from the intended start, but the target saw less load than planned.</p>",
            g.miss_rate() * 100.0,
            g.late,
            g.dropped
        );
    }
    let shards = crate::shards::rows(r);
    if !shards.is_empty() {
        let _ = writeln!(
            out,
            "<h3>Shards</h3><p>Each shard's own generator, beside the merged figures above.</p><table><tr>{}</tr>",
            crate::shards::HEADERS
                .iter()
                .map(|h| format!("<th>{h}</th>"))
                .collect::<String>()
        );
        for (cells, behind) in shards {
            let _ = writeln!(
                out,
                "<tr{}>{}</tr>",
                if behind { " class=\"bad\"" } else { "" },
                cells
                    .iter()
                    .map(|c| format!("<td>{}</td>", escape(c)))
                    .collect::<String>()
            );
        }
        let _ = writeln!(out, "</table>");
    }
    if !r.thresholds.is_empty() {
        let _ = writeln!(
            out,
            "<table><tr><th>threshold</th><th>measured</th><th>verdict</th></tr>"
        );
        for t in &r.thresholds {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                escape(&t.threshold.to_string()),
                escape(&t.format_actual()),
                if t.passed { "pass" } else { "fail" },
                if t.passed { "pass" } else { "FAIL" }
            );
        }
        let _ = writeln!(out, "</table>");
    }
    let _ = writeln!(
        out,
        "<table><tr><th>request</th><th>count</th><th>ok</th><th>errors</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>"
    );
    for q in &r.requests {
        // A transaction's statements sit under it, indented, as in the terminal summary.
        let cell = match &q.within {
            Some(txn) => format!(
                "<td style=\"padding-left:1.5em\" title=\"a statement of {}\">{}</td>",
                escape(txn),
                escape(&q.name)
            ),
            None => format!("<td>{}</td>", escape(&q.name)),
        };
        let _ = writeln!(
            out,
            "<tr>{cell}<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            q.count,
            q.ok,
            escape(
                &q.errors
                    .iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format_duration(q.latency.quantile(0.5)),
            format_duration(q.latency.quantile(0.9)),
            format_duration(q.latency.quantile(0.99)),
            format_duration(q.latency.max())
        );
    }
    let _ = writeln!(out, "</table>");
    if let Some(db) = &r.database {
        let _ = writeln!(out, "<h3>The database</h3><pre class=\"database\">");
        for line in crate::database::run_lines(db) {
            let _ = writeln!(out, "{}", escape(&line));
        }
        let _ = writeln!(out, "</pre>");
    }
    let _ = writeln!(out, "<div class=\"charts\">");
    figure(
        out,
        "throughput",
        charts::throughput(r),
        "Requests completed and sent each second.",
    );
    figure(
        out,
        "latency-over-time",
        charts::latency_over_time(r),
        "Percentiles of each second, measured from each arrival's intended start (no coordinated omission).",
    );
    figure(
        out,
        "latency-distribution",
        charts::latency_distribution(r),
        "Whole-run latency by percentile, from the HDR histograms; grey is the service time alone.",
    );
    figure(
        out,
        "errors-over-time",
        charts::errors_over_time(r),
        "Failed requests each second, by kind.",
    );
    let _ = writeln!(out, "</div>");
}

fn capacity_section(out: &mut String, s: &CapacityStudy) {
    let _ = writeln!(out, "<h2>Capacity: {}</h2>", escape(&s.target));
    let _ = writeln!(out, "<div class=\"cards\">");
    for scale in &s.scales {
        let b = &scale.breaking_point;
        card(
            out,
            &format!(
                "capacity at {}{}",
                scale.scale,
                scale
                    .volume
                    .map_or(String::new(), |v| format!(" ({} rows)", si(v)))
            ),
            &format!(
                "{}{}",
                crate::capacity::capacity_figure(scale),
                if b.generator_limited {
                    " (≥, generator-limited)"
                } else {
                    ""
                }
            ),
            if b.generator_limited { "bad" } else { "" },
        );
    }
    if let (Some(p), Some(h)) = (s.at_horizon, s.horizon_volume) {
        card(
            out,
            &format!("predicted at the horizon ({} rows)", si(h)),
            &format!("{}/s", si(p.capacity)),
            "",
        );
    }
    let _ = writeln!(out, "</div>");
    for w in &s.warnings {
        let _ = writeln!(out, "<p class=\"warning\">{}</p>", escape(w));
    }
    let database = crate::database::findings_sentences(&loadcast_capacity::database::findings(s));
    if !database.is_empty() {
        let _ = writeln!(
            out,
            "<h3>The database, in its own terms</h3><ul class=\"database\">"
        );
        for sentence in &database {
            let class =
                if sentence.starts_with("PLAN CHANGE") || sentence.starts_with("SEQUENTIAL SCAN") {
                    " class=\"warning\""
                } else {
                    ""
                };
            let _ = writeln!(out, "<li{class}>{}</li>", escape(sentence));
        }
        let _ = writeln!(out, "</ul>");
    }
    if let Some(u) = &s.usl {
        let _ = writeln!(
            out,
            "<p>Universal Scalability Law: {}.</p>",
            escape(&crate::capacity::usl_text(
                u,
                "a poor fit: do not trust its peak"
            ))
        );
    }
    let _ = writeln!(out, "<div class=\"charts\">");
    figure(
        out,
        "capacity-curve",
        charts::capacity_curve(s),
        "Each valid step of the breaking-point search: p99 rises, then errors, as the arrival rate passes capacity.",
    );
    figure(
        out,
        "capacity-vs-data",
        charts::capacity_vs_data(s),
        "Capacity measured at each data scale, the fitted curve, and its prediction at the horizon's volume.",
    );
    let _ = writeln!(out, "</div>");
}

/// Both views of the runway: headroom now, at the peak and the horizon, and when it runs out.
fn runway_table(out: &mut String, r: &loadcast_capacity::runway::Runway) {
    let _ = writeln!(
        out,
        "<table><tr><th>view</th><th>headroom now</th><th>at the traffic peak</th><th>at the horizon</th><th>runs out</th><th>likely range</th></tr>"
    );
    let views = std::iter::once(("traffic-only (today's data)", &r.traffic_only))
        .chain(r.data_view().map(|v| ("data-aware (growing data)", v)));
    for (name, v) in views {
        let _ = writeln!(
            out,
            "<tr><td>{name}</td><td>{:.2}×</td><td>{:.2}×</td><td>{:.2}×</td><td class=\"{} date\">{}</td><td class=\"date\">{}</td></tr>",
            v.headroom_now,
            v.headroom_at_peak,
            v.headroom_at_horizon,
            if v.runs_out.is_some() || crate::capacity::short_now(v.headroom_now) {
                "fail"
            } else {
                "pass"
            },
            crate::capacity::runs_out_when(v.headroom_now, v.runs_out),
            crate::capacity::runs_out_range(v).unwrap_or_else(|| "—".to_string())
        );
    }
    let _ = writeln!(out, "</table>");
    if let Some(why) = &r.not_data_aware {
        let _ = writeln!(
            out,
            "<p class=\"warning\">No data-aware view: {}.</p>",
            escape(why)
        );
    }
}

fn runway_section(out: &mut String, input: &HtmlInput<'_>) {
    let runway = input.capacity.and_then(|c| c.runway.as_ref());
    let Some(p) = input.projection else {
        // A stored study without its projection file still has its runway, as the terminal
        // report prints it.
        if let Some(r) = runway {
            let _ = writeln!(
                out,
                "<h2>Runway</h2>\n<p class=\"meta\">from {} to {}</p>",
                format_date(r.now),
                format_date(r.horizon)
            );
            runway_table(out, r);
        }
        return;
    };
    let traffic = input
        .traffic_series
        .and_then(|n| p.series(n))
        .or_else(|| p.series.iter().find(|s| s.kind == SeriesKind::Traffic));
    // Without a capacity study there is no runway to speak of: only the forecast.
    let heading = if runway.is_some() {
        "Forecast and runway"
    } else {
        "Forecast"
    };
    let _ = writeln!(out, "<h2>{heading}</h2>");
    let _ = writeln!(
        out,
        "<p class=\"meta\">history {} → {} (step {}); horizon {}; growth: {}</p>",
        escape(p.history_start.get(..10).unwrap_or(&p.history_start)),
        format_date(p.as_of_unix),
        escape(&p.step()),
        format_date(p.horizon_end_unix),
        escape(&p.growth_summary())
    );
    if let Some(r) = runway {
        runway_table(out, r);
    }
    // Each series as the terminal's table shows it: the same figures.
    let _ = writeln!(
        out,
        "<table><tr><th>series</th><th>kind</th><th>today</th><th>peak [95% high]</th><th>on</th><th>at the horizon [80%]</th><th>growth</th><th>model</th></tr>"
    );
    for s in &p.series {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"date\">{} [{}]</td><td class=\"date\">{}</td><td class=\"date\">{} [{}–{}]</td><td>{}</td><td>{}{}</td></tr>",
            escape(&s.name),
            s.kind.name(),
            si(s.today()),
            si(s.peak.point),
            si(s.peak.hi95),
            format_date(s.peak_at_unix),
            si(s.at_horizon.point),
            si(s.at_horizon.lo80),
            si(s.at_horizon.hi80),
            s.growth_percent(),
            escape(&s.model),
            s.unsupported
                .as_deref()
                .map_or(String::new(), |why| format!(
                    "<br><b>not supported:</b> {}",
                    escape(why)
                ))
        );
    }
    let _ = writeln!(out, "</table>");
    let _ = writeln!(out, "<p class=\"meta\">{}</p>", escape(&p.today_legend()));
    // The forecast's notes, as the terminal prints them (the unsupported verdicts are beside
    // their series already).
    let verdicts: Vec<String> = p
        .series
        .iter()
        .filter_map(|s| Some(format!("{}: {}", s.name, s.unsupported.as_deref()?)))
        .collect();
    let notes: Vec<&String> = p.notes.iter().filter(|n| !verdicts.contains(n)).collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "<ul class=\"notes\">");
        for note in notes {
            let _ = writeln!(out, "<li>{}</li>", escape(note));
        }
        let _ = writeln!(out, "</ul>");
    }
    // Capacity over time: what the growing data leaves.
    let capacity_line: Option<Vec<(f64, f64)>> = input.capacity.and_then(|c| {
        let model = c.data_model.as_ref()?;
        let data = p.series(c.table.as_deref()?)?;
        Some(
            data.path
                .iter()
                .map(|q| (q.t as f64, model.predict(q.band.point).capacity))
                .collect(),
        )
    });
    let _ = writeln!(out, "<div class=\"charts\">");
    if let Some(t) = traffic {
        figure(
            out,
            "forecast-fan",
            charts::forecast_fan(t, runway, capacity_line.as_deref()),
            if runway.is_some() {
                "The traffic forecast with its 80% and 95% bands; the red line is the capacity the projected data volume leaves; vertical lines mark when each view runs out."
            } else {
                "The traffic forecast with its 80% and 95% bands."
            },
        );
    }
    if let Some(r) = runway {
        figure(
            out,
            "runway",
            charts::runway_comparison(r),
            "How long each view says the headroom lasts; whiskers span 10–90% of simulated dates.",
        );
    }
    let _ = writeln!(out, "</div>");
}

/// The whole report as one HTML document.
pub fn html_report(input: &HtmlInput<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{}</title><style>{STYLE}</style></head><body>",
        escape(input.title)
    );
    let _ = writeln!(out, "<h1>{}</h1>", escape(input.title));
    let _ = writeln!(
        out,
        "<p class=\"meta\">loadcast {}</p>",
        env!("CARGO_PKG_VERSION")
    );
    for p in &input.narrative {
        let _ = writeln!(out, "<p class=\"story\">{}</p>", escape(p));
    }
    runway_section(&mut out, input);
    if let Some(c) = input.capacity {
        capacity_section(&mut out, c);
    }
    if let Some(r) = input.run {
        run_section(&mut out, r);
    }
    let _ = writeln!(out, "<script>{CHECK}</script></body></html>");
    out
}
