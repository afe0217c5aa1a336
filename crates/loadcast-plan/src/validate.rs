//! Raw mirror → typed [`Plan`]. Collects every problem with its span instead of stopping at
//! the first, so a reviewer fixes a plan in one pass.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, Uri};
use loadcast_stats::{Metric, Threshold};
use toml::Spanned;

use crate::error::{Diagnostic, Source};
use crate::model::*;
use crate::raw::*;
use crate::units;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_MAX_IN_FLIGHT: u32 = 10_000;
const DEFAULT_LATE_AFTER: Duration = Duration::from_millis(10);

pub(crate) struct Validator<'a> {
    source: Source<'a>,
    base_dir: PathBuf,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Validator<'a> {
    pub(crate) fn new(text: &'a str, path: &Path) -> Self {
        Self {
            source: Source::new(text),
            base_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            diagnostics: Vec::new(),
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
        let http = self.http(&raw.http);
        let scenarios = self.scenarios(&raw.scenarios, target.as_ref());
        let load = self.load(&raw.load);
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
        Some(Plan {
            name,
            path: path.to_path_buf(),
            hash,
            target: target?,
            http: http?,
            scenarios: scenarios?,
            load: load?,
            thresholds,
        })
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
        })
    }

    fn headers(
        &mut self,
        raw: &std::collections::BTreeMap<String, Spanned<String>>,
        key: &str,
    ) -> Option<Vec<(HeaderName, HeaderValue)>> {
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
            let Some(text) = self.env(value, &key) else {
                ok = false;
                continue;
            };
            match HeaderValue::from_str(&text) {
                Ok(v) => headers.push((header_name, v)),
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
            if !steps.iter().any(|s| matches!(s, Step::Request(_))) && !s.steps.is_empty() {
                self.error(
                    spanned,
                    &key,
                    format!("scenario {name:?} sends no request"),
                    Some("at least one request step (get = \"/\", post = …)"),
                );
                ok = false;
            }
            scenarios.push(Scenario {
                name,
                weight,
                steps,
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
            if request_keys > 0 {
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
        let path_and_query = self.step_url(url, &url_key, target)?;
        let name = step.name.as_ref().map_or_else(
            || format!("{method} {}", url.get_ref()),
            |n| n.get_ref().clone(),
        );
        let headers = self.headers(&step.headers, &format!("{key}.headers"))?;
        let body = self.body(step, key)?;
        let timeout = match &step.timeout {
            None => None,
            Some(t) => Some(self.unit(t, &format!("{key}.timeout"), units::parse_duration)?),
        };
        Some(Step::Request(RequestSpec {
            name,
            method,
            path_and_query,
            headers,
            body,
            timeout,
        }))
    }

    /// A step's URL: a path joined to the target, or an absolute URL on the target's own origin.
    fn step_url(
        &mut self,
        url: &Spanned<String>,
        key: &str,
        target: Option<&Target>,
    ) -> Option<String> {
        let text = url.get_ref();
        if text.starts_with('/') {
            if text.parse::<http::uri::PathAndQuery>().is_err() {
                self.error(
                    url,
                    key,
                    format!("{text:?} is not a valid path"),
                    Some("a path such as \"/products?page=2\" (percent-encode spaces)"),
                );
                return None;
            }
            return Some(format!(
                "{}{}",
                target.map_or("", |t| t.base_path.as_str()),
                text
            ));
        }
        let Ok(uri) = text.parse::<Uri>() else {
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
        Some(
            uri.path_and_query()
                .map_or("/".to_string(), |pq| pq.as_str().to_string()),
        )
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
            let content = self.env(text, &format!("{key}.body"))?.into_bytes();
            return Some(Body::Bytes {
                content,
                content_type: None,
            });
        }
        if let Some(json) = &step.json {
            let value =
                serde_json::to_vec(json.get_ref()).expect("a TOML value always converts to JSON");
            return Some(Body::Bytes {
                content: value,
                content_type: Some("application/json"),
            });
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

    fn load(&mut self, raw: &Spanned<RawLoad>) -> Option<Load> {
        let load = raw.get_ref();
        match load.model.get_ref().as_str() {
            "open" => self.open_load(raw),
            "closed" => self.closed_load(raw),
            other => {
                self.error(
                    &load.model,
                    "load.model",
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
                    "load",
                    format!("the load needs either `stages` or `{shorthand_key}` with `duration`"),
                    Some(&format!(
                        "stages = [{{ {shorthand_key} = …, over = \"1m\" }}] or {shorthand_key} = … with duration = \"1m\""
                    )),
                );
                None
            }
        }
    }

    fn open_load(&mut self, raw: &Spanned<RawLoad>) -> Option<Load> {
        let load = raw.get_ref();
        if let Some(users) = &load.users {
            self.error(
                users,
                "load.users",
                "`users` belongs to the closed model",
                Some("`rate` in an open-model load"),
            );
        }
        if let Some(pacing) = &load.pacing {
            self.error(
                pacing,
                "load.pacing",
                "`pacing` belongs to the closed model",
                Some("the arrival rate sets the pace in an open model"),
            );
        }
        let list = self.stage_list(raw, load.rate.as_ref(), "rate")?;
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
                            format!("load.stages[{i}]"),
                            "an open-model stage needs `rate`",
                            Some("{ rate = \"100/s\", over = \"1m\" }"),
                        );
                        ok = false;
                        continue;
                    };
                    (rate.clone(), format!("load.stages[{i}]"))
                }
                None => (load.rate.clone()?, "load".to_string()),
            };
            let range = self.unit(&rate, &format!("{key}.rate"), units::parse_rate_range);
            let over_key = if index.is_some() {
                format!("{key}.over")
            } else {
                "load.duration".into()
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
                    "load.max_in_flight",
                    format!("{} is out of range", m.get_ref()),
                    Some("a whole number from 1 to 1000000"),
                );
                return None;
            }
        };
        let late_after = match &load.late_after {
            None => DEFAULT_LATE_AFTER,
            Some(l) => self.unit(l, "load.late_after", units::parse_duration)?,
        };
        let open = OpenLoad {
            stages,
            max_in_flight,
            late_after,
        };
        if ok && open.expected_arrivals() < 1.0 {
            self.error(
                raw,
                "load",
                "the schedule asks for no arrival at all",
                Some("a rate above zero for some time"),
            );
            return None;
        }
        (ok && load.users.is_none() && load.pacing.is_none()).then_some(Load::Open(open))
    }

    fn closed_load(&mut self, raw: &Spanned<RawLoad>) -> Option<Load> {
        let load = raw.get_ref();
        if let Some(rate) = &load.rate {
            self.error(
                rate,
                "load.rate",
                "`rate` belongs to the open model",
                Some("`users` in a closed-model load"),
            );
        }
        if let Some(m) = &load.max_in_flight {
            self.error(
                m,
                "load.max_in_flight",
                "`max_in_flight` belongs to the open model",
                Some("the number of users bounds a closed model"),
            );
        }
        let list = self.stage_list(raw, load.users.as_ref(), "users")?;
        let mut stages = Vec::new();
        let mut ok = true;
        for (over, index) in list {
            let (users, key) = match index {
                Some(i) => {
                    let s = &load.stages.as_ref()?[i];
                    let Some(users) = s.get_ref().users.as_ref() else {
                        self.error(
                            s,
                            format!("load.stages[{i}]"),
                            "a closed-model stage needs `users`",
                            Some("{ users = 50, over = \"1m\" }"),
                        );
                        ok = false;
                        continue;
                    };
                    (users.clone(), format!("load.stages[{i}]"))
                }
                None => (load.users.clone()?, "load".to_string()),
            };
            let users = self.users(&users, &format!("{key}.users"));
            let over_key = if index.is_some() {
                format!("{key}.over")
            } else {
                "load.duration".into()
            };
            let over = self.unit(&over, &over_key, units::parse_duration);
            match (users, over) {
                (Some((from, to)), Some(over)) => stages.push(UserStage { from, to, over }),
                _ => ok = false,
            }
        }
        let pacing = match &load.pacing {
            None => None,
            Some(p) => Some(self.unit(p, "load.pacing", units::parse_duration)?),
        };
        let closed = ClosedLoad { stages, pacing };
        if ok && closed.peak_users() == 0 {
            self.error(
                raw,
                "load",
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

fn parse_think(text: &str) -> Result<ThinkTime, &'static str> {
    const EXPECTED: &str = "a think time such as \"2s\" or a range such as \"1s..4s\"";
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
