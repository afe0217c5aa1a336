//! Raw mirror → typed [`Plan`]. Collects every problem with its span instead of stopping at
//! the first, so a reviewer fixes a plan in one pass.

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::BTreeMap;
use std::sync::Arc;

use http::{HeaderName, HeaderValue, Method, Uri};
use loadcast_stats::{Metric, Threshold};
use toml::Spanned;

use crate::database::{
    DatabaseSpec, DatabaseUrl, Generator, RowsTarget, TableSpec, is_mysql_url, is_postgres_url,
    redact_url,
};
use crate::error::{Diagnostic, Source};
use crate::feeder::{Feeder, FeederData, FeederStrategy};
use crate::model::*;
use crate::raw::*;
use crate::template::{self, Escape, Template};
use crate::units;

mod data;
mod load;
mod scenario;
mod sql;
mod target;
mod watch;

use scenario::capture_names;
pub use sql::{Placeholders, placeholders};

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
    /// `(name, value)` of every `${env:NAME}` expanded: a value from the environment may be
    /// a secret, so no diagnostic shows it.
    env_values: Vec<(String, String)>,
    /// The plan's database is MySQL/MariaDB: SQL parameters are `?`, not `$1`.
    mysql: bool,
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
            env_values: Vec::new(),
            mysql: false,
        }
    }

    /// The diagnostics, each value that came from the environment shown as the plan wrote it.
    pub(crate) fn finish(self) -> Vec<Diagnostic> {
        let mut diagnostics = self.diagnostics;
        for (name, value) in self.env_values.iter().filter(|(_, v)| !v.is_empty()) {
            let written = format!("${{env:{name}}}");
            for d in &mut diagnostics {
                d.message = d.message.replace(value.as_str(), &written);
                if let Some(expected) = &mut d.expected {
                    *expected = expected.replace(value.as_str(), &written);
                }
            }
        }
        diagnostics
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

    /// Whether `name`, given to a captured or set value, is free: `vu`, `iteration` and `uuid`
    /// are the template's own, and `{{vu}}` would never read the value.
    fn value_name_is_free<T>(&mut self, spanned: &Spanned<T>, key: &str, name: &str) -> bool {
        if !template::BUILT_IN.contains(&name) {
            return true;
        }
        self.error(
            spanned,
            key,
            format!("{name:?} is a template's own name ({{{{{name}}}}}): a captured or set value needs another"),
            None,
        );
        false
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

    /// An optional duration (`latency = "50ms"`): `None` when absent; a bad one is reported
    /// and clears `ok`.
    fn optional_duration(
        &mut self,
        value: &Option<Spanned<String>>,
        key: &str,
        ok: &mut bool,
    ) -> Option<Duration> {
        let v = value.as_ref()?;
        let d = self.unit(v, key, units::parse_duration);
        *ok &= d.is_some();
        d
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
        match expand_env_recording(value.get_ref(), &mut self.env_values) {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(value, key, message, None);
                None
            }
        }
    }

    /// A JSON body with `${env:…}` expanded in every string, as in any other field.
    fn env_in_json(&mut self, json: &Spanned<toml::Value>, key: &str) -> Option<toml::Value> {
        fn expand(
            value: &toml::Value,
            expanded: &mut Vec<(String, String)>,
        ) -> Result<toml::Value, String> {
            Ok(match value {
                toml::Value::String(s) => toml::Value::String(expand_env_recording(s, expanded)?),
                toml::Value::Array(items) => toml::Value::Array(
                    items
                        .iter()
                        .map(|v| expand(v, expanded))
                        .collect::<Result<_, _>>()?,
                ),
                toml::Value::Table(table) => toml::Value::Table(
                    table
                        .iter()
                        .map(|(k, v)| Ok((k.clone(), expand(v, expanded)?)))
                        .collect::<Result<_, String>>()?,
                ),
                other => other.clone(),
            })
        }
        match expand(json.get_ref(), &mut self.env_values) {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(json, key, message, None);
                None
            }
        }
    }

    pub(crate) fn plan(&mut self, raw: RawPlan, path: &Path, hash: String) -> Option<Plan> {
        let target = raw.target.as_ref().map(|t| self.target(t));
        self.mysql = raw
            .database
            .as_ref()
            .is_some_and(|d| crate::database::is_mysql_url(d.get_ref().url.get_ref()));
        self.names.feeders = self.feeders(&raw.feeders);
        self.names.variables = capture_names(&raw.scenarios);
        let http = self.http(&raw.http);
        let scenarios = self.scenarios(&raw.scenarios, target.as_ref().and_then(Option::as_ref));
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
        let request_names: Option<Vec<String>> = scenarios.as_ref().map(|scenarios| {
            scenarios
                .iter()
                .flat_map(|s| &s.steps)
                .flat_map(|step| step.result_names())
                .map(str::to_string)
                .collect()
        });
        let thresholds = self.thresholds(&raw.slo, request_names.as_deref());
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
        let watch = raw.watch.as_ref().map(|w| self.watch(w));
        let target = self.target_or_database(
            target,
            scenarios.as_deref(),
            database.as_ref().and_then(Option::as_ref),
        );
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
            watch: watch.map(|w| w.ok_or(())).transpose().ok()?,
        };
        self.unique_feeders_cover_users(&plan, &raw.feeders);
        Some(plan)
    }
}

/// Replaces `${env:NAME}` with the environment variable's value; a missing variable is an error,
/// never an empty string.
pub fn expand_env(text: &str) -> Result<String, String> {
    expand_env_recording(text, &mut Vec::new())
}

/// [`expand_env`], adding each `(name, value)` it expanded to `expanded`.
fn expand_env_recording(
    text: &str,
    expanded: &mut Vec<(String, String)>,
) -> Result<String, String> {
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
        expanded.push((name.to_string(), value));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
