//! The validated plan: real units, resolved URLs, nothing left to interpret.

use std::path::PathBuf;
use std::time::Duration;

use loadcast_stats::Threshold;

use crate::database::{DatabaseSpec, DatabaseUrl};
use crate::feeder::Feeder;
use crate::template::Template;

/// A validated load-test plan.
#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    /// Where the plan came from (for error messages and the run record).
    pub path: PathBuf,
    /// SHA-256 of the plan file (hex): every result carries it.
    pub hash: String,
    pub target: Target,
    pub http: HttpSettings,
    /// Per-user data files, indexed by template field expressions.
    pub feeders: Vec<Feeder>,
    /// Names of the values steps capture, indexed by template variable expressions.
    pub variables: Vec<String>,
    pub scenarios: Vec<Scenario>,
    /// The plan-wide load, shared by weight among the scenarios without a load of their own.
    pub load: Option<Load>,
    pub thresholds: Vec<Threshold>,
    /// Where traffic and data history come from (`loadcast forecast`).
    pub history: Option<HistorySpec>,
    /// The date to test for, and which bound of the forecast to test at.
    pub horizon: Option<HorizonSpec>,
    /// The test database `loadcast grow` may write to.
    pub database: Option<DatabaseSpec>,
    /// How `loadcast capacity` searches.
    pub capacity: Option<CapacitySpec>,
    /// Where `loadcast watch` reads production from.
    pub watch: Option<WatchSpec>,
}

/// `[watch]`: production's history in Prometheus, for `loadcast watch`.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchSpec {
    /// The Prometheus server's base URL.
    pub prometheus: String,
    /// PromQL for the traffic, in the plan's arrival unit (per second).
    pub traffic: String,
    /// PromQL for the rows of the table the capacity study measured.
    pub data: Option<String>,
    /// PromQL for production's p99 latency, in seconds (Prometheus' base unit).
    pub latency_p99: Option<String>,
    /// How much worse than the study's prediction production's p99 may be before the study is
    /// called stale (a ratio).
    pub latency_tolerance: f64,
    /// How much history each cycle reads, at what resolution, and how often a cycle runs.
    pub since: Duration,
    pub step: Duration,
    pub interval: Duration,
}

/// Searches a scale may repeat, at most: each repeats every step, so a typo's 30 would hold a
/// study for hours.
pub const MAX_REPEAT: usize = 9;

/// `[capacity]`: the breaking-point search, the data scales and the concurrency sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacitySpec {
    pub from: Option<f64>,
    pub factor: Option<f64>,
    pub hold: Option<Duration>,
    pub warmup: Option<Duration>,
    /// `1x`, `2x`, … or `horizon`.
    pub data_scales: Vec<DataScale>,
    /// The table whose rows measure the data volume.
    pub table: Option<String>,
    /// Concurrency levels for the USL sweep.
    pub users: Vec<u32>,
    /// Searches at each scale; the capacity is their median.
    pub repeat: Option<usize>,
}

/// A data scale of the capacity study.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DataScale {
    Times(f64),
    Horizon,
}

impl DataScale {
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if t == "horizon" {
            return Some(DataScale::Horizon);
        }
        t.strip_suffix('x')?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|m| *m >= 1.0 && m.is_finite())
            .map(DataScale::Times)
    }
}

/// `2x`, `1.5x`, `horizon` (for flags: `--scales 2x,4x,horizon`).
impl std::str::FromStr for DataScale {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        DataScale::parse(text).ok_or_else(|| {
            format!(
                "{text:?} is not a data scale: a multiple of today's data such as 2x, or horizon"
            )
        })
    }
}

/// As the plan writes it: `2x`, `horizon`.
impl std::fmt::Display for DataScale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataScale::Times(m) => write!(f, "{m}x"),
            DataScale::Horizon => f.write_str("horizon"),
        }
    }
}

/// `[history]`: a CSV with a timestamp column and declared series.
#[derive(Clone, Debug, PartialEq)]
pub struct HistorySpec {
    pub csv: PathBuf,
    pub timestamp: Option<String>,
    /// Traffic series: (name, column); the name is the column.
    pub traffic: Vec<String>,
    /// Data series: (name, column), e.g. `orders = "orders_rows"`.
    pub data: Vec<(String, String)>,
    /// Growth shapes pinned on data series (`orders = "orders_rows:linear"`), by name.
    pub shapes: Vec<(String, loadcast_forecast::model::Shape)>,
    /// One-off events and holidays to keep out of the fit.
    pub events: Option<PathBuf>,
    pub resample: Option<loadcast_forecast::resample::Resample>,
    /// The wall clock the history's days follow (`tz = "Europe/Berlin"`).
    pub clock: Option<loadcast_forecast::clock::WallClock>,
}

