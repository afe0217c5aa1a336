//! Two runs side by side: per-request changes in throughput, p50, p99 and errors, and a
//! judgement of whether the whole-run change is beyond run-to-run noise — a bootstrap over
//! per-second samples: each run's seconds are resampled with replacement, merged, and the ratio
//! of the two runs' figures gives a 95% interval. A change counts when that interval excludes
//! "no change" and the change is larger than that metric's noise floor.
//!
//! Requests have no per-second samples of their own, so each request's interval comes from
//! its own counts and histogram as if its requests were independent (the distribution-free
//! interval of a quantile, Poisson counts, binomial errors), widened by the design effect the
//! whole run shows: how much wider the per-second bootstrap is than that independent interval
//! for the same run. Load-test samples are not independent (a slow second slows many
//! requests); the whole run measures by how much.

use std::fmt::Write as _;

use loadcast_stats::{LatencyHistogram, RunResult, Second, format_duration};
use serde::Serialize;

/// Changes smaller than these are noise whatever the interval says: resampling within a run
/// cannot see what differs between two runs (the machine's state, the target's caches), and
/// two runs of one configuration on loopback differed by up to 4.6% at p99 and 1% at p50 in
/// our tests. Throughput, p50 and p99 as fractions; the error rate in points.
pub const NOISE_FLOORS: [f64; 4] = [0.02, 0.05, 0.075, 0.001];
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
    /// Beyond noise: the interval excludes 0 and the change exceeds the metric's floor.
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

/// One request's throughput, p50, p99 and error rate, each judged as the whole run is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestChange {
    pub name: String,
    pub changes: Vec<Change>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub overall: Vec<Change>,
    pub requests: Vec<RequestChange>,
    /// Seconds of each run the whole-run intervals resample: the first and last (partial)
    /// seconds are left out.
    pub seconds: (usize, usize),
}

