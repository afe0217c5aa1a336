//! Raw mirror → typed [`Plan`]. Collects every problem with its span instead of stopping at
//! the first, so a reviewer fixes a plan in one pass.

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{HeaderName, HeaderValue, Method, Uri};
use loadcast_stats::{Metric, Threshold};
use toml::Spanned;

use crate::database::{DatabaseSpec, Generator, RowsTarget, TableSpec, redact_url};
use crate::error::{Diagnostic, Source};
use crate::feeder::{Feeder, FeederData, FeederStrategy};
use crate::model::*;
use crate::raw::*;
use crate::template::{self, Escape, Template};
use crate::units;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_MAX_IN_FLIGHT: u32 = 10_000;
const DEFAULT_LATE_AFTER: Duration = Duration::from_millis(10);

pub(crate) struct Validator<'a> {
    source: Source<'a>,
    base_dir: PathBuf,
    diagnostics: Vec<Diagnostic>,
    /// What templates may name: feeders (with their columns) and captured variables.
    names: Names,
}

#[derive(Default)]
struct Names {
    feeders: Vec<Feeder>,
    variables: Vec<String>,
}

impl template::Names for Names {
    fn field(&self, feeder: &str, column: &str) -> Result<(usize, usize), String> {
        let Some(index) = self.feeders.iter().position(|f| f.name == feeder) else {
            let known: Vec<&str> = self.feeders.iter().map(|f| f.name.as_str()).collect();
            return Err(if known.is_empty() {
                format!(
                    "no feeder is named {feeder:?}; declare one with [feeders.{feeder}] csv = \"file.csv\""
                )
            } else {
                format!(
                    "no feeder is named {feeder:?}; feeders: {}",
                    known.join(", ")
                )
            });
        };
        let data = &self.feeders[index].data;
        data.column(column).map(|c| (index, c)).ok_or_else(|| {
            format!(
                "feeder {feeder:?} has no column {column:?}; columns: {}",
                data.columns().join(", ")
            )
        })
    }

    fn var(&self, name: &str) -> Result<usize, String> {
        self.variables
            .iter()
            .position(|v| v == name)
            .ok_or_else(|| {
                format!(
                    "{name:?} is not captured by any step (capture = {{ {name} = \"json:/…\" }}) \
                 and is not vu, iteration or uuid"
                )
            })
    }
}

impl<'a> Validator<'a> {
    pub(crate) fn new(text: &'a str, path: &Path) -> Self {
        Self {
            source: Source::new(text),
            base_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            diagnostics: Vec::new(),
            names: Names::default(),
        }
    }

    pub(crate) fn finish(self) -> Vec<Diagnostic> {
        self.diagnostics
    }

    fn error<T>(
        &mut self,
        spanned: &Spanned<T>,
        key: impl Into<String>,
        message: impl Into<String>,
        expected: Option<&str>,
    ) {
        let d = self
            .source
            .diagnostic(spanned.span(), key, message, expected);
        self.diagnostics.push(d);
    }

    /// Parses a spanned string with a unit parser, recording a diagnostic on failure.
    fn unit<T>(
        &mut self,
        value: &Spanned<String>,
        key: &str,
        parse: impl Fn(&str) -> Result<T, &'static str>,
    ) -> Option<T> {
        match parse(value.get_ref()) {
            Ok(v) => Some(v),
            Err(expected) => {
                self.error(
                    value,
                    key,
                    format!("{:?} is not valid", value.get_ref()),
                    Some(expected),
                );
                None
            }
        }
    }

    /// `${env:…}` expanded, then `{{…}}` parsed against the plan's feeders and captures.
    fn template(&mut self, value: &Spanned<String>, key: &str, escape: Escape) -> Option<Template> {
        let text = self.env(value, key)?;
        match Template::parse(&text, escape, &self.names) {
            Ok(t) => Some(t),
            Err(message) => {
                self.error(value, key, message, None);
                None
            }
        }
    }

