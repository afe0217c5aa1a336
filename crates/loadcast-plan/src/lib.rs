//! The loadcast plan file: one readable TOML file that says what to test, how hard and what
//! counts as passing.
//!
//! Parsing happens in two steps, as in ripgrep's low-/high-level arguments: a raw serde mirror
//! (`deny_unknown_fields`, with spans) and then validation into a typed [`Plan`] with real units
//! (durations, rates, percentages). Every problem becomes a [`Diagnostic`] naming line, column,
//! key path, the value found and what was expected; all problems are reported at once.
//!
//! ```
//! let plan = loadcast_plan::parse(r#"
//! target = "http://127.0.0.1:8080"
//! [slo]
//! p99 = "300ms"
//! [[scenario]]
//! name = "home"
//! [[scenario.step]]
//! get = "/"
//! [load]
//! model = "open"
//! stages = [{ rate = "0..100/s", over = "30s" }, { rate = "100/s", over = "1m" }]
//! "#, "plan.toml".as_ref()).unwrap();
//! assert_eq!(plan.duration().as_secs(), 90);
//!
//! let err = loadcast_plan::parse("target = 'http://127.0.0.1'\n[load]\nmodel = 'open'\nrate = '12OO/s'\nduration = '1m'\n[[scenario]]\n[[scenario.step]]\nget = '/'\n", "p.toml".as_ref()).unwrap_err();
//! assert!(err.to_string().starts_with("p.toml:4:8: `load.rate`"));
//! ```

pub mod database;
mod error;
pub mod feeder;
pub mod har;
pub mod kubernetes;
mod lint;
mod model;
pub mod pgbench;
mod raw;
mod read;
pub mod resolve;
pub mod study;
pub mod suggest;
pub mod template;
pub mod units;
mod validate;
pub mod watch;

use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

pub use database::{
    ColumnSpec, DatabaseSpec, DatabaseUrl, Generator, RowsTarget, TableSpec, is_mysql_url,
    is_postgres_url, redact_url,
};
pub use error::{Diagnostic, PlanError};
pub use feeder::{Feeder, FeederData, FeederStrategy};
pub use lint::Lint;
pub use model::*;
pub use resolve::ResolvedPlan;
pub use study::{StudySettings, study_spec};
pub use validate::{Placeholders, expand_env, placeholders};

