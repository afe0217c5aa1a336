//! MySQL and MariaDB (mysql_async): parameters sent as strings for the server to convert, as
//! a client library's text values are; result values written back as text.

use loadcast_stats::{ErrorKind, SqlError};
use mysql_async::prelude::Queryable as _;
use mysql_async::{Params, Statement, Value};

use super::{Cell, SqlAnswer};

pub(super) struct MyConnection {
    conn: mysql_async::Conn,
    prepared: Vec<Option<Statement>>,
}

pub(super) fn options(url: &str) -> Result<mysql_async::Opts, String> {
    let url = url.replacen("mariadb://", "mysql://", 1);
    mysql_async::Opts::from_url(&url).map_err(|e| format!("not a MySQL URL: {e}"))
}

pub(super) async fn connect(
    options: &mysql_async::Opts,
    statements: usize,
) -> Result<MyConnection, mysql_async::Error> {
    let conn = mysql_async::Conn::new(options.clone()).await?;
    Ok(MyConnection {
        conn,
        prepared: vec![None; statements],
    })
}

impl MyConnection {
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
                let s = self.conn.prep(sql).await.map_err(|e| error_kind(&e))?;
                self.prepared[slot] = Some(s.clone());
                s
            }
        };
        let params = if params.is_empty() {
            Params::Empty
        } else {
            Params::Positional(
                params
                    .iter()
                    .map(|p| Value::Bytes(p.as_bytes().to_vec()))
                    .collect(),
            )
        };
        let mut result = self
            .conn
            .exec_iter(&statement, params)
            .await
            .map_err(|e| error_kind(&e))?;
        let mut answer = SqlAnswer::default();
        let rows: Vec<mysql_async::Row> = result.collect().await.map_err(|e| error_kind(&e))?;
        let affected = result.affected_rows();
        result.drop_result().await.map_err(|e| error_kind(&e))?;
        answer.count = if rows.is_empty() {
            affected
        } else {
            rows.len() as u64
        };
        if keep_rows {
            if let Some(first) = rows.first() {
                answer.columns = first
                    .columns_ref()
                    .iter()
                    .map(|c| c.name_str().into_owned())
                    .collect();
            }
            answer.rows = rows
                .iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| Ok(row.as_ref(i).and_then(text)))
                        .collect::<Vec<Cell>>()
                })
                .collect();
        }
        Ok(answer)
    }

    pub(super) async fn control(&mut self, command: &str) -> Result<(), ErrorKind> {
        self.conn
            .query_drop(command)
            .await
            .map_err(|e| error_kind(&e))
    }
}

/// A value as the mysql client prints it; `None` for NULL.
fn text(value: &Value) -> Option<String> {
    Some(match value {
        Value::NULL => return None,
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Date(y, mo, d, h, mi, s, us) => {
            let mut t = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}");
            if *us > 0 {
                t.push_str(&format!(".{us:06}"));
            }
            t
        }
        Value::Time(negative, days, h, mi, s, us) => {
            let hours = u32::from(*h) + days * 24;
            let mut t = format!(
                "{}{hours:02}:{mi:02}:{s:02}",
                if *negative { "-" } else { "" }
            );
            if *us > 0 {
                t.push_str(&format!(".{us:06}"));
            }
            t
        }
    })
}

/// The kind a failed statement is counted under: MySQL's error numbers where its SQLSTATE is
/// shared (a deadlock and a serialization failure are both 40001; every constraint is 23000).
pub(super) fn error_kind(e: &mysql_async::Error) -> ErrorKind {
    match e {
        mysql_async::Error::Server(s) => ErrorKind::Sql(match s.code {
            1213 => SqlError::Deadlock,
            1062 | 1586 => SqlError::UniqueViolation,
            1216 | 1217 | 1451 | 1452 => SqlError::ForeignKeyViolation,
            // MySQL's max_execution_time, MariaDB's max_statement_time.
            3024 | 1969 => SqlError::StatementTimeout,
            1040 => SqlError::TooManyConnections,
            // Killed, gone away, lost, shut down.
            1053 | 1927 | 2006 | 2013 | 4031 => SqlError::ConnectionLost,
            _ => SqlError::from_sqlstate(&s.state),
        }),
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => {
            ErrorKind::Sql(SqlError::ConnectionLost)
        }
        _ => ErrorKind::Protocol,
    }
}

pub(super) fn connect_error_kind(e: &mysql_async::Error) -> ErrorKind {
    match e {
        mysql_async::Error::Io(mysql_async::IoError::Io(io))
            if io.kind() == std::io::ErrorKind::ConnectionRefused =>
        {
            ErrorKind::ConnectRefused
        }
        mysql_async::Error::Server(_) => error_kind(e),
        _ => ErrorKind::Connect,
    }
}
