//! Values for new rows. Each column gets a generator: the plan's override, or a default chosen
//! from its type, its name (`email`, `created_at`, `total`…) and its constraints, so that a
//! table grows with values that look like its own: names from a fake-data corpus, prices with
//! a long tail, timestamps denser in recent months, foreign keys skewed so that a few customers
//! have many orders.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fake::Fake as _;
use fake::faker::address::en::{CityName, CountryName, StreetName};
use fake::faker::company::en::CompanyName;
use fake::faker::internet::en::{DomainSuffix, FreeEmailProvider, Username};
use fake::faker::lorem::en::{Paragraph, Sentence, Word, Words};
use fake::faker::name::en::{FirstName, LastName, Name};
use fake::faker::phone_number::en::PhoneNumber;
use loadcast_plan::{ColumnSpec, Generator};
use rand::prelude::*;
use rand_distr::{Distribution, LogNormal, Normal, Zipf};

use crate::GrowError;
use crate::schema::{Bounds, Column, SqlType, Table};

/// A generated value, typed loosely; each backend encodes it for the column's type.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    /// Microseconds since the Unix epoch.
    Timestamp(i64),
    Json(String),
    Uuid(u128),
    Bytes(Vec<u8>),
}

impl Value {
    /// The value as SQL-ish text (for text columns given a number, and for the SQLite and
    /// MariaDB encoders).
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Text(s) | Value::Json(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Timestamp(us) => crate::format_timestamp(*us),
            Value::Uuid(u) => format_uuid(*u),
            Value::Bytes(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
        }
    }

    /// Approximate size on the wire, for MB/s.
    pub fn size(&self) -> usize {
        match self {
            Value::Null => 0,
            Value::Int(_) | Value::Float(_) | Value::Timestamp(_) => 8,
            Value::Bool(_) => 1,
            Value::Uuid(_) => 16,
            Value::Text(s) | Value::Json(s) => s.len(),
            Value::Bytes(b) => b.len(),
        }
    }
}

pub fn format_uuid(u: u128) -> String {
    let b = u.to_be_bytes();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Everything a generator may read besides its own randomness.
#[derive(Debug)]
pub struct RowContext<'a> {
    /// The row's ordinal in the table (existing rows first).
    pub ordinal: u64,
    /// A tag of this run: with several writers a resumed run may restart below an ordinal
    /// already committed, so unique values carry the run too.
    pub run: &'a str,
}

/// A compiled generator for one column.
#[derive(Debug)]
pub(crate) struct ColumnGen {
    pub column: Column,
    kind: Kind,
    null: f64,
    /// Append the ordinal so that every value is distinct.
    unique: bool,
}

#[derive(Debug)]
enum Kind {
    Sequence {
        next: i64,
        step: i64,
    },
    UniformInt(i64, i64),
    UniformFloat(f64, f64),
    Normal(Normal<f64>),
    LogNormal(LogNormal<f64>),
    Zipf(Zipf<f64>),
    Choice(Vec<Value>, rand::distr::weighted::WeightedIndex<f64>),
    Fake(String),
    Words(usize, usize),
    Timestamp {
        end_us: i64,
        spread_us: i64,
        growth: bool,
    },
    Json,
    Uuid,
    Bool,
    Bytes(usize),
    /// Keys of the referenced table, shuffled once: rank `r` of the skew maps to `keys[r]`,
    /// so the popular parents are spread over the key range.
    Ref {
        keys: Arc<Vec<Value>>,
        zipf: Option<Zipf<f64>>,
    },
    Constant(Value),
}

