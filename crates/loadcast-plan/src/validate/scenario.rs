//! `[[scenario]]` and its steps: requests, bodies, captures, checks and think times.

use super::*;

impl Validator<'_> {
    pub(super) fn scenarios(
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
            let database = match &s.database {
                None => None,
                Some(url) => match self.scenario_database(url, &format!("{key}.database")) {
                    Some(url) => Some(url),
                    None => {
                        ok = false;
                        None
                    }
                },
            };
            // Placeholders follow the database the steps go to: `?` for MySQL, `$1` otherwise.
            let plan_mysql = self.mysql;
            if let Some(url) = &database {
                self.mysql = is_mysql_url(url.as_str());
            }
            let mut steps = Vec::new();
            for (j, step) in s.steps.iter().enumerate() {
                match self.step(step, &format!("{key}.step[{j}]"), target) {
                    Some(step) => steps.push(step),
                    None => ok = false,
                }
            }
            self.mysql = plan_mysql;
            if let (Some(url), true) = (&s.database, steps.len() == s.steps.len()) {
                if !steps.iter().any(Step::is_sql) {
                    self.error(
                        url,
                        format!("{key}.database"),
                        format!("scenario {name:?} names a database but has no SQL step"),
                        Some("sql = \"…\" steps, or no database key"),
                    );
                    ok = false;
                }
            }
            // Only when every step was valid: a step that failed already has its own error.
            let all_valid = steps.len() == s.steps.len();
            if all_valid
                && !s.steps.is_empty()
                && steps
                    .iter()
                    .all(|s| matches!(s, Step::Think(_) | Step::Set(_)))
            {
                self.error(
                    spanned,
                    &key,
                    format!("scenario {name:?} sends no request"),
                    Some("at least one request (get = \"/\", post = …) or statement (sql = \"…\")"),
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
                database,
            });
        }
        ok.then_some(scenarios)
    }

    /// A scenario's `database = "postgres://…"`, `${env:…}` expanded.
    fn scenario_database(&mut self, raw: &Spanned<String>, key: &str) -> Option<DatabaseUrl> {
        let url = self.env(raw, key)?;
        if is_postgres_url(&url) || is_mysql_url(&url) {
            return Some(DatabaseUrl(url));
        }
        self.error(
            raw,
            key,
            format!(
                "{:?} is not a database URL SQL steps can use",
                redact_url(&url)
            ),
            Some("postgres://user@host/db or mysql://user@host/db"),
        );
        None
    }

    pub(super) fn step(
        &mut self,
        spanned: &Spanned<RawStep>,
        key: &str,
        target: Option<&Target>,
    ) -> Option<Step> {
        let step = spanned.get_ref();
        if !step.set.is_empty() {
            return self.set_step(spanned, key);
        }
        if step.sql.is_some() || step.transaction.is_some() {
            return self.sql_step(spanned, key);
        }
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
        let base = target.map_or("", |t| t.base_path.as_str());
        let shown_url = if url.get_ref().starts_with('/') {
            format!("{base}{}", url.get_ref())
        } else {
            url.get_ref().clone()
        };
        Some(Step::Request(Box::new(RequestSpec {
            name,
            method,
            path: path?,
            shown_url,
            headers: headers?,
            body: body?,
            timeout: timeout?,
            captures: captures?,
            checks: checks?,
        })))
    }

    /// `set = { name = "{{…}}" }`: nothing else on the step, and no value reading another of
    /// the same step (they are drawn together, in no order).
    fn set_step(&mut self, spanned: &Spanned<RawStep>, key: &str) -> Option<Step> {
        let step = spanned.get_ref();
        let alone = step.shorthands().is_empty()
            && step.method.is_none()
            && step.url.is_none()
            && step.sql.is_none()
            && step.transaction.is_none()
            && step.think.is_none()
            && step.capture.is_empty()
            && step.check.is_none();
        if !alone {
            self.error(
                spanned,
                key,
                "a set step only sets values",
                Some("a separate [[scenario.step]] with set = { aid = \"{{rand(1, 100000)}}\" }"),
            );
            return None;
        }
        let mut values = Vec::new();
        let mut ok = true;
        for (name, text) in &step.set {
            let key = format!("{key}.set.{name}");
            if !self.value_name_is_free(text, &key, name) {
                ok = false;
                continue;
            }
            let var = self.names.variables.iter().position(|v| v == name)?;
            match self.template(text, &key, Escape::None) {
                Some(t) => values.push((var, t)),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let set: Vec<usize> = values.iter().map(|(v, _)| *v).collect();
        for ((name, text), (_, template)) in step.set.iter().zip(&values) {
            if template.vars().any(|v| set.contains(&v)) {
                self.error(
                    text,
                    format!("{key}.set.{name}"),
                    "a value cannot read another value of the same set step",
                    Some("a set step of its own for each value that reads another"),
                );
                ok = false;
            }
        }
        ok.then_some(Step::Set(values))
    }

    /// A step's URL: a path joined to the target, or an absolute URL on the target's own origin;
    /// either may hold templates, which are checked with a stand-in value.
    pub(super) fn step_url(
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

    pub(super) fn body(&mut self, step: &RawStep, key: &str) -> Option<Body> {
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
            let expanded = self.env_in_json(json, &format!("{key}.json"))?;
            return match template::json_template(&expanded, &self.names) {
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

    pub(super) fn captures(
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
            if !self.value_name_is_free(spec, &key, name) {
                ok = false;
                continue;
            }
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

    pub(super) fn checks(&mut self, raw: &Spanned<RawCheck>, key: &str) -> Option<Checks> {
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
        let max_latency =
            self.optional_duration(&check.latency, &format!("{key}.latency"), &mut ok);
        ok.then_some(Checks {
            status,
            body_contains,
            json,
            max_latency,
        })
    }
}

/// Every name a step captures, in plan order: templates anywhere may read them, since a
/// virtual user keeps its captures from one iteration to the next.
pub(super) fn capture_names(scenarios: &[Spanned<RawScenario>]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for scenario in scenarios {
        for step in &scenario.get_ref().steps {
            let step = step.get_ref();
            let inner = step.transaction.iter().flat_map(|t| t.get_ref());
            for name in std::iter::once(step)
                .chain(inner.map(Spanned::get_ref))
                .flat_map(|s| s.capture.keys().chain(s.set.keys()))
            {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
    }
    names
}

pub(super) fn fixed_or_template(template: Template, content_type: Option<&'static str>) -> Body {
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

pub(super) fn parse_think(text: &str) -> Result<ThinkTime, &'static str> {
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
