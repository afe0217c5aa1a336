//! Real databases for tests: a fresh, uniquely named database on the local PostgreSQL or
//! MariaDB (or a SQLite file), with a schema loaded, dropped again when the guard goes. Fails
//! loudly when the server cannot be reached: a test that needs a database never skips.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

fn unique_name(prefix: &str) -> String {
    format!(
        "lc_{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    MariaDb,
    Sqlite,
}

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    pub engine: Engine,
    pub name: String,
    pub url: String,
    file: Option<PathBuf>,
}

fn run(program: &str, args: &[&str], input: Option<&str>) -> String {
    use std::io::Write as _;
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (is it installed?)"));
    if let Some(input) = input {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl TestDb {
    /// A new database with `schema` (SQL) loaded.
    pub fn create(engine: Engine, schema: &str) -> Self {
        match engine {
            Engine::Postgres => {
                let name = unique_name("pg");
                run(
                    "psql",
                    &[
                        "-h",
                        "127.0.0.1",
                        "-U",
                        "postgres",
                        "-qc",
                        &format!("CREATE DATABASE {name}"),
                    ],
                    None,
                );
                run(
                    "psql",
                    &[
                        "-h",
                        "127.0.0.1",
                        "-U",
                        "postgres",
                        "-q",
                        "-v",
                        "ON_ERROR_STOP=1",
                        "-d",
                        &name,
                    ],
                    Some(schema),
                );
                Self {
                    engine,
                    url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
                    name,
                    file: None,
                }
            }
            Engine::MariaDb => {
                let name = unique_name("my");
                run(
                    "mariadb",
                    &[
                        "-h",
                        "127.0.0.1",
                        "-u",
                        "root",
                        "-e",
                        &format!("CREATE DATABASE {name}"),
                    ],
                    None,
                );
                run(
                    "mariadb",
                    &["-h", "127.0.0.1", "-u", "root", &name],
                    Some(schema),
                );
                Self {
                    engine,
                    url: format!("mysql://root@127.0.0.1:3306/{name}"),
                    name,
                    file: None,
                }
            }
            Engine::Sqlite => {
                let name = unique_name("lite");
                let path = std::env::temp_dir().join(format!("{name}.db"));
                let _ = std::fs::remove_file(&path);
                let conn = rusqlite::Connection::open(&path).unwrap();
                conn.execute_batch(schema).unwrap();
                Self {
                    engine,
                    url: format!("sqlite://{}", path.display()),
                    name: format!("{name}.db"),
                    file: Some(path),
                }
            }
        }
    }

    /// Runs a query and returns its first column of the first row as text.
    pub fn scalar(&self, sql: &str) -> String {
        match self.engine {
            Engine::Postgres => run(
                "psql",
                &[
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-Atqd",
                    &self.name,
                    "-c",
                    sql,
                ],
                None,
            )
            .trim()
            .to_string(),
            Engine::MariaDb => run(
                "mariadb",
                &[
                    "-h",
                    "127.0.0.1",
                    "-u",
                    "root",
                    "-N",
                    "-B",
                    &self.name,
                    "-e",
                    sql,
                ],
                None,
            )
            .trim()
            .to_string(),
            Engine::Sqlite => {
                let conn = rusqlite::Connection::open(self.file.as_ref().unwrap()).unwrap();
                conn.query_row(sql, [], |r| {
                    let v: rusqlite::types::Value = r.get(0)?;
                    Ok(match v {
                        rusqlite::types::Value::Null => String::new(),
                        rusqlite::types::Value::Integer(i) => i.to_string(),
                        rusqlite::types::Value::Real(f) => f.to_string(),
                        rusqlite::types::Value::Text(t) => t,
                        rusqlite::types::Value::Blob(b) => format!("{b:?}"),
                    })
                })
                .unwrap()
            }
        }
    }

    pub fn number(&self, sql: &str) -> f64 {
        let text = self.scalar(sql);
        text.parse()
            .unwrap_or_else(|_| panic!("{sql} gave {text:?}, not a number"))
    }

    /// Creates the marker table, as `loadcast grow --init-marker` would.
    pub fn mark(&self) {
        let sql = "CREATE TABLE loadcast_target (marked_at TEXT, note TEXT)";
        match self.engine {
            Engine::Postgres => {
                run(
                    "psql",
                    &[
                        "-h",
                        "127.0.0.1",
                        "-U",
                        "postgres",
                        "-qd",
                        &self.name,
                        "-c",
                        sql,
                    ],
                    None,
                );
            }
            Engine::MariaDb => {
                run(
                    "mariadb",
                    &["-h", "127.0.0.1", "-u", "root", &self.name, "-e", sql],
                    None,
                );
            }
            Engine::Sqlite => {
                rusqlite::Connection::open(self.file.as_ref().unwrap())
                    .unwrap()
                    .execute_batch(sql)
                    .unwrap();
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self.engine {
            Engine::Postgres => {
                let _ = Command::new("psql")
                    .args(["-h", "127.0.0.1", "-U", "postgres", "-qc"])
                    .arg(format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    ))
                    .output();
            }
            Engine::MariaDb => {
                let _ = Command::new("mariadb")
                    .args(["-h", "127.0.0.1", "-u", "root", "-e"])
                    .arg(format!("DROP DATABASE IF EXISTS {}", self.name))
                    .output();
            }
            Engine::Sqlite => {
                if let Some(f) = &self.file {
                    let _ = std::fs::remove_file(f);
                    let _ = std::fs::remove_file(f.with_extension("db-wal"));
                    let _ = std::fs::remove_file(f.with_extension("db-shm"));
                }
            }
        }
    }
}
