//! SQLite: introspection from `sqlite_master` and pragmas, growth by a prepared `INSERT` in one
//! transaction per batch.

use rusqlite::{Connection, OpenFlags, params_from_iter};

use crate::generate::Value;
use crate::schema::{Column, ForeignKey, Schema, SqlType, Table, apply_check};
use crate::{GrowError, db_error};

pub(crate) struct Lite {
    conn: Connection,
    path: String,
}

pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Lite {
    /// `sqlite://relative/path.db`, `sqlite:///absolute/path.db`. The file must exist: growth
    /// never creates a database.
    pub(crate) fn connect(url: &str) -> Result<Self, GrowError> {
        let path = url.strip_prefix("sqlite://").unwrap_or(url).to_string();
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| GrowError::Connect {
            url: url.to_string(),
            cause: e.to_string(),
        })?;
        // Growth writes in large transactions; WAL keeps readers (a running demo) unblocked.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(|e| db_error(None, e))?;
        Ok(Self { conn, path })
    }

    pub(crate) fn execute(&self, sql: &str) -> Result<(), GrowError> {
        self.conn.execute_batch(sql).map_err(|e| db_error(None, e))
    }

    pub(crate) fn name(&self) -> String {
        std::path::Path::new(&self.path)
            .file_name()
            .map_or(self.path.clone(), |n| n.to_string_lossy().into_owned())
    }

    pub(crate) fn has_table(&self, table: &str) -> Result<bool, GrowError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| db_error(None, e))
    }

    pub(crate) fn schema(&self) -> Result<Schema, GrowError> {
        let mut schema = Schema::default();
        let tables: Vec<(String, String)> = self
            .conn
            .prepare(
                "SELECT name, coalesce(sql, '') FROM sqlite_master \
                 WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()
            })
            .map_err(|e| db_error(None, e))?;
        for (name, sql) in tables {
            let q = quote(&name);
            let info: Vec<(String, String, bool, Option<String>, i64)> = self
                .conn
                .prepare(&format!("PRAGMA table_info({q})"))
                .and_then(|mut s| {
                    s.query_map([], |r| {
                        Ok((r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                    })?
                    .collect::<Result<_, _>>()
                })
                .map_err(|e| db_error(Some(&name), e))?;
            let pk: Vec<String> = {
                let mut pk: Vec<(i64, String)> = info
                    .iter()
                    .filter(|c| c.4 > 0)
                    .map(|c| (c.4, c.0.clone()))
                    .collect();
                pk.sort();
                pk.into_iter().map(|(_, n)| n).collect()
            };
            let mut columns: Vec<Column> = info
                .iter()
                .map(|(col, ty, notnull, default, pk_pos)| {
                    let sql_type = lite_type(ty);
                    // INTEGER PRIMARY KEY is the rowid: SQLite numbers it.
                    let rowid = *pk_pos > 0 && pk.len() == 1 && ty.eq_ignore_ascii_case("integer");
                    Column {
                        name: col.clone(),
                        sql_type,
                        nullable: !notnull && !rowid,
                        has_default: default.is_some() || rowid,
                        auto: rowid,
                        bounds: Default::default(),
                    }
                })
                .collect();
            for check in check_clauses(&sql) {
                apply_check(&check, &mut columns);
            }
            let foreign: Vec<(i64, String, String, Option<String>)> = self
                .conn
                .prepare(&format!("PRAGMA foreign_key_list({q})"))
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                        .collect::<Result<_, _>>()
                })
                .map_err(|e| db_error(Some(&name), e))?;
            let mut foreign_keys: Vec<(i64, ForeignKey)> = Vec::new();
            for (id, parent, from, to) in foreign {
                let to = to.unwrap_or_else(|| "rowid".into());
                match foreign_keys.iter_mut().find(|(i, _)| *i == id) {
                    Some((_, fk)) => {
                        fk.columns.push(from);
                        fk.referenced.push(to);
                    }
                    None => foreign_keys.push((
                        id,
                        ForeignKey {
                            columns: vec![from],
                            table: parent,
                            referenced: vec![to],
                        },
                    )),
                }
            }
            let indexes: Vec<(String, bool, String)> = self
                .conn
                .prepare(&format!("PRAGMA index_list({q})"))
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(3)?)))?
                        .collect::<Result<_, _>>()
                })
                .map_err(|e| db_error(Some(&name), e))?;
            let mut uniques = Vec::new();
            for (index, unique, origin) in indexes {
                if !unique || origin == "pk" {
                    continue;
                }
                let cols: Vec<String> = self
                    .conn
                    .prepare(&format!("PRAGMA index_info({})", quote(&index)))
                    .and_then(|mut s| s.query_map([], |r| r.get(2))?.collect::<Result<_, _>>())
                    .map_err(|e| db_error(Some(&name), e))?;
                uniques.push(cols);
            }
            schema.tables.push(Table {
                name,
                columns,
                primary_key: pk,
                uniques,
                foreign_keys: foreign_keys.into_iter().map(|(_, f)| f).collect(),
            });
        }
        Ok(schema)
    }

    pub(crate) fn count(&self, table: &str) -> Result<u64, GrowError> {
        self.conn
            .query_row(&format!("SELECT count(*) FROM {}", quote(table)), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| db_error(Some(table), e))
    }

    pub(crate) fn scalar(&self, sql: &str) -> Result<Option<i64>, GrowError> {
        self.conn
            .query_row(sql, [], |r| r.get::<_, Option<i64>>(0))
            .map_err(|e| db_error(None, e))
    }

    pub(crate) fn max(&self, table: &str, column: &str) -> Result<Option<i64>, GrowError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT max(CAST({} AS INTEGER)) FROM {}",
                    quote(column),
                    quote(table)
                ),
                [],
                |r| r.get(0),
            )
            .map_err(|e| db_error(Some(table), e))
    }

    pub(crate) fn keys(&self, table: &str, column: &Column) -> Result<Vec<Value>, GrowError> {
        let integer = column.sql_type.is_integer();
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {} FROM {}",
                quote(&column.name),
                quote(table)
            ))
            .map_err(|e| db_error(Some(table), e))?;
        let keys = stmt
            .query_map([], |r| {
                Ok(if integer {
                    Value::Int(r.get(0)?)
                } else {
                    Value::Text(r.get::<_, String>(0)?)
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| db_error(Some(table), e))?;
        Ok(keys)
    }

    pub(crate) fn insert(
        &mut self,
        table: &str,
        columns: &[Column],
        rows: &[Vec<Value>],
    ) -> Result<(), GrowError> {
        let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quote(table),
            names.join(", "),
            vec!["?"; columns.len()].join(", ")
        );
        let tx = self
            .conn
            .transaction()
            .map_err(|e| db_error(Some(table), e))?;
        {
            let mut stmt = tx
                .prepare_cached(&sql)
                .map_err(|e| db_error(Some(table), e))?;
            for row in rows {
                stmt.execute(params_from_iter(
                    row.iter()
                        .zip(columns)
                        .map(|(v, c)| lite_value(v, &c.sql_type)),
                ))
                .map_err(|e| db_error(Some(table), e))?;
            }
        }
        tx.commit().map_err(|e| db_error(Some(table), e))
    }

    pub(crate) fn analyze(&self, _table: &str) -> Result<(), GrowError> {
        self.execute("ANALYZE")
    }

    /// The page cache: `cache_size` is pages when positive, KiB when negative.
    pub(crate) fn cache_bytes(&self) -> Result<Option<u64>, GrowError> {
        let (cache, page): (i64, i64) = self
            .conn
            .query_row(
                "SELECT cache_size, page_size FROM pragma_cache_size(), pragma_page_size()",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| db_error(None, e))?;
        Ok(Some(if cache < 0 {
            (-cache * 1024) as u64
        } else {
            (cache * page) as u64
        }))
    }

    pub(crate) fn size(&self) -> Result<u64, GrowError> {
        self.conn
            .query_row(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| db_error(None, e))
    }
}

