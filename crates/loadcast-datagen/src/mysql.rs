//! MariaDB and MySQL: introspection from `information_schema`, growth by multi-row prepared
//! `INSERT`s, one transaction per batch.

use mysql_async::prelude::Queryable as _;
use mysql_async::{Conn, Opts, Row};
use tokio::runtime::Runtime;

use crate::generate::Value;
use crate::schema::{Column, ForeignKey, Schema, SqlType, apply_check};
use crate::{GrowError, db_error};

pub(crate) struct My {
    conn: Conn,
    runtime: Runtime,
}

pub(crate) fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Most placeholders one statement may carry.
const MAX_PARAMS: usize = 65_535;

impl My {
    pub(crate) fn connect(url: &str) -> Result<Self, GrowError> {
        let error = |cause: String| GrowError::Connect {
            url: loadcast_plan::redact_url(url),
            cause,
        };
        let url = url.replacen("mariadb://", "mysql://", 1);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| error(e.to_string()))?;
        let opts = Opts::from_url(&url).map_err(|e| error(e.to_string()))?;
        let conn = runtime
            .block_on(Conn::new(opts))
            .map_err(|e| error(e.to_string()))?;
        Ok(Self { conn, runtime })
    }

    fn rows(&mut self, sql: &str) -> Result<Vec<Row>, GrowError> {
        self.runtime
            .block_on(self.conn.query(sql))
            .map_err(|e| db_error(None, e))
    }

    pub(crate) fn execute(&mut self, sql: &str) -> Result<(), GrowError> {
        self.runtime
            .block_on(self.conn.query_drop(sql))
            .map_err(|e| db_error(None, e))
    }

    pub(crate) fn name(&mut self) -> Result<String, GrowError> {
        let rows = self.rows("SELECT DATABASE()")?;
        rows.first()
            .and_then(|r| r.get::<Option<String>, _>(0).flatten())
            .ok_or_else(|| GrowError::Refused {
                database: String::new(),
                why: "the URL names no database (mysql://user@host/DATABASE)".into(),
            })
    }

    pub(crate) fn has_table(&mut self, table: &str) -> Result<bool, GrowError> {
        let rows: Vec<Row> = self
            .runtime
            .block_on(self.conn.exec(
                "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                (table,),
            ))
            .map_err(|e| db_error(None, e))?;
        Ok(!rows.is_empty())
    }

    pub(crate) fn schema(&mut self) -> Result<Schema, GrowError> {
        let text = |r: &Row, i: usize| -> String {
            r.get::<Option<String>, _>(i).flatten().unwrap_or_default()
        };
        let columns = self.rows(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, \
                    COALESCE(COLUMN_DEFAULT, ''), EXTRA, COALESCE(CHARACTER_MAXIMUM_LENGTH, 0), \
                    COALESCE(NUMERIC_SCALE, 0), IF(COLUMN_DEFAULT IS NULL, 0, 1) \
             FROM information_schema.COLUMNS c \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN \
               (SELECT TABLE_NAME FROM information_schema.TABLES \
                WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE') \
             ORDER BY TABLE_NAME, ORDINAL_POSITION",
        )?;
        let mut schema = Schema::default();
        for r in &columns {
            let table = text(r, 0);
            let data_type = text(r, 2).to_ascii_lowercase();
            let column_type = text(r, 3).to_ascii_lowercase();
            let extra = text(r, 6).to_ascii_lowercase();
            let max: u64 = r.get::<Option<u64>, _>(7).flatten().unwrap_or(0);
            let scale: u64 = r.get::<Option<u64>, _>(8).flatten().unwrap_or(0);
            let has_default_value = r.get::<Option<i64>, _>(9).flatten().unwrap_or(0) == 1;
            let auto = extra.contains("auto_increment");
            let column = Column {
                name: text(r, 1),
                sql_type: my_type(&data_type, &column_type, max, scale),
                nullable: text(r, 4) == "YES",
                has_default: auto || has_default_value,
                auto,
                bounds: crate::schema::Bounds {
                    // `enum('new','paid')`: only its labels fit (anything else is truncated).
                    allowed: (data_type == "enum").then(|| enum_labels(&column_type)),
                    ..Default::default()
                },
            };
            schema.add_column(table, column);
        }
        let indexes = self.rows(
            "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0 \
             ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        )?;
        let mut groups: Vec<(String, String, Vec<String>)> = Vec::new();
        for r in &indexes {
            let (table, index, column) = (text(r, 0), text(r, 1), text(r, 2));
            match groups
                .iter_mut()
                .find(|(t, i, _)| *t == table && *i == index)
            {
                Some((_, _, cols)) => cols.push(column),
                None => groups.push((table, index, vec![column])),
            }
        }
        for (table, index, cols) in groups {
            if let Some(t) = schema.tables.iter_mut().find(|t| t.name == table) {
                if index == "PRIMARY" {
                    t.primary_key = cols;
                } else {
                    t.uniques.push(cols);
                }
            }
        }
        let fks = self.rows(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, \
                    REFERENCED_COLUMN_NAME \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL \
             ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
        )?;
        let mut fk_groups: Vec<(String, String, ForeignKey)> = Vec::new();
        for r in &fks {
            let (table, name) = (text(r, 0), text(r, 1));
            match fk_groups
                .iter_mut()
                .find(|(t, n, _)| *t == table && *n == name)
            {
                Some((_, _, fk)) => {
                    fk.columns.push(text(r, 2));
                    fk.referenced.push(text(r, 4));
                }
                None => fk_groups.push((
                    table,
                    name,
                    ForeignKey {
                        columns: vec![text(r, 2)],
                        table: text(r, 3),
                        referenced: vec![text(r, 4)],
                    },
                )),
            }
        }
        for (table, _, fk) in fk_groups {
            if let Some(t) = schema.tables.iter_mut().find(|t| t.name == table) {
                t.foreign_keys.push(fk);
            }
        }
        // MariaDB ≥ 10.2 and MySQL ≥ 8.0.16 keep check clauses here; older servers have none.
        if let Ok(checks) = self.rows(
            "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = DATABASE()",
        ) {
            for r in &checks {
                if let Some(t) = schema.tables.iter_mut().find(|t| t.name == text(r, 0)) {
                    let clause = text(r, 1);
                    // MariaDB's JSON is LONGTEXT with a json_valid() check.
                    if let Some(column) = clause
                        .strip_prefix("json_valid(")
                        .and_then(|c| c.strip_suffix(')'))
                    {
                        let column = column.trim_matches('`');
                        if let Some(c) = t.columns.iter_mut().find(|c| c.name == column) {
                            c.sql_type = SqlType::Json { binary: false };
                        }
                        continue;
                    }
                    apply_check(&clause, &mut t.columns);
                }
            }
        }
        Ok(schema)
    }

    fn single_i64(&mut self, sql: &str) -> Result<Option<i64>, GrowError> {
        let rows = self.rows(sql)?;
        Ok(rows
            .first()
            .and_then(|r| r.get::<Option<i64>, _>(0).flatten()))
    }

    pub(crate) fn count(&mut self, table: &str) -> Result<u64, GrowError> {
        Ok(self
            .single_i64(&format!("SELECT COUNT(*) FROM {}", quote(table)))
            .map_err(|e| e.in_table(table))?
            .unwrap_or(0) as u64)
    }

    pub(crate) fn scalar(&mut self, sql: &str) -> Result<Option<i64>, GrowError> {
        self.single_i64(sql)
    }

    pub(crate) fn max(&mut self, table: &str, column: &str) -> Result<Option<i64>, GrowError> {
        self.single_i64(&format!(
            "SELECT CAST(MAX({}) AS SIGNED) FROM {}",
            quote(column),
            quote(table)
        ))
    }

    pub(crate) fn keys(&mut self, table: &str, column: &Column) -> Result<Vec<Value>, GrowError> {
        let integer = column.sql_type.is_integer();
        let rows = self.rows(&format!(
            "SELECT {} FROM {}",
            if integer {
                format!("CAST({} AS SIGNED)", quote(&column.name))
            } else {
                format!("CAST({} AS CHAR)", quote(&column.name))
            },
            quote(table)
        ))?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                if integer {
                    r.get::<Option<i64>, _>(0).flatten().map(Value::Int)
                } else {
                    r.get::<Option<String>, _>(0).flatten().map(Value::Text)
                }
            })
            .collect())
    }

    /// The batch as multi-row `INSERT`s in one transaction.
    pub(crate) fn insert(
        &mut self,
        table: &str,
        columns: &[Column],
        rows: &[Vec<Value>],
    ) -> Result<(), GrowError> {
        let per_statement = (MAX_PARAMS / columns.len().max(1)).clamp(1, 2_000);
        let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
        let one_row = format!("({})", vec!["?"; columns.len()].join(","));
        let runtime = &self.runtime;
        let conn = &mut self.conn;
        runtime
            .block_on(async {
                let mut tx = conn
                    .start_transaction(mysql_async::TxOpts::default())
                    .await?;
                for chunk in rows.chunks(per_statement) {
                    let sql = format!(
                        "INSERT INTO {} ({}) VALUES {}",
                        quote(table),
                        names.join(","),
                        vec![one_row.as_str(); chunk.len()].join(",")
                    );
                    let params: Vec<mysql_async::Value> = chunk
                        .iter()
                        .flat_map(|row| {
                            row.iter()
                                .zip(columns)
                                .map(|(v, c)| my_value(v, &c.sql_type))
                        })
                        .collect();
                    tx.exec_drop(sql, params).await?;
                }
                tx.commit().await
            })
            .map_err(|e| db_error(Some(table), e))
    }

    pub(crate) fn analyze(&mut self, table: &str) -> Result<(), GrowError> {
        self.rows(&format!("ANALYZE TABLE {}", quote(table)))
            .map(|_| ())
    }

    pub(crate) fn buffer_pool_bytes(&mut self) -> Result<Option<u64>, GrowError> {
        Ok(self
            .single_i64("SELECT CAST(@@innodb_buffer_pool_size AS SIGNED)")?
            .map(|b| b as u64))
    }

    pub(crate) fn size(&mut self) -> Result<u64, GrowError> {
        Ok(self
            .single_i64(
                "SELECT CAST(SUM(DATA_LENGTH + INDEX_LENGTH) AS SIGNED) \
                 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
            )?
            .unwrap_or(0) as u64)
    }
}

