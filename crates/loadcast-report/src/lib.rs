//! Reports: everything that turns a [`RunResult`] into something people read. Reports render
//! from the result file alone, so `loadcast report` can re-render any past run.
//!
//! ```
//! # use loadcast_stats::*;
//! # let result = RunResult::new(RunMeta { plan_name: "p".into(), plan_hash: "h".into(),
//! #   target: "http://127.0.0.1:1".into(), model: "open".into(), started_at: "now".into(),
//! #   planned_seconds: 1.0, elapsed_seconds: 1.0, status: RunStatus::Complete,
//! #   loadcast_version: "0".into(), shards: 1, shard: None });
//! let text = loadcast_report::terminal_summary(&result);
//! assert!(text.contains("generator"));
//! ```

mod capacity;
pub mod charts;
mod compare;
mod database;
mod forecast;
mod html;
mod input;
mod outputs;
mod record;
mod review;
mod shards;
mod watch;

use std::fmt::Write as _;

pub use capacity::{
    STEP_HEADER, capacity_figure, capacity_headline, capacity_summary, step_line,
    study_comparison_text,
};
pub use compare::{Change, Comparison, NOISE_FLOORS, compare, comparison_text};
pub use forecast::{backtest_table, chart, forecast_summary};
pub use html::{HtmlInput, escape, html_report};
pub use input::{Input, run_headline};
pub use loadcast_stats::figure::si;
pub use outputs::{junit, summary_json, timeline_csv};
pub use record::{
    forecast_record, record_detail, run_record, runs_table, study_record, watch_record,
};
pub use review::{review_html, review_markdown};
pub use watch::{AlertLimits, alert_rules, exposition, watch_headline, watch_line, watch_summary};

use loadcast_stats::{RequestStats, RunResult, RunStatus, format_duration};

/// The request-name column of a table: as wide as the longest name, between 8 and 40 (longer
/// names, SQL statements, are cut).
pub(crate) fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, 40)
}

