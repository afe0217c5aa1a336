//! `loadcast watch` for people and for monitoring: a cycle in the terminal, the endpoint's
//! Prometheus exposition, and the alerting rules that page on it. The figures are the cycle's,
//! written once: the terminal, the endpoint and the run store read the same [`WatchCycle`].

use std::fmt::Write as _;
use std::time::Duration;

use loadcast_capacity::watch::{WatchCycle, WatchState, WatchWarning};
use loadcast_stats::time::format_date;

use crate::capacity::{runway_lines, when};
use crate::si;

fn days(seconds: i64) -> String {
    format!("{:.0} days", seconds as f64 / 86_400.0)
}

/// The run store's one-line headline of a cycle.
pub fn watch_headline(c: &WatchCycle) -> String {
    let v = &c.runway.data_aware;
    let runway = match (v.runs_out, c.runway_seconds()) {
        (Some(t), Some(s)) => format!("runs out {} (in {})", format_date(t), days(s)),
        _ => "no runway end within the horizon".to_string(),
    };
    format!(
        "{runway}; headroom {:.2}× now, {:.2}× at the peak{}",
        v.headroom_now,
        v.headroom_at_peak,
        match c.warnings.len() {
            0 => String::new(),
            n => format!("; {n} warning(s)"),
        }
    )
}

