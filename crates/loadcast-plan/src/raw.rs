//! The raw serde mirror of the plan file: exactly what TOML says, with spans, before any meaning.
//! Unknown keys are refused here so that a typo never silently means "default".

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPlan {
    pub name: Option<Spanned<String>>,
    /// Required unless every step is SQL.
    pub target: Option<Spanned<String>>,
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub slo: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    pub feeders: BTreeMap<String, Spanned<RawFeeder>>,
    #[serde(default, rename = "scenario")]
    pub scenarios: Vec<Spanned<RawScenario>>,
    pub load: Option<Spanned<RawLoad>>,
    pub history: Option<Spanned<RawHistory>>,
    pub horizon: Option<Spanned<RawHorizon>>,
    pub database: Option<Spanned<RawDatabase>>,
    pub capacity: Option<Spanned<RawCapacity>>,
    pub watch: Option<Spanned<RawWatch>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWatch {
    pub prometheus: Spanned<String>,
    pub traffic: Spanned<String>,
    pub data: Option<Spanned<String>>,
    pub latency_p99: Option<Spanned<String>>,
    pub latency_tolerance: Option<Spanned<f64>>,
    pub since: Option<Spanned<String>>,
    pub step: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCapacity {
    pub from: Option<Spanned<String>>,
    pub factor: Option<Spanned<f64>>,
    pub hold: Option<Spanned<String>>,
    pub warmup: Option<Spanned<String>>,
    #[serde(default)]
    pub data_scales: Vec<Spanned<String>>,
    pub table: Option<Spanned<String>>,
    #[serde(default)]
    pub users: Vec<Spanned<i64>>,
    pub repeat: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHistory {
    pub csv: Spanned<String>,
    pub timestamp: Option<Spanned<String>>,
    #[serde(default)]
    pub traffic: Vec<Spanned<String>>,
    #[serde(default)]
    pub data: BTreeMap<String, Spanned<String>>,
    /// One-off events and holidays kept out of the fit (a CSV, relative to the plan).
    pub events: Option<Spanned<String>>,
    /// Aggregate to a coarser step first: `1d`, `1w:max`, `1month:sum`.
    pub resample: Option<Spanned<String>>,
    /// The time zone whose wall clock the traffic's day follows: `Europe/Berlin`.
    pub tz: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHorizon {
    pub until: Spanned<String>,
    pub traffic: Option<Spanned<String>>,
    pub data: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDatabase {
    pub url: Spanned<String>,
    pub require_marker: Option<bool>,
    /// SQL steps: `per_user` or `pool`.
    pub connections: Option<Spanned<String>>,
    pub pool_size: Option<Spanned<i64>>,
    /// Watch the database's own statistics while the load runs (default true).
    pub observe: Option<bool>,
    #[serde(default)]
    pub tables: BTreeMap<String, Spanned<RawTable>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTable {
    pub rows: Spanned<toml::Value>,
    #[serde(default)]
    pub columns: BTreeMap<String, Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFeeder {
    pub csv: Option<Spanned<String>>,
    pub jsonl: Option<Spanned<String>>,
    pub strategy: Option<Spanned<String>>,
    #[serde(default)]
    pub reuse: bool,
    #[serde(default)]
    pub secret: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawHttp {
    pub version: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub connect_timeout: Option<Spanned<String>>,
    pub graceful_stop: Option<Spanned<String>>,
    #[serde(default)]
    pub insecure: bool,
    pub ca: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub cookies: Option<bool>,
    pub connections: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub name: Option<Spanned<String>>,
    pub weight: Option<Spanned<i64>>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Spanned<RawStep>>,
    pub load: Option<Spanned<RawLoad>>,
    /// Where this scenario's SQL steps go, in place of `[database] url`.
    pub database: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub name: Option<Spanned<String>>,
    pub get: Option<Spanned<String>>,
    pub post: Option<Spanned<String>>,
    pub put: Option<Spanned<String>>,
    pub patch: Option<Spanned<String>>,
    pub delete: Option<Spanned<String>>,
    pub head: Option<Spanned<String>>,
    pub options: Option<Spanned<String>>,
    pub method: Option<Spanned<String>>,
    pub url: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub body: Option<Spanned<String>>,
    pub json: Option<Spanned<toml::Value>>,
    pub body_file: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub think: Option<Spanned<String>>,
    #[serde(default)]
    pub capture: BTreeMap<String, Spanned<String>>,
    pub check: Option<Spanned<RawCheck>>,
    /// Values the virtual user keeps for later steps: `set = { aid = "{{rand(1, 100000)}}" }`.
    #[serde(default)]
    pub set: BTreeMap<String, Spanned<String>>,
    /// A statement sent to the plan's `[database]`.
    pub sql: Option<Spanned<String>>,
    /// The statement's `$1`, `$2`, … (PostgreSQL) or `?` (MySQL) values, templated.
    pub params: Option<Spanned<Vec<Spanned<toml::Value>>>>,
    /// Statements run as one transaction.
    pub transaction: Option<Spanned<Vec<Spanned<RawStep>>>>,
    /// How often a transaction that failed on a serialization failure or deadlock is retried.
    pub retries: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    pub status: Option<Spanned<toml::Value>>,
    pub body: Option<Spanned<String>>,
    #[serde(default)]
    pub json: BTreeMap<String, Spanned<toml::Value>>,
    pub latency: Option<Spanned<String>>,
    /// SQL: the number of rows (`1`) or a range (`"1..10"`, `">=1"`).
    pub rows: Option<Spanned<toml::Value>>,
    /// SQL: `"ROW.COLUMN"` → the text expected there.
    #[serde(default)]
    pub values: BTreeMap<String, Spanned<toml::Value>>,
}

impl RawStep {
    /// The shorthand method keys that are set, with their method names.
    pub fn shorthands(&self) -> Vec<(&'static str, &Spanned<String>)> {
        [
            ("GET", &self.get),
            ("POST", &self.post),
            ("PUT", &self.put),
            ("PATCH", &self.patch),
            ("DELETE", &self.delete),
            ("HEAD", &self.head),
            ("OPTIONS", &self.options),
        ]
        .into_iter()
        .filter_map(|(m, v)| v.as_ref().map(|v| (m, v)))
        .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLoad {
    pub model: Spanned<String>,
    pub stages: Option<Vec<Spanned<RawStage>>>,
    pub rate: Option<Spanned<String>>,
    pub users: Option<Spanned<toml::Value>>,
    pub duration: Option<Spanned<String>>,
    pub max_in_flight: Option<Spanned<i64>>,
    pub pacing: Option<Spanned<String>>,
    pub late_after: Option<Spanned<String>>,
    pub preallocate: Option<Spanned<i64>>,
    pub latency_limit: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStage {
    pub rate: Option<Spanned<String>>,
    pub users: Option<Spanned<toml::Value>>,
    pub over: Spanned<String>,
}