/// `[horizon]`: how far ahead, and which bound of the forecast the plan tests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HorizonSpec {
    pub until: Duration,
    /// Traffic at the horizon: the seasonal peak's point forecast or an upper bound.
    pub traffic: Bound,
    pub data: Bound,
}

/// Which value of a forecast band to plan for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Point,
    Upper80,
    Upper95,
}

impl Bound {
    /// `point`/`peak`/`expected`, `p80`, `p95`.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "point" | "peak" | "expected" => Bound::Point,
            "p80" => Bound::Upper80,
            "p95" => Bound::Upper95,
            _ => return None,
        })
    }
}

/// `point`, `p80`, `p95` (for flags: `--bound p95`).
impl std::str::FromStr for Bound {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Bound::parse(text).ok_or_else(|| format!("{text:?} is not a bound: point, p80 or p95"))
    }
}

/// For people: which value of the forecast.
impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bound::Point => "the point forecast",
            Bound::Upper80 => "the upper 80% bound",
            Bound::Upper95 => "the upper 95% bound",
        })
    }
}

/// Scenarios that run under one load model: the plan-wide load shared by weight, or one
/// scenario's own load.
#[derive(Clone, Debug)]
pub struct LoadGroup<'a> {
    pub load: &'a Load,
    /// Indices into [`Plan::scenarios`].
    pub scenarios: Vec<usize>,
}

impl Plan {
    /// The SQL statements the plan's steps send to `[database]`, each once, in the order they
    /// first appear (a scenario with a database of its own sends its statements there).
    pub fn sql_statements(&self) -> Vec<&str> {
        let mut found: Vec<&str> = Vec::new();
        let to_plan_database = self.scenarios.iter().filter(|s| s.database.is_none());
        for step in to_plan_database.flat_map(|s| &s.steps) {
            let statements: Vec<&SqlSpec> = match step {
                Step::Sql(s) => vec![s],
                Step::Transaction(t) => t.statements.iter().collect(),
                _ => Vec::new(),
            };
            for s in statements {
                if !found.contains(&s.sql.as_str()) {
                    found.push(&s.sql);
                }
            }
        }
        found
    }

    /// The database URL scenario `index`'s SQL steps go to: its own, else `[database]`'s.
    pub fn scenario_database(&self, index: usize) -> Option<&str> {
        match &self.scenarios[index].database {
            Some(own) => Some(own.as_str()),
            None => self.database.as_ref().map(|d| d.url.as_str()),
        }
    }

    /// Every database the plan's SQL steps go to, each once: `[database]` first when a step goes
    /// there, then the scenarios' own in the order they appear.
    pub fn sql_databases(&self) -> Vec<&str> {
        let mut found: Vec<&str> = Vec::new();
        for (i, scenario) in self.scenarios.iter().enumerate() {
            if !scenario.steps.iter().any(Step::is_sql) {
                continue;
            }
            if let Some(url) = self.scenario_database(i) {
                if !found.contains(&url) {
                    found.push(url);
                }
            }
        }
        if let Some(plan_db) = self.database.as_ref().map(|d| d.url.as_str()) {
            if let Some(at) = found.iter().position(|u| *u == plan_db) {
                found[..=at].rotate_right(1);
            }
        }
        found
    }

    /// The load groups that run side by side.
    pub fn groups(&self) -> Vec<LoadGroup<'_>> {
        let mut groups = Vec::new();
        let shared: Vec<usize> = (0..self.scenarios.len())
            .filter(|i| self.scenarios[*i].load.is_none())
            .collect();
        if let (Some(load), false) = (&self.load, shared.is_empty()) {
            groups.push(LoadGroup {
                load,
                scenarios: shared,
            });
        }
        for (i, s) in self.scenarios.iter().enumerate() {
            if let Some(load) = &s.load {
                groups.push(LoadGroup {
                    load,
                    scenarios: vec![i],
                });
            }
        }
        groups
    }

    /// How long the whole run is scheduled to last: the longest group.
    pub fn duration(&self) -> Duration {
        self.groups()
            .iter()
            .map(|g| g.load.duration())
            .max()
            .unwrap_or_default()
    }

    /// The most virtual users that may exist at once over all groups (open model: each group's
    /// in-flight cap; closed model: its peak users).
    pub fn peak_users(&self) -> u64 {
        self.groups().iter().map(|g| g.load.peak_users()).sum()
    }

    /// The closed-model users that exist at once: each needs its own `unique` row up front.
    pub fn peak_closed_users(&self) -> u64 {
        self.groups()
            .iter()
            .filter(|g| matches!(g.load, Load::Closed(_)))
            .map(|g| g.load.peak_users())
            .sum()
    }

    /// Distinct users the whole plan will be (see [`Load::users_needed`]).
    pub fn users_needed(&self) -> u64 {
        self.groups().iter().map(|g| g.load.users_needed()).sum()
    }

    /// `open`, `closed` or `mixed`.
    pub fn model_name(&self) -> &'static str {
        let groups = self.groups();
        let first = groups.first().map_or("open", |g| g.load.model_name());
        if groups.iter().all(|g| g.load.model_name() == first) {
            first
        } else {
            "mixed"
        }
    }
}