/// One cycle in the terminal.
pub fn watch_summary(c: &WatchCycle) -> String {
    let mut out = String::new();
    let o = &c.observed;
    let _ = writeln!(
        out,
        "{} — watch at {} from {} (history to {})",
        c.plan_name,
        c.at,
        c.source,
        loadcast_stats::time::format_time(o.at)
    );
    let _ = writeln!(
        out,
        "against the capacity study of {} ({}, {} old): {}/s at its first scale",
        c.study.started_at,
        c.study.origin,
        days(c.study.age_seconds as i64),
        si(c.study.capacity)
    );
    let table = c.table.as_deref().unwrap_or("the data");
    let _ = writeln!(
        out,
        "production now: {}/s{}{}",
        si(o.traffic),
        o.volume.map_or(String::new(), |v| format!(
            ", {} rows of {table}{}",
            si(v),
            c.study
                .largest_volume
                .map_or(String::new(), |l| format!(" (largest measured {})", si(l)))
        )),
        o.p99_ms
            .map_or(String::new(), |p| format!(", p99 {p:.1} ms"))
    );
    let _ = writeln!(
        out,
        "capacity at today's data: {}/s (95%: {} – {}/s); at the forecast peak {} ({}/s): {}/s",
        si(c.capacity_now.capacity),
        si(c.capacity_now.low),
        if c.capacity_now.high.is_finite() {
            si(c.capacity_now.high)
        } else {
            "∞".into()
        },
        format_date(c.traffic_peak_at),
        si(c.traffic_peak),
        si(c.capacity_at_peak.capacity),
    );
    out += &runway_lines(&c.runway);
    for f in &c.forecasts {
        let _ = writeln!(
            out,
            "forecast of {}: {} (backtest MASE {:.2})",
            f.series, f.model, f.mase
        );
    }
    for w in &c.warnings {
        let _ = writeln!(out, "\nWARNING: {}", w.message(&c.plan_path));
    }
    for n in &c.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

/// A label value in the exposition format: backslash, quote and newline escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value: Prometheus spells infinities `+Inf`/`-Inf`.
fn number(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

struct Exposition {
    out: String,
    plan: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let mut all = format!("plan=\"{}\"", self.plan);
        for (k, v) in labels {
            let _ = write!(all, ",{k}=\"{}\"", label(v));
        }
        let _ = writeln!(self.out, "{name}{{{all}}} {}", number(value));
    }
}

/// The endpoint's page in the Prometheus text format (version 0.0.4), at `now` (Unix seconds):
/// the last good cycle's figures, however old (their age beside them), and how the cycles went.
pub fn exposition(plan: &str, state: &WatchState, now: i64) -> String {
    let mut e = Exposition {
        out: String::new(),
        plan: label(plan),
    };
    e.family(
        "loadcast_watch_up",
        "gauge",
        "1 when the last cycle read production and judged it, 0 when it failed.",
    );
    let up = state.cycles > 0 && state.last_error.is_none();
    e.sample("loadcast_watch_up", &[], f64::from(u8::from(up)));
    e.family(
        "loadcast_watch_cycles_total",
        "counter",
        "Watch cycles run.",
    );
    e.sample("loadcast_watch_cycles_total", &[], state.cycles as f64);
    e.family(
        "loadcast_watch_errors_total",
        "counter",
        "Watch cycles that failed (Prometheus unreachable, a query that returned nothing).",
    );
    e.sample("loadcast_watch_errors_total", &[], state.errors as f64);
    let Some(c) = &state.last else {
        return e.out;
    };
    e.family(
        "loadcast_watch_last_success_timestamp",
        "gauge",
        "When the figures served were computed (Unix seconds).",
    );
    e.sample(
        "loadcast_watch_last_success_timestamp",
        &[],
        c.at_unix as f64,
    );
    e.family(
        "loadcast_watch_figures_age_seconds",
        "gauge",
        "How old the figures served are.",
    );
    e.sample(
        "loadcast_watch_figures_age_seconds",
        &[],
        (now - c.at_unix).max(0) as f64,
    );
    e.family(
        "loadcast_headroom_ratio",
        "gauge",
        "Capacity over traffic, now and at the forecast's traffic peak; data_aware lets capacity fall as the data grows, traffic_only freezes it at today's data.",
    );
    for (view, v) in [
        ("data_aware", &c.runway.data_aware),
        ("traffic_only", &c.runway.traffic_only),
    ] {
        e.sample(
            "loadcast_headroom_ratio",
            &[("view", view), ("at", "now")],
            v.headroom_now,
        );
        e.sample(
            "loadcast_headroom_ratio",
            &[("view", view), ("at", "peak")],
            v.headroom_at_peak,
        );
    }
    e.family(
        "loadcast_runway_seconds",
        "gauge",
        "Seconds from the end of production's history until forecast traffic exceeds capacity: the point forecast and the 80% interval's bounds (p10 early, p90 late); +Inf when not within the horizon.",
    );
    let from = |t: Option<i64>| t.map_or(f64::INFINITY, |t| (t - c.observed.at).max(0) as f64);
    for (view, v) in [
        ("data_aware", &c.runway.data_aware),
        ("traffic_only", &c.runway.traffic_only),
    ] {
        for (bound, t) in [
            ("point", v.runs_out),
            ("p10", v.runs_out_p10),
            ("p90", v.runs_out_p90),
        ] {
            e.sample(
                "loadcast_runway_seconds",
                &[("view", view), ("bound", bound)],
                from(t),
            );
        }
    }
    e.family(
        "loadcast_capacity_per_second",
        "gauge",
        "The capacity the data leaves, from the capacity study: at today's volume and at the forecast peak's, with the 95% interval's bounds.",
    );
    for (at, p) in [("now", &c.capacity_now), ("peak", &c.capacity_at_peak)] {
        for (bound, v) in [("point", p.capacity), ("low", p.low), ("high", p.high)] {
            e.sample(
                "loadcast_capacity_per_second",
                &[("at", at), ("bound", bound)],
                v,
            );
        }
    }
    e.family(
        "loadcast_traffic_per_second",
        "gauge",
        "Production's traffic now and at the forecast's peak.",
    );
    e.sample(
        "loadcast_traffic_per_second",
        &[("at", "now")],
        c.observed.traffic,
    );
    e.sample(
        "loadcast_traffic_per_second",
        &[("at", "peak")],
        c.traffic_peak,
    );
    let table = c.table.clone().unwrap_or_default();
    if c.observed.volume.is_some() || c.study.largest_volume.is_some() {
        e.family(
            "loadcast_data_volume",
            "gauge",
            "Rows of the table the study measured: production's now, and the largest the study measured.",
        );
        if let Some(v) = c.observed.volume {
            e.sample(
                "loadcast_data_volume",
                &[("table", &table), ("of", "production")],
                v,
            );
        }
        if let Some(v) = c.study.largest_volume {
            e.sample(
                "loadcast_data_volume",
                &[("table", &table), ("of", "largest_measured")],
                v,
            );
        }
    }
    e.family(
        "loadcast_study_age_seconds",
        "gauge",
        "How old the capacity study judged against is.",
    );
    e.sample("loadcast_study_age_seconds", &[], c.study.age_seconds);
    e.family(
        "loadcast_watch_warning",
        "gauge",
        "1 where production has left the study behind: beyond_measured, latency_worse, forecast_degraded, forecast_change, no_data_model, lower_bound.",
    );
    for kind in WatchWarning::KINDS {
        let on = c.warnings.iter().any(|w| w.kind() == kind);
        e.sample(
            "loadcast_watch_warning",
            &[("kind", kind)],
            f64::from(u8::from(on)),
        );
    }
    e.out
}

/// What the alerting rules page on.
#[derive(Clone, Debug)]
pub struct AlertLimits {
    /// Page when the point runway is shorter.
    pub runway_under: Duration,
    /// Page when headroom now is below this ratio.
    pub headroom_under: f64,
    /// Warn when the study is older.
    pub stale_after: Duration,
    /// The watch's cycle: the runway must hold for one cycle, and no success for three is a
    /// watch that stopped working.
    pub interval: Duration,
}

fn yaml_single(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn promql_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A Prometheus duration, whole seconds.
fn prom_duration(d: Duration) -> String {
    format!("{}s", d.as_secs().max(1))
}

/// The alerting rules for a plan's watch, as a Prometheus rule file.
pub fn alert_rules(plan: &str, limits: &AlertLimits) -> String {
    let p = promql_string(plan);
    let runway = limits.runway_under.as_secs();
    let rule = |out: &mut String,
                alert: &str,
                expr: String,
                hold: Duration,
                severity: &str,
                summary: String,
                description: &str| {
        let _ = writeln!(out, "      - alert: {alert}");
        let _ = writeln!(out, "        expr: {}", yaml_single(&expr));
        let _ = writeln!(out, "        for: {}", prom_duration(hold));
        let _ = writeln!(out, "        labels:");
        let _ = writeln!(out, "          severity: {severity}");
        let _ = writeln!(out, "        annotations:");
        let _ = writeln!(out, "          summary: {}", yaml_single(&summary));
        let _ = writeln!(out, "          description: {}", yaml_single(description));
    };
    let mut out = format!(
        "# Alerting rules for `loadcast watch` of plan {plan}: `promtool check rules` this file,\n# add it to Prometheus' rule_files, and scrape the watch's /metrics.\ngroups:\n  - name: {}\n    rules:\n",
        yaml_single(&format!("loadcast-{plan}"))
    );
    rule(
        &mut out,
        "LoadcastRunwayShort",
        format!(
            "loadcast_runway_seconds{{plan={p},view=\"data_aware\",bound=\"point\"}} < {runway}"
        ),
        limits.interval,
        "page",
        format!(
            "{{{{ $labels.plan }}}}: capacity runs out in {{{{ $value | humanizeDuration }}}} (under {})",
            loadcast_stats::time::duration_words(limits.runway_under)
        ),
        "Forecast traffic exceeds the capacity the forecast data volume leaves (loadcast watch, data-aware runway). Add capacity or cut the work per request before then; `loadcast capacity` re-measures.",
    );
    rule(
        &mut out,
        "LoadcastRunwayMayBeShort",
        format!("loadcast_runway_seconds{{plan={p},view=\"data_aware\",bound=\"p10\"}} < {runway}"),
        limits.interval,
        "ticket",
        "{{ $labels.plan }}: capacity may run out in {{ $value | humanizeDuration }} (the early end of the 80% interval)".to_string(),
        "The pessimistic end of the runway's interval is inside the limit; the point forecast is not yet.",
    );
    rule(
        &mut out,
        "LoadcastHeadroomLow",
        format!(
            "loadcast_headroom_ratio{{plan={p},view=\"data_aware\",at=\"now\"}} < {}",
            limits.headroom_under
        ),
        limits.interval,
        "page",
        format!(
            "{{{{ $labels.plan }}}}: headroom {{{{ $value | printf \"%.2f\" }}}}× (under {}×)",
            limits.headroom_under
        ),
        "Capacity at today's data volume over today's traffic, from the latest capacity study.",
    );
    rule(
        &mut out,
        "LoadcastStudyStale",
        format!(
            "loadcast_study_age_seconds{{plan={p}}} > {} or max by (plan) (loadcast_watch_warning{{plan={p},kind=~\"beyond_measured|latency_worse\"}}) > 0",
            limits.stale_after.as_secs()
        ),
        Duration::ZERO,
        "ticket",
        "{{ $labels.plan }}: the capacity study no longer describes production".to_string(),
        "The study is old, production's data has passed the largest volume it measured, or production is slower than it predicts: `loadcast watch --once` says which; re-run `loadcast capacity`.",
    );
    rule(
        &mut out,
        "LoadcastWatchFailing",
        format!(
            "time() - loadcast_watch_last_success_timestamp{{plan={p}}} > {} or loadcast_watch_up{{plan={p}}} == 0",
            3 * limits.interval.as_secs()
        ),
        limits.interval,
        "ticket",
        "{{ $labels.plan }}: loadcast watch cannot read production".to_string(),
        "The figures served are from the last good cycle; see loadcast_watch_errors_total and the watch's log.",
    );
    out
}

/// The one line a cycle prints as it ends, in the loop.
pub fn watch_line(c: &WatchCycle) -> String {
    format!(
        "{}: {}; capacity {}/s at {} rows; traffic {}/s{}",
        c.at,
        watch_headline(c),
        si(c.capacity_now.capacity),
        c.observed.volume.map_or("?".into(), si),
        si(c.observed.traffic),
        if c.runway.data_aware.runs_out.is_some() {
            format!(" (traffic-only: {})", when(c.runway.traffic_only.runs_out))
        } else {
            String::new()
        }
    )
}