impl Comparison {
    /// Every change worse than `limit` beyond noise, of the whole run or of any one request (a
    /// regression of one endpoint is one too), in words: `p99 +20.1%`, `slow p50 +18.0%`.
    pub fn regressions(&self, limit: f64) -> Vec<String> {
        self.overall
            .iter()
            .map(|ch| (None, ch))
            .chain(
                self.requests
                    .iter()
                    .flat_map(|r| r.changes.iter().map(move |ch| (Some(&r.name), ch))),
            )
            .filter(|(_, ch)| ch.regressed(limit))
            .map(|(request, ch)| {
                let change = if ch.metric == "error rate" {
                    format!("{:+.2}pt", ch.change * 100.0)
                } else {
                    format!("{:+.1}%", ch.change * 100.0)
                };
                match request {
                    Some(name) => format!("{name} {} {change}", ch.metric),
                    None => format!("{} {change}", ch.metric),
                }
            })
            .collect()
    }
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

fn merged(seconds: &[&Second]) -> Sample {
    let mut latency = LatencyHistogram::coarse();
    let (mut count, mut errors) = (0u64, 0u64);
    for s in seconds {
        latency.merge(&s.latency);
        count += s.completed;
        errors += s.error_count();
    }
    Sample {
        latency,
        count,
        errors,
    }
}

/// Throughput, p50, p99, error rate — and the mean latency, which only measures the design
/// effect.
fn figures(seconds: &[&Second]) -> [f64; 5] {
    let whole = merged(seconds);
    let ms = |q: f64| whole.latency.quantile(q).as_secs_f64() * 1e3;
    [
        whole.count as f64 / seconds.len().max(1) as f64,
        ms(0.5),
        ms(0.99),
        whole.errors as f64 / whole.count.max(1) as f64,
        whole.latency.mean().as_secs_f64() * 1e3,
    ]
}

/// Compares B against A; `floors` are the changes below which nothing is judged (throughput,
/// p50, p99 as fractions, errors in points; [`NOISE_FLOORS`] unless the user knows better).
pub fn compare(a: &RunResult, b: &RunResult, floors: [f64; 4]) -> Comparison {
    let (sa, sb) = (samples(a), samples(b));
    let (fa, fb) = (figures(&sa), figures(&sb));
    let mut rng = fastrand::Rng::with_seed(7);
    let mut draws: [Vec<f64>; 5] = Default::default();
    let resample = |s: &[&Second], rng: &mut fastrand::Rng| -> [f64; 5] {
        let picked: Vec<&Second> = (0..s.len()).map(|_| s[rng.usize(0..s.len())]).collect();
        figures(&picked)
    };
    if !sa.is_empty() && !sb.is_empty() {
        for _ in 0..DRAWS {
            let (x, y) = (resample(&sa, &mut rng), resample(&sb, &mut rng));
            for i in 0..5 {
                // Error rates of zero: compare differences instead of ratios.
                draws[i].push(if i == 3 {
                    y[i] - x[i]
                } else {
                    y[i] / x[i].max(1e-12) - 1.0
                });
            }
        }
    }
    let var_boot: Vec<f64> = (0..5)
        .map(|i| {
            // Latency and throughput vary as ratios: their variance in logs.
            let v: Vec<f64> = if i == 3 {
                draws[i].clone()
            } else {
                draws[i].iter().map(|r| (1.0 + r).max(1e-12).ln()).collect()
            };
            variance(&v)
        })
        .collect();
    let (wa, wb) = (merged(&sa), merged(&sb));
    // How much wider the per-second bootstrap is than the independent interval, per metric;
    // for the latency quantiles, measured on the mean, which a mix of fast and slow endpoints
    // does not upset (the whole run's median can jump between their modes).
    let design_effect: Vec<f64> = (0..4)
        .map(|i| {
            let basis = if i == 1 || i == 2 { 4 } else { i };
            let independent = independent_variance(basis, &wa, &wb);
            if independent > 0.0 && var_boot[basis] > 0.0 {
                (var_boot[basis] / independent).max(1.0)
            } else {
                1.0
            }
        })
        .collect();
    let overall = METRICS
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
            judged(
                metric,
                *worse,
                fa[i],
                fb[i],
                (q(0.025), q(0.975)),
                floors[i],
            )
        })
        .collect();
    let mut requests = Vec::new();
    for ra in &a.requests {
        let Some(rb) = b.request(&ra.name) else {
            continue;
        };
        let sample = |r: &loadcast_stats::RequestStats| Sample {
            latency: r.latency.clone(),
            count: r.count,
            errors: r.error_count(),
        };
        let (xa, xb) = (sample(ra), sample(rb));
        let values = |x: &Sample, seconds: f64| {
            let ms = |q: f64| x.latency.quantile(q).as_secs_f64() * 1e3;
            [
                x.count as f64 / seconds.max(1e-9),
                ms(0.5),
                ms(0.99),
                x.errors as f64 / x.count.max(1) as f64,
            ]
        };
        let (va, vb) = (
            values(&xa, a.meta.elapsed_seconds),
            values(&xb, b.meta.elapsed_seconds),
        );
        let changes = METRICS
            .iter()
            .enumerate()
            .map(|(i, (metric, worse))| {
                let spread = 1.96 * (design_effect[i] * independent_variance(i, &xa, &xb)).sqrt();
                let (low, high) = if i == 3 {
                    let change = vb[i] - va[i];
                    (change - spread, change + spread)
                } else {
                    let log_change = (vb[i].max(1e-12) / va[i].max(1e-12)).ln();
                    (
                        (log_change - spread).exp() - 1.0,
                        (log_change + spread).exp() - 1.0,
                    )
                };
                judged(metric, *worse, va[i], vb[i], (low, high), floors[i])
            })
            .collect();
        requests.push(RequestChange {
            name: ra.name.clone(),
            changes,
        });
    }
    Comparison {
        overall,
        requests,
        seconds: (sa.len(), sb.len()),
    }
}

/// The metrics compared, and whether higher is worse.
const METRICS: [(&str, bool); 4] = [
    ("throughput", false),
    ("p50", true),
    ("p99", true),
    ("error rate", true),
];

/// What a run (or one request of it) measured: its latency, how many ended, how many failed.
struct Sample {
    latency: LatencyHistogram,
    count: u64,
    errors: u64,
}

fn judged(
    metric: &'static str,
    higher_is_worse: bool,
    a: f64,
    b: f64,
    (low, high): (f64, f64),
    floor: f64,
) -> Change {
    let errors = metric == "error rate";
    let change = if errors {
        b - a
    } else {
        b / a.max(1e-12) - 1.0
    };
    Change {
        metric,
        a,
        b,
        change,
        low,
        high,
        significant: (low > 0.0 || high < 0.0) && change.abs() > floor,
        higher_is_worse,
    }
}