/// The one origin every request goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// A path prefix from the target URL (`/api`), without a trailing slash; often empty.
    pub base_path: String,
}

impl Target {
    pub fn is_tls(&self) -> bool {
        self.scheme == "https"
    }

    /// `host:port`, with IPv6 hosts bracketed.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority(), self.base_path)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/2 when TLS negotiates it (ALPN), HTTP/1.1 otherwise.
    Auto,
    Http1,
    /// HTTP/2 only: over TLS by ALPN, over plain TCP with prior knowledge (h2c).
    Http2,
}

#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub version: HttpVersion,
    /// Whole-request timeout: from send to the last byte of the body.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// How long requests in flight when the schedule ends may still finish; those cut off are
    /// counted `abandoned`.
    pub graceful_stop: Duration,
    /// Accept any server certificate (self-signed test targets).
    pub insecure: bool,
    /// Extra trusted CA certificates (PEM).
    pub ca_file: Option<PathBuf>,
    /// Headers sent with every request.
    pub headers: Vec<(http::HeaderName, Template)>,
    /// Each virtual user keeps a cookie jar and sends its cookies back.
    pub cookies: bool,
    pub connections: ConnectionMode,
}

/// Who owns connections to the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionMode {
    /// Each virtual user opens and keeps its own connection, as a browser does.
    PerUser,
    /// Virtual users of a worker share a pool of connections, as a backend client does.
    Shared,
}

/// A named, weighted sequence of steps that one virtual user runs per iteration.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub weight: u32,
    pub steps: Vec<Step>,
    /// A load model of the scenario's own; `None` shares the plan-wide `[load]`.
    pub load: Option<Load>,
    /// A database of the scenario's own for its SQL steps; `None` sends them to `[database]`.
    pub database: Option<DatabaseUrl>,
}

#[derive(Clone, Debug)]
pub enum Step {
    Request(Box<RequestSpec>),
    Sql(Box<SqlSpec>),
    Transaction(Box<TransactionSpec>),
    /// `(variable, value)`: values drawn once and used by the steps after (pgbench's `\set`).
    Set(Vec<(usize, Template)>),
    Think(ThinkTime),
}

impl Step {
    /// The names results are recorded under, in the order the step records them.
    pub fn result_names(&self) -> Vec<&str> {
        match self {
            Step::Request(r) => vec![r.name.as_str()],
            Step::Sql(s) => vec![s.name.as_str()],
            Step::Transaction(t) => std::iter::once(t.name.as_str())
                .chain(t.statements.iter().map(|s| s.name.as_str()))
                .collect(),
            Step::Set(_) | Step::Think(_) => Vec::new(),
        }
    }

    pub fn is_sql(&self) -> bool {
        matches!(self, Step::Sql(_) | Step::Transaction(_))
    }
}

/// One SQL statement of a scenario, sent to the plan's `[database]`, prepared once per
/// connection.
#[derive(Clone, Debug)]
pub struct SqlSpec {
    /// The name results are reported under (the statement's first words unless named).
    pub name: String,
    pub sql: String,
    /// The statement's parameters, rendered as text and typed by the server, as pgbench sends
    /// them.
    pub params: Vec<Template>,
    /// Overrides the plan-wide timeout.
    pub timeout: Option<Duration>,
    /// Values taken from result rows (`row:0.id`).
    pub captures: Vec<Capture>,
    pub checks: SqlChecks,
}

/// `transaction = [ … ]`: statements between BEGIN and COMMIT, rolled back on the first error,
/// and retried whole on a serialization failure or deadlock up to `retries` times.
#[derive(Clone, Debug)]
pub struct TransactionSpec {
    pub name: String,
    pub statements: Vec<SqlSpec>,
    pub retries: u32,
}