    fn env(&mut self, value: &Spanned<String>, key: &str) -> Option<String> {
        match expand_env(value.get_ref()) {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(value, key, message, None);
                None
            }
        }
    }

    pub(crate) fn plan(&mut self, raw: RawPlan, path: &Path, hash: String) -> Option<Plan> {
        let target = self.target(&raw.target);
        self.names.feeders = self.feeders(&raw.feeders);
        self.names.variables = capture_names(&raw.scenarios);
        let http = self.http(&raw.http);
        let scenarios = self.scenarios(&raw.scenarios, target.as_ref());
        let load = raw.load.as_ref().map(|load| self.load(load, "load"));
        if let (None, Some(scenarios)) = (&raw.load, &scenarios) {
            if let Some(s) = scenarios.iter().find(|s| s.load.is_none()) {
                let d = self.source.diagnostic(
                    0..0,
                    "load",
                    format!(
                        "the plan has no [load] and scenario {:?} has no load of its own",
                        s.name
                    ),
                    Some("a [load] table, or [scenario.load] in every scenario"),
                );
                self.diagnostics.push(d);
            }
        }
        let request_names: Vec<String> = scenarios
            .iter()
            .flatten()
            .flat_map(|s| &s.steps)
            .filter_map(|step| match step {
                Step::Request(r) => Some(r.name.clone()),
                Step::Think(_) => None,
            })
            .collect();
        let thresholds = self.thresholds(&raw.slo, &request_names);
        let name = raw.name.map_or_else(
            || {
                path.file_stem()
                    .map_or("plan".into(), |s| s.to_string_lossy().into_owned())
            },
            Spanned::into_inner,
        );
        let load = match load {
            Some(None) => return None,
            Some(Some(load)) => Some(load),
            None => None,
        };
        let history = raw.history.as_ref().map(|h| self.history(h));
        let horizon = raw.horizon.as_ref().map(|h| self.horizon(h));
        let database = raw.database.as_ref().map(|d| self.database(d));
        let capacity = raw.capacity.as_ref().map(|c| self.capacity(c));
        let plan = Plan {
            name,
            path: path.to_path_buf(),
            hash,
            target: target?,
            http: http?,
            feeders: std::mem::take(&mut self.names.feeders),
            variables: std::mem::take(&mut self.names.variables),
            scenarios: scenarios?,
            load,
            thresholds,
            history: history.map(|h| h.ok_or(())).transpose().ok()?,
            horizon: horizon.map(|h| h.ok_or(())).transpose().ok()?,
            database: database.map(|d| d.ok_or(())).transpose().ok()?,
            capacity: capacity.map(|c| c.ok_or(())).transpose().ok()?,
        };
        self.unique_feeders_cover_users(&plan, &raw.feeders);
        Some(plan)
    }

    fn history(&mut self, raw: &Spanned<RawHistory>) -> Option<HistorySpec> {
        let h = raw.get_ref();
        if h.traffic.is_empty() && h.data.is_empty() {
            self.error(
                raw,
                "history",
                "no series declared",
                Some("traffic = [\"requests_per_s\"] and/or data = { orders = \"orders_rows\" }"),
            );
            return None;
        }
        let csv = self.base_dir.join(h.csv.get_ref());
        if !csv.is_file() {
            self.error(
                &h.csv,
                "history.csv",
                format!("no such file: {}", csv.display()),
                Some("a CSV file of history, relative to the plan"),
            );
            return None;
        }
        Some(HistorySpec {
            csv,
            timestamp: h.timestamp.as_ref().map(|t| t.get_ref().clone()),
            traffic: h.traffic.iter().map(|t| t.get_ref().clone()).collect(),
            data: h
                .data
                .iter()
                .map(|(name, column)| (name.clone(), column.get_ref().clone()))
                .collect(),
        })
    }

    fn horizon(&mut self, raw: &Spanned<RawHorizon>) -> Option<HorizonSpec> {
        let h = raw.get_ref();
        let until = self.unit(&h.until, "horizon.until", units::parse_duration);
        let mut bound = |value: &Option<Spanned<String>>, key: &str, default: Bound| match value {
            None => Some(default),
            Some(v) => {
                let parsed = Bound::parse(v.get_ref());
                if parsed.is_none() {
                    self.error(
                        v,
                        key,
                        format!("{:?} is not a forecast bound", v.get_ref()),
                        Some("\"peak\" (the point forecast), \"p80\" or \"p95\" (upper bounds)"),
                    );
                }
                parsed
            }
        };
        let traffic = bound(&h.traffic, "horizon.traffic", Bound::Point);
        let data = bound(&h.data, "horizon.data", Bound::Point);
        Some(HorizonSpec {
            until: until?,
            traffic: traffic?,
            data: data?,
        })
    }

    fn capacity(&mut self, raw: &Spanned<RawCapacity>) -> Option<CapacitySpec> {
        let c = raw.get_ref();
        let mut ok = true;
        let from = match &c.from {
            None => None,
            Some(r) => {
                let v = self.unit(r, "capacity.from", units::parse_rate);
                ok &= v.is_some();
                v
            }
        };
        let factor = match &c.factor {
            Some(f) if *f.get_ref() <= 1.0 => {
                self.error(
                    f,
                    "capacity.factor",
                    format!("{} does not grow", f.get_ref()),
                    Some("a factor above 1, such as 1.5"),
                );
                ok = false;
                None
            }
            Some(f) => Some(*f.get_ref()),
            None => None,
        };
        let mut duration = |v: &Option<Spanned<String>>, key: &str| match v {
            None => Some(None),
            Some(v) => self.unit(v, key, units::parse_duration).map(Some),
        };
        let hold = duration(&c.hold, "capacity.hold");
        let warmup = duration(&c.warmup, "capacity.warmup");
        let mut data_scales = Vec::new();
        for (i, s) in c.data_scales.iter().enumerate() {
            match DataScale::parse(s.get_ref()) {
                Some(scale) => data_scales.push(scale),
                None => {
                    self.error(
                        s,
                        format!("capacity.data_scales[{i}]"),
                        format!("{:?} is not a data scale", s.get_ref()),
                        Some("a multiple of today's data such as \"2x\", or \"horizon\""),
                    );
                    ok = false;
                }
            }
        }
        let mut users = Vec::new();
        for (i, u) in c.users.iter().enumerate() {
            match u32::try_from(*u.get_ref()) {
                Ok(n) if n >= 1 => users.push(n),
                _ => {
                    self.error(
                        u,
                        format!("capacity.users[{i}]"),
                        format!("{} is not a number of users", u.get_ref()),
                        Some("a whole number of at least 1"),
                    );
                    ok = false;
                }
            }
        }
        let (hold, warmup) = (hold?, warmup?);
        ok.then(|| CapacitySpec {
            from,
            factor,
            hold,
            warmup,
            data_scales,
            table: c.table.as_ref().map(|t| t.get_ref().clone()),
            users,
        })
    }

    fn database(&mut self, raw: &Spanned<RawDatabase>) -> Option<DatabaseSpec> {
        let d = raw.get_ref();
        let url = self.env(&d.url, "database.url")?;
        let known = [
            "postgres://",
            "postgresql://",
            "mysql://",
            "mariadb://",
            "sqlite://",
        ];
        if !known.iter().any(|k| url.starts_with(k)) {
            self.error(
                &d.url,
                "database.url",
                format!(
                    "{:?} is not a database URL loadcast can grow",
                    redact_url(&url)
                ),
                Some("postgres://user@host/db, mysql://user@host/db or sqlite://path/to.db"),
            );
            return None;
        }
        let mut tables = Vec::new();
        let mut ok = true;
        for (name, spanned) in &d.tables {
            let key = format!("database.tables.{name}");
            let t = spanned.get_ref();
            let rows = match RowsTarget::parse(t.rows.get_ref()) {
                Ok(rows) => Some(rows),
                Err(expected) => {
                    self.error(
                        &t.rows,
                        format!("{key}.rows"),
                        format!("{} is not valid", t.rows.get_ref()),
                        Some(expected),
                    );
                    None
                }
            };
            let mut columns = Vec::new();
            for (column, value) in &t.columns {
                let key = format!("{key}.columns.{column}");
                let parsed = match value.get_ref() {
                    toml::Value::Table(table) => Generator::parse_column(table),
                    _ => Err("a table such as { fake = \"email\" }".to_string()),
                };
                match parsed {
                    Ok(spec) => columns.push((column.clone(), spec)),
                    Err(message) => {
                        self.error(value, &key, message, None);
                        ok = false;
                    }
                }
            }
            match rows {
                Some(rows) => tables.push(TableSpec {
                    name: name.clone(),
                    rows,
                    columns,
                }),
                None => ok = false,
            }
        }
        ok.then(|| DatabaseSpec {
            url,
            require_marker: d.require_marker.unwrap_or(true),
            tables,
        })
    }

    fn feeders(&mut self, raw: &BTreeMap<String, Spanned<RawFeeder>>) -> Vec<Feeder> {
        const RESERVED: [&str; 6] = ["vu", "iteration", "uuid", "rand", "choice", "env"];
        let mut feeders = Vec::new();
        for (name, spanned) in raw {
            let key = format!("feeders.{name}");
            let f = spanned.get_ref();
            if RESERVED.contains(&name.as_str()) || name.contains('.') {
                self.error(
                    spanned,
                    &key,
                    format!("{name:?} cannot name a feeder"),
                    Some("a name that is not vu, iteration, uuid, rand, choice or env"),
                );
                continue;
            }
            let file = match (&f.csv, &f.jsonl) {
                (Some(file), None) | (None, Some(file)) => file,
                _ => {
                    self.error(
                        spanned,
                        &key,
                        "a feeder reads exactly one file",
                        Some("csv = \"users.csv\" or jsonl = \"users.jsonl\""),
                    );
                    continue;
                }
            };
            let strategy = match &f.strategy {
                None => FeederStrategy::Unique,
                Some(s) => match FeederStrategy::parse(s.get_ref()) {
                    Some(strategy) => strategy,
                    None => {
                        self.error(
                            s,
                            format!("{key}.strategy"),
                            format!("{:?} is not a feeder strategy", s.get_ref()),
                            Some("\"unique\", \"sequential\", \"random\" or \"circular\""),
                        );
                        continue;
                    }
                },
            };
            let path = self.base_dir.join(file.get_ref());
            let data = match FeederData::load(&path) {
                Ok(data) => data,
                Err(e) => {
                    self.error(
                        file,
                        format!("{key}.{}", if f.csv.is_some() { "csv" } else { "jsonl" }),
                        e.to_string(),
                        Some("a readable CSV file with a header row, or JSON lines"),
                    );
                    continue;
                }
            };
            feeders.push(Feeder {
                name: name.clone(),
                path,
                strategy,
                reuse: f.reuse,
                data: Arc::new(data),
            });
        }
        feeders
    }

    /// A `unique` feeder needs a row for every closed-model user that exists at once: fewer
    /// rows is an error before the run, unless the plan allows reuse. (Open-model arrivals are
    /// new users each; the rows they lack are counted at run time and linted.)
    fn unique_feeders_cover_users(
        &mut self,
        plan: &Plan,
        raw: &BTreeMap<String, Spanned<RawFeeder>>,
    ) {
        let peak = plan.peak_closed_users();
        for feeder in &plan.feeders {
            let rows = feeder.data.rows() as u64;
            if feeder.strategy == FeederStrategy::Unique && !feeder.reuse && rows < peak {
                if let Some(spanned) = raw.get(&feeder.name) {
                    self.error(
                        spanned,
                        format!("feeders.{}", feeder.name),
                        format!(
                            "{} has {rows} rows but the load may have {peak} virtual users at once",
                            feeder.path.display()
                        ),
                        Some(
                            "a row per virtual user: more rows, fewer users (load.users or \
                             load.max_in_flight), or reuse = true to share rows",
                        ),
                    );
                }
            }
        }
    }

    fn target(&mut self, raw: &Spanned<String>) -> Option<Target> {
        const EXPECTED: &str = "an http:// or https:// URL such as \"http://127.0.0.1:8080\"";
        let text = self.env(raw, "target")?;
        let Ok(uri) = text.parse::<Uri>() else {
            self.error(
                raw,
                "target",
                format!("{text:?} is not a URL"),
                Some(EXPECTED),
            );
            return None;
        };
        let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
        let Some(host) = uri.host().filter(|_| scheme == "http" || scheme == "https") else {
            self.error(
                raw,
                "target",
                format!("{text:?} has no http(s) scheme and host"),
                Some(EXPECTED),
            );
            return None;
        };
        if uri.query().is_some() {
            self.error(
                raw,
                "target",
                format!("{text:?} has a query string"),
                Some("a base URL without a query (put queries in steps)"),
            );
            return None;
        }
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        Some(Target {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            scheme,
            port,
            base_path: uri.path().trim_end_matches('/').to_string(),
        })
    }

    fn http(&mut self, raw: &RawHttp) -> Option<HttpSettings> {
        let mut ok = true;
        let version = match raw.version.as_ref() {
            None => HttpVersion::Auto,
            Some(v) => match v.get_ref().as_str() {
                "auto" => HttpVersion::Auto,
                "1.1" | "http1" | "http/1.1" => HttpVersion::Http1,
                "2" | "h2" | "http2" | "http/2" => HttpVersion::Http2,
                other => {
                    self.error(
                        v,
                        "http.version",
                        format!("{other:?} is not an HTTP version"),
                        Some("\"auto\", \"1.1\" or \"2\""),
                    );
                    ok = false;
                    HttpVersion::Auto
                }
            },
        };
        let mut duration = |v: &Option<Spanned<String>>, key: &str, default: Duration| match v {
            None => Some(default),
            Some(v) => self.unit(v, key, units::parse_duration),
        };
        let timeout = duration(&raw.timeout, "http.timeout", DEFAULT_TIMEOUT);
        let connect_timeout = duration(
            &raw.connect_timeout,
            "http.connect_timeout",
            DEFAULT_CONNECT_TIMEOUT,
        );
        let ca_file = match &raw.ca {
            None => None,
            Some(ca) => {
                let path = self.base_dir.join(ca.get_ref());
                if !path.is_file() {
                    self.error(
                        ca,
                        "http.ca",
                        format!("no such file: {}", path.display()),
                        Some("a PEM file of CA certificates, relative to the plan"),
                    );
                    ok = false;
                }
                Some(path)
            }
        };
        let headers = self.headers(&raw.headers, "http.headers");
        let connections = match raw.connections.as_ref() {
            None => ConnectionMode::PerUser,
            Some(c) => match c.get_ref().as_str() {
                "per_user" | "per-user" => ConnectionMode::PerUser,
                "shared" => ConnectionMode::Shared,
                other => {
                    self.error(
                        c,
                        "http.connections",
                        format!("{other:?} is not a connection mode"),
                        Some("\"per_user\" (each virtual user its own) or \"shared\" (a pool)"),
                    );
                    ok = false;
                    ConnectionMode::PerUser
                }
            },
        };
        if !ok {
            return None;
        }
        Some(HttpSettings {
            version,
            timeout: timeout?,
            connect_timeout: connect_timeout?,
            insecure: raw.insecure,
            ca_file,
            headers: headers?,
            cookies: raw.cookies.unwrap_or(true),
            connections,
        })
    }

    fn headers(
        &mut self,
        raw: &std::collections::BTreeMap<String, Spanned<String>>,
        key: &str,
    ) -> Option<Vec<(HeaderName, Template)>> {
        let mut headers = Vec::new();
        let mut ok = true;
        for (name, value) in raw {
            let key = format!("{key}.{name}");
            let Ok(header_name) = HeaderName::from_bytes(name.as_bytes()) else {
                self.error(
                    value,
                    &key,
                    format!("{name:?} is not a valid header name"),
                    Some("letters, digits and '-'"),
                );
                ok = false;
                continue;
            };
            let Some(template) = self.template(value, &key, Escape::Header) else {
                ok = false;
                continue;
            };
            let fixed_parts = template
                .parts
                .iter()
                .filter_map(|p| match p {
                    template::Part::Text(t) => Some(t.as_str()),
                    template::Part::Expr(..) => None,
                })
                .collect::<String>();
            match HeaderValue::from_str(&fixed_parts) {
                Ok(_) => headers.push((header_name, template)),
                Err(_) => {
                    self.error(
                        value,
                        &key,
                        "the header value has characters HTTP does not allow",
                        Some("visible ASCII without line breaks"),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(headers)
    }

    fn scenarios(
        &mut self,
        raw: &[Spanned<RawScenario>],
        target: Option<&Target>,
    ) -> Option<Vec<Scenario>> {
        if raw.is_empty() {
            let d = self.source.diagnostic(
                0..0,
                "scenario",
                "the plan has no [[scenario]]",
                Some("at least one [[scenario]] with a [[scenario.step]] such as get = \"/\""),
            );
            self.diagnostics.push(d);
            return None;
        }
        let mut scenarios = Vec::new();
        let mut ok = true;
        for (i, spanned) in raw.iter().enumerate() {
            let s = spanned.get_ref();
            let key = format!("scenario[{i}]");
            let name = s
                .name
                .as_ref()
                .map_or_else(|| format!("scenario-{}", i + 1), |n| n.get_ref().clone());
            if scenarios.iter().any(|x: &Scenario| x.name == name) {
                let at = s.name.as_ref().map_or(spanned.span(), |n| n.span());
                let d = self.source.diagnostic(
                    at,
                    format!("{key}.name"),
                    format!("scenario name {name:?} is used twice"),
                    Some("a unique name per scenario"),
                );
                self.diagnostics.push(d);
                ok = false;
            }
            let weight = match &s.weight {
                None => 1,
                Some(w) if (1..=1_000_000).contains(w.get_ref()) => *w.get_ref() as u32,
                Some(w) => {
                    self.error(
                        w,
                        format!("{key}.weight"),
                        format!("{} is not a valid weight", w.get_ref()),
                        Some("a whole number from 1 to 1000000"),
                    );
                    ok = false;
                    1
                }
            };
            if s.steps.is_empty() {
                self.error(
                    spanned,
                    &key,
                    format!("scenario {name:?} has no steps"),
                    Some("at least one [[scenario.step]]"),
                );
                ok = false;
            }
            let mut steps = Vec::new();
            for (j, step) in s.steps.iter().enumerate() {
                match self.step(step, &format!("{key}.step[{j}]"), target) {
                    Some(step) => steps.push(step),
                    None => ok = false,
                }
            }
            // Only when every step was valid: a step that failed already has its own error.
            let all_valid = steps.len() == s.steps.len();
            if all_valid
                && !s.steps.is_empty()
                && !steps.iter().any(|s| matches!(s, Step::Request(_)))
            {
                self.error(
                    spanned,
                    &key,
                    format!("scenario {name:?} sends no request"),
                    Some("at least one request step (get = \"/\", post = …)"),
                );
                ok = false;
            }
            let load = match &s.load {
                None => None,
                Some(load) => match self.load(load, &format!("{key}.load")) {
                    Some(load) => Some(load),
                    None => {
                        ok = false;
                        None
                    }
                },
            };
            scenarios.push(Scenario {
                name,
                weight,
                steps,
                load,
            });
        }
        ok.then_some(scenarios)
    }

    fn step(
        &mut self,
        spanned: &Spanned<RawStep>,
        key: &str,
        target: Option<&Target>,
    ) -> Option<Step> {
        let step = spanned.get_ref();
        let shorthands = step.shorthands();
        let request_keys =
            shorthands.len() + usize::from(step.method.is_some() || step.url.is_some());
        if let Some(think) = &step.think {
            if request_keys > 0 || !step.capture.is_empty() || step.check.is_some() {
                self.error(
                    think,
                    format!("{key}.think"),
                    "a step is either a request or a think time, not both",
                    Some("a separate [[scenario.step]] with think = \"1s..3s\""),
                );
                return None;
            }
            return self
                .unit(think, &format!("{key}.think"), parse_think)
                .map(Step::Think);
        }
        let (method, url) = match (shorthands.as_slice(), &step.method, &step.url) {
            ([(m, url)], None, None) => (Method::from_bytes(m.as_bytes()).ok()?, *url),
            ([], Some(m), Some(url)) => {
                let Ok(method) = Method::from_bytes(m.get_ref().to_ascii_uppercase().as_bytes())
                else {
                    self.error(
                        m,
                        format!("{key}.method"),
                        format!("{:?} is not an HTTP method", m.get_ref()),
                        Some("GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS"),
                    );
                    return None;
                };
                (method, url)
            }
            _ => {
                self.error(
                    spanned,
                    key,
                    "a step needs exactly one request",
                    Some(
                        "one of get/post/put/patch/delete/head/options = \"/path\", \
                          or method = \"GET\" with url = \"/path\", or think = \"2s\"",
                    ),
                );
                return None;
            }
        };
        let url_key = format!("{key}.url");
        let path = self.step_url(url, &url_key, target);
        let name = step.name.as_ref().map_or_else(
            // The name keeps the template text, so a templated step is one line in the report,
            // not one line per user.
            || format!("{method} {}", url.get_ref()),
            |n| n.get_ref().clone(),
        );
        let headers = self.headers(&step.headers, &format!("{key}.headers"));
        let body = self.body(step, key);
        let timeout = match &step.timeout {
            None => Some(None),
            Some(t) => self
                .unit(t, &format!("{key}.timeout"), units::parse_duration)
                .map(Some),
        };
        let captures = self.captures(&step.capture, &format!("{key}.capture"));
        let checks = match &step.check {
            None => Some(Checks::default()),
            Some(check) => self.checks(check, &format!("{key}.check")),
        };
        Some(Step::Request(Box::new(RequestSpec {
            name,
            method,
            path: path?,
            headers: headers?,
            body: body?,
            timeout: timeout?,
            captures: captures?,
            checks: checks?,
        })))
    }

    /// A step's URL: a path joined to the target, or an absolute URL on the target's own origin;
    /// either may hold templates, which are checked with a stand-in value.
    fn step_url(
        &mut self,
        url: &Spanned<String>,
        key: &str,
        target: Option<&Target>,
    ) -> Option<Template> {
        let text = url.get_ref();
        let template = self.template(url, key, Escape::Url)?;
        let probe: String = template
            .parts
            .iter()
            .map(|p| match p {
                template::Part::Text(t) => t.as_str(),
                template::Part::Expr(..) => "x",
            })
            .collect();
        if probe.starts_with('/') {
            if probe.parse::<http::uri::PathAndQuery>().is_err() {
                self.error(
                    url,
                    key,
                    format!("{text:?} is not a valid path"),
                    Some("a path such as \"/products?page=2\" (percent-encode spaces)"),
                );
                return None;
            }
            let mut parts = template.parts;
            let base = target.map_or("", |t| t.base_path.as_str());
            if !base.is_empty() {
                parts.insert(0, template::Part::Text(base.to_string()));
            }
            return Some(Template { parts });
        }
        let Ok(uri) = probe.parse::<Uri>() else {
            self.error(
                url,
                key,
                format!("{text:?} is not a path or URL"),
                Some("a path such as \"/products\" or a URL on the target"),
            );
            return None;
        };
        let target = target?;
        let port = uri
            .port_u16()
            .unwrap_or(if uri.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let same_origin = uri.scheme_str() == Some(target.scheme.as_str())
            && uri.host().map(|h| h.trim_matches(['[', ']'])) == Some(target.host.as_str())
            && port == target.port;
        if !same_origin {
            self.error(
                url,
                key,
                format!("{text:?} is not on the target {}", target.url()),
                Some(
                    "a path, or a URL on the plan's target: loadcast sends load to one origin only",
                ),
            );
            return None;
        }
        // Keep what follows the origin (the origin itself had no template: it matched).
        let mut parts = template.parts;
        if let Some(template::Part::Text(first)) = parts.first_mut() {
            let after_scheme = first.find("://").map_or(0, |i| i + 3);
            match first[after_scheme..].find(['/', '?']) {
                Some(i) => *first = first[after_scheme + i..].to_string(),
                None => *first = "/".to_string(),
            }
        }
        Some(Template { parts })
    }

    fn body(&mut self, step: &RawStep, key: &str) -> Option<Body> {
        let given = [
            step.body.is_some(),
            step.json.is_some(),
            step.body_file.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given > 1 {
            let at = step
                .json
                .as_ref()
                .map(|j| j.span())
                .or(step.body_file.as_ref().map(|b| b.span()))
                .unwrap_or_default();
            let d = self.source.diagnostic(
                at,
                key,
                "a step has at most one of body, json and body_file",
                Some("one body per request"),
            );
            self.diagnostics.push(d);
            return None;
        }
        if let Some(text) = &step.body {
            let template = self.template(text, &format!("{key}.body"), Escape::None)?;
            return Some(fixed_or_template(template, None));
        }
        if let Some(json) = &step.json {
            return match template::json_template(json.get_ref(), &self.names) {
                Ok(template) => Some(fixed_or_template(template, Some("application/json"))),
                Err(message) => {
                    self.error(json, format!("{key}.json"), message, None);
                    None
                }
            };
        }
        if let Some(file) = &step.body_file {
            let path = self.base_dir.join(file.get_ref());
            return match std::fs::read(&path) {
                Ok(content) => Some(Body::Bytes {
                    content,
                    content_type: None,
                }),
                Err(e) => {
                    self.error(
                        file,
                        format!("{key}.body_file"),
                        format!("cannot read {}: {e}", path.display()),
                        Some("a file path relative to the plan"),
                    );
                    None
                }
            };
        }
        Some(Body::Empty)
    }

    fn captures(
        &mut self,
        raw: &BTreeMap<String, Spanned<String>>,
        key: &str,
    ) -> Option<Vec<Capture>> {
        const EXPECTED: &str = "\"json:/token\" (JSON pointer), \"json:$.data.token\", \
                                \"header:x-request-id\" or \"regex:id=(\\\\d+)\"";
        let mut captures = Vec::new();
        let mut ok = true;
        for (name, spec) in raw {
            let key = format!("{key}.{name}");
            let var = self.names.variables.iter().position(|v| v == name)?;
            let source = match spec.get_ref().split_once(':') {
                Some(("json", path)) => json_pointer(path.trim()).map(CaptureSource::Json),
                Some(("header", header)) => HeaderName::from_bytes(header.trim().as_bytes())
                    .ok()
                    .map(CaptureSource::Header),
                Some(("regex", pattern)) => match regex::Regex::new(pattern) {
                    Ok(re) => Some(CaptureSource::Regex(re)),
                    Err(e) => {
                        self.error(spec, &key, format!("bad regular expression: {e}"), None);
                        ok = false;
                        continue;
                    }
                },
                _ => None,
            };
            match source {
                Some(source) => captures.push(Capture { var, source }),
                None => {
                    self.error(
                        spec,
                        &key,
                        format!("{:?} is not a capture", spec.get_ref()),
                        Some(EXPECTED),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(captures)
    }

    fn checks(&mut self, raw: &Spanned<RawCheck>, key: &str) -> Option<Checks> {
        let check = raw.get_ref();
        let mut ok = true;
        let status = match &check.status {
            None => None,
            Some(value) => {
                let codes: Option<Vec<u16>> = match value.get_ref() {
                    toml::Value::Integer(n) => u16::try_from(*n).ok().map(|c| vec![c]),
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|v| v.as_integer().and_then(|n| u16::try_from(n).ok()))
                        .collect(),
                    _ => None,
                };
                match codes.filter(|c| !c.is_empty() && c.iter().all(|c| (100..600).contains(c))) {
                    Some(codes) => Some(codes),
                    None => {
                        self.error(
                            value,
                            format!("{key}.status"),
                            format!("{} is not a status or list of statuses", value.get_ref()),
                            Some("a status such as 200 or a list such as [200, 201]"),
                        );
                        ok = false;
                        None
                    }
                }
            }
        };
        let body_contains = match &check.body {
            None => None,
            Some(text) => {
                let t = self.template(text, &format!("{key}.body"), Escape::None);
                ok &= t.is_some();
                t
            }
        };
        let mut json = Vec::new();
        for (path, expected) in &check.json {
            let key = format!("{key}.json.{path}");
            let Some(pointer) = json_pointer(path) else {
                self.error(
                    expected,
                    &key,
                    format!("{path:?} is not a JSON pointer or path"),
                    Some("\"/user/email\" or \"$.user.email\""),
                );
                ok = false;
                continue;
            };
            let expectation = match expected.get_ref() {
                toml::Value::String(s) => match Template::parse(s, Escape::None, &self.names) {
                    Ok(t) => JsonExpectation::Text(t),
                    Err(message) => {
                        self.error(expected, &key, message, None);
                        ok = false;
                        continue;
                    }
                },
                other => match serde_json::to_value(other) {
                    Ok(v) => JsonExpectation::Value(v),
                    Err(e) => {
                        self.error(expected, &key, e.to_string(), None);
                        ok = false;
                        continue;
                    }
                },
            };
            json.push((pointer, expectation));
        }
        let max_latency = match &check.latency {
            None => None,
            Some(l) => {
                let d = self.unit(l, &format!("{key}.latency"), units::parse_duration);
                ok &= d.is_some();
                d
            }
        };
        ok.then_some(Checks {
            status,
            body_contains,
            json,
            max_latency,
        })
    }

    fn load(&mut self, raw: &Spanned<RawLoad>, prefix: &str) -> Option<Load> {
        let load = raw.get_ref();
        match load.model.get_ref().as_str() {
            "open" => self.open_load(raw, prefix),
            "closed" => self.closed_load(raw, prefix),
            other => {
                self.error(
                    &load.model,
                    format!("{prefix}.model"),
                    format!("{other:?} is not a load model"),
                    Some("\"open\" (arrival rate) or \"closed\" (looping virtual users)"),
                );
                None
            }
        }
    }

    /// The stage list, from `stages = [...]` or the `duration` shorthand with one stage.
    fn stage_list<T>(
        &mut self,
        raw: &Spanned<RawLoad>,
        shorthand: Option<&Spanned<T>>,
        shorthand_key: &str,
        prefix: &str,
    ) -> Option<Vec<(Spanned<String>, Option<usize>)>> {
        let load = raw.get_ref();
        match (&load.stages, shorthand, &load.duration) {
            (Some(stages), None, None) if !stages.is_empty() => Some(
                stages
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.get_ref().over.clone(), Some(i)))
                    .collect(),
            ),
            (None, Some(_), Some(duration)) => Some(vec![(duration.clone(), None)]),
            _ => {
                self.error(
                    raw,
                    prefix,
                    format!("the load needs either `stages` or `{shorthand_key}` with `duration`"),
                    Some(&format!(
                        "stages = [{{ {shorthand_key} = …, over = \"1m\" }}] or {shorthand_key} = … with duration = \"1m\""
                    )),
                );
                None
            }
        }
    }

    fn open_load(&mut self, raw: &Spanned<RawLoad>, prefix: &str) -> Option<Load> {
        let load = raw.get_ref();
        if let Some(users) = &load.users {
            self.error(
                users,
                format!("{prefix}.users"),
                "`users` belongs to the closed model",
                Some("`rate` in an open-model load"),
            );
        }
        if let Some(pacing) = &load.pacing {
            self.error(
                pacing,
                format!("{prefix}.pacing"),
                "`pacing` belongs to the closed model",
                Some("the arrival rate sets the pace in an open model"),
            );
        }
        let list = self.stage_list(raw, load.rate.as_ref(), "rate", prefix)?;
        let mut stages = Vec::new();
        let mut ok = true;
        for (over, index) in list {
            let (rate, key) = match index {
                Some(i) => {
                    let stage = load.stages.as_ref()?[i].get_ref();
                    let Some(rate) = stage.rate.as_ref() else {
                        let s = &load.stages.as_ref()?[i];
                        self.error(
                            s,
                            format!("{prefix}.stages[{i}]"),
                            "an open-model stage needs `rate`",
                            Some("{ rate = \"100/s\", over = \"1m\" }"),
                        );
                        ok = false;
                        continue;
                    };
                    (rate.clone(), format!("{prefix}.stages[{i}]"))
                }
                None => (load.rate.clone()?, prefix.to_string()),
            };
            let range = self.unit(&rate, &format!("{key}.rate"), units::parse_rate_range);
            let over_key = if index.is_some() {
                format!("{key}.over")
            } else {
                format!("{prefix}.duration")
            };
            let over = self.unit(&over, &over_key, units::parse_duration);
            match (range, over) {
                (Some((from, to)), Some(over)) => stages.push(RateStage { from, to, over }),
                _ => ok = false,
            }
        }
        let max_in_flight = match &load.max_in_flight {
            None => DEFAULT_MAX_IN_FLIGHT,
            Some(m) if (1..=1_000_000).contains(m.get_ref()) => *m.get_ref() as u32,
            Some(m) => {
                self.error(
                    m,
                    format!("{prefix}.max_in_flight"),
                    format!("{} is out of range", m.get_ref()),
                    Some("a whole number from 1 to 1000000"),
                );
                return None;
            }
        };
        let late_after = match &load.late_after {
            None => DEFAULT_LATE_AFTER,
            Some(l) => self.unit(l, &format!("{prefix}.late_after"), units::parse_duration)?,
        };
        let preallocate = match &load.preallocate {
            None => 0,
            Some(p) if (0..=i64::from(max_in_flight)).contains(p.get_ref()) => *p.get_ref() as u32,
            Some(p) => {
                self.error(
                    p,
                    format!("{prefix}.preallocate"),
                    format!("{} is out of range", p.get_ref()),
                    Some(&format!(
                        "a whole number from 0 to max_in_flight ({max_in_flight})"
                    )),
                );
                return None;
            }
        };
        let open = OpenLoad {
            stages,
            max_in_flight,
            late_after,
            preallocate,
        };
        if ok && open.expected_arrivals() < 1.0 {
            self.error(
                raw,
                prefix,
                "the schedule asks for no arrival at all",
                Some("a rate above zero for some time"),
            );
            return None;
        }
        (ok && load.users.is_none() && load.pacing.is_none()).then_some(Load::Open(open))
    }

    fn closed_load(&mut self, raw: &Spanned<RawLoad>, prefix: &str) -> Option<Load> {
        let load = raw.get_ref();
        if let Some(rate) = &load.rate {
            self.error(
                rate,
                format!("{prefix}.rate"),
                "`rate` belongs to the open model",
                Some("`users` in a closed-model load"),
            );
        }
        if let Some(m) = &load.max_in_flight {
            self.error(
                m,
                format!("{prefix}.max_in_flight"),
                "`max_in_flight` belongs to the open model",
                Some("the number of users bounds a closed model"),
            );
        }
        let list = self.stage_list(raw, load.users.as_ref(), "users", prefix)?;
        let mut stages = Vec::new();
        let mut ok = true;
        for (over, index) in list {
            let (users, key) = match index {
                Some(i) => {
                    let s = &load.stages.as_ref()?[i];
                    let Some(users) = s.get_ref().users.as_ref() else {
                        self.error(
                            s,
                            format!("{prefix}.stages[{i}]"),
                            "a closed-model stage needs `users`",
                            Some("{ users = 50, over = \"1m\" }"),
                        );
                        ok = false;
                        continue;
                    };
                    (users.clone(), format!("{prefix}.stages[{i}]"))
                }
                None => (load.users.clone()?, prefix.to_string()),
            };
            let users = self.users(&users, &format!("{key}.users"));
            let over_key = if index.is_some() {
                format!("{key}.over")
            } else {
                format!("{prefix}.duration")
            };
            let over = self.unit(&over, &over_key, units::parse_duration);
            match (users, over) {
                (Some((from, to)), Some(over)) => stages.push(UserStage { from, to, over }),
                _ => ok = false,
            }
        }
        let pacing = match &load.pacing {
            None => None,
            Some(p) => Some(self.unit(p, &format!("{prefix}.pacing"), units::parse_duration)?),
        };
        let closed = ClosedLoad { stages, pacing };
        if ok && closed.peak_users() == 0 {
            self.error(
                raw,
                prefix,
                "the schedule never has a user",
                Some("at least one virtual user"),
            );
            return None;
        }
        (ok && load.rate.is_none() && load.max_in_flight.is_none()).then_some(Load::Closed(closed))
    }

    fn users(&mut self, value: &Spanned<toml::Value>, key: &str) -> Option<(u32, u32)> {
        const EXPECTED: &str = "a number of users such as 50 or a ramp such as \"0..50\"";
        match value.get_ref() {
            toml::Value::Integer(n) if (0..=10_000_000).contains(n) => Some((*n as u32, *n as u32)),
            toml::Value::String(s) => match units::parse_user_range(s) {
                Ok(range) => Some(range),
                Err(expected) => {
                    self.error(value, key, format!("{s:?} is not valid"), Some(expected));
                    None
                }
            },
            other => {
                self.error(value, key, format!("{other} is not valid"), Some(EXPECTED));
                None
            }
        }
    }

    fn thresholds(
        &mut self,
        raw: &std::collections::BTreeMap<String, Spanned<toml::Value>>,
        request_names: &[String],
    ) -> Vec<Threshold> {
        let mut thresholds = Vec::new();
        for (key, value) in raw {
            match value.get_ref() {
                toml::Value::Table(scoped) => {
                    if !request_names.iter().any(|n| n == key) {
                        self.error(
                            value,
                            format!("slo.{key}"),
                            format!("no request is named {key:?}"),
                            Some(&format!("a step name: {}", request_names.join(", "))),
                        );
                        continue;
                    }
                    for (metric, limit) in scoped {
                        if let Some(t) = self.threshold(Some(key), metric, limit, value) {
                            thresholds.push(t);
                        }
                    }
                }
                limit => {
                    if let Some(t) = self.threshold(None, key, limit, value) {
                        thresholds.push(t);
                    }
                }
            }
        }
        thresholds
    }

    fn threshold(
        &mut self,
        scope: Option<&String>,
        metric_name: &str,
        limit: &toml::Value,
        at: &Spanned<toml::Value>,
    ) -> Option<Threshold> {
        let key = match scope {
            Some(s) => format!("slo.{s}.{metric_name}"),
            None => format!("slo.{metric_name}"),
        };
        let Some(metric) = Metric::parse(metric_name) else {
            self.error(
                at,
                &key,
                format!("{metric_name:?} is not an SLO metric"),
                Some("p50, p90, p95, p99, p99.9, mean, max or errors"),
            );
            return None;
        };
        let parsed = match (metric.is_latency(), limit) {
            (true, toml::Value::String(s)) => units::parse_duration(s).map(|d| d.as_secs_f64()),
            (false, toml::Value::String(s)) => units::parse_fraction(s),
            (false, toml::Value::Float(f)) => units::parse_fraction(&f.to_string()),
            (true, _) => Err("a duration such as \"300ms\""),
            (false, _) => Err("a percentage such as \"0.5%\""),
        };
        match parsed {
            Ok(limit) => Some(Threshold {
                scope: scope.cloned(),
                metric,
                limit,
            }),
            Err(expected) => {
                self.error(at, &key, format!("{limit} is not valid"), Some(expected));
                None
            }
        }
    }
}

/// Every name a step captures, in plan order: templates anywhere may read them, since a
/// virtual user keeps its captures from one iteration to the next.
fn capture_names(scenarios: &[Spanned<RawScenario>]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for scenario in scenarios {
        for step in &scenario.get_ref().steps {
            for name in step.get_ref().capture.keys() {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
    }
    names
}

fn fixed_or_template(template: Template, content_type: Option<&'static str>) -> Body {
    match template.as_static() {
        Some(text) => Body::Bytes {
            content: text.into_bytes(),
            content_type,
        },
        None => Body::Template {
            template,
            content_type,
        },
    }
}

/// A JSON pointer (`/a/0/b`), or a simple JSONPath (`$.a[0].b`, `$['a']`) turned into one.
pub(crate) fn json_pointer(path: &str) -> Option<String> {
    if path.is_empty() || path.starts_with('/') {
        return Some(path.to_string());
    }
    let rest = path.strip_prefix('$')?;
    let mut pointer = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut key = String::new();
                while let Some(&c) = chars.peek() {
                    if c == '.' || c == '[' {
                        break;
                    }
                    key.push(c);
                    chars.next();
                }
                if key.is_empty() {
                    return None;
                }
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            '[' => {
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    inner.push(c);
                }
                let key = inner.trim().trim_matches(['\'', '"']);
                if key.is_empty() {
                    return None;
                }
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            _ => return None,
        }
    }
    Some(pointer)
}

fn parse_think(text: &str) -> Result<ThinkTime, &'static str> {
    const EXPECTED: &str =
        "a think time such as \"2s\", a range such as \"1s..4s\" or a mean such as \"exp(2s)\"";
    if let Some(mean) = text
        .trim()
        .strip_prefix("exp(")
        .and_then(|m| m.strip_suffix(')'))
    {
        return units::parse_duration(mean)
            .map(ThinkTime::Exponential)
            .map_err(|_| EXPECTED);
    }
    match text.split_once("..") {
        None => units::parse_duration(text)
            .map(ThinkTime::Fixed)
            .map_err(|_| EXPECTED),
        Some((low, high)) => {
            let low = units::parse_duration(low).map_err(|_| EXPECTED)?;
            let high = units::parse_duration(high).map_err(|_| EXPECTED)?;
            if low > high {
                return Err(EXPECTED);
            }
            Ok(ThinkTime::Uniform(low, high))
        }
    }
}

/// Replaces `${env:NAME}` with the environment variable's value; a missing variable is an error,
/// never an empty string.
pub fn expand_env(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${env:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 6..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `${{env:` in {text:?}"))?;
        let name = &after[..end];
        let value =
            std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