/// The labels of `enum('a','b','it''s')`, unquoted.
fn enum_labels(column_type: &str) -> Vec<String> {
    let inner = column_type
        .trim()
        .strip_prefix("enum(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or("");
    let mut labels = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' if quoted && chars.peek() == Some(&'\'') => {
                current.push('\'');
                chars.next();
            }
            '\'' => {
                if quoted {
                    labels.push(std::mem::take(&mut current));
                }
                quoted = !quoted;
            }
            _ if quoted => current.push(c),
            _ => {}
        }
    }
    labels
}

fn my_type(data_type: &str, column_type: &str, max: u64, scale: u64) -> SqlType {
    match data_type {
        "tinyint" if column_type.starts_with("tinyint(1)") => SqlType::Bool,
        "bool" | "boolean" => SqlType::Bool,
        "tinyint" | "smallint" => SqlType::SmallInt,
        "mediumint" | "int" | "integer" => SqlType::Int,
        "bigint" => SqlType::BigInt,
        "float" => SqlType::Real,
        "double" | "real" => SqlType::Double,
        "decimal" | "numeric" => SqlType::Numeric {
            scale: Some(scale as u32),
        },
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set" => {
            SqlType::Text {
                max: (max > 0 && max < u64::from(u32::MAX)).then_some(max as usize),
            }
        }
        "date" => SqlType::Date,
        "datetime" | "timestamp" => SqlType::Timestamp {
            zone: data_type == "timestamp",
        },
        "json" => SqlType::Json { binary: false },
        "uuid" => SqlType::Uuid,
        "binary" | "varbinary" | "blob" | "tinyblob" | "mediumblob" | "longblob" => SqlType::Bytes,
        other => SqlType::Other(other.to_string()),
    }
}

