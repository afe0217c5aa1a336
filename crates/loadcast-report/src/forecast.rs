//! The forecast in the terminal: a table of what each series reaches by the horizon, and a
//! small chart per series (history, forecast, 95% band, the peak marked).

use std::fmt::Write as _;

use loadcast_forecast::history::{SeriesKind, format_date};
use loadcast_forecast::{Projection, SeriesBacktest, SeriesProjection};
use loadcast_stats::figure::si;

/// The projection as a table, a chart per series and the notes.
pub fn forecast_summary(p: &Projection) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "history {} → {} (step {}), horizon {}",
        p.history_start.get(..10).unwrap_or(&p.history_start),
        format_date(p.as_of_unix),
        p.step(),
        format_date(p.horizon_end_unix)
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<16} {:<7} {:>10} {:>24} {:>26} {:>8}  {:>5}  model",
        "series", "kind", "today", "at horizon [80%]", "peak [95% high] on", "growth", "MASE"
    );
    for s in &p.series {
        let _ = writeln!(
            out,
            "{:<16} {:<7} {:>10} {:>24} {:>26} {:>8}  {:>5}  {}",
            truncate(&s.name, 16),
            s.kind.name(),
            si(s.today()),
            format!(
                "{} [{}–{}]",
                si(s.at_horizon.point),
                si(s.at_horizon.lo80),
                si(s.at_horizon.hi80)
            ),
            format!(
                "{} [{}] {}",
                si(s.peak.point),
                si(s.peak.hi95),
                format_date(s.peak_at_unix)
            ),
            s.growth_percent(),
            s.backtest.mase_text(2),
            s.model
        );
    }
    let _ = writeln!(out, "{}", p.today_legend());
    for s in &p.series {
        let _ = writeln!(out);
        out.push_str(&chart(s, 64, 8));
    }
    if !p.notes.is_empty() {
        let _ = writeln!(out);
        for note in &p.notes {
            let _ = writeln!(out, "note: {note}");
        }
    }
    let _ = writeln!(out, "\ngrowth to the horizon: {}", p.growth_summary());
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(std::iter::once('…')).collect()
    }
}

/// A small chart: `·` history, `━` forecast, `░` the 95% band, `▲` the peak.
pub fn chart(s: &SeriesProjection, width: usize, height: usize) -> String {
    let history: Vec<(i64, f64)> = s.history.clone();
    let t0 = history.first().map_or(0, |h| h.0);
    let t1 = s.path.last().map_or(t0 + 1, |p| p.t).max(t0 + 1);
    let mut lo = f64::MAX;
    let mut hi = f64::MIN;
    for (_, v) in &history {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    for p in &s.path {
        lo = lo.min(p.band.lo95);
        hi = hi.max(p.band.hi95);
    }
    if hi <= lo || hi.is_nan() {
        hi = lo + 1.0;
    }
    let col = |t: i64| (((t - t0) as f64 / (t1 - t0) as f64) * (width - 1) as f64).round() as usize;
    let row = |v: f64| {
        let r = ((v - lo) / (hi - lo) * (height - 1) as f64).round() as usize;
        height - 1 - r.min(height - 1)
    };
    // Every column between two forecast samples is drawn, interpolated: two years of a monthly
    // forecast are 24 samples across 64 columns, which left a striped band.
    let mut columns: Vec<(usize, [f64; 3])> = Vec::new();
    let value = |p: &loadcast_forecast::PathPoint| [p.band.lo95, p.band.point, p.band.hi95];
    for (i, p) in s.path.iter().enumerate() {
        let c = col(p.t).min(width - 1);
        if let Some(next) = s.path.get(i + 1) {
            let d = col(next.t).min(width - 1);
            let (a, b) = (value(p), value(next));
            for x in c..d {
                let f = (x - c) as f64 / (d - c) as f64;
                columns.push((x, [0, 1, 2].map(|k| a[k] + (b[k] - a[k]) * f)));
            }
        }
        columns.push((c, value(p)));
    }
    let mut grid = vec![vec![' '; width]; height];
    for (c, [lo95, _, hi95]) in &columns {
        for line in &mut grid[row(*hi95)..=row(*lo95)] {
            line[*c] = '░';
        }
    }
    for (c, [_, point, _]) in &columns {
        grid[row(*point)][*c] = '━';
    }
    for (t, v) in &history {
        grid[row(*v)][col(*t).min(width - 1)] = '·';
    }
    let peak_col = col(s.peak_at_unix).min(width - 1);
    grid[row(s.peak.point)][peak_col] = '▲';
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} ({}) — {}",
        s.name,
        s.kind.name(),
        if s.kind == SeriesKind::Traffic {
            format!(
                "peak {} on {}",
                si(s.peak.point),
                format_date(s.peak_at_unix)
            )
        } else {
            format!("{} at the horizon", si(s.at_horizon.point))
        }
    );
    for (i, line) in grid.iter().enumerate() {
        let label = if i == 0 {
            si(hi)
        } else if i == height - 1 {
            si(lo)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{label:>7} ┤{}",
            line.iter().collect::<String>().trim_end()
        );
    }
    let _ = writeln!(out, "{:>7} └{}", "", "─".repeat(width));
    let _ = writeln!(
        out,
        "{:>8} {:<w$}{}",
        "",
        format_date(t0),
        format_date(t1),
        w = width.saturating_sub(10)
    );
    out
}

