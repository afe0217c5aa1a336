//! PostgreSQL (tokio-postgres): parameters sent in text format for the server to type, as
//! pgbench sends them; result values decoded from the binary format into text.

use std::error::Error as _;
use std::pin::pin;

use futures_util::TryStreamExt as _;
use loadcast_stats::{ErrorKind, SqlError};
use tokio_postgres::types::{Format, FromSql, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{NoTls, Statement};

use super::{Cell, SqlAnswer};

pub(super) struct PgConnection {
    client: tokio_postgres::Client,
    prepared: Vec<Option<Statement>>,
}

pub(super) fn config(url: &str) -> Result<tokio_postgres::Config, String> {
    let url = url.replacen("postgresql://", "postgres://", 1);
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
    config.application_name("loadcast");
    Ok(config)
}

/// Opens a connection; its driver runs on the worker's local task set.
pub(super) async fn connect(
    config: &tokio_postgres::Config,
    statements: usize,
) -> Result<PgConnection, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::task::spawn_local(async move {
        // An error here closes the client, which the next statement reports.
        let _ = connection.await;
    });
    Ok(PgConnection {
        client,
        prepared: vec![None; statements],
    })
}

impl PgConnection {
    pub(super) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    pub(super) async fn execute(
        &mut self,
        slot: usize,
        sql: &str,
        params: &[String],
        keep_rows: bool,
    ) -> Result<SqlAnswer, ErrorKind> {
        let statement = match &self.prepared[slot] {
            Some(s) => s.clone(),
            None => {
                let s = self.client.prepare(sql).await.map_err(|e| error_kind(&e))?;
                self.prepared[slot] = Some(s.clone());
                s
            }
        };
        let params = params.iter().map(|p| TextParam(p.as_str()));
        let stream = self
            .client
            .query_raw(&statement, params)
            .await
            .map_err(|e| error_kind(&e))?;
        let mut stream = pin!(stream);
        let mut answer = SqlAnswer::default();
        let mut returned = 0u64;
        while let Some(row) = stream.try_next().await.map_err(|e| error_kind(&e))? {
            returned += 1;
            if keep_rows {
                if answer.columns.is_empty() {
                    answer.columns = row.columns().iter().map(|c| c.name().to_string()).collect();
                }
                let cells: Vec<Cell> = (0..row.len())
                    .map(|i| {
                        row.try_get::<_, Option<Text>>(i)
                            .map(|v| v.map(|t| t.0))
                            .map_err(|e| {
                                e.source()
                                    .map_or_else(|| e.to_string(), ToString::to_string)
                            })
                    })
                    .collect();
                answer.rows.push(cells);
            }
        }
        answer.count = if returned > 0 {
            returned
        } else {
            stream.rows_affected().unwrap_or(0)
        };
        Ok(answer)
    }

    pub(super) async fn control(&self, command: &str) -> Result<(), ErrorKind> {
        self.client
            .batch_execute(command)
            .await
            .map_err(|e| error_kind(&e))
    }
}

/// A parameter sent in text format: the server parses it as the statement's parameter type,
/// so `"42"` serves an integer, a date or a numeric alike.
#[derive(Debug)]
struct TextParam<'a>(&'a str);

impl ToSql for TextParam<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// A result value decoded from PostgreSQL's binary format into text.
struct Text(String);

impl<'a> FromSql<'a> for Text {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let fixed = |n: usize| -> Result<&[u8], Box<dyn std::error::Error + Sync + Send>> {
            (raw.len() == n)
                .then_some(raw)
                .ok_or_else(|| format!("a {ty} of {} bytes", raw.len()).into())
        };
        let text = match *ty {
            Type::BOOL => (fixed(1)?[0] != 0).to_string(),
            Type::INT2 => i16::from_be_bytes(fixed(2)?.try_into()?).to_string(),
            Type::INT4 => i32::from_be_bytes(fixed(4)?.try_into()?).to_string(),
            Type::INT8 => i64::from_be_bytes(fixed(8)?.try_into()?).to_string(),
            Type::OID => u32::from_be_bytes(fixed(4)?.try_into()?).to_string(),
            Type::FLOAT4 => f32::from_be_bytes(fixed(4)?.try_into()?).to_string(),
            Type::FLOAT8 => f64::from_be_bytes(fixed(8)?.try_into()?).to_string(),
            Type::NUMERIC => numeric_text(raw)?,
            Type::UUID => {
                let b = fixed(16)?;
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
            // jsonb's binary form is a version byte, then the text.
            Type::JSONB => std::str::from_utf8(raw.get(1..).unwrap_or_default())?.to_string(),
            _ => std::str::from_utf8(raw)?.to_string(),
        };
        Ok(Text(text))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::BOOL
                | Type::INT2
                | Type::INT4
                | Type::INT8
                | Type::OID
                | Type::FLOAT4
                | Type::FLOAT8
                | Type::NUMERIC
                | Type::UUID
                | Type::JSON
                | Type::JSONB
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UNKNOWN
        ) || matches!(ty.kind(), tokio_postgres::types::Kind::Enum(_))
            || ty.name() == "citext"
    }
}

