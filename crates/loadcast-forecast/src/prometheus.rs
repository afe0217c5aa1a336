//! History from Prometheus: one `query_range` per series (`/api/v1/query_range`), on the grid
//! of the requested step. A query must return exactly one series: several are ambiguous (sum
//! them in PromQL), none is an error — never a silent flat line. And one value now
//! ([`instant`], `/api/v1/query`), for `loadcast watch`'s view of production's latency.

use std::time::Duration;

use serde::Deserialize;

use crate::ForecastError;
use crate::history::{History, NamedPoints, SeriesSpec, format_time};

/// A series to read is a [`SeriesSpec`] whose source is the PromQL query.
pub use crate::history::SeriesSpec as PromSeries;

#[derive(Debug, Deserialize)]
struct Answer<T> {
    status: String,
    #[serde(default = "Option::default")]
    data: Option<Data<T>>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data<T> {
    result_type: String,
    result: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct Instant {
    value: (f64, String),
}

/// Sends one API request; its result list, once the answer is a success of the `expected`
/// result type (`matrix`, `vector`). `what` names the query in errors.
fn ask<T: serde::de::DeserializeOwned>(
    request: ureq::RequestBuilder<ureq::typestate::WithoutBody>,
    base: &str,
    what: &str,
    expected: &str,
) -> Result<Vec<T>, ForecastError> {
    let error = |cause: String| ForecastError::Prometheus {
        url: base.to_string(),
        cause,
    };
    let mut response = request
        .call()
        .map_err(|e| error(format!("unreachable ({e})")))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| error(format!("reading the answer for {what}: {e}")))?;
    let answer: Answer<T> = serde_json::from_str(&body).map_err(|e| {
        error(format!(
            "answered {status} with something that is not the Prometheus API ({e}) for {what}"
        ))
    })?;
    if answer.status != "success" {
        return Err(error(format!(
            "query for {what} failed ({status}): {}",
            answer.error.unwrap_or_else(|| "no reason given".into())
        )));
    }
    let data = answer
        .data
        .ok_or_else(|| error(format!("no data in the answer for {what}")))?;
    if data.result_type != expected {
        return Err(error(format!(
            "query for {what} returned a {}, not a {expected}",
            data.result_type
        )));
    }
    Ok(data.result)
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

/// The value of `query` at `at` (Unix seconds) from the instant-query API: `None` when it
/// returns no series (no traffic, nothing recorded yet); several series are an error.
pub fn instant(
    url: &str,
    name: &str,
    query: &str,
    at: i64,
    timeout: Duration,
) -> Result<Option<f64>, ForecastError> {
    let base = url.trim_end_matches('/');
    let error = |cause: String| ForecastError::Prometheus {
        url: base.to_string(),
        cause,
    };
    let request = agent(timeout)
        .get(format!("{base}/api/v1/query"))
        .query("query", query)
        .query("time", at.to_string());
    let result: Vec<Instant> = ask(request, base, name, "vector")?;
    match result.as_slice() {
        [] => Ok(None),
        [one] => {
            let v = &one.value.1;
            let value: f64 = v
                .parse()
                .map_err(|_| error(format!("{name}: {v:?} is not a number")))?;
            Ok(value.is_finite().then_some(value))
        }
        many => Err(error(format!(
            "query for {name} returned {} series; aggregate them to one, e.g. max(…)",
            many.len()
        ))),
    }
}

#[derive(Debug, Deserialize)]
struct Matrix {
    #[serde(default)]
    metric: serde_json::Map<String, serde_json::Value>,
    values: Vec<(f64, String)>,
}

/// Reads every series from the Prometheus server at `url` between `start` and `end` (Unix
/// seconds) at `step`.
pub fn query_range(
    url: &str,
    series: &[SeriesSpec],
    start: i64,
    end: i64,
    step: Duration,
    timeout: Duration,
) -> Result<History, ForecastError> {
    let read = query_range_points(url, series, start, end, step, timeout)?;
    History::from_points(&origin(url), Some(step), read)
}

/// How errors name a Prometheus server's history.
pub fn origin(url: &str) -> String {
    format!("Prometheus at {}", url.trim_end_matches('/'))
}

/// [`query_range`]'s samples, series by series, before they are placed on a grid.
pub fn query_range_points(
    url: &str,
    series: &[SeriesSpec],
    start: i64,
    end: i64,
    step: Duration,
    timeout: Duration,
) -> Result<Vec<NamedPoints>, ForecastError> {
    let base = url.trim_end_matches('/');
    let error = |cause: String| ForecastError::Prometheus {
        url: base.to_string(),
        cause,
    };
    if step.as_secs() == 0 {
        return Err(error("the step must be at least one second".into()));
    }
    if end <= start {
        return Err(error(format!(
            "the range {} .. {} is empty",
            format_time(start),
            format_time(end)
        )));
    }
    let agent = agent(timeout);
    let mut read = Vec::new();
    for s in series {
        let request = agent
            .get(format!("{base}/api/v1/query_range"))
            .query("query", &s.source)
            .query("start", start.to_string())
            .query("end", end.to_string())
            .query("step", step.as_secs().to_string());
        let result: Vec<Matrix> = ask(request, base, &format!("series {}", s.name), "matrix")?;
        let matrix = match result.len() {
            0 => {
                return Err(error(format!(
                    "query for series {} ({}) returned no data between {} and {}",
                    s.name,
                    s.source,
                    format_time(start),
                    format_time(end)
                )));
            }
            1 => &result[0],
            n => {
                let labels: Vec<String> = result
                    .iter()
                    .take(3)
                    .map(|m| serde_json::Value::Object(m.metric.clone()).to_string())
                    .collect();
                return Err(error(format!(
                    "query for series {} returned {n} series ({}…); aggregate them to one, e.g. sum(…)",
                    s.name,
                    labels.join(", ")
                )));
            }
        };
        let mut points = Vec::with_capacity(matrix.values.len());
        for (t, v) in &matrix.values {
            let value: f64 = v
                .parse()
                .map_err(|_| error(format!("series {}: {v:?} at {t} is not a number", s.name)))?;
            if value.is_finite() {
                points.push((*t as i64, value));
            }
        }
        read.push((s.name.clone(), s.kind, points));
    }
    Ok(read)
}
