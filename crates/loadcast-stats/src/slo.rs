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
        let actual = stats.as_ref().map(|s| self.metric.measure(s));
        let passed = match (actual, stats) {
            (Some(value), Some(s)) if s.count > 0 => value <= self.limit,
            // Nothing was measured: a threshold cannot pass on no evidence.
            _ => false,
        };
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
    /// `None` when the scope named a request that never ran.
    pub actual: Option<f64>,
    pub passed: bool,
}

impl ThresholdOutcome {
    /// The measured value with its unit (`312ms`, `0.40%`), or `no data`.
    pub fn format_actual(&self) -> String {
        self.actual.map_or_else(
            || "no data".to_string(),
            |v| format_value(&self.threshold.metric, v),
        )
    }
}

impl fmt::Display for ThresholdOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed { "pass" } else { "FAIL" };
        let actual = self.actual.map_or_else(
            || "no data".to_string(),
            |v| format_value(&self.threshold.metric, v),
        );
        write!(f, "{verdict}  {}  (actual {actual})", self.threshold)
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
}
