//! `[database]`: the test database `loadcast grow` may write to, how big each table should get,
//! and how its columns are generated. Pure data, validated here with line and column; the
//! datagen stage executes it.

use std::fmt;
use std::time::Duration;

/// The database section of a plan.
#[derive(Clone, PartialEq)]
pub struct DatabaseSpec {
    /// Connection URL (`postgres://…`, `mysql://…`, `sqlite://path`), `${env:…}` expanded.
    /// A secret: never printed whole (see [`redact_url`]).
    pub url: String,
    /// Refuse a database without the `loadcast_target` marker table (default true).
    pub require_marker: bool,
    /// How SQL steps hold connections: `None`, each virtual user its own; `Some(n)`, a pool of
    /// `n` shared by all users, as an application's pool is (a user waits for a free one).
    pub pool: Option<u32>,
    /// Sample the server's own statistics (statements, wait events, cache, tables) while the
    /// load runs, and explain the top statements at each data scale (PostgreSQL; default true).
    pub observe: bool,
    pub tables: Vec<TableSpec>,
}

impl fmt::Debug for DatabaseSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSpec")
            .field("url", &redact_url(&self.url))
            .field("require_marker", &self.require_marker)
            .field("pool", &self.pool)
            .field("observe", &self.observe)
            .field("tables", &self.tables)
            .finish()
    }
}

/// A database URL a scenario's SQL steps go to, `${env:…}` expanded: a secret, so its `Debug`
/// hides the password as [`redact_url`] does.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

/// A PostgreSQL connection URL (`postgres://`, `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A MySQL/MariaDB connection URL (`mysql://`, `mariadb://`).
pub fn is_mysql_url(url: &str) -> bool {
    url.starts_with("mysql://") || url.starts_with("mariadb://")
}

/// A URL with its password replaced by `***`, for logs and reports.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => url.to_string(),
    }
}

/// One table to grow.
#[derive(Clone, Debug, PartialEq)]
pub struct TableSpec {
    pub name: String,
    pub rows: RowsTarget,
    /// Generator overrides by column; other columns get defaults from the schema.
    pub columns: Vec<(String, ColumnSpec)>,
}

impl TableSpec {
    /// Puts `other`'s target in place of this list's table of the same name, or adds it (with
    /// the schema's default generators when it brings none).
    pub fn set_target(tables: &mut Vec<TableSpec>, other: TableSpec) {
        match tables.iter_mut().find(|t| t.name == other.name) {
            Some(table) => table.rows = other.rows,
            None => tables.push(other),
        }
    }
}

/// `orders=2000000`, `orders=2x`, `orders=horizon`: a table and its target, as a command line
/// gives it (`grow --rows`), with no column generators of its own.
impl std::str::FromStr for TableSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, target) = text
            .split_once('=')
            .filter(|(name, _)| !name.trim().is_empty())
            .ok_or("expected TABLE=TARGET, such as orders=2x")?;
        let rows = RowsTarget::parse(&toml::Value::String(target.trim().to_string()))
            .map_err(|expected| format!("{target:?} is not a target: expected {expected}"))?;
        Ok(TableSpec {
            name: name.trim().to_string(),
            rows,
            columns: Vec::new(),
        })
    }
}

/// How many rows a table should have after growth.
#[derive(Clone, Debug, PartialEq)]
pub enum RowsTarget {
    Absolute(u64),
    /// A multiple of today's count (`"2x"`).
    Multiple(f64),
    /// The forecast's projection at the horizon for a data series (the table's name unless
    /// given).
    Horizon {
        series: Option<String>,
    },
}