fn variance(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64
}

/// Variance of metric `i`'s change between two samples whose requests were independent: of
/// the log ratio for throughput (Poisson counts), quantiles and the mean latency (4), of the
/// difference for errors.
fn independent_variance(i: usize, a: &Sample, b: &Sample) -> f64 {
    match i {
        0 => [a, b].iter().map(|x| 1.0 / x.count.max(1) as f64).sum(),
        4 => [a, b]
            .iter()
            .map(|x| {
                let mean = x.latency.mean().as_secs_f64().max(1e-9);
                let sd = x.latency.stdev().as_secs_f64();
                (sd / mean).powi(2) / x.count.max(1) as f64
            })
            .sum(),
        1 | 2 => {
            let p = if i == 1 { 0.5 } else { 0.99 };
            quantile_log_variance(&a.latency, p) + quantile_log_variance(&b.latency, p)
        }
        _ => [a, b]
            .iter()
            .map(|x| {
                let n = x.count.max(1) as f64;
                let rate = x.errors as f64 / n;
                rate * (1.0 - rate) / n
            })
            .sum(),
    }
}

/// Variance of the log of a sample quantile, from the distribution-free interval: the sample
/// p-quantile of n values lies between the values at ranks p ± 1.96·√(p(1−p)/n) with 95%.
fn quantile_log_variance(h: &LatencyHistogram, p: f64) -> f64 {
    let n = h.count();
    if n < 2 {
        return 0.0;
    }
    let reach = 1.96 * (p * (1.0 - p) / n as f64).sqrt();
    let at = |q: f64| (h.quantile(q.clamp(0.0, 1.0)).as_secs_f64() * 1e6).max(1.0);
    let (low, high) = (at(p - reach), at(p + reach));
    ((high.ln() - low.ln()) / (2.0 * 1.96)).powi(2)
}

