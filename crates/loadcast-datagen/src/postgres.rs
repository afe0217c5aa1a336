//! PostgreSQL: introspection from the catalog, growth by binary `COPY` (one `COPY` per batch,
//! so a batch is all or nothing and a killed run resumes from `count(*)`).

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::SinkExt as _;
use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls};

use crate::GrowError;
use crate::generate::Value;
use crate::schema::{Column, ForeignKey, Schema, SqlType, apply_check};

/// tokio-postgres shows only "db error"; the server's message and detail are what help.
fn db_error(table: Option<&str>, e: tokio_postgres::Error) -> GrowError {
    let cause = match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        None => e.to_string(),
    };
    GrowError::Database {
        table: table.map(str::to_string),
        cause,
    }
}

pub(crate) struct Pg {
    client: Client,
    runtime: Runtime,
}

/// `"name"`, with embedded quotes doubled.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Pg {
    pub(crate) fn connect(url: &str) -> Result<Self, GrowError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| GrowError::Connect {
                url: loadcast_plan::redact_url(url),
                cause: e.to_string(),
            })?;
        let (client, connection) = runtime
            .block_on(tokio_postgres::connect(url, NoTls))
            .map_err(|e| GrowError::Connect {
                url: loadcast_plan::redact_url(url),
                cause: match db_error(None, e) {
                    GrowError::Database { cause, .. } => cause,
                    other => other.to_string(),
                },
            })?;
        runtime.spawn(connection);
        let pg = Self { client, runtime };
        // Each batch commits on its own; waiting for every commit's WAL flush would cost a disk
        // sync per batch. Safe for resume: after a server crash a rerun counts what survived.
        pg.execute("SET synchronous_commit TO off")?;
        Ok(pg)
    }

    fn query(&self, sql: &str) -> Result<Vec<tokio_postgres::Row>, GrowError> {
        self.runtime
            .block_on(self.client.query(sql, &[]))
            .map_err(|e| db_error(None, e))
    }

    pub(crate) fn execute(&self, sql: &str) -> Result<(), GrowError> {
        self.runtime
            .block_on(self.client.batch_execute(sql))
            .map_err(|e| db_error(None, e))
    }

    pub(crate) fn name(&self) -> Result<String, GrowError> {
        Ok(self.query("SELECT current_database()")?[0].get(0))
    }

    pub(crate) fn has_table(&self, table: &str) -> Result<bool, GrowError> {
        let rows = self
            .runtime
            .block_on(self.client.query(
                "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relname = $1",
                &[&table],
            ))
            .map_err(|e| db_error(None, e))?;
        Ok(!rows.is_empty())
    }

    pub(crate) fn schema(&self) -> Result<Schema, GrowError> {
        let columns = self.query(
            "SELECT c.relname::text, a.attname::text, t.typname::text, \
                    format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                    a.atthasdef, a.attidentity::text, coalesce(pg_get_expr(d.adbin, d.adrelid), '') \
             FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
               AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY c.relname, a.attnum",
        )?;
        // User-defined enum types and their labels: a column of one takes only those.
        let mut enums: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for row in self.query(
            "SELECT t.typname::text, e.enumlabel::text FROM pg_type t \
             JOIN pg_enum e ON e.enumtypid = t.oid ORDER BY t.typname, e.enumsortorder",
        )? {
            enums.entry(row.get(0)).or_default().push(row.get(1));
        }
        let mut schema = Schema::default();
        for row in columns {
            let table: String = row.get(0);
            let type_name: String = row.get(2);
            let formatted: String = row.get(3);
            let identity: String = row.get(6);
            let default: String = row.get(7);
            let labels = enums.get(&type_name).cloned();
            let column = Column {
                name: row.get(1),
                // An enum is sent as its label's text, in COPY's binary format too.
                sql_type: match labels {
                    Some(_) => SqlType::Text { max: None },
                    None => pg_type(&type_name, &formatted),
                },
                nullable: !row.get::<_, bool>(4),
                has_default: row.get::<_, bool>(5) || !identity.is_empty(),
                auto: !identity.is_empty() || default.starts_with("nextval("),
                bounds: crate::schema::Bounds {
                    allowed: labels,
                    ..Default::default()
                },
            };
            schema.add_column(table, column);
        }
        let uniques = self.query(
            "SELECT t.relname::text, i.indisprimary, \
                    string_agg(a.attname::text, ',' ORDER BY k.n) \
             FROM pg_index i \
             JOIN pg_class t ON t.oid = i.indrelid \
             JOIN pg_namespace ns ON ns.oid = t.relnamespace \
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
             WHERE ns.nspname = current_schema() AND i.indisunique AND i.indpred IS NULL \
             GROUP BY t.relname, i.indexrelid, i.indisprimary",
        )?;
        for row in uniques {
            let table: String = row.get(0);
            let columns: Vec<String> = row
                .get::<_, String>(2)
                .split(',')
                .map(str::to_string)
                .collect();
            if let Some(t) = schema.tables.iter_mut().find(|t| t.name == table) {
                if row.get::<_, bool>(1) {
                    t.primary_key = columns;
                } else if !t.uniques.contains(&columns) {
                    t.uniques.push(columns);
                }
            }
        }
        let constraints = self.query(
            "SELECT c.relname::text, con.contype::text, pg_get_constraintdef(con.oid) \
             FROM pg_constraint con \
             JOIN pg_class c ON c.oid = con.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND con.contype IN ('f', 'c')",
        )?;
        for row in constraints {
            let table: String = row.get(0);
            let kind: String = row.get(1);
            let definition: String = row.get(2);
            let Some(t) = schema.tables.iter_mut().find(|t| t.name == table) else {
                continue;
            };
            if kind == "c" {
                apply_check(&definition, &mut t.columns);
            } else if let Some(fk) = parse_foreign_key(&definition) {
                t.foreign_keys.push(fk);
            }
        }
        Ok(schema)
    }

    pub(crate) fn count(&self, table: &str) -> Result<u64, GrowError> {
        let rows = self
            .query(&format!("SELECT count(*) FROM {}", quote(table)))
            .map_err(|e| e.in_table(table))?;
        Ok(rows[0].get::<_, i64>(0) as u64)
    }

    pub(crate) fn scalar(&self, sql: &str) -> Result<Option<i64>, GrowError> {
        let rows = self.query(sql)?;
        Ok(rows.first().and_then(|r| r.get::<_, Option<i64>>(0)))
    }

    pub(crate) fn max(&self, table: &str, column: &str) -> Result<Option<i64>, GrowError> {
        let rows = self.query(&format!(
            "SELECT max({})::bigint FROM {}",
            quote(column),
            quote(table)
        ))?;
        Ok(rows[0].get(0))
    }

    pub(crate) fn keys(&self, table: &str, column: &Column) -> Result<Vec<Value>, GrowError> {
        let integer = column.sql_type.is_integer();
        let cast = if integer { "bigint" } else { "text" };
        let rows = self.query(&format!(
            "SELECT {}::{cast} FROM {}",
            quote(&column.name),
            quote(table)
        ))?;
        Ok(rows
            .iter()
            .map(|r| {
                if integer {
                    Value::Int(r.get(0))
                } else {
                    Value::Text(r.get(0))
                }
            })
            .collect())
    }

    /// One batch as one binary `COPY`: committed whole or not at all.
    pub(crate) fn insert(
        &self,
        table: &str,
        columns: &[Column],
        rows: &[Vec<Value>],
    ) -> Result<(), GrowError> {
        let data = encode_copy(columns, rows).map_err(|e| GrowError::Database {
            table: Some(table.to_string()),
            cause: e,
        })?;
        self.copy(table, columns, data)
    }

    /// Streams an encoded binary `COPY` of a batch.
    pub(crate) fn copy(
        &self,
        table: &str,
        columns: &[Column],
        data: Bytes,
    ) -> Result<(), GrowError> {
        let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
        let sql = format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            quote(table),
            names.join(", ")
        );
        self.runtime
            .block_on(async {
                let sink = self.client.copy_in::<_, Bytes>(sql.as_str()).await?;
                futures_util::pin_mut!(sink);
                sink.send(data).await?;
                sink.as_mut().finish().await
            })
            .map_err(|e| db_error(Some(table), e))?;
        Ok(())
    }

    pub(crate) fn analyze(&self, table: &str) -> Result<(), GrowError> {
        self.execute(&format!("ANALYZE {}", quote(table)))
    }

    /// `shared_buffers` in bytes.
    pub(crate) fn setting_bytes(&self) -> Result<Option<u64>, GrowError> {
        let rows = self.query(
            "SELECT (setting::bigint * CASE unit WHEN '8kB' THEN 8192 WHEN 'kB' THEN 1024 ELSE 1 END)::bigint \
             FROM pg_settings WHERE name = 'shared_buffers'",
        )?;
        Ok(rows.first().map(|r| r.get::<_, i64>(0) as u64))
    }

    pub(crate) fn size(&self) -> Result<u64, GrowError> {
        Ok(self.query("SELECT pg_database_size(current_database())")?[0].get::<_, i64>(0) as u64)
    }
}

