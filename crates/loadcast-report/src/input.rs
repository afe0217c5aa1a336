//! Any document loadcast writes, read as what it says it is: `report` and `runs` take run
//! results, capacity studies, projections and watch cycles alike, from a file or the store.

use loadcast_capacity::CapacityStudy;
use loadcast_capacity::watch::WatchCycle;
use loadcast_forecast::Projection;
use loadcast_stats::{Document, DocumentError, RunResult};

/// A document of one of the four kinds.
#[derive(Debug)]
pub enum Input {
    Run(Box<RunResult>),
    Capacity(Box<CapacityStudy>),
    Forecast(Box<Projection>),
    Watch(Box<WatchCycle>),
}

impl Input {
    /// Reads `text` by its `format` header; `origin` names where it came from in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, DocumentError> {
        let value = serde_json::from_str::<serde_json::Value>(text).map_err(|e| {
            DocumentError::Invalid {
                origin: origin.to_string(),
                what: "run result, capacity study, projection or watch cycle",
                line: e.line(),
                column: e.column(),
                cause: format!("not JSON ({e})"),
            }
        })?;
        Ok(match value.get("format").and_then(|f| f.as_str()) {
            Some(CapacityStudy::FORMAT) => {
                Input::Capacity(Box::new(CapacityStudy::from_json(text, origin)?))
            }
            Some(Projection::FORMAT) => {
                Input::Forecast(Box::new(Projection::from_json(text, origin)?))
            }
            Some(WatchCycle::FORMAT) => {
                Input::Watch(Box::new(WatchCycle::from_json(text, origin)?))
            }
            _ => Input::Run(Box::new(RunResult::from_json(text, origin)?)),
        })
    }

    /// What it is, for people.
    pub fn what(&self) -> &'static str {
        match self {
            Input::Run(_) => RunResult::WHAT,
            Input::Capacity(_) => CapacityStudy::WHAT,
            Input::Forecast(_) => Projection::WHAT,
            Input::Watch(_) => WatchCycle::WHAT,
        }
    }
}

/// The one-line headline of a run (the store's `runs` list): its verdict, throughput, p99 and
/// errors.
pub fn run_headline(r: &RunResult) -> String {
    let t = r.total();
    let verdict = if r.thresholds.iter().any(|t| !t.passed) {
        "FAIL: "
    } else if r.thresholds.is_empty() {
        ""
    } else {
        "pass: "
    };
    format!(
        "{verdict}{:.1} requests/s, p99 {}, {:.2}% errors{}",
        r.throughput(),
        loadcast_stats::format_duration(t.latency.quantile(0.99)),
        t.error_rate() * 100.0,
        match r.thresholds.iter().filter(|t| !t.passed).count() {
            0 => String::new(),
            n => format!(", {n} threshold(s) failed"),
        }
    )
}
