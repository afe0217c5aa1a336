//! Two runs side by side: per-request changes in throughput, p50, p99 and errors, and a
//! judgement of whether the whole-run change is beyond run-to-run noise — a bootstrap over
//! per-second samples: each run's seconds are resampled with replacement, merged, and the ratio
//! of the two runs' figures gives a 95% interval. A change counts when that interval excludes
//! "no change" and the change is larger than a small floor.

use std::fmt::Write as _;

use loadcast_stats::{LatencyHistogram, RunResult, Second, format_duration};
use serde::Serialize;

/// Changes smaller than this are noise whatever the interval says.
const FLOOR: f64 = 0.02;
const DRAWS: usize = 400;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    pub metric: &'static str,
    pub a: f64,
    pub b: f64,
    /// `b / a − 1`.
    pub change: f64,
    /// 95% interval of `b / a − 1` from the bootstrap.
    pub low: f64,
    pub high: f64,
    /// Beyond noise: the interval excludes 0 and the change exceeds the floor.
    pub significant: bool,
    /// Higher is worse (latency, errors) or better (throughput).
    pub higher_is_worse: bool,
}

impl Change {
    /// Worse by more than `limit` (a fraction), beyond noise.
    pub fn regressed(&self, limit: f64) -> bool {
        let worse = if self.higher_is_worse {
            self.change
        } else {
            -self.change
        };
        self.significant && worse > limit
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestChange {
    pub name: String,
    pub throughput: (f64, f64),
    pub p50_ms: (f64, f64),
    pub p99_ms: (f64, f64),
    pub error_rate: (f64, f64),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub overall: Vec<Change>,
    pub requests: Vec<RequestChange>,
}

/// The seconds that carry load (the ramp-in and the drain are left out: partial seconds).
fn samples(r: &RunResult) -> Vec<&Second> {
    let full: Vec<&Second> = r.timeline.iter().filter(|s| s.completed > 0).collect();
    if full.len() > 4 {
        full[1..full.len() - 1].to_vec()
    } else {
        full
    }
}

fn figures(seconds: &[&Second]) -> [f64; 4] {
    let mut h = LatencyHistogram::coarse();
    let (mut done, mut errors) = (0u64, 0u64);
    for s in seconds {
        h.merge(&s.latency);
        done += s.completed;
        errors += s.error_count();
    }
    let ms = |q: f64| h.quantile(q).as_secs_f64() * 1e3;
    [
        done as f64 / seconds.len().max(1) as f64,
        ms(0.5),
        ms(0.99),
        errors as f64 / done.max(1) as f64,
    ]
}

pub fn compare(a: &RunResult, b: &RunResult) -> Comparison {
    let (sa, sb) = (samples(a), samples(b));
    let (fa, fb) = (figures(&sa), figures(&sb));
    let mut rng = fastrand::Rng::with_seed(7);
    let mut draws: [Vec<f64>; 4] = Default::default();
    let resample = |s: &[&Second], rng: &mut fastrand::Rng| -> [f64; 4] {
        let picked: Vec<&Second> = (0..s.len()).map(|_| s[rng.usize(0..s.len())]).collect();
        figures(&picked)
    };
    if !sa.is_empty() && !sb.is_empty() {
        for _ in 0..DRAWS {
            let (x, y) = (resample(&sa, &mut rng), resample(&sb, &mut rng));
            for i in 0..4 {
                // Error rates of zero: compare differences instead of ratios.
                draws[i].push(if i == 3 {
                    y[i] - x[i]
                } else {
                    y[i] / x[i].max(1e-12) - 1.0
                });
            }
        }
    }
    let names = [
        ("throughput", false),
        ("p50", true),
        ("p99", true),
        ("error rate", true),
    ];
    let overall = names
        .iter()
        .enumerate()
        .map(|(i, (metric, worse))| {
            let mut d = draws[i].clone();
            d.sort_by(f64::total_cmp);
            let q = |p: f64| {
                d.get(((d.len() as f64 - 1.0) * p).round() as usize)
                    .copied()
                    .unwrap_or(0.0)
            };
            let change = if i == 3 {
                fb[i] - fa[i]
            } else {
                fb[i] / fa[i].max(1e-12) - 1.0
            };
            let (low, high) = (q(0.025), q(0.975));
            let floor = if i == 3 { 0.001 } else { FLOOR };
            Change {
                metric,
                a: fa[i],
                b: fb[i],
                change,
                low,
                high,
                significant: (low > 0.0 || high < 0.0) && change.abs() > floor,
                higher_is_worse: *worse,
            }
        })
        .collect();
    let mut requests = Vec::new();
    for ra in &a.requests {
        let Some(rb) = b.request(&ra.name) else {
            continue;
        };
        let ms =
            |s: &loadcast_stats::RequestStats, q: f64| s.latency.quantile(q).as_secs_f64() * 1e3;
        requests.push(RequestChange {
            name: ra.name.clone(),
            throughput: (
                ra.count as f64 / a.meta.elapsed_seconds.max(1e-9),
                rb.count as f64 / b.meta.elapsed_seconds.max(1e-9),
            ),
            p50_ms: (ms(ra, 0.5), ms(rb, 0.5)),
            p99_ms: (ms(ra, 0.99), ms(rb, 0.99)),
            error_rate: (ra.error_rate(), rb.error_rate()),
        });
    }
    Comparison { overall, requests }
}

fn pct(a: f64, b: f64) -> String {
    if a == 0.0 {
        return if b == 0.0 {
            "±0%".into()
        } else {
            "new".into()
        };
    }
    format!("{:+.1}%", (b / a - 1.0) * 100.0)
}

/// The comparison in the terminal.
pub fn comparison_text(c: &Comparison, a_name: &str, b_name: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "A = {a_name}\nB = {b_name}\n");
    let _ = writeln!(
        out,
        "{:<12} {:>12} {:>12} {:>9}   {:<22} verdict",
        "whole run", "A", "B", "change", "95% interval"
    );
    for ch in &c.overall {
        let show = |v: f64| match ch.metric {
            "throughput" => format!("{v:.1}/s"),
            "error rate" => format!("{:.2}%", v * 100.0),
            _ => format_duration(std::time::Duration::from_secs_f64(v / 1e3)),
        };
        let (change, interval) = if ch.metric == "error rate" {
            (
                format!("{:+.2}pt", ch.change * 100.0),
                format!("{:+.2} .. {:+.2} pt", ch.low * 100.0, ch.high * 100.0),
            )
        } else {
            (
                format!("{:+.1}%", ch.change * 100.0),
                format!("{:+.1}% .. {:+.1}%", ch.low * 100.0, ch.high * 100.0),
            )
        };
        let verdict = match (ch.significant, ch.higher_is_worse == (ch.change > 0.0)) {
            (false, _) => "within noise",
            (true, true) => "WORSE",
            (true, false) => "better",
        };
        let _ = writeln!(
            out,
            "{:<12} {:>12} {:>12} {:>9}   {:<22} {verdict}",
            ch.metric,
            show(ch.a),
            show(ch.b),
            change,
            interval
        );
    }
    let _ = writeln!(
        out,
        "\n{:<28} {:>18} {:>18} {:>18} {:>16}",
        "request", "throughput", "p50", "p99", "errors"
    );
    for r in &c.requests {
        let _ = writeln!(
            out,
            "{:<28} {:>18} {:>18} {:>18} {:>16}",
            r.name,
            format!(
                "{:.1}→{:.1} {}",
                r.throughput.0,
                r.throughput.1,
                pct(r.throughput.0, r.throughput.1)
            ),
            format!(
                "{:.1}→{:.1}ms {}",
                r.p50_ms.0,
                r.p50_ms.1,
                pct(r.p50_ms.0, r.p50_ms.1)
            ),
            format!(
                "{:.1}→{:.1}ms {}",
                r.p99_ms.0,
                r.p99_ms.1,
                pct(r.p99_ms.0, r.p99_ms.1)
            ),
            format!(
                "{:.2}→{:.2}%",
                r.error_rate.0 * 100.0,
                r.error_rate.1 * 100.0
            ),
        );
    }
    out
}
