//! What keeps growth honest and safe: the marker table that says a database is a test target
//! (nothing is written without it), and the baselines recorded there — each table's row count
//! before loadcast first grew it — so that "2x" means twice the data the team had, however
//! often growth is interrupted, resumed or repeated.

use crate::{Db, GrowError, GrowOptions, format_timestamp, generate};

/// The table that marks a database as a test target.
pub const MARKER_TABLE: &str = "loadcast_target";
/// Row counts of tables before loadcast first grew them.
pub const BASELINE_TABLE: &str = "loadcast_baseline";

impl Db {
    /// The guard: a marker table, or the database named by the caller.
    pub(crate) fn check_allowed(&mut self, options: &GrowOptions) -> Result<String, GrowError> {
        let name = self.name()?;
        if let Some(allowed) = &options.allow_database {
            if *allowed == name {
                return Ok(name);
            }
            return Err(GrowError::Refused {
                database: name.clone(),
                why: format!("--allow-database names {allowed:?}, not this database"),
            });
        }
        if !options.require_marker || self.has_table(MARKER_TABLE)? {
            return Ok(name);
        }
        Err(GrowError::Refused {
            database: name,
            why: format!(
                "it has no {MARKER_TABLE} table, so nothing says it is a test database. If it is \
                 one, mark it with `loadcast grow --init-marker` (or name it with \
                 --allow-database)"
            ),
        })
    }

    /// The row count recorded for `table` before loadcast first grew it.
    pub(crate) fn baseline(&mut self, table: &str) -> Result<Option<u64>, GrowError> {
        if !self.has_table(BASELINE_TABLE)? {
            return Ok(None);
        }
        let sql = format!(
            "SELECT max(base_rows) FROM {BASELINE_TABLE} WHERE table_name = '{}'",
            table.replace('\'', "''")
        );
        Ok(self.scalar(&sql)?.map(|n| n.max(0) as u64))
    }

    /// Records `rows` as `table`'s baseline unless one is recorded already; returns the
    /// baseline in force.
    pub(crate) fn record_baseline(&mut self, table: &str, rows: u64) -> Result<u64, GrowError> {
        if let Some(b) = self.baseline(table)? {
            return Ok(b);
        }
        let text = match self {
            Db::My(_) => "VARCHAR(200)",
            _ => "TEXT",
        };
        self.execute(&format!(
            "CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} (table_name {text}, base_rows BIGINT, recorded_at {text})"
        ))?;
        self.execute(&format!(
            "INSERT INTO {BASELINE_TABLE} (table_name, base_rows, recorded_at) VALUES ('{}', {rows}, '{}')",
            table.replace('\'', "''"),
            format_timestamp(generate::now_us())
        ))?;
        Ok(rows)
    }
}

/// Creates the marker table that allows growth in this database. Returns the database's name.
pub fn init_marker(url: &str) -> Result<String, GrowError> {
    let mut db = Db::connect(url)?;
    let name = db.name()?;
    let sql = match db {
        Db::My(_) => format!(
            "CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (marked_at VARCHAR(40), note VARCHAR(200))"
        ),
        _ => format!("CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (marked_at TEXT, note TEXT)"),
    };
    db.execute(&sql)?;
    db.execute(&format!(
        "INSERT INTO {MARKER_TABLE} (marked_at, note) VALUES ('{}', 'test database: loadcast grow may write here')",
        format_timestamp(generate::now_us())
    ))?;
    Ok(name)
}

/// The row count `table` had before loadcast first grew it, if it was ever grown by a relative
/// target or a capacity study.
pub fn baseline(url: &str, table: &str) -> Result<Option<u64>, GrowError> {
    Db::connect(url)?.baseline(table)
}