fn verdict(ch: &Change) -> &'static str {
    match (ch.significant, ch.higher_is_worse == (ch.change > 0.0)) {
        (false, _) => "within noise",
        (true, true) => "WORSE",
        (true, false) => "better",
    }
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
        "full seconds", "A", "B", "change", "95% interval"
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
        let _ = writeln!(
            out,
            "{:<12} {:>12} {:>12} {:>9}   {:<22} {}",
            ch.metric,
            show(ch.a),
            show(ch.b),
            change,
            interval,
            verdict(ch)
        );
    }
    let _ = writeln!(
        out,
        "(the run's {} and {} full seconds, resampled for the intervals: the first and last seconds, partial, are left out, so these figures can differ slightly from each run's summary)",
        c.seconds.0, c.seconds.1
    );
    let width = crate::name_width(c.requests.iter().map(|r| r.name.as_str()));
    let _ = writeln!(
        out,
        "\n{:<width$} {:>18} {:>18} {:>18} {:>16}   verdict",
        "request", "throughput", "p50", "p99", "errors"
    );
    for r in &c.requests {
        let [throughput, p50, p99, errors] = [0, 1, 2, 3].map(|i| &r.changes[i]);
        let moved: Vec<String> = r
            .changes
            .iter()
            .filter(|ch| ch.significant)
            .map(|ch| format!("{} {}", ch.metric, verdict(ch)))
            .collect();
        let name: String = if r.name.chars().count() > width {
            r.name.chars().take(width - 1).chain(['…']).collect()
        } else {
            r.name.clone()
        };
        let _ = writeln!(
            out,
            "{name:<width$} {:>18} {:>18} {:>18} {:>16}   {}",
            format!(
                "{:.1}→{:.1} {}",
                throughput.a,
                throughput.b,
                pct(throughput.a, throughput.b)
            ),
            format!("{:.1}→{:.1}ms {}", p50.a, p50.b, pct(p50.a, p50.b)),
            format!("{:.1}→{:.1}ms {}", p99.a, p99.b, pct(p99.a, p99.b)),
            format!("{:.2}→{:.2}%", errors.a * 100.0, errors.b * 100.0),
            if moved.is_empty() {
                "within noise".to_string()
            } else {
                moved.join(", ")
            }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use loadcast_stats::{RequestStats, RunMeta, RunStatus};

    use super::*;

    /// 30 seconds of two endpoints at 100/s each, latency around `slow_ms` and 10 ms with
    /// independent noise.
    fn run(seed: u64, slow_ms: f64) -> RunResult {
        let mut rng = fastrand::Rng::with_seed(seed);
        let seconds: Vec<[Vec<f64>; 2]> = (0..30)
            .map(|_| {
                [slow_ms, 10.0]
                    .map(|base| (0..100).map(|_| base * (1.0 + 0.1 * rng.f64())).collect())
            })
            .collect();
        run_of(&seconds)
    }

    /// A run from each second's latencies (ms) of the two endpoints.
    fn run_of(seconds: &[[Vec<f64>; 2]]) -> RunResult {
        let mut result = RunResult::new(RunMeta {
            plan_name: "p".into(),
            plan_hash: "h".into(),
            target: "http://127.0.0.1:1".into(),
            model: "open".into(),
            started_at: "now".into(),
            planned_seconds: seconds.len() as f64,
            elapsed_seconds: seconds.len() as f64,
            status: RunStatus::Complete,
            loadcast_version: "0".into(),
            shards: 1,
            shard: None,
        });
        let mut requests = [RequestStats::new("slow"), RequestStats::new("steady")];
        for (t, lists) in seconds.iter().enumerate() {
            let mut second = Second::new(t as u32);
            for (request, list) in requests.iter_mut().zip(lists) {
                for ms in list {
                    let latency = Duration::from_secs_f64(ms / 1e3);
                    request.count += 1;
                    request.ok += 1;
                    request.latency.record(latency);
                    second.latency.record(latency);
                    second.completed += 1;
                    second.sent += 1;
                }
            }
            result.timeline.push(second);
        }
        result.requests = requests.to_vec();
        result
    }

    fn request<'a>(c: &'a Comparison, name: &str, metric: &str) -> &'a Change {
        c.requests
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.changes.iter().find(|ch| ch.metric == metric))
            .unwrap()
    }

    #[test]
    fn only_the_request_that_slowed_down_is_flagged() {
        let c = compare(&run(1, 20.0), &run(2, 24.0), NOISE_FLOORS);
        let slow = request(&c, "slow", "p99");
        assert!(slow.significant && slow.regressed(0.10), "{slow:?}");
        assert!(slow.low > 0.10 && slow.high < 0.30, "{slow:?}");
        for metric in ["throughput", "p50", "p99", "error rate"] {
            let steady = request(&c, "steady", metric);
            assert!(!steady.significant, "{steady:?}");
        }
        let same = compare(&run(3, 20.0), &run(4, 20.0), NOISE_FLOORS);
        assert!(
            same.requests
                .iter()
                .flat_map(|r| &r.changes)
                .all(|ch| !ch.significant),
            "{same:?}"
        );
    }

    /// Seconds that are slow together (a shared factor per second), and the same latencies
    /// shuffled across seconds: identical per-request histograms, different per-second structure.
    fn correlated_and_shuffled(seed: u64) -> (RunResult, RunResult) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let seconds: Vec<[Vec<f64>; 2]> = (0..30)
            .map(|_| {
                let shared = 1.0 + rng.f64();
                [20.0, 10.0].map(|base| {
                    (0..100)
                        .map(|_| base * shared * (1.0 + 0.1 * rng.f64()))
                        .collect()
                })
            })
            .collect();
        let mut shuffled = seconds.clone();
        for r in 0..2 {
            let mut all: Vec<f64> = seconds.iter().flat_map(|s| s[r].clone()).collect();
            rng.shuffle(&mut all);
            for (t, chunk) in all.chunks(100).enumerate() {
                shuffled[t][r] = chunk.to_vec();
            }
        }
        (run_of(&seconds), run_of(&shuffled))
    }

    #[test]
    fn seconds_that_move_together_widen_each_requests_interval() {
        let (correlated_a, shuffled_a) = correlated_and_shuffled(5);
        let (correlated_b, shuffled_b) = correlated_and_shuffled(6);
        let width = |c: &Comparison| {
            let ch = request(c, "steady", "p50");
            ch.high - ch.low
        };
        let independent = width(&compare(&shuffled_a, &shuffled_b, NOISE_FLOORS));
        let correlated = width(&compare(&correlated_a, &correlated_b, NOISE_FLOORS));
        assert!(
            correlated > independent * 3.0,
            "shuffled {independent:.4}, correlated {correlated:.4}"
        );
    }
}