impl ColumnGen {
    pub(crate) fn value(&mut self, rng: &mut SmallRng, row: &RowContext<'_>) -> Value {
        if self.null > 0.0 && self.column.nullable && rng.random::<f64>() < self.null {
            return Value::Null;
        }
        let value = match &mut self.kind {
            Kind::Sequence { next, step } => {
                let v = *next;
                *next += *step;
                Value::Int(v)
            }
            Kind::UniformInt(a, b) => Value::Int(rng.random_range(*a..=*b)),
            Kind::UniformFloat(a, b) => Value::Float(rng.random_range(*a..=*b)),
            Kind::Normal(d) => Value::Float(d.sample(rng)),
            Kind::LogNormal(d) => Value::Float(d.sample(rng)),
            Kind::Zipf(d) => Value::Int(d.sample(rng) as i64),
            Kind::Choice(values, index) => values[index.sample(rng)].clone(),
            Kind::Fake(kind) => Value::Text(fake_value(kind, rng)),
            Kind::Words(a, b) => {
                // Straight from the corpus into one string: the hot path of narrow tables.
                let words = <fake::locales::EN as fake::locales::Data>::LOREM_WORD;
                let n = rng.random_range(*a..=*b);
                let mut text = String::with_capacity(n * 8);
                for i in 0..n {
                    if i > 0 {
                        text.push(' ');
                    }
                    text.push_str(words[rng.random_range(0..words.len())]);
                }
                Value::Text(text)
            }
            Kind::Timestamp {
                end_us,
                spread_us,
                growth,
            } => {
                let u: f64 = rng.random();
                // Growth: the density doubles over the spread (CDF 2^(t/S) − 1), so recent
                // months hold more rows, as in a growing business.
                let position = if *growth { (1.0 + u).log2() } else { u };
                Value::Timestamp(*end_us - *spread_us + (position * *spread_us as f64) as i64)
            }
            Kind::Json => {
                let sources = ["web", "ios", "android", "partner"];
                let tags: Vec<String> = Words(1..4).fake_with_rng(rng);
                Value::Json(
                    serde_json::json!({
                        "source": sources[rng.random_range(0..sources.len())],
                        "tags": tags,
                        "score": rng.random_range(0..100),
                    })
                    .to_string(),
                )
            }
            Kind::Uuid => {
                let mut u: u128 = rng.random();
                u = (u & !(0xf << 76)) | (0x4 << 76);
                u = (u & !(0x3 << 62)) | (0x2 << 62);
                Value::Uuid(u)
            }
            Kind::Bool => Value::Bool(rng.random_bool(0.5)),
            Kind::Bytes(n) => Value::Bytes((0..*n).map(|_| rng.random()).collect()),
            Kind::Ref { keys, zipf } => {
                let i = match zipf {
                    Some(z) => (z.sample(rng) as usize)
                        .saturating_sub(1)
                        .min(keys.len() - 1),
                    None => rng.random_range(0..keys.len()),
                };
                keys[i].clone()
            }
            Kind::Constant(v) => v.clone(),
        };
        self.shape(value, row)
    }

    /// Fits a value to its column: bounds, integer types, scale, length, uniqueness.
    fn shape(&self, value: Value, row: &RowContext<'_>) -> Value {
        let c = &self.column;
        let value = match value {
            Value::Float(f) if c.sql_type.is_integer() => Value::Int(f.round() as i64),
            Value::Float(f) => match c.sql_type {
                SqlType::Numeric { scale: Some(s) } => {
                    let m = 10f64.powi(s as i32);
                    Value::Float((f * m).round() / m)
                }
                _ => Value::Float(f),
            },
            Value::Int(i) if matches!(c.sql_type, SqlType::Text { .. }) => {
                Value::Text(i.to_string())
            }
            other => other,
        };
        let value = clamp(value, &c.bounds, &c.sql_type);
        let value = if self.unique {
            match value {
                Value::Text(s) => Value::Text(unique_text(&s, row)),
                other => other,
            }
        } else {
            value
        };
        match (value, &c.sql_type) {
            (Value::Text(mut s), SqlType::Text { max: Some(max) }) if s.chars().count() > *max => {
                if self.unique {
                    // Keep the distinguishing suffix.
                    let tail = format!("-{}{}", row.run, row.ordinal);
                    let keep = max.saturating_sub(tail.len());
                    s = s.chars().take(keep).collect::<String>() + &tail;
                    s = s
                        .chars()
                        .rev()
                        .take(*max)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                } else {
                    s = s.chars().take(*max).collect();
                }
                Value::Text(s)
            }
            (v, _) => v,
        }
    }
}

/// `maria.garcia@mail.com` → `maria.garcia.3f2a48213@mail.com`; other text →
/// `text-3f2a48213` (run tag, then ordinal).
fn unique_text(s: &str, row: &RowContext<'_>) -> String {
    match s.split_once('@') {
        Some((local, domain)) => format!("{local}.{}{}@{domain}", row.run, row.ordinal),
        None => format!("{s}-{}{}", row.run, row.ordinal),
    }
}

