//! Service-level thresholds and their evaluation against a run: shared by `run` (exit codes),
//! capacity search (what "broken" means) and reports.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::result::{RequestStats, RunResult};

/// What a threshold measures.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Metric {
    /// A latency quantile (0.5 for p50, 0.999 for p99.9), from the intended start time.
    Latency {
        quantile: f64,
    },
    LatencyMean,
    LatencyMax,
    /// Failed share of ended requests.
    ErrorRate,
}

impl Metric {
    /// Parses the plan's metric names: `p50`, `p99`, `p99.9`, `mean`, `max`, `errors`.
    pub fn parse(name: &str) -> Option<Metric> {
        match name {
            "mean" | "avg" => Some(Metric::LatencyMean),
            "max" => Some(Metric::LatencyMax),
            "errors" | "error_rate" => Some(Metric::ErrorRate),
            _ => {
                let pct: f64 = name.strip_prefix('p')?.parse().ok()?;
                (pct > 0.0 && pct < 100.0).then_some(Metric::Latency {
                    quantile: pct / 100.0,
                })
            }
        }
    }

    pub fn is_latency(&self) -> bool {
        !matches!(self, Metric::ErrorRate)
    }

    /// The metric's value for one set of statistics: seconds for latency, a fraction for errors.
    pub fn measure(&self, stats: &RequestStats) -> f64 {
        match self {
            Metric::Latency { quantile } => stats.latency.quantile(*quantile).as_secs_f64(),
            Metric::LatencyMean => stats.latency.mean().as_secs_f64(),
            Metric::LatencyMax => stats.latency.max().as_secs_f64(),
            Metric::ErrorRate => stats.error_rate(),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Latency { quantile } => {
                let pct = quantile * 100.0;
                if (pct - pct.round()).abs() < 1e-9 {
                    write!(f, "p{}", pct.round())
                } else {
                    write!(f, "p{pct}")
                }
            }
            Metric::LatencyMean => f.write_str("mean"),
            Metric::LatencyMax => f.write_str("max"),
            Metric::ErrorRate => f.write_str("errors"),
        }
    }
}

/// `metric <= limit`, over every request or over one named request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// A request name; `None` means all requests together.
    pub scope: Option<String>,
    pub metric: Metric,
    /// Seconds for latency metrics, a fraction (0.005 = 0.5%) for the error rate.
    pub limit: f64,
}

impl Threshold {
    pub fn latency(scope: Option<String>, metric: Metric, limit: Duration) -> Self {
        Self {
            scope,
            metric,
            limit: limit.as_secs_f64(),
        }
    }

    pub fn evaluate(&self, result: &RunResult) -> ThresholdOutcome {
        let stats = match &self.scope {
            None => Some(result.total()),
            Some(name) => result.request(name).cloned(),
        };
        // A latency with no successful request behind it is not a fast service but a down one:
        // there is nothing to measure, and a threshold cannot pass on no evidence.
        let measurable = |s: &RequestStats| {
            s.count > 0 && (!self.metric.is_latency() || (s.ok > 0 && !s.latency.is_empty()))
        };
        let actual = stats
            .as_ref()
            .filter(|s| measurable(s))
            .map(|s| self.metric.measure(s));
        let passed = actual.is_some_and(|value| value <= self.limit);
        ThresholdOutcome {
            threshold: self.clone(),
            actual,
            passed,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scope) = &self.scope {
            write!(f, "{scope}: ")?;
        }
        write!(
            f,
            "{} <= {}",
            self.metric,
            format_value(&self.metric, self.limit)
        )
    }
}

/// Formats a metric value in its natural unit.
pub fn format_value(metric: &Metric, value: f64) -> String {
    if metric.is_latency() {
        crate::format_duration(Duration::from_secs_f64(value.max(0.0)))
    } else {
        format!("{:.2}%", value * 100.0)
    }
}

/// A threshold checked against a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdOutcome {
    pub threshold: Threshold,
    /// `None` when there was nothing to measure: the scope named a request that never ran, or
    /// (latency) no request succeeded.
    pub actual: Option<f64>,
    pub passed: bool,
}

impl ThresholdOutcome {
    /// The measured value with its unit (`312ms`, `0.40%`), or why there is none.
    pub fn format_actual(&self) -> String {
        match self.actual {
            Some(v) => format_value(&self.threshold.metric, v),
            None if self.threshold.metric.is_latency() => {
                "no successful request to measure".to_string()
            }
            None => "no request ended".to_string(),
        }
    }
}

impl fmt::Display for ThresholdOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed { "pass" } else { "FAIL" };
        match self.actual {
            Some(_) => write!(
                f,
                "{verdict}  {}  (actual {})",
                self.threshold,
                self.format_actual()
            ),
            None => write!(
                f,
                "{verdict}  {}  ({})",
                self.threshold,
                self.format_actual()
            ),
        }
    }
}

/// Evaluates every threshold; the run passes when all do.
pub fn evaluate(thresholds: &[Threshold], result: &RunResult) -> Vec<ThresholdOutcome> {
    thresholds.iter().map(|t| t.evaluate(result)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        assert_eq!(
            Metric::parse("p99"),
            Some(Metric::Latency { quantile: 0.99 })
        );
        assert_eq!(Metric::parse("p99.9").unwrap().to_string(), "p99.9");
        assert_eq!(Metric::parse("p50").unwrap().to_string(), "p50");
        assert_eq!(Metric::parse("errors"), Some(Metric::ErrorRate));
        assert_eq!(Metric::parse("p100"), None);
        assert_eq!(Metric::parse("q99"), None);
    }

    /// Every request refused: no latency was measured, so a latency threshold fails instead of
    /// passing on an empty histogram's 0 µs; the error threshold fails on its own evidence.
    #[test]
    fn a_down_service_fails_its_latency_threshold() {
        use crate::{ErrorKind, RunMeta, RunStatus};
        let mut result = RunResult::new(RunMeta {
            plan_name: "down".into(),
            plan_hash: String::new(),
            target: "http://127.0.0.1:9".into(),
            model: "open".into(),
            started_at: String::new(),
            planned_seconds: 1.0,
            elapsed_seconds: 1.0,
            status: RunStatus::Complete,
            loadcast_version: String::new(),
            shards: 1,
            shard: None,
        });
        let mut refused = RequestStats::new("GET /");
        refused.count = 100;
        refused.errors.insert(ErrorKind::ConnectRefused, 100);
        result.requests.push(refused);
        let p99 = Threshold::latency(
            None,
            Metric::Latency { quantile: 0.99 },
            Duration::from_millis(300),
        )
        .evaluate(&result);
        assert!(!p99.passed, "{p99}");
        assert_eq!(p99.actual, None);
        assert!(
            p99.to_string().contains("no successful request to measure"),
            "{p99}"
        );
        // One slow success: measured, and judged on its value.
        result.requests[0].ok = 1;
        result.requests[0]
            .latency
            .record(Duration::from_millis(100));
        let p99 = Threshold::latency(
            None,
            Metric::Latency { quantile: 0.99 },
            Duration::from_millis(300),
        )
        .evaluate(&result);
        assert!(p99.passed, "{p99}");
    }
}