/// A result column, by position or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    Index(usize),
    Name(String),
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Column::Index(i) => write!(f, "{i}"),
            Column::Name(n) => f.write_str(n),
        }
    }
}

/// Conditions on a statement's result; a failed one is counted as `check`.
#[derive(Clone, Debug, Default)]
pub struct SqlChecks {
    /// Rows returned (or affected, for a statement that returns none): at least the first,
    /// at most the second.
    pub rows: Option<(u64, Option<u64>)>,
    /// `(row, column, expected text)`.
    pub values: Vec<(usize, Column, Template)>,
    pub max_latency: Option<Duration>,
}

impl SqlChecks {
    pub fn is_empty(&self) -> bool {
        self.rows.is_none() && self.values.is_empty() && self.max_latency.is_none()
    }
}

/// One HTTP request of a scenario.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    /// The name results are reported under (`GET /products` unless the plan names it).
    pub name: String,
    pub method: http::Method,
    /// Path and query, already joined with the target's base path.
    pub path: Template,
    /// The URL as the plan wrote it, joined the same way but with `${env:…}` unexpanded: what
    /// `plan check` shows (a value from the environment may be a secret).
    pub shown_url: String,
    pub headers: Vec<(http::HeaderName, Template)>,
    pub body: Body,
    /// Overrides the plan-wide timeout.
    pub timeout: Option<Duration>,
    /// Values taken from the response for later steps.
    pub captures: Vec<Capture>,
    pub checks: Checks,
}

impl RequestSpec {
    /// Whether every part of the request is the same for every user and iteration.
    pub fn is_static(&self) -> bool {
        self.path.is_static()
            && self.headers.iter().all(|(_, t)| t.is_static())
            && self.body.template().is_none_or(Template::is_static)
    }
}

/// A request body, prepared at plan load.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Empty,
    /// Bytes with the content type they imply (`application/json` for `json = …`).
    Bytes {
        content: Vec<u8>,
        content_type: Option<&'static str>,
    },
    /// Rendered per request.
    Template {
        template: Template,
        content_type: Option<&'static str>,
    },
}

impl Body {
    /// Size in bytes, for a fixed body.
    pub fn len(&self) -> usize {
        match self {
            Body::Empty | Body::Template { .. } => 0,
            Body::Bytes { content, .. } => content.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Body::Empty)
    }

    pub fn template(&self) -> Option<&Template> {
        match self {
            Body::Template { template, .. } => Some(template),
            _ => None,
        }
    }

    pub fn content_type(&self) -> Option<&'static str> {
        match self {
            Body::Empty => None,
            Body::Bytes { content_type, .. } | Body::Template { content_type, .. } => *content_type,
        }
    }
}

/// `capture = { token = "json:/token" }`: a value from a response kept by the virtual user.
#[derive(Clone, Debug)]
pub struct Capture {
    /// Index into [`Plan::variables`].
    pub var: usize,
    pub source: CaptureSource,
}

#[derive(Clone, Debug)]
pub enum CaptureSource {
    /// A JSON pointer into the response body (`/data/token`); `$.data.token` is accepted and
    /// converted.
    Json(String),
    /// A response header, by name.
    Header(http::HeaderName),
    /// The first capture group (or the whole match) of a regular expression over the body.
    Regex(regex::Regex),
    /// A value of a SQL result: `row:0.id` (row, then column name or position).
    Row { row: usize, column: Column },
}

impl CaptureSource {
    pub fn needs_body(&self) -> bool {
        !matches!(self, CaptureSource::Header(_))
    }
}

/// `check = { … }`: conditions a response must meet. A failed check is counted as `check`,
/// apart from transport errors.
#[derive(Clone, Debug, Default)]
pub struct Checks {
    /// Accepted statuses; when set, they count as success even if 4xx/5xx.
    pub status: Option<Vec<u16>>,
    /// Text the body must contain.
    pub body_contains: Option<Template>,
    /// JSON pointer → the value expected there.
    pub json: Vec<(String, JsonExpectation)>,
    /// Slowest acceptable response.
    pub max_latency: Option<Duration>,
}

impl Checks {
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.body_contains.is_none()
            && self.json.is_empty()
            && self.max_latency.is_none()
    }

    pub fn needs_body(&self) -> bool {
        self.body_contains.is_some() || !self.json.is_empty()
    }
}