/// Backtest accuracy per series.
pub fn backtest_table(results: &[SeriesBacktest]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:<7} {:>5} {:>7} {:>8} {:>8} {:>8} {:>8}  models chosen",
        "series", "kind", "folds", "MASE", "sMAPE", "MAPE", "cover80", "cover95"
    );
    for r in results {
        let a = &r.accuracy;
        let mut models: Vec<(String, usize)> = Vec::new();
        for m in &r.models {
            match models.iter_mut().find(|(n, _)| n == m) {
                Some((_, c)) => *c += 1,
                None => models.push((m.clone(), 1)),
            }
        }
        let _ = writeln!(
            out,
            "{:<16} {:<7} {:>5} {:>7} {:>7.2}% {:>7.2}% {:>7.1}% {:>7.1}%  {}",
            truncate(&r.name, 16),
            r.kind.name(),
            a.folds,
            a.mase_text(3),
            a.smape,
            a.mape,
            a.cover80 * 100.0,
            a.cover95 * 100.0,
            models
                .iter()
                .map(|(m, c)| format!("{m} ×{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparse_forecast_is_drawn_in_every_column_it_spans() {
        // Two years of monthly samples: 24 points across 64 columns.
        const MONTH: i64 = 2_630_016;
        let band = |v: f64| serde_json::json!({"point": v, "lo80": v - 5.0, "hi80": v + 5.0, "lo95": v - 10.0, "hi95": v + 10.0});
        let path: Vec<serde_json::Value> = (1..=24)
            .map(|m| {
                let mut p = band(100.0 + m as f64);
                p["t"] = serde_json::json!(m * MONTH);
                p
            })
            .collect();
        let series: SeriesProjection = serde_json::from_value(serde_json::json!({
            "name": "v", "kind": "traffic", "model": "m", "last": 100.0, "current_peak": 100.0,
            "at_horizon": band(124.0), "peak": band(124.0), "peak_at": "", "peak_at_unix": 24 * MONTH,
            "growth": 0.24, "backtest": {"mase": 0.5, "smape": 1.0, "mape": 1.0, "cover80": 0.8, "cover95": 0.95, "folds": 3},
            "path": path, "history": (-11..=0).map(|m| (m * MONTH, 100.0)).collect::<Vec<_>>(),
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let drawn = chart(&series, 64, 8);
        let rows: Vec<Vec<char>> = drawn
            .lines()
            .skip(1)
            .take(8)
            .map(|l| {
                l.split_once('┤')
                    .map_or(vec![], |(_, r)| r.chars().collect())
            })
            .collect();
        let column = |c: usize| {
            rows.iter()
                .any(|r| matches!(r.get(c), Some('░' | '━' | '▲')))
        };
        let first = (0..64).find(|c| column(*c)).unwrap_or(64);
        let blank: Vec<usize> = (first..64).filter(|c| !column(*c)).collect();
        assert!(
            first < 64 && blank.is_empty(),
            "blank columns {blank:?}\n{drawn}"
        );
    }
}