impl RowsTarget {
    /// `1000000`, `"2x"`, `"1.5x"`, `"horizon"`, `"horizon:orders_rows"`.
    pub fn parse(value: &toml::Value) -> Result<Self, &'static str> {
        const EXPECTED: &str =
            "a row count such as 1000000, a multiple such as \"2x\", or \"horizon\"";
        match value {
            toml::Value::Integer(n) if *n >= 0 => Ok(Self::Absolute(*n as u64)),
            toml::Value::String(s) => {
                let s = s.trim();
                if s == "horizon" {
                    return Ok(Self::Horizon { series: None });
                }
                if let Some(series) = s.strip_prefix("horizon:") {
                    return Ok(Self::Horizon {
                        series: Some(series.trim().to_string()),
                    });
                }
                if let Some(m) = s.strip_suffix('x') {
                    return m
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|m| *m >= 1.0 && m.is_finite())
                        .map(Self::Multiple)
                        .ok_or(EXPECTED);
                }
                s.replace('_', "")
                    .parse::<u64>()
                    .map(Self::Absolute)
                    .map_err(|_| EXPECTED)
            }
            _ => Err(EXPECTED),
        }
    }
}

impl fmt::Display for RowsTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowsTarget::Absolute(n) => write!(f, "{n} rows"),
            RowsTarget::Multiple(m) => write!(f, "{m}× today's rows"),
            RowsTarget::Horizon { series: None } => f.write_str("the projection at the horizon"),
            RowsTarget::Horizon { series: Some(s) } => {
                write!(f, "the projection of {s} at the horizon")
            }
        }
    }
}

/// How one column's values are made.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnSpec {
    pub generator: Generator,
    /// Share of NULLs (nullable columns only).
    pub null: f64,
}

/// A value generator.
#[derive(Clone, Debug, PartialEq)]
pub enum Generator {
    /// `start`, `start + step`, … continuing after the largest existing value.
    Sequence {
        start: i64,
        step: i64,
    },
    Uniform {
        min: f64,
        max: f64,
        integer: bool,
    },
    Normal {
        mean: f64,
        sd: f64,
    },
    LogNormal {
        median: f64,
        sigma: f64,
    },
    /// Integers `1..=n`, the smallest most frequent.
    Zipf {
        n: u64,
        exponent: f64,
    },
    /// One of the values, by weight.
    Choice {
        values: Vec<toml::Value>,
        weights: Vec<f64>,
    },
    /// Realistic fake data: `name`, `first_name`, `last_name`, `email`, `username`, `phone`,
    /// `city`, `country`, `street`, `address`, `company`, `url`, `sentence`, `paragraph`,
    /// `word`, `sku`.
    Fake(String),
    /// Words of text, between the bounds.
    Words {
        min: usize,
        max: usize,
    },
    /// Timestamps over the last `spread` before now; `growth` makes recent times likelier, as
    /// a growing business's rows are.
    Timestamp {
        spread: Duration,
        growth: bool,
    },
    /// A small JSON document.
    Json,
    Uuid,
    /// A key of an existing row of another table, skewed by `zipf` (a few customers have many
    /// orders) or uniform.
    Ref {
        table: String,
        column: String,
        zipf: Option<f64>,
    },
    Constant(toml::Value),
}

