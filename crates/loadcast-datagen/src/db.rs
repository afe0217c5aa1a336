//! One connected database of any supported kind (PostgreSQL, MariaDB/MySQL, SQLite), and the
//! batches growth writes to it: each operation dispatched to its backend.

use crate::schema::{Column, Schema};
use loadcast_plan::redact_url;

use crate::{BASELINE_TABLE, GrowError, MARKER_TABLE, Value, mysql, postgres, sqlite};

/// Turns a generated batch into what the writer sends.
pub(crate) type Encoder = fn(&[Column], Vec<Vec<Value>>) -> Result<Batch, String>;

/// One batch of new rows, ready for the writer.
pub(crate) enum Batch {
    Rows(Vec<Vec<Value>>),
    /// A binary `COPY` stream and its row count.
    Copy(bytes::Bytes, u64),
}

impl Batch {
    pub(crate) fn rows(&self) -> u64 {
        match self {
            Batch::Rows(rows) => rows.len() as u64,
            Batch::Copy(_, n) => *n,
        }
    }
}

/// A connected database of any supported kind.
pub(crate) enum Db {
    Pg(postgres::Pg),
    My(mysql::My),
    Lite(sqlite::Lite),
}

impl Db {
    pub(crate) fn connect(url: &str) -> Result<Self, GrowError> {
        if loadcast_plan::is_postgres_url(url) {
            postgres::Pg::connect(url).map(Db::Pg)
        } else if loadcast_plan::is_mysql_url(url) {
            mysql::My::connect(url).map(Db::My)
        } else if url.starts_with("sqlite://") {
            sqlite::Lite::connect(url).map(Db::Lite)
        } else {
            Err(GrowError::Connect {
                url: redact_url(url),
                cause: "not a postgres://, mysql:// or sqlite:// URL".into(),
            })
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Db::Pg(_) => "PostgreSQL",
            Db::My(_) => "MariaDB/MySQL",
            Db::Lite(_) => "SQLite",
        }
    }

    pub(crate) fn name(&mut self) -> Result<String, GrowError> {
        match self {
            Db::Pg(d) => d.name(),
            Db::My(d) => d.name(),
            Db::Lite(d) => Ok(d.name()),
        }
    }

    pub(crate) fn has_table(&mut self, table: &str) -> Result<bool, GrowError> {
        match self {
            Db::Pg(d) => d.has_table(table),
            Db::My(d) => d.has_table(table),
            Db::Lite(d) => d.has_table(table),
        }
    }

    pub(crate) fn execute(&mut self, sql: &str) -> Result<(), GrowError> {
        match self {
            Db::Pg(d) => d.execute(sql),
            Db::My(d) => d.execute(sql),
            Db::Lite(d) => d.execute(sql),
        }
    }

    pub(crate) fn schema(&mut self) -> Result<Schema, GrowError> {
        let mut schema = match self {
            Db::Pg(d) => d.schema(),
            Db::My(d) => d.schema(),
            Db::Lite(d) => d.schema(),
        }?;
        schema
            .tables
            .retain(|t| t.name != MARKER_TABLE && t.name != BASELINE_TABLE);
        Ok(schema)
    }

    pub(crate) fn count(&mut self, table: &str) -> Result<u64, GrowError> {
        match self {
            Db::Pg(d) => d.count(table),
            Db::My(d) => d.count(table),
            Db::Lite(d) => d.count(table),
        }
    }

    /// One integer from a query that returns one row and one column.
    pub(crate) fn scalar(&mut self, sql: &str) -> Result<Option<i64>, GrowError> {
        match self {
            Db::Pg(d) => d.scalar(sql),
            Db::My(d) => d.scalar(sql),
            Db::Lite(d) => d.scalar(sql),
        }
    }

    pub(crate) fn max(&mut self, table: &str, column: &str) -> Result<Option<i64>, GrowError> {
        match self {
            Db::Pg(d) => d.max(table, column),
            Db::My(d) => d.max(table, column),
            Db::Lite(d) => d.max(table, column),
        }
    }

    pub(crate) fn keys(&mut self, table: &str, column: &Column) -> Result<Vec<Value>, GrowError> {
        match self {
            Db::Pg(d) => d.keys(table, column),
            Db::My(d) => d.keys(table, column),
            Db::Lite(d) => d.keys(table, column),
        }
    }

    /// How a batch travels from the generator thread: PostgreSQL's is encoded there, so the
    /// writer only streams bytes while the next batch is being made.
    pub(crate) fn encoder(&self) -> Encoder {
        match self {
            Db::Pg(_) => |columns, rows| {
                let n = rows.len() as u64;
                postgres::encode_copy(columns, &rows).map(|bytes| Batch::Copy(bytes, n))
            },
            _ => |_, rows| Ok(Batch::Rows(rows)),
        }
    }

    pub(crate) fn insert(
        &mut self,
        table: &str,
        columns: &[Column],
        batch: &Batch,
    ) -> Result<(), GrowError> {
        match (self, batch) {
            (Db::Pg(d), Batch::Copy(bytes, _)) => d.copy(table, columns, bytes.clone()),
            (Db::Pg(d), Batch::Rows(rows)) => d.insert(table, columns, rows),
            (Db::My(d), Batch::Rows(rows)) => d.insert(table, columns, rows),
            (Db::Lite(d), Batch::Rows(rows)) => d.insert(table, columns, rows),
            (_, Batch::Copy(..)) => Err(GrowError::Database {
                table: Some(table.to_string()),
                cause: "a COPY batch for a database that is not PostgreSQL".into(),
            }),
        }
    }

    pub(crate) fn analyze(&mut self, table: &str) -> Result<(), GrowError> {
        match self {
            Db::Pg(d) => d.analyze(table),
            Db::My(d) => d.analyze(table),
            Db::Lite(d) => d.analyze(table),
        }
    }

    pub(crate) fn size(&mut self) -> Result<u64, GrowError> {
        match self {
            Db::Pg(d) => d.size(),
            Db::My(d) => d.size(),
            Db::Lite(d) => d.size(),
        }
    }
}