fn pg_type(name: &str, formatted: &str) -> SqlType {
    let max = || {
        formatted.split_once('(').and_then(|(_, r)| {
            r.trim_end_matches(')')
                .split(',')
                .next()?
                .trim()
                .parse()
                .ok()
        })
    };
    match name {
        "int2" => SqlType::SmallInt,
        "int4" => SqlType::Int,
        "int8" => SqlType::BigInt,
        "float4" => SqlType::Real,
        "float8" => SqlType::Double,
        "numeric" => SqlType::Numeric {
            scale: formatted
                .split_once(',')
                .and_then(|(_, s)| s.trim_end_matches(')').trim().parse().ok()),
        },
        "bool" => SqlType::Bool,
        "text" | "citext" | "name" => SqlType::Text { max: None },
        "varchar" | "bpchar" => SqlType::Text { max: max() },
        "date" => SqlType::Date,
        "timestamp" => SqlType::Timestamp { zone: false },
        "timestamptz" => SqlType::Timestamp { zone: true },
        "json" => SqlType::Json { binary: false },
        "jsonb" => SqlType::Json { binary: true },
        "uuid" => SqlType::Uuid,
        "bytea" => SqlType::Bytes,
        other => SqlType::Other(other.to_string()),
    }
}

/// `FOREIGN KEY (a, b) REFERENCES t(x, y) …`.
fn parse_foreign_key(definition: &str) -> Option<ForeignKey> {
    let list = |s: &str| -> Vec<String> {
        s.split(',')
            .map(|c| c.trim().trim_matches('"').to_string())
            .collect()
    };
    let rest = definition.strip_prefix("FOREIGN KEY (")?;
    let (columns, rest) = rest.split_once(')')?;
    let rest = rest.trim().strip_prefix("REFERENCES ")?;
    let (table, rest) = rest.split_once('(')?;
    let (referenced, _) = rest.split_once(')')?;
    let table = table.trim().trim_matches('"');
    // `schema.table`: the table part.
    let table = table.rsplit('.').next().unwrap_or(table).trim_matches('"');
    Some(ForeignKey {
        columns: list(columns),
        table: table.to_string(),
        referenced: list(referenced),
    })
}

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// The binary `COPY` stream of a batch: header, rows, trailer.
pub(crate) fn encode_copy(columns: &[Column], rows: &[Vec<Value>]) -> Result<Bytes, String> {
    let mut buf = BytesMut::with_capacity(64 + rows.len() * columns.len() * 16);
    buf.put_slice(b"PGCOPY\n\xff\r\n\0");
    buf.put_u32(0);
    buf.put_u32(0);
    for row in rows {
        buf.put_i16(columns.len() as i16);
        for (value, column) in row.iter().zip(columns) {
            encode(value, &column.sql_type, &mut buf)
                .map_err(|e| format!("column {}: {e}", column.name))?;
        }
    }
    buf.put_i16(-1);
    Ok(buf.freeze())
}