impl Generator {
    /// Parses a column spec table: `{ lognormal = { median = 38.0, sigma = 0.6 } }`,
    /// `{ ref = "customers.id", skew = "zipf(1.1)" }`, `{ spread = "365d", shape = "growth" }`,
    /// `{ choice = ["a", "b"], weights = [3, 1] }`, `{ fake = "email" }`, `{ uniform = [1, 10] }`,
    /// `{ normal = { mean = 5, sd = 1 } }`, `{ zipf = { n = 1000, s = 1.1 } }`,
    /// `{ sequence = 1 }`, `{ words = "3..12" }`, `{ json = true }`, `{ uuid = true }`,
    /// `{ value = … }`; any of them with `null = 0.05`.
    pub fn parse_column(table: &toml::value::Table) -> Result<ColumnSpec, String> {
        let number = |v: &toml::Value| -> Option<f64> {
            v.as_float().or_else(|| v.as_integer().map(|i| i as f64))
        };
        let field = |t: &toml::Value, name: &str| t.get(name).and_then(number);
        let null = match table.get("null") {
            None => 0.0,
            Some(v) => number(v)
                .filter(|n| (0.0..=1.0).contains(n))
                .ok_or("`null` is the share of NULLs, from 0 to 1")?,
        };
        let keys: Vec<&str> = table
            .keys()
            .map(String::as_str)
            .filter(|k| !["null", "skew", "weights", "shape"].contains(k))
            .collect();
        let generator = match keys.as_slice() {
            ["sequence"] => Generator::Sequence {
                start: table["sequence"]
                    .as_integer()
                    .ok_or("sequence = START (an integer)")?,
                step: 1,
            },
            ["uniform"] => {
                let bounds = table["uniform"]
                    .as_array()
                    .filter(|a| a.len() == 2)
                    .ok_or("uniform = [MIN, MAX]")?;
                let integer = bounds.iter().all(|b| b.is_integer());
                let (min, max) = (
                    number(&bounds[0]).ok_or("uniform bounds are numbers")?,
                    number(&bounds[1]).ok_or("uniform bounds are numbers")?,
                );
                if min > max {
                    return Err("uniform = [MIN, MAX] with MIN ≤ MAX".into());
                }
                Generator::Uniform { min, max, integer }
            }
            ["normal"] => {
                let t = &table["normal"];
                Generator::Normal {
                    mean: field(t, "mean").ok_or("normal = { mean = …, sd = … }")?,
                    sd: field(t, "sd")
                        .filter(|s| *s >= 0.0)
                        .ok_or("normal = { mean = …, sd = … } with sd ≥ 0")?,
                }
            }
            ["lognormal"] => {
                let t = &table["lognormal"];
                Generator::LogNormal {
                    median: field(t, "median")
                        .filter(|m| *m > 0.0)
                        .ok_or("lognormal = { median = … (> 0), sigma = … }")?,
                    sigma: field(t, "sigma")
                        .filter(|s| *s >= 0.0)
                        .ok_or("lognormal = { median = …, sigma = … (≥ 0) }")?,
                }
            }
            ["zipf"] => {
                let t = &table["zipf"];
                Generator::Zipf {
                    n: field(t, "n")
                        .filter(|n| *n >= 1.0)
                        .ok_or("zipf = { n = …, s = … }")? as u64,
                    exponent: field(t, "s")
                        .filter(|s| *s > 0.0)
                        .ok_or("zipf = { n = …, s = … (> 0) }")?,
                }
            }
            ["choice"] => {
                let values = table["choice"]
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .ok_or("choice = [VALUE, …]")?
                    .clone();
                let weights = match table.get("weights") {
                    None => vec![1.0; values.len()],
                    Some(w) => {
                        let w: Option<Vec<f64>> =
                            w.as_array().and_then(|a| a.iter().map(number).collect());
                        w.filter(|w| w.len() == values.len() && w.iter().all(|x| *x >= 0.0))
                            .ok_or("weights = [W, …], one non-negative weight per value")?
                    }
                };
                Generator::Choice { values, weights }
            }
            ["fake"] => {
                let kind = table["fake"].as_str().ok_or("fake = \"email\"")?;
                if !FAKE_KINDS.contains(&kind) {
                    return Err(format!(
                        "fake = {kind:?} is not a kind; expected one of {}",
                        FAKE_KINDS.join(", ")
                    ));
                }
                Generator::Fake(kind.to_string())
            }
            ["words"] => {
                let text = table["words"].as_str().ok_or("words = \"3..12\"")?;
                let (a, b) = text.split_once("..").unwrap_or((text, text));
                let (min, max) = (
                    a.trim().parse().map_err(|_| "words = \"3..12\"")?,
                    b.trim().parse().map_err(|_| "words = \"3..12\"")?,
                );
                if min > max || max == 0 {
                    return Err("words = \"MIN..MAX\" with MIN ≤ MAX".into());
                }
                Generator::Words { min, max }
            }
            ["spread"] => {
                let spread = table["spread"]
                    .as_str()
                    .and_then(|s| humantime::parse_duration(s).ok())
                    .ok_or(
                        "spread is how far back the timestamps reach, a duration: \
                         { spread = \"365d\", shape = \"growth\" } (shape beside spread, not inside it)",
                    )?;
                let growth = match table.get("shape").and_then(|s| s.as_str()) {
                    None | Some("growth") => true,
                    Some("uniform") => false,
                    Some(_) => return Err("shape = \"growth\" or \"uniform\"".into()),
                };
                Generator::Timestamp { spread, growth }
            }
            ["json"] => Generator::Json,
            ["uuid"] => Generator::Uuid,
            ["value"] => Generator::Constant(table["value"].clone()),
            ["ref"] => {
                let target = table["ref"].as_str().ok_or("ref = \"table.column\"")?;
                let (t, c) = target.split_once('.').ok_or("ref = \"table.column\"")?;
                let zipf = match table.get("skew").and_then(|s| s.as_str()) {
                    None | Some("uniform") => None,
                    Some(s) => Some(
                        s.strip_prefix("zipf(")
                            .and_then(|x| x.strip_suffix(')'))
                            .and_then(|x| x.trim().parse::<f64>().ok())
                            .filter(|x| *x > 0.0)
                            .ok_or("skew = \"zipf(1.1)\" or \"uniform\"")?,
                    ),
                };
                Generator::Ref {
                    table: t.to_string(),
                    column: c.to_string(),
                    zipf,
                }
            }
            [] => return Err("no generator given".into()),
            _ => {
                return Err(format!(
                    "one generator per column, found {}",
                    keys.join(", ")
                ));
            }
        };
        Ok(ColumnSpec { generator, null })
    }
}