/// SQLite's type affinity rules, plus the common declared names.
fn lite_type(declared: &str) -> SqlType {
    let t = declared.to_ascii_lowercase();
    let max = t.split_once('(').and_then(|(_, r)| {
        r.trim_end_matches(')')
            .split(',')
            .next()?
            .trim()
            .parse()
            .ok()
    });
    if t.contains("bool") {
        SqlType::Bool
    } else if t.contains("int") {
        SqlType::BigInt
    } else if t.contains("char") || t.contains("clob") || t.contains("text") {
        SqlType::Text { max }
    } else if t.contains("blob") || t.is_empty() {
        SqlType::Bytes
    } else if t.contains("real") || t.contains("floa") || t.contains("doub") {
        SqlType::Double
    } else if t.contains("decimal") || t.contains("numeric") {
        SqlType::Numeric {
            scale: t
                .split_once(',')
                .and_then(|(_, s)| s.trim_end_matches(')').trim().parse().ok()),
        }
    } else if t.contains("timestamp") || t.contains("datetime") {
        SqlType::Timestamp { zone: false }
    } else if t == "date" {
        SqlType::Date
    } else if t.contains("json") {
        SqlType::Json { binary: false }
    } else if t.contains("uuid") {
        SqlType::Uuid
    } else {
        SqlType::Other(t)
    }
}

/// The `CHECK (…)` clauses of a `CREATE TABLE` statement.
fn check_clauses(sql: &str) -> Vec<String> {
    let lower = sql.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("check") {
        let start = from + at + 5;
        let Some(open) = sql[start..].find('(').map(|i| start + i) else {
            break;
        };
        if !sql[start..open].trim().is_empty() {
            from = start;
            continue;
        }
        let mut depth = 0;
        let mut end = None;
        for (i, c) in sql[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(open + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        out.push(sql[open + 1..end].to_string());
        from = end;
    }
    out
}

fn lite_value(value: &Value, ty: &SqlType) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match value {
        Value::Null => V::Null,
        Value::Int(i) => V::Integer(*i),
        Value::Float(f) => V::Real(*f),
        Value::Bool(b) => V::Integer(i64::from(*b)),
        Value::Bytes(b) => V::Blob(b.clone()),
        Value::Timestamp(us) if *ty == SqlType::Date => {
            V::Text(loadcast_stats::time::format_date(us.div_euclid(1_000_000)))
        }
        other => V::Text(other.to_text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_clauses_are_found_balanced() {
        let sql = "CREATE TABLE t (a INTEGER CHECK (a > 0), b TEXT, CHECK (b IN ('x', 'y')), checked INT)";
        assert_eq!(check_clauses(sql), ["a > 0", "b IN ('x', 'y')"]);
    }
}