/// One field: its length, then its bytes in PostgreSQL's binary format.
fn encode(value: &Value, ty: &SqlType, buf: &mut BytesMut) -> Result<(), String> {
    if *value == Value::Null {
        buf.put_i32(-1);
        return Ok(());
    }
    let as_f64 = || -> Result<f64, String> {
        match value {
            Value::Int(i) => Ok(*i as f64),
            Value::Float(f) => Ok(*f),
            Value::Text(s) => s.parse().map_err(|_| format!("{s:?} is not a number")),
            other => Err(format!("{other:?} is not a number")),
        }
    };
    let as_i64 = || -> Result<i64, String> {
        match value {
            Value::Int(i) => Ok(*i),
            _ => as_f64().map(|f| f.round() as i64),
        }
    };
    let mut field = |bytes: &[u8]| {
        buf.put_i32(bytes.len() as i32);
        buf.put_slice(bytes);
    };
    match ty {
        SqlType::SmallInt => field(&(as_i64()? as i16).to_be_bytes()),
        SqlType::Int => field(&(as_i64()? as i32).to_be_bytes()),
        SqlType::BigInt => field(&as_i64()?.to_be_bytes()),
        SqlType::Real => field(&(as_f64()? as f32).to_be_bytes()),
        SqlType::Double => field(&as_f64()?.to_be_bytes()),
        SqlType::Numeric { scale } => field(&numeric(as_f64()?, scale.unwrap_or(2))),
        SqlType::Bool => {
            let b = match value {
                Value::Bool(b) => *b,
                Value::Int(i) => *i != 0,
                Value::Text(s) => matches!(s.as_str(), "true" | "t" | "1" | "yes"),
                _ => false,
            };
            field(&[u8::from(b)]);
        }
        SqlType::Date => {
            let us = timestamp_us(value)?;
            field(&(((us - PG_EPOCH_US).div_euclid(86_400_000_000)) as i32).to_be_bytes());
        }
        SqlType::Timestamp { .. } => field(&(timestamp_us(value)? - PG_EPOCH_US).to_be_bytes()),
        SqlType::Json { binary } => {
            let text = value.to_text();
            if *binary {
                buf.put_i32(text.len() as i32 + 1);
                buf.put_u8(1);
                buf.put_slice(text.as_bytes());
            } else {
                field(text.as_bytes());
            }
        }
        SqlType::Uuid => {
            let u = match value {
                Value::Uuid(u) => *u,
                Value::Text(s) => u128::from_str_radix(&s.replace('-', ""), 16)
                    .map_err(|_| format!("{s:?} is not a UUID"))?,
                other => return Err(format!("{other:?} is not a UUID")),
            };
            field(&u.to_be_bytes());
        }
        SqlType::Bytes => match value {
            Value::Bytes(b) => field(b),
            other => field(other.to_text().as_bytes()),
        },
        SqlType::Text { .. } | SqlType::Other(_) => field(value.to_text().as_bytes()),
    }
    Ok(())
}

