//! A merged run's shards, each with its own generator health beside the global figures: a
//! shard whose generator fell behind its schedule shows here even when the totals look healthy.
//! One table of cells, printed by the terminal summary and the HTML report alike.

use loadcast_stats::{RunResult, format_duration};

/// The table's columns.
pub(crate) const HEADERS: [&str; 7] = [
    "shard",
    "started",
    "requests",
    "errors",
    "schedule missed",
    "max lag",
    "generator CPU",
];

/// One row per merged shard, and whether that shard's generator missed over 1% of its
/// schedule.
pub(crate) fn rows(r: &RunResult) -> Vec<([String; 7], bool)> {
    r.shard_health
        .iter()
        .map(|h| {
            let g = &h.generator;
            let cpu = match (g.cpu_seconds, h.elapsed_seconds > 0.0) {
                (Some(cpu), true) => format!("{:.2} cores", cpu / h.elapsed_seconds),
                _ => "—".into(),
            };
            let missed = if r.meta.model == "open" {
                format!(
                    "{:.2}% ({} late, {} dropped)",
                    g.miss_rate() * 100.0,
                    g.late,
                    g.dropped
                )
            } else {
                "—".into()
            };
            let cells = [
                h.index.to_string(),
                h.started_at.clone(),
                h.requests.to_string(),
                h.errors.to_string(),
                missed,
                format_duration(std::time::Duration::from_micros(g.lag_max_us)),
                cpu,
            ];
            (cells, g.miss_rate() > 0.01)
        })
        .collect()
}

/// The table for the terminal summary.
pub(crate) fn terminal_lines(r: &RunResult) -> Vec<String> {
    let rows = rows(r);
    if rows.is_empty() {
        return Vec::new();
    }
    let mut widths = HEADERS.map(str::len);
    for (cells, _) in &rows {
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![
        "shards (each one's generator):".to_string(),
        format!("  {}", line(&HEADERS.map(String::from))),
    ];
    for (cells, behind) in rows {
        let flag = if behind { "  BEHIND" } else { "" };
        out.push(format!("  {}{flag}", line(&cells)));
    }
    out
}
