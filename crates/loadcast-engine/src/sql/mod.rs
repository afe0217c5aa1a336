//! SQL steps' connections: PostgreSQL or MySQL/MariaDB by the plan's database URL. Each virtual
//! user holds its own connection and prepares each statement on it once; a statement's rows
//! come back as text for captures and checks, and every failure is sorted by its SQLSTATE (or
//! MySQL error number) into an error kind.

use std::time::Duration;

use loadcast_plan::{Column, redact_url};
use loadcast_stats::ErrorKind;

use crate::EngineError;

mod mysql;
mod postgres;
mod view;

pub(crate) use view::{ViewSampler, explain};

/// A result value as text (`None`: NULL), or why it could not be read as text.
pub(crate) type Cell = Result<Option<String>, String>;

/// What a statement returned.
#[derive(Debug, Default)]
pub(crate) struct SqlAnswer {
    /// Column names and rows, kept only when a capture or check reads them.
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// Rows returned or, for a statement that returns none, affected.
    pub count: u64,
}

#[derive(Clone, Debug)]
enum Server {
    Postgres(Box<tokio_postgres::Config>),
    Mysql(mysql_async::Opts),
}

/// How to reach the database the plan's SQL steps go to.
#[derive(Clone, Debug)]
pub(crate) struct SqlConnector {
    server: Server,
    /// The URL without its password, for messages.
    shown: String,
    connect_timeout: Duration,
    /// Statements the plan prepares: a connection keeps one slot for each.
    statements: usize,
}

/// One open connection and the statements prepared on it so far.
pub(crate) struct SqlConnection(Link);

enum Link {
    Postgres(postgres::PgConnection),
    Mysql(mysql::MyConnection),
}

impl SqlConnector {
    pub(crate) fn new(
        url: &str,
        connect_timeout: Duration,
        statements: usize,
    ) -> Result<Self, EngineError> {
        let shown = redact_url(url);
        let server = if loadcast_plan::is_mysql_url(url) {
            mysql::options(url).map(Server::Mysql)
        } else {
            postgres::config(url).map(|c| Server::Postgres(Box::new(c)))
        }
        .map_err(|cause| EngineError::Unreachable {
            target: shown.clone(),
            cause,
        })?;
        Ok(Self {
            server,
            shown,
            connect_timeout,
            statements,
        })
    }

    /// Opens a connection within the connect timeout.
    pub(crate) async fn connect(&self) -> Result<SqlConnection, ErrorKind> {
        self.open().await.map_err(|(kind, _)| kind)
    }

    async fn open(&self) -> Result<SqlConnection, (ErrorKind, String)> {
        let connecting = async {
            match &self.server {
                Server::Postgres(config) => postgres::connect(config, self.statements)
                    .await
                    .map(|c| SqlConnection(Link::Postgres(c)))
                    .map_err(|e| (postgres::connect_error_kind(&e), postgres::describe(&e))),
                Server::Mysql(options) => mysql::connect(options, self.statements)
                    .await
                    .map(|c| SqlConnection(Link::Mysql(c)))
                    .map_err(|e| (mysql::connect_error_kind(&e), e.to_string())),
            }
        };
        match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(result) => result,
            Err(_) => Err((
                ErrorKind::ConnectTimeout,
                format!(
                    "no answer within {}",
                    humantime::format_duration(self.connect_timeout)
                ),
            )),
        }
    }

    /// Checks once, before any load, that the database accepts a connection.
    pub(crate) async fn preflight(&self) -> Result<(), EngineError> {
        self.open()
            .await
            .map(drop)
            .map_err(|(_, cause)| EngineError::Unreachable {
                target: self.shown.clone(),
                cause,
            })
    }
}

impl SqlConnection {
    pub(crate) fn is_closed(&self) -> bool {
        match &self.0 {
            Link::Postgres(c) => c.is_closed(),
            // Found out by the next statement, which then counts the connection lost.
            Link::Mysql(_) => false,
        }
    }

    /// Runs statement `slot` (preparing it on first use) with text parameters; keeps the rows
    /// only when `keep_rows`.
    pub(crate) async fn execute(
        &mut self,
        slot: usize,
        sql: &str,
        params: &[String],
        keep_rows: bool,
    ) -> Result<SqlAnswer, ErrorKind> {
        match &mut self.0 {
            Link::Postgres(c) => c.execute(slot, sql, params, keep_rows).await,
            Link::Mysql(c) => c.execute(slot, sql, params, keep_rows).await,
        }
    }

    /// BEGIN, COMMIT or ROLLBACK.
    pub(crate) async fn control(&mut self, command: &str) -> Result<(), ErrorKind> {
        match &mut self.0 {
            Link::Postgres(c) => c.control(command).await,
            Link::Mysql(c) => c.control(command).await,
        }
    }
}

/// A value of a result as text, for captures and checks; `Ok(None)` for NULL.
pub(crate) fn cell_text(answer: &SqlAnswer, row: usize, column: &Column) -> Cell {
    let Some(r) = answer.rows.get(row) else {
        return Err(format!(
            "the result has {} rows, not row {row}",
            answer.rows.len()
        ));
    };
    let index = match column {
        Column::Index(i) if *i < r.len() => *i,
        Column::Index(i) => {
            return Err(format!(
                "the result has {} columns, not column {i}",
                r.len()
            ));
        }
        Column::Name(name) => answer
            .columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| format!("the result has no column {name:?}"))?,
    };
    r[index].clone()
}