/// The kinds `fake = …` accepts.
pub const FAKE_KINDS: [&str; 16] = [
    "name",
    "first_name",
    "last_name",
    "email",
    "username",
    "phone",
    "city",
    "country",
    "street",
    "address",
    "company",
    "url",
    "sentence",
    "paragraph",
    "word",
    "sku",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn column(text: &str) -> Result<ColumnSpec, String> {
        let t: toml::value::Table = toml::from_str(text).unwrap();
        Generator::parse_column(&t)
    }

    #[test]
    fn column_specs_parse_and_explain_mistakes() {
        assert_eq!(
            column("ref = \"customers.id\"\nskew = \"zipf(1.1)\"")
                .unwrap()
                .generator,
            Generator::Ref {
                table: "customers".into(),
                column: "id".into(),
                zipf: Some(1.1)
            }
        );
        assert_eq!(
            column("lognormal = { median = 38.0, sigma = 0.6 }\nnull = 0.1").unwrap(),
            ColumnSpec {
                generator: Generator::LogNormal {
                    median: 38.0,
                    sigma: 0.6
                },
                null: 0.1
            }
        );
        assert!(matches!(
            column("spread = \"365d\"").unwrap().generator,
            Generator::Timestamp { growth: true, .. }
        ));
        assert!(
            column("uniform = [10, 1]")
                .unwrap_err()
                .contains("MIN ≤ MAX")
        );
        assert!(
            column("fake = \"emial\"")
                .unwrap_err()
                .contains("not a kind")
        );
        assert!(
            column("choice = [1, 2]\nweights = [1]")
                .unwrap_err()
                .contains("one non-negative weight")
        );
        assert!(
            column("uniform = [1, 2]\nsequence = 1")
                .unwrap_err()
                .contains("one generator per column")
        );
    }

    #[test]
    fn rows_targets_and_redaction() {
        let v = |s: &str| toml::Value::String(s.into());
        assert_eq!(RowsTarget::parse(&v("2x")), Ok(RowsTarget::Multiple(2.0)));
        assert_eq!(
            RowsTarget::parse(&toml::Value::Integer(5)),
            Ok(RowsTarget::Absolute(5))
        );
        assert_eq!(
            RowsTarget::parse(&v("1_000")),
            Ok(RowsTarget::Absolute(1000))
        );
        assert_eq!(
            RowsTarget::parse(&v("horizon:orders_rows")),
            Ok(RowsTarget::Horizon {
                series: Some("orders_rows".into())
            })
        );
        assert!(RowsTarget::parse(&v("0.5x")).is_err());
        assert_eq!(
            redact_url("postgres://app:s3cret@127.0.0.1:5432/shop"),
            "postgres://app:***@127.0.0.1:5432/shop"
        );
        assert_eq!(redact_url("sqlite://shop.db"), "sqlite://shop.db");
    }
}