/// Reads and validates a plan file.
pub fn load(path: &Path) -> Result<Plan, PlanError> {
    let text = std::fs::read_to_string(path).map_err(|source| PlanError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Validates plan text; `path` names the file in errors and anchors relative paths. Every
/// problem found is reported at once: unknown keys, then what validation finds in the rest.
pub fn parse(text: &str, path: &Path) -> Result<Plan, PlanError> {
    let (raw, mut diagnostics) = read::read(text);
    let plan = raw.and_then(|raw| {
        let mut validator = validate::Validator::new(text, path);
        let plan = validator.plan(raw, path, hex_sha256(text.as_bytes()));
        diagnostics.extend(validator.finish());
        plan
    });
    match plan {
        Some(plan) if diagnostics.is_empty() => Ok(plan),
        _ => {
            diagnostics.sort_by_key(|d| (d.line, d.column));
            Err(PlanError::Invalid {
                path: path.to_path_buf(),
                diagnostics,
            })
        }
    }
}

/// The files a plan's text names relative to itself (feeders, history, events, request bodies):
/// what has to travel with it when it is read from somewhere else (object storage).
pub fn referenced_files(text: &str) -> Vec<String> {
    let Some(raw) = read::read(text).0 else {
        return Vec::new();
    };
    let mut files: Vec<String> = Vec::new();
    for feeder in raw.feeders.values() {
        let f = feeder.get_ref();
        files.extend(f.csv.iter().chain(&f.jsonl).map(|p| p.get_ref().clone()));
    }
    if let Some(h) = &raw.history {
        let h = h.get_ref();
        files.push(h.csv.get_ref().clone());
        files.extend(h.events.iter().map(|e| e.get_ref().clone()));
    }
    for scenario in &raw.scenarios {
        for step in &scenario.get_ref().steps {
            files.extend(step.get_ref().body_file.iter().map(|b| b.get_ref().clone()));
        }
    }
    files.retain(|f| !Path::new(f).is_absolute() && !f.split('/').any(|part| part == ".."));
    files.sort();
    files.dedup();
    files
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl Plan {
    /// What the plan will do, in words, for `loadcast plan check`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "plan      {}", self.name);
        let _ = writeln!(out, "target    {}", self.target.url());
        let version = match self.http.version {
            HttpVersion::Auto if self.target.is_tls() => "HTTP/2 or HTTP/1.1 (ALPN)",
            HttpVersion::Auto | HttpVersion::Http1 => "HTTP/1.1",
            HttpVersion::Http2 if self.target.is_tls() => "HTTP/2 (ALPN)",
            HttpVersion::Http2 => "HTTP/2 with prior knowledge (h2c)",
        };
        let steps = || self.scenarios.iter().flat_map(|s| &s.steps);
        let http = steps().any(|s| matches!(s, Step::Request(_)));
        let _ = writeln!(
            out,
            "{}timeout {}, connect timeout {}, graceful stop {}{}",
            if http {
                format!("http      {version}; ")
            } else {
                "sql       ".to_string()
            },
            humantime::format_duration(self.http.timeout),
            humantime::format_duration(self.http.connect_timeout),
            humantime::format_duration(self.http.graceful_stop),
            if self.http.insecure {
                "; certificates NOT verified"
            } else {
                ""
            }
        );
        if !self.feeders.is_empty() {
            let _ = writeln!(out, "feeders");
            for f in &self.feeders {
                let _ = writeln!(
                    out,
                    "  {} ← {} ({} rows; columns {}; {})",
                    f.name,
                    f.path.display(),
                    f.data.rows(),
                    f.data.columns().join(", "),
                    f.strategy.name()
                );
            }
        }
        if http {
            let _ = writeln!(
                out,
                "users     {} cookies, {} connections",
                if self.http.cookies { "own" } else { "no" },
                match self.http.connections {
                    ConnectionMode::PerUser => "own",
                    ConnectionMode::Shared => "shared",
                }
            );
        }
        let sql_to_plan_database = self
            .scenarios
            .iter()
            .any(|s| s.database.is_none() && s.steps.iter().any(Step::is_sql));
        if let (true, Some(db)) = (sql_to_plan_database, &self.database) {
            let _ = writeln!(
                out,
                "sql to    {}: {}",
                database::redact_url(&db.url),
                match db.pool {
                    None => "each user its own connection".to_string(),
                    Some(n) => format!("a pool of {n} connections the users share"),
                }
            );
        }
        let _ = writeln!(
            out,
            "load      {} model, {} in all",
            self.model_name(),
            humantime::format_duration(self.duration())
        );
        for group in self.groups() {
            let total_weight: u32 = group
                .scenarios
                .iter()
                .map(|i| self.scenarios[*i].weight)
                .sum();
            for &i in &group.scenarios {
                let s = &self.scenarios[i];
                let share = 100.0 * f64::from(s.weight) / f64::from(total_weight.max(1));
                let own_database = s.database.as_ref().map_or(String::new(), |url| {
                    format!(", SQL to {}", database::redact_url(url.as_str()))
                });
                let _ = writeln!(
                    out,
                    "  scenario {} ({share:.0}% of iterations){own_database}",
                    s.name
                );
                for step in &s.steps {
                    let _ = writeln!(out, "    {}", describe_step(step));
                }
            }
            describe_load(group.load, &mut out);
        }
        if self.thresholds.is_empty() {
            let _ = writeln!(out, "slo       none (the run always passes)");
        } else {
            let _ = writeln!(out, "slo");
            for t in &self.thresholds {
                let _ = writeln!(out, "  {t}");
            }
        }
        self.describe_data(&mut out);
        out
    }

    /// `[history]`, `[horizon]`, `[database]`, `[capacity]` and `[watch]`, as `plan check` shows them.
    fn describe_data(&self, out: &mut String) {
        if let Some(h) = &self.history {
            let data: Vec<String> = h
                .data
                .iter()
                .map(|(n, c)| match h.shapes.iter().find(|(s, _)| s == n) {
                    Some((_, shape)) => format!("{n} ← {c}, pinned {}", shape.name()),
                    None => format!("{n} ← {c}"),
                })
                .collect();
            let _ = writeln!(
                out,
                "history   {} (traffic {}; data {})",
                h.csv.display(),
                if h.traffic.is_empty() {
                    "none".to_string()
                } else {
                    h.traffic.join(", ")
                },
                if data.is_empty() {
                    "none".to_string()
                } else {
                    data.join("; ")
                }
            );
            if let Some(r) = &h.resample {
                let _ = writeln!(out, "  resampled to {}", humantime::format_duration(r.step));
            }
            if let Some(clock) = &h.clock {
                let _ = writeln!(out, "  modelled on {}'s wall clock", clock.name());
            }
            if let Some(e) = &h.events {
                let _ = writeln!(out, "  events kept out of the fit: {}", e.display());
            }
        }
        if let Some(h) = &self.horizon {
            let _ = writeln!(
                out,
                "horizon   {} ahead; traffic at {}, data at {}",
                humantime::format_duration(h.until),
                h.traffic,
                h.data
            );
        }
        if let Some(db) = &self.database {
            let _ = writeln!(
                out,
                "database  {}{}",
                database::redact_url(&db.url),
                if db.require_marker {
                    " (grown only with its loadcast_target marker)"
                } else {
                    " (no marker required)"
                }
            );
            for t in &db.tables {
                let _ = writeln!(out, "  {} to {}", t.name, t.rows);
            }
        }
        if let Some(c) = &self.capacity {
            let scales: Vec<String> = std::iter::once("1x".to_string())
                .chain(c.data_scales.iter().map(ToString::to_string))
                .collect();
            let _ = writeln!(
                out,
                "capacity  from {}, ×{} per step, {} each{}; data scales {}{}",
                c.from.map_or("50/s".into(), |r| format!("{r}/s")),
                c.factor.unwrap_or(1.5),
                humantime::format_duration(c.hold.unwrap_or(std::time::Duration::from_secs(10))),
                match c.repeat {
                    Some(n) if n > 1 => format!("; {n} searches per scale, their median"),
                    _ => String::new(),
                },
                scales.join(", "),
                c.table
                    .as_ref()
                    .map_or(String::new(), |t| format!(" (volume: rows of {t})"))
            );
        }
        if let Some(w) = &self.watch {
            let d = loadcast_stats::time::duration_words;
            let _ = writeln!(
                out,
                "watch     {} every {}, {} of history at {}: traffic {}{}{}",
                database::redact_url(&w.prometheus),
                d(w.interval),
                d(w.since),
                d(w.step),
                w.traffic,
                w.data
                    .as_ref()
                    .map_or(String::new(), |q| format!("; data {q}")),
                w.latency_p99
                    .as_ref()
                    .map_or(String::new(), |q| format!("; p99 {q}"))
            );
        }
    }
}

fn describe_step(step: &Step) -> String {
    let d = humantime::format_duration;
    match step {
        Step::Request(r) => {
            let body = match &r.body {
                Body::Empty => String::new(),
                Body::Bytes { content, .. } => format!(" with a {}-byte body", content.len()),
                Body::Template { .. } => " with a templated body".to_string(),
            };
            let mut extras = Vec::new();
            if !r.captures.is_empty() {
                extras.push(format!("captures {}", r.captures.len()));
            }
            if !r.checks.is_empty() {
                extras.push("checked".to_string());
            }
            let extras = if extras.is_empty() {
                String::new()
            } else {
                format!(" ({})", extras.join(", "))
            };
            format!("{} {}{body}{extras}  [{}]", r.method, r.shown_url, r.name)
        }
        Step::Sql(s) => describe_statement(s),
        Step::Transaction(t) => {
            let retries = match t.retries {
                0 => String::new(),
                n => format!(", retried up to {n}× on a conflict"),
            };
            let statements: Vec<String> = t
                .statements
                .iter()
                .map(|s| format!("\n      {}", describe_statement(s)))
                .collect();
            format!(
                "transaction of {}{retries}  [{}]{}",
                count(t.statements.len(), "statement"),
                t.name,
                statements.concat()
            )
        }
        Step::Set(values) => format!(
            "set {} value{}",
            values.len(),
            if values.len() == 1 { "" } else { "s" }
        ),
        Step::Think(ThinkTime::Fixed(t)) => format!("think {}", d(*t)),
        Step::Think(ThinkTime::Uniform(a, b)) => format!("think {}..{}", d(*a), d(*b)),
        Step::Think(ThinkTime::Exponential(m)) => format!("think exp(mean {})", d(*m)),
    }
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn describe_statement(s: &SqlSpec) -> String {
    let mut extras = Vec::new();
    if !s.params.is_empty() {
        extras.push(count(s.params.len(), "param"));
    }
    if !s.captures.is_empty() {
        extras.push(format!("captures {}", s.captures.len()));
    }
    if !s.checks.is_empty() {
        extras.push("checked".to_string());
    }
    let extras = if extras.is_empty() {
        String::new()
    } else {
        format!(" ({})", extras.join(", "))
    };
    let one_line = s.sql.split_whitespace().collect::<Vec<_>>().join(" ");
    // An unnamed statement is reported under its own (shortened) text: no name to add.
    let shortened = s
        .name
        .strip_suffix('…')
        .is_some_and(|cut| one_line.starts_with(cut));
    if one_line == s.name || shortened {
        format!("SQL {one_line}{extras}")
    } else {
        format!("SQL {one_line}{extras}  [{}]", s.name)
    }
}

fn describe_load(load: &Load, out: &mut String) {
    match load {
        Load::Open(open) => {
            for s in &open.stages {
                let _ = writeln!(
                    out,
                    "  {} → {} over {}",
                    units::format_rate(s.from),
                    units::format_rate(s.to),
                    humantime::format_duration(s.over)
                );
            }
            let _ = writeln!(
                out,
                "  ≈ {:.0} iterations, peak {}, at most {} in flight",
                open.expected_arrivals(),
                units::format_rate(open.peak_rate()),
                open.max_in_flight
            );
        }
        Load::Closed(closed) => {
            for s in &closed.stages {
                let _ = writeln!(
                    out,
                    "  {} → {} users over {}",
                    s.from,
                    s.to,
                    humantime::format_duration(s.over)
                );
            }
            if let Some(p) = closed.pacing {
                let _ = writeln!(
                    out,
                    "  each user starts an iteration at most every {}",
                    humantime::format_duration(p)
                );
            }
        }
    }
}