/// The end-of-run summary printed in the terminal.
pub fn terminal_summary(result: &RunResult) -> String {
    let mut out = String::new();
    let meta = &result.meta;
    let status = match meta.status {
        RunStatus::Complete => "complete",
        RunStatus::Interrupted => "INTERRUPTED: partial result",
    };
    let _ = writeln!(
        out,
        "{} — {} model, {:.1}s of {:.1}s planned, {status}{}",
        meta.plan_name,
        meta.model,
        meta.elapsed_seconds,
        meta.planned_seconds,
        if meta.shards > 1 {
            format!(", {} shards merged", meta.shards)
        } else {
            String::new()
        }
    );
    let _ = writeln!(out, "target {}  started {}", meta.target, meta.started_at);
    let _ = writeln!(out);

    let width = name_width(result.requests.iter().map(|r| r.name.as_str()));
    let _ = writeln!(
        out,
        "{:<width$} {:>9} {:>9} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "request", "count", "ok", "errors", "rate/s", "p50", "p90", "p99", "p99.9", "max"
    );
    let total = result.total();
    let elapsed = meta.elapsed_seconds.max(f64::MIN_POSITIVE);
    for r in &result.requests {
        row(&mut out, r, width, elapsed);
    }
    if result.requests.len() > 1 {
        row(&mut out, &total, width, elapsed);
    }
    // Iterations (journeys through a scenario) and requests are different rates: both, named.
    let _ = writeln!(
        out,
        "\n{} iterations ({:.1}/s) made {} requests ({:.1}/s)",
        result.generator.started,
        result.generator.started as f64 / elapsed,
        total.count,
        total.count as f64 / elapsed,
    );
    if meta.model == "open" && !total.service.is_empty() {
        let _ = writeln!(
            out,
            "\nlatency counts from each arrival's intended start (no coordinated omission); \
             service time from the actual send: p50 {}, p99 {}, max {}",
            format_duration(total.service.quantile(0.5)),
            format_duration(total.service.quantile(0.99)),
            format_duration(total.service.max()),
        );
    }
    if total.error_count() > 0 {
        let kinds: Vec<String> = total
            .errors
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "\nerrors: {} of {} ({:.2}%): {}",
            total.error_count(),
            total.count,
            total.error_rate() * 100.0,
            kinds.join(", ")
        );
    }
    let g = &result.generator;
    let cpu = g
        .cpu_seconds
        .map(|c| format!(", {c:.2} CPU-seconds"))
        .unwrap_or_default();
    let identities = if g.identities < g.users {
        format!("{} users sharing {} identities", g.users, g.identities)
    } else {
        format!("{} users, each its own identity", g.users)
    };
    let mut exhausted = if g.feeder_exhausted > 0 {
        format!(", {} not run: no feeder row left", g.feeder_exhausted)
    } else {
        String::new()
    };
    if g.retries > 0 {
        let _ = write!(
            exhausted,
            ", {} transactions run again after a deadlock or serialization failure",
            g.retries
        );
    }
    if meta.model == "closed" {
        let _ = writeln!(
            out,
            "\ngenerator: {} iterations by {identities}{exhausted}; {} abandoned at the end; {} connections opened, {} workers{cpu}",
            g.started, g.abandoned, g.connections_opened, g.workers,
        );
    } else {
        let _ = writeln!(
            out,
            "\ngenerator: {} arrivals scheduled, {} started ({identities}){exhausted}, {} late, {} waited for capacity, {} dropped, \
             {} abandoned; {} in flight at most, {} connections opened, {} workers{cpu}",
            g.scheduled,
            g.started,
            g.late,
            g.waited_for_capacity,
            g.dropped,
            g.abandoned,
            g.max_vus,
            g.connections_opened,
            g.workers,
        );
    }
    // Results written before the lag was measured have none: nothing is claimed for them.
    if meta.model == "open" && g.lag_max_us > 0 {
        let _ = writeln!(
            out,
            "schedule lag (actual start − intended): mean {}, max {}",
            format_duration(g.mean_lag()),
            format_duration(std::time::Duration::from_micros(g.lag_max_us))
        );
    }
    if let Some(limit) = g.latency_limit_ms {
        let ended = g.started.max(1);
        let _ = writeln!(
            out,
            "latency limit {}: {} of {} iterations ({:.2}%) ended beyond it{}",
            format_duration(std::time::Duration::from_secs_f64(limit / 1e3)),
            g.over_latency_limit,
            g.started,
            g.over_latency_limit as f64 / ended as f64 * 100.0,
            if meta.model == "open" {
                format!(
                    "; {} arrivals ({:.2}% of those scheduled) skipped, already beyond it when they could start",
                    g.skipped,
                    g.skipped as f64 / g.scheduled.max(1) as f64 * 100.0
                )
            } else {
                String::new()
            }
        );
    }
    if meta.model == "open" && g.miss_rate() > 0.01 {
        let _ = writeln!(
            out,
            "WARNING: the generator missed {:.1}% of its schedule (late or dropped): the target's \
             numbers above are not trustworthy at this rate; raise load.max_in_flight or add CPUs",
            g.miss_rate() * 100.0
        );
    }
    let shard_lines = shards::terminal_lines(result);
    if !shard_lines.is_empty() {
        let _ = writeln!(out);
        for line in shard_lines {
            let _ = writeln!(out, "{line}");
        }
    }
    if let Some(db) = &result.database {
        let _ = writeln!(out);
        for line in database::run_lines(db) {
            let _ = writeln!(out, "{line}");
        }
    }
    if !result.thresholds.is_empty() {
        let _ = writeln!(out, "\nthresholds");
        for t in &result.thresholds {
            let _ = writeln!(out, "  {t}");
        }
    }
    out
}

fn row(out: &mut String, r: &RequestStats, width: usize, elapsed: f64) {
    // A transaction's statements sit under it, indented: the totals count the transaction.
    let name: String = match &r.within {
        Some(_) => format!("  {}", r.name.chars().take(width - 2).collect::<String>()),
        None => r.name.chars().take(width).collect(),
    };
    let h = &r.latency;
    let _ = writeln!(
        out,
        "{:<width$} {:>9} {:>9} {:>7} {:>9.1} {:>8} {:>8} {:>8} {:>8} {:>8}",
        name,
        r.count,
        r.ok,
        r.error_count(),
        r.count as f64 / elapsed,
        format_duration(h.quantile(0.5)),
        format_duration(h.quantile(0.9)),
        format_duration(h.quantile(0.99)),
        format_duration(h.quantile(0.999)),
        format_duration(h.max()),
    );
}