fn timestamp_us(value: &Value) -> Result<i64, String> {
    match value {
        Value::Timestamp(us) => Ok(*us),
        Value::Int(s) => Ok(s * 1_000_000),
        Value::Text(t) => loadcast_stats::time::parse_time(t)
            .map(|s| s * 1_000_000)
            .ok_or_else(|| format!("{t:?} is not a time")),
        other => Err(format!("{other:?} is not a time")),
    }
}

/// PostgreSQL's binary `numeric`: base-10000 digits with a weight, a sign and a display scale.
fn numeric(value: f64, scale: u32) -> Vec<u8> {
    let negative = value < 0.0;
    let factor = 10u128.pow(scale);
    let scaled = (value.abs() * factor as f64).round() as u128;
    let (int_part, frac_part) = (scaled / factor, scaled % factor);
    let mut int_digits = Vec::new();
    let mut n = int_part;
    while n > 0 {
        int_digits.push((n % 10_000) as i16);
        n /= 10_000;
    }
    int_digits.reverse();
    // The fraction, left-aligned in groups of four decimal digits.
    let frac_text = format!("{frac_part:0width$}", width = scale as usize);
    let mut frac_digits = Vec::new();
    for chunk in frac_text.as_bytes().chunks(4) {
        let mut group = String::from_utf8_lossy(chunk).into_owned();
        while group.len() < 4 {
            group.push('0');
        }
        frac_digits.push(group.parse::<i16>().unwrap_or(0));
    }
    while frac_digits.last() == Some(&0) {
        frac_digits.pop();
    }
    let weight = int_digits.len() as i16 - 1;
    let mut digits = int_digits;
    if digits.is_empty() && !frac_digits.is_empty() {
        digits.push(0);
    }
    let weight = if weight < 0 { 0 } else { weight };
    digits.extend(frac_digits);
    let mut out = Vec::with_capacity(8 + digits.len() * 2);
    out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&(if negative && scaled > 0 { 0x4000u16 } else { 0 }).to_be_bytes());
    out.extend_from_slice(&(scale as u16).to_be_bytes());
    for d in digits {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_keys_and_numeric_encoding() {
        assert_eq!(
            parse_foreign_key(
                "FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE"
            ),
            Some(ForeignKey {
                columns: vec!["customer_id".into()],
                table: "customers".into(),
                referenced: vec!["id".into()]
            })
        );
        // 12345.67: digits [1, 2345, 6700], weight 1, scale 2.
        assert_eq!(
            numeric(12345.67, 2),
            [0, 3, 0, 1, 0, 0, 0, 2, 0, 1, 0x09, 0x29, 0x1a, 0x2c]
        );
        // 0.5: digits [0, 5000], weight 0.
        assert_eq!(numeric(0.5, 2), [0, 2, 0, 0, 0, 0, 0, 2, 0, 0, 0x13, 0x88]);
        assert_eq!(numeric(-3.0, 2)[4..6], [0x40, 0]);
    }
}