#[derive(Clone, Debug)]
pub enum JsonExpectation {
    /// A string (templated) compared with the value's text (a number compares as its digits).
    Text(Template),
    /// An exact JSON value (number, boolean, array, object).
    Value(serde_json::Value),
}

/// A pause between steps, as a user reading a page.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThinkTime {
    Fixed(Duration),
    /// Uniformly random between the two bounds.
    Uniform(Duration, Duration),
    /// Exponentially distributed with this mean (the gaps of a Poisson process).
    Exponential(Duration),
}

impl ThinkTime {
    /// One pause drawn from the distribution.
    pub fn sample(&self, rng: &mut fastrand::Rng) -> Duration {
        match *self {
            ThinkTime::Fixed(d) => d,
            ThinkTime::Uniform(low, high) => low + (high - low).mul_f64(rng.f64()),
            // Inverse transform; capped at 20 means so one draw cannot stall a user for ever.
            ThinkTime::Exponential(mean) => mean.mul_f64((-(1.0 - rng.f64()).ln()).min(20.0)),
        }
    }
}

/// How load is applied.
#[derive(Clone, Debug, PartialEq)]
pub enum Load {
    /// Arrivals on a schedule that does not wait for responses.
    Open(OpenLoad),
    /// Virtual users that loop: the next iteration starts when the last one ends.
    Closed(ClosedLoad),
}

impl Load {
    /// The iteration latency beyond which an iteration counts as over the limit.
    pub fn latency_limit(&self) -> Option<Duration> {
        match self {
            Load::Open(o) => o.latency_limit,
            Load::Closed(c) => c.latency_limit,
        }
    }

    pub fn duration(&self) -> Duration {
        match self {
            Load::Open(open) => open.stages.iter().map(|s| s.over).sum(),
            Load::Closed(closed) => closed.stages.iter().map(|s| s.over).sum(),
        }
    }

    pub fn model_name(&self) -> &'static str {
        match self {
            Load::Open(_) => "open",
            Load::Closed(_) => "closed",
        }
    }

    /// The most virtual users this load may have at once.
    pub fn peak_users(&self) -> u64 {
        match self {
            Load::Open(open) => u64::from(open.max_in_flight),
            Load::Closed(closed) => u64::from(closed.peak_users()),
        }
    }

    /// How many distinct users the load will be: in the open model every arrival is a new
    /// user (the schedule's arrivals), in the closed model the peak of looping users.
    pub fn users_needed(&self) -> u64 {
        match self {
            Load::Open(open) => open
                .stages
                .iter()
                .map(|s| (s.from + s.to) / 2.0 * s.over.as_secs_f64())
                .sum::<f64>()
                .ceil() as u64,
            Load::Closed(closed) => u64::from(closed.peak_users()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct OpenLoad {
    pub stages: Vec<RateStage>,
    /// Most iterations in flight at once; arrivals beyond it wait and are counted.
    pub max_in_flight: u32,
    /// An arrival that starts later than this after its intended time counts as late.
    pub late_after: Duration,
    /// Virtual users created before the first arrival (the pool grows past them on demand).
    pub preallocate: u32,
    /// An iteration that ends later than this after its intended start counts as over the
    /// limit, and an arrival already this late when it could start is skipped (pgbench
    /// `--rate --latency-limit`).
    pub latency_limit: Option<Duration>,
}

impl OpenLoad {
    /// Arrivals the schedule asks for over its whole duration.
    pub fn expected_arrivals(&self) -> f64 {
        self.stages
            .iter()
            .map(|s| (s.from + s.to) / 2.0 * s.over.as_secs_f64())
            .sum()
    }

    pub fn peak_rate(&self) -> f64 {
        self.stages
            .iter()
            .map(|s| s.from.max(s.to))
            .fold(0.0, f64::max)
    }
}

/// The arrival rate moves linearly from `from` to `to` (per second) over `over`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateStage {
    pub from: f64,
    pub to: f64,
    pub over: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClosedLoad {
    pub stages: Vec<UserStage>,
    /// Each user starts an iteration at most this often.
    pub pacing: Option<Duration>,
    /// An iteration longer than this counts as over the limit (pgbench `--latency-limit`).
    pub latency_limit: Option<Duration>,
}

impl ClosedLoad {
    pub fn peak_users(&self) -> u32 {
        self.stages
            .iter()
            .map(|s| s.from.max(s.to))
            .max()
            .unwrap_or(0)
    }
}

/// The number of virtual users moves linearly from `from` to `to` over `over`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UserStage {
    pub from: u32,
    pub to: u32,
    pub over: Duration,
}