/// PostgreSQL's binary NUMERIC (base-10000 digits with a weight) as decimal text.
fn numeric_text(raw: &[u8]) -> Result<String, Box<dyn std::error::Error + Sync + Send>> {
    let word = |i: usize| -> Result<u16, Box<dyn std::error::Error + Sync + Send>> {
        let b = raw.get(2 * i..2 * i + 2).ok_or("a truncated numeric")?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    };
    let (ndigits, weight, sign, dscale) = (
        word(0)? as usize,
        word(1)? as i16,
        word(2)?,
        word(3)? as usize,
    );
    if sign == 0xC000 {
        return Ok("NaN".into());
    }
    let digits: Vec<u16> = (0..ndigits)
        .map(|i| word(4 + i))
        .collect::<Result<_, _>>()?;
    let mut integer = String::new();
    for w in 0..=weight.max(-1) {
        let d = digits.get(w as usize).copied().unwrap_or(0);
        if integer.is_empty() {
            integer = d.to_string();
        } else {
            integer.push_str(&format!("{d:04}"));
        }
    }
    if integer.is_empty() {
        integer.push('0');
    }
    let mut fraction = String::new();
    let mut position = i32::from(weight) + 1;
    if position < 0 {
        fraction.push_str(&"0000".repeat((-position) as usize));
        position = 0;
    }
    for d in digits.iter().skip(position as usize) {
        fraction.push_str(&format!("{d:04}"));
    }
    fraction.truncate(dscale);
    while fraction.len() < dscale {
        fraction.push('0');
    }
    let sign = if sign == 0x4000 { "-" } else { "" };
    Ok(if dscale == 0 {
        format!("{sign}{integer}")
    } else {
        format!("{sign}{integer}.{fraction}")
    })
}

/// The kind a failed statement is counted under.
fn error_kind(e: &tokio_postgres::Error) -> ErrorKind {
    match e.as_db_error() {
        Some(db) => ErrorKind::Sql(SqlError::from_sqlstate(db.code().code())),
        None if e.is_closed() => ErrorKind::Sql(SqlError::ConnectionLost),
        None => match e.source().and_then(|s| s.downcast_ref::<std::io::Error>()) {
            Some(_) => ErrorKind::Sql(SqlError::ConnectionLost),
            None => ErrorKind::Protocol,
        },
    }
}

pub(super) fn connect_error_kind(e: &tokio_postgres::Error) -> ErrorKind {
    if e.as_db_error().is_some() {
        return error_kind(e);
    }
    match e.source().and_then(|s| s.downcast_ref::<std::io::Error>()) {
        Some(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => ErrorKind::ConnectRefused,
        Some(io) if io.kind() == std::io::ErrorKind::TimedOut => ErrorKind::ConnectTimeout,
        _ => ErrorKind::Connect,
    }
}

/// An error as a person reads it: the database's message when it sent one.
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e
            .source()
            .map_or_else(|| e.to_string(), |s| format!("{e}: {s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut raw = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale].iter().chain(digits) {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        raw
    }

    #[test]
    fn numerics_read_as_their_decimal_text() {
        // 12345.678 = 1|2345.6780 (weight 1)
        assert_eq!(
            numeric_text(&numeric(3, 1, 0, 3, &[1, 2345, 6780])).unwrap(),
            "12345.678"
        );
        assert_eq!(
            numeric_text(&numeric(1, -1, 0x4000, 2, &[500])).unwrap(),
            "-0.05"
        );
        assert_eq!(numeric_text(&numeric(1, 0, 0, 0, &[42])).unwrap(), "42");
        assert_eq!(numeric_text(&numeric(0, 0, 0, 2, &[])).unwrap(), "0.00");
        assert_eq!(numeric_text(&numeric(1, 1, 0, 0, &[7])).unwrap(), "70000");
    }
}
