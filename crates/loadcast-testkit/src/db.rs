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
    /// The PostgreSQL server's port (5432, or a [`PgServer`]'s).
    port: u16,
}

/// `psql` against the server on `port` as `postgres`, then `rest`.
fn psql(port: u16, rest: &[&str], input: Option<&str>) -> String {
    let port = port.to_string();
    let mut args = vec!["-h", "127.0.0.1", "-p", &port, "-U", "postgres"];
    args.extend_from_slice(rest);
    run("psql", &args, input)
}

/// The `mariadb` client against the server on `port` as `root`, then `rest`.
fn mariadb(port: u16, rest: &[&str], input: Option<&str>) -> String {
    let port = port.to_string();
    let mut args = vec!["-h", "127.0.0.1", "-P", &port, "-u", "root"];
    args.extend_from_slice(rest);
    run("mariadb", &args, input)
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
            Engine::Postgres => Self::postgres_on(5432, schema),
            Engine::MariaDb => Self::mariadb_on(3306, schema),
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
                    port: 0,
                }
            }
        }
    }

    /// A new database with `schema` loaded on the PostgreSQL server at `port`.
    pub fn postgres_on(port: u16, schema: &str) -> Self {
        let name = unique_name("pg");
        psql(port, &["-qc", &format!("CREATE DATABASE {name}")], None);
        psql(
            port,
            &["-q", "-v", "ON_ERROR_STOP=1", "-d", &name],
            Some(schema),
        );
        Self {
            engine: Engine::Postgres,
            url: format!("postgres://postgres@127.0.0.1:{port}/{name}"),
            name,
            file: None,
            port,
        }
    }

    /// A new database with `schema` loaded on the MariaDB server at `port`.
    pub fn mariadb_on(port: u16, schema: &str) -> Self {
        let name = unique_name("my");
        mariadb(port, &["-e", &format!("CREATE DATABASE {name}")], None);
        mariadb(port, &[&name], Some(schema));
        Self {
            engine: Engine::MariaDb,
            url: format!("mysql://root@127.0.0.1:{port}/{name}"),
            name,
            file: None,
            port,
        }
    }

    /// Runs a query and returns its first column of the first row as text.
    pub fn scalar(&self, sql: &str) -> String {
        match self.engine {
            Engine::Postgres => psql(self.port, &["-Atqd", &self.name, "-c", sql], None)
                .trim()
                .to_string(),
            Engine::MariaDb => mariadb(self.port, &["-N", "-B", &self.name, "-e", sql], None)
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
                psql(self.port, &["-qd", &self.name, "-c", sql], None);
            }
            Engine::MariaDb => {
                mariadb(self.port, &[&self.name, "-e", sql], None);
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
                    .arg("-p")
                    .arg(self.port.to_string())
                    .arg(format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    ))
                    .output();
            }
            Engine::MariaDb => {
                let _ = Command::new("mariadb")
                    .args(["-h", "127.0.0.1", "-u", "root", "-P"])
                    .arg(self.port.to_string())
                    .arg("-e")
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

/// A PostgreSQL server of the test's own: a fresh cluster in a temporary directory on a free
/// loopback port, started with settings the machine's shared server does not have
/// (`pg_stat_statements` preloaded), stopped and removed when dropped. Run as the `postgres`
/// user when the tests run as root (the server refuses root).
#[derive(Debug)]
pub struct PgServer {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    as_root: bool,
}

impl PgServer {
    /// Starts a server with `settings` (`name=value`) on the command line.
    pub fn start(settings: &[&str]) -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .unwrap_or_else(|e| panic!("no PostgreSQL server binaries in /usr/lib/postgresql: {e}"))
            .filter_map(|d| d.ok().map(|d| d.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max_by_key(|b| {
                b.parent()
                    .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
                    .unwrap_or(0)
            })
            .expect("no initdb under /usr/lib/postgresql/*/bin (install postgresql)");
        let dir = std::env::temp_dir().join(unique_name("pgserver"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let as_root = effective_uid_is_root();
        if as_root {
            chown(&dir, "postgres:postgres");
        }
        let port = free_port();
        let server = Self {
            port,
            dir,
            bin,
            as_root,
        };
        let data = server.dir.join("data");
        server.pg(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let mut options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            server.dir.display()
        );
        for setting in settings {
            options.push_str(&format!(" -c {setting}"));
        }
        server.pg(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                server.dir.join("log").to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        server
    }

    /// One of the server's programs, run as `postgres` when the tests run as root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        }
    }

    fn pg(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
        );
    }

    /// A new database with `schema` loaded on this server.
    pub fn database(&self, schema: &str) -> TestDb {
        TestDb::postgres_on(self.port, schema)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self
            .command("pg_ctl")
            .args(["-D", data.to_str().unwrap_or(""), "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A MariaDB server of the test's own, as [`PgServer`] is for PostgreSQL: a fresh data
/// directory on a free loopback port, started with settings the machine's server does not have
/// (`performance_schema=ON`), stopped and removed when dropped. Run as the `mysql` user when
/// the tests run as root.
#[derive(Debug)]
pub struct MariaServer {
    pub port: u16,
    dir: PathBuf,
    child: std::process::Child,
}

impl MariaServer {
    /// Starts a server with `settings` (`name=value`) as command-line options.
    pub fn start(settings: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(unique_name("mariaserver"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let as_root = effective_uid_is_root();
        if as_root {
            chown(&dir, "mysql:mysql");
        }
        let data = dir.join("data");
        let mut install = Command::new("mariadb-install-db");
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
        if as_root {
            install.arg("--user=mysql");
        }
        let out = install.output().unwrap_or_else(|e| {
            panic!("cannot run mariadb-install-db: {e} (install mariadb-server)")
        });
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let mut server = Command::new("/usr/sbin/mariadbd");
        server
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", dir.join("sock").display()))
            .arg(format!("--pid-file={}", dir.join("pid").display()))
            .arg(format!("--log-error={}", dir.join("log").display()))
            .args(["--skip-log-bin", "--innodb-buffer-pool-size=64M"]);
        for setting in settings {
            server.arg(format!("--{setting}"));
        }
        if as_root {
            server.arg("--user=mysql");
        }
        let child = server
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start mariadbd: {e}"));
        let server = Self { port, dir, child };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let ready = Command::new("mariadb")
                .args(["-h", "127.0.0.1", "-u", "root", "-P", &port.to_string()])
                .args(["-e", "SELECT 1"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ready {
                return server;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "mariadbd did not accept connections on port {port} within 60 s:\n{}",
                std::fs::read_to_string(server.dir.join("log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// A new database with `schema` loaded on this server.
    pub fn database(&self, schema: &str) -> TestDb {
        TestDb::mariadb_on(self.port, schema)
    }
}

impl Drop for MariaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The effective uid is 0, from /proc rather than a libc binding.
fn effective_uid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn chown(path: &std::path::Path, owner: &str) {
    let out = Command::new("chown")
        .arg(owner)
        .arg(path)
        .output()
        .expect("chown");
    assert!(
        out.status.success(),
        "chown: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