fn clamp(value: Value, b: &Bounds, t: &SqlType) -> Value {
    let step = if t.is_integer() { 1.0 } else { 0.01 };
    let lo = b.min.map(|m| if b.min_inclusive { m } else { m + step });
    let hi = b.max.map(|m| if b.max_inclusive { m } else { m - step });
    let fit = |x: f64| {
        let x = lo.map_or(x, |l| x.max(l));
        hi.map_or(x, |h| x.min(h))
    };
    match value {
        Value::Int(i) => {
            let (tmin, tmax) = t.int_range();
            Value::Int((fit(i as f64).round() as i64).clamp(tmin, tmax))
        }
        Value::Float(f) => Value::Float(fit(f)),
        other => other,
    }
}

fn fake_value(kind: &str, rng: &mut SmallRng) -> String {
    match kind {
        "name" => Name().fake_with_rng(rng),
        "first_name" => FirstName().fake_with_rng(rng),
        "last_name" => LastName().fake_with_rng(rng),
        "email" => {
            let first: String = FirstName().fake_with_rng(rng);
            let last: String = LastName().fake_with_rng(rng);
            let provider: String = FreeEmailProvider().fake_with_rng(rng);
            format!(
                "{}.{}@{provider}",
                first.to_lowercase(),
                last.to_lowercase()
            )
            .replace(['\'', ' '], "")
        }
        "username" => Username().fake_with_rng(rng),
        "phone" => PhoneNumber().fake_with_rng(rng),
        "city" => CityName().fake_with_rng(rng),
        "country" => CountryName().fake_with_rng(rng),
        "street" => StreetName().fake_with_rng(rng),
        "address" => {
            let street: String = StreetName().fake_with_rng(rng);
            let city: String = CityName().fake_with_rng(rng);
            format!("{} {street}, {city}", rng.random_range(1..2000))
        }
        "company" => CompanyName().fake_with_rng(rng),
        "url" => {
            let word: String = Word().fake_with_rng(rng);
            let suffix: String = DomainSuffix().fake_with_rng(rng);
            format!("https://{word}.{suffix}")
        }
        "sentence" => Sentence(3..9).fake_with_rng(rng),
        "paragraph" => Paragraph(2..5).fake_with_rng(rng),
        "sku" => format!(
            "{}-{:05}",
            (0..3)
                .map(|_| char::from(b'A' + rng.random_range(0..26)))
                .collect::<String>(),
            rng.random_range(0..100_000)
        ),
        _ => Word().fake_with_rng(rng),
    }
}

/// Parent keys for a reference, loaded by the caller.
pub(crate) type Keys = Arc<Vec<Value>>;

/// The default skew of a foreign key: a few parents have many children.
pub const DEFAULT_REF_ZIPF: f64 = 0.9;