fn my_value(value: &Value, ty: &SqlType) -> mysql_async::Value {
    use mysql_async::Value as V;
    match value {
        Value::Null => V::NULL,
        Value::Int(i) => V::Int(*i),
        Value::Float(f) => V::Double(*f),
        Value::Bool(b) => V::Int(i64::from(*b)),
        Value::Timestamp(us) => {
            let seconds = us.div_euclid(1_000_000);
            let (y, m, d) = loadcast_stats::time::civil_from_days(seconds.div_euclid(86_400));
            let s = seconds.rem_euclid(86_400);
            if *ty == SqlType::Date {
                V::Date(y as u16, m as u8, d as u8, 0, 0, 0, 0)
            } else {
                V::Date(
                    y as u16,
                    m as u8,
                    d as u8,
                    (s / 3600) as u8,
                    (s % 3600 / 60) as u8,
                    (s % 60) as u8,
                    us.rem_euclid(1_000_000) as u32,
                )
            }
        }
        Value::Bytes(b) => V::Bytes(b.clone()),
        other => V::Bytes(other.to_text().into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn enum_labels_are_read_with_their_quotes() {
        assert_eq!(
            super::enum_labels("enum('new','paid','it''s shipped')"),
            ["new", "paid", "it's shipped"]
        );
        assert!(super::enum_labels("varchar(20)").is_empty());
    }
}