/// What a column's default generator is, before compiling.
fn default_generator(table: &Table, column: &Column) -> Option<Generator> {
    let name = column.name.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
    if let Some(fk) = table.foreign_key(&column.name) {
        return Some(Generator::Ref {
            table: fk.table.clone(),
            column: fk.referenced[0].clone(),
            zipf: Some(DEFAULT_REF_ZIPF),
        });
    }
    if let Some(allowed) = &column.bounds.allowed {
        return Some(Generator::Choice {
            values: allowed
                .iter()
                .map(|v| toml::Value::String(v.clone()))
                .collect(),
            weights: vec![1.0; allowed.len()],
        });
    }
    let t = &column.sql_type;
    if t.is_integer() && table.is_unique(&column.name) {
        return Some(Generator::Sequence { start: 1, step: 1 });
    }
    let fake = |k: &str| Some(Generator::Fake(k.to_string()));
    match t {
        SqlType::Text { .. } => {
            if has(&["email"]) {
                fake("email")
            } else if has(&["first_name", "firstname", "given_name"]) {
                fake("first_name")
            } else if has(&["last_name", "lastname", "surname", "family_name"]) {
                fake("last_name")
            } else if has(&["username", "login", "handle"]) {
                fake("username")
            } else if has(&["phone", "mobile"]) {
                fake("phone")
            } else if has(&["city", "town"]) {
                fake("city")
            } else if has(&["country"]) {
                fake("country")
            } else if has(&["street", "address"]) {
                fake("address")
            } else if has(&["company", "organization", "organisation"]) {
                fake("company")
            } else if has(&["url", "website", "link"]) {
                fake("url")
            } else if has(&["sku", "code"]) {
                fake("sku")
            } else if has(&[
                "description",
                "comment",
                "body",
                "note",
                "bio",
                "review",
                "text",
            ]) {
                fake("paragraph")
            } else if has(&["title", "subject", "summary"]) {
                fake("sentence")
            } else if name == "name" || name.ends_with("_name") || has(&["fullname", "full_name"]) {
                fake("name")
            } else if has(&["status", "state"]) {
                Some(Generator::Choice {
                    values: ["new", "active", "done"]
                        .map(|s| toml::Value::String(s.into()))
                        .to_vec(),
                    weights: vec![1.0, 3.0, 6.0],
                })
            } else if has(&["password", "hash", "token", "secret"]) {
                Some(Generator::Uuid)
            } else {
                fake("word")
            }
        }
        _ if t.is_numeric() => {
            if has(&["price", "amount", "total", "cost", "balance", "revenue"]) {
                Some(Generator::LogNormal {
                    median: 40.0,
                    sigma: 0.8,
                })
            } else if has(&["quantity", "qty", "count", "items"]) {
                Some(Generator::Zipf {
                    n: 20,
                    exponent: 1.6,
                })
            } else if has(&["age"]) {
                Some(Generator::Uniform {
                    min: 18.0,
                    max: 90.0,
                    integer: true,
                })
            } else if has(&["rating", "score", "stars"]) {
                Some(Generator::Uniform {
                    min: 1.0,
                    max: 5.0,
                    integer: true,
                })
            } else if t.is_integer() {
                Some(Generator::Uniform {
                    min: 0.0,
                    max: 1000.0,
                    integer: true,
                })
            } else {
                Some(Generator::LogNormal {
                    median: 50.0,
                    sigma: 1.0,
                })
            }
        }
        SqlType::Date | SqlType::Timestamp { .. } => Some(Generator::Timestamp {
            spread: Duration::from_secs(365 * 86_400),
            growth: true,
        }),
        SqlType::Bool | SqlType::Json { .. } | SqlType::Uuid | SqlType::Bytes => None,
        _ => None,
    }
}

fn toml_to_value(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::Text(s.clone()),
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::Text(d.to_string()),
        other => Value::Json(serde_json::to_string(other).unwrap_or_default()),
    }
}

/// What compiling a table's generators needs from the database.
pub(crate) struct Context<'a> {
    pub table: &'a Table,
    /// The largest existing value of each integer column that gets a sequence.
    pub max_of: &'a dyn Fn(&str) -> Result<Option<i64>, GrowError>,
    /// The keys of a referenced table's column.
    pub keys_of: &'a mut dyn FnMut(&str, &str) -> Result<Keys, GrowError>,
    pub now_us: i64,
}

/// Compiles the generators of every column that is written (auto columns are left to the
/// database). Fails, naming the column, when a column cannot be filled.
pub(crate) fn compile(
    ctx: &mut Context<'_>,
    overrides: &[(String, ColumnSpec)],
) -> Result<Vec<ColumnGen>, GrowError> {
    let table = ctx.table;
    for (name, _) in overrides {
        if table.column(name).is_none() {
            return Err(GrowError::Plan(format!(
                "table {}: no column {name:?} (columns: {})",
                table.name,
                table
                    .columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let mut out = Vec::new();
    for column in &table.columns {
        let spec = overrides
            .iter()
            .find(|(n, _)| *n == column.name)
            .map(|(_, s)| s);
        if spec.is_none() && column.auto {
            continue;
        }
        let (generator, null) = match spec {
            Some(s) => (Some(s.generator.clone()), s.null),
            None => (default_generator(table, column), 0.0),
        };
        let unique = table.is_unique(&column.name);
        let kind = match generator {
            Some(g) => compile_one(ctx, column, g)?,
            None => match &column.sql_type {
                SqlType::Bool => Kind::Bool,
                SqlType::Json { .. } => Kind::Json,
                SqlType::Uuid => Kind::Uuid,
                SqlType::Bytes => Kind::Bytes(16),
                _ if column.has_default || column.nullable => continue,
                other => {
                    let sql = match other {
                        SqlType::Other(name) => name.clone(),
                        known => format!("{known:?}").to_lowercase(),
                    };
                    return Err(GrowError::Plan(format!(
                        "table {}: column {} has type {sql}, which loadcast cannot generate; \
                         give it a generator in the plan, e.g. [database.tables.{}] \
                         columns.{} = {{ choice = [\"…\", \"…\"] }}",
                        table.name, column.name, table.name, column.name
                    )));
                }
            },
        };
        let can_be_unique = matches!(
            kind,
            Kind::Sequence { .. } | Kind::Uuid | Kind::Fake(_) | Kind::Words(..)
        );
        if unique && !can_be_unique {
            return Err(GrowError::Plan(format!(
                "table {}: column {} is unique but its generator cannot produce distinct values; \
                 use a sequence, uuid or fake text",
                table.name, column.name
            )));
        }
        let unique = unique && matches!(kind, Kind::Fake(_) | Kind::Words(..));
        out.push(ColumnGen {
            column: column.clone(),
            kind,
            null,
            unique,
        });
    }
    for group in &table.uniques {
        if group.len() > 1 {
            let covered = group.iter().any(|c| {
                out.iter().any(|g| {
                    g.column.name == *c
                        && (g.unique || matches!(g.kind, Kind::Sequence { .. } | Kind::Uuid))
                })
            });
            if !covered {
                return Err(GrowError::Plan(format!(
                    "table {}: unique ({}) cannot be guaranteed by random values; give one of \
                     its columns a sequence",
                    table.name,
                    group.join(", ")
                )));
            }
        }
    }
    Ok(out)
}

fn compile_one(ctx: &mut Context<'_>, column: &Column, g: Generator) -> Result<Kind, GrowError> {
    let bad = |why: String| {
        GrowError::Plan(format!(
            "table {}: column {}: {why}",
            ctx.table.name, column.name
        ))
    };
    Ok(match g {
        Generator::Sequence { start, step } => {
            let after = (ctx.max_of)(&column.name)?;
            Kind::Sequence {
                next: after.map_or(start, |m| (m + step).max(start)),
                step,
            }
        }
        Generator::Uniform { min, max, integer } => {
            if integer || column.sql_type.is_integer() {
                Kind::UniformInt(min.round() as i64, max.round() as i64)
            } else {
                Kind::UniformFloat(min, max)
            }
        }
        Generator::Normal { mean, sd } => {
            Kind::Normal(Normal::new(mean, sd).map_err(|e| bad(e.to_string()))?)
        }
        Generator::LogNormal { median, sigma } => {
            Kind::LogNormal(LogNormal::new(median.ln(), sigma).map_err(|e| bad(e.to_string()))?)
        }
        Generator::Zipf { n, exponent } => {
            Kind::Zipf(Zipf::new(n as f64, exponent).map_err(|e| bad(e.to_string()))?)
        }
        Generator::Choice { values, weights } => Kind::Choice(
            values.iter().map(toml_to_value).collect(),
            rand::distr::weighted::WeightedIndex::new(&weights).map_err(|e| bad(e.to_string()))?,
        ),
        Generator::Fake(kind) => Kind::Fake(kind),
        Generator::Words { min, max } => Kind::Words(min, max),
        Generator::Timestamp { spread, growth } => Kind::Timestamp {
            end_us: ctx.now_us,
            spread_us: spread.as_micros() as i64,
            growth,
        },
        Generator::Json => Kind::Json,
        Generator::Uuid => Kind::Uuid,
        Generator::Constant(v) => Kind::Constant(toml_to_value(&v)),
        Generator::Ref {
            table,
            column: parent_column,
            zipf,
        } => {
            let keys = (ctx.keys_of)(&table, &parent_column)?;
            if keys.is_empty() {
                return Err(bad(format!(
                    "references {table}.{parent_column}, which has no rows to point at; grow {table} first"
                )));
            }
            let zipf = match zipf {
                Some(s) => Some(Zipf::new(keys.len() as f64, s).map_err(|e| bad(e.to_string()))?),
                None => None,
            };
            Kind::Ref { keys, zipf }
        }
    })
}

/// Shuffles loaded parent keys so that skew does not follow key order.
pub(crate) fn shuffled(mut keys: Vec<Value>, rng: &mut SmallRng) -> Keys {
    keys.shuffle(rng);
    Arc::new(keys)
}

pub(crate) fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}
