//! The database's own view of a run: statistics read before and after the load give what
//! changed during it; the server's sessions, sampled once a second on a connection and a thread
//! of its own, give what they waited on; `/proc` gives the server processes' CPU and I/O when
//! the server runs on this machine. Nothing is reset: other users' statistics stay as they were.
//! PostgreSQL ([`postgres`]) and MySQL/MariaDB ([`mysql`]) fill the same [`DatabaseView`].
//!
//! [`explain`] asks the server how it plans statements, for the capacity study's plan changes.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use loadcast_stats::database::{DatabaseView, StatementPlan, StatementTime, WaitShare};

mod mysql;
mod postgres;

/// Statements shown at most.
const TOP: usize = 5;

/// A sampler watching one run; [`ViewSampler::finish`] ends it and returns what it saw.
pub(crate) struct ViewSampler {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<DatabaseView>,
}

/// The server a view reads, with what its watch needs.
enum Server {
    Postgres(Box<tokio_postgres::Config>),
    Mysql(mysql_async::Opts),
}

impl Server {
    fn of(url: &str) -> Option<Server> {
        if loadcast_plan::is_postgres_url(url) {
            crate::sql::postgres::config(url)
                .ok()
                .map(|c| Server::Postgres(Box::new(c)))
        } else if loadcast_plan::is_mysql_url(url) {
            crate::sql::mysql::options(url).ok().map(Server::Mysql)
        } else {
            None
        }
    }
}

impl ViewSampler {
    /// Starts watching the database at `url`, whose load ends at `load_ends`; `None` for a
    /// server it cannot read.
    pub(crate) fn start(
        url: &str,
        connect_timeout: Duration,
        load_ends: Instant,
    ) -> Option<ViewSampler> {
        let server = Server::of(url)?;
        let (stop, stopped) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("loadcast-db-view".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => return noted(format!("the database was not watched: {e}")),
                };
                runtime.block_on(async move {
                    match server {
                        Server::Postgres(config) => {
                            postgres::watch(*config, connect_timeout, stopped).await
                        }
                        Server::Mysql(options) => {
                            mysql::watch(options, connect_timeout, load_ends, stopped).await
                        }
                    }
                })
            })
            .ok()?;
        Some(ViewSampler { stop, thread })
    }

    pub(crate) fn finish(self) -> DatabaseView {
        let _ = self.stop.send(());
        self.thread
            .join()
            .unwrap_or_else(|_| noted("the database watcher failed".into()))
    }
}

/// How the server at `url` plans each of `statements` now; a statement it cannot plan gets
/// its error instead. Empty for a server the view does not read.
pub(crate) fn explain(
    url: &str,
    connect_timeout: Duration,
    statements: &[String],
) -> Vec<StatementPlan> {
    let Some(server) = Server::of(url) else {
        return Vec::new();
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    let statements: Vec<&String> = statements.iter().filter(|q| explainable(q)).collect();
    runtime.block_on(async move {
        match server {
            Server::Postgres(config) => {
                postgres::explain(&config, connect_timeout, &statements).await
            }
            Server::Mysql(options) => mysql::explain(options, connect_timeout, &statements).await,
        }
    })
}

/// How long to wait for the next sample, one a second, with one taken as the load ends.
fn until_next_sample(tick: Instant, load_ends: Instant) -> Duration {
    let next = tick + Duration::from_secs(1);
    let at = if tick < load_ends {
        next.min(load_ends)
    } else {
        next
    };
    at.saturating_duration_since(Instant::now())
}

/// What a watch gathered while the load ran, put into the view the same way for every server.
struct Sampled {
    /// Active sessions seen in each wait class, over `samples` samples.
    waits: BTreeMap<String, f64>,
    samples: u64,
    processes: Option<Processes>,
    started: Instant,
    /// The view's own queries and the time they took.
    spent: (u64, Duration),
}

impl Sampled {
    /// Largest tables first (ten kept), wait classes by sessions, the server's processes, and
    /// what watching cost.
    fn fill(self, view: &mut DatabaseView) {
        view.tables
            .sort_by_key(|t| std::cmp::Reverse(t.table_bytes + t.index_bytes));
        view.tables.truncate(10);
        let active: f64 = self.waits.values().sum();
        view.waits = self
            .waits
            .into_iter()
            .map(|(class, n)| WaitShare {
                class,
                sessions: n / self.samples.max(1) as f64,
                share: n / active.max(1.0),
            })
            .collect();
        view.waits.sort_by(|a, b| b.sessions.total_cmp(&a.sessions));
        if let Some(p) = self.processes {
            let (cpu, read, write) = p.used();
            view.server_cpu_seconds = cpu;
            view.server_read_bytes = read;
            view.server_write_bytes = write;
        }
        view.seconds = self.started.elapsed().as_secs_f64();
        view.sampling_queries = self.spent.0;
        view.sampling_seconds = self.spent.1.as_secs_f64();
    }
}

fn noted(note: String) -> DatabaseView {
    DatabaseView {
        notes: vec![note],
        ..DatabaseView::default()
    }
}

fn number(text: &str) -> f64 {
    text.parse().unwrap_or(0.0)
}

/// `(statement id → (query, calls, ms, temp blocks or tables))`, as the server counts them.
type Statements = HashMap<String, (String, f64, f64, f64)>;

/// The statements that ran during the run, by the time they took, most first.
fn statement_deltas(before: &Statements, after: &Statements) -> Vec<StatementTime> {
    let mut ran: Vec<StatementTime> = after
        .iter()
        .filter_map(|(id, (query, calls, ms, temp))| {
            let (c0, ms0, t0) = before.get(id).map_or((0.0, 0.0, 0.0), |b| (b.1, b.2, b.3));
            let calls = calls - c0;
            (calls > 0.0).then(|| StatementTime {
                query: query.clone(),
                calls: calls as u64,
                total_ms: (ms - ms0).max(0.0),
                mean_ms: (ms - ms0).max(0.0) / calls,
                share: 0.0,
                temp_blocks: (temp - t0).max(0.0) as u64,
            })
        })
        .collect();
    let total: f64 = ran.iter().map(|s| s.total_ms).sum();
    for s in &mut ran {
        s.share = s.total_ms / total.max(1e-9);
    }
    ran.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms));
    ran.truncate(TOP);
    ran
}

/// The server's processes as `/proc` shows them: CPU ticks and storage bytes when first and
/// last seen. A process first seen after the first sample started during the run: all of its
/// use counts.
#[derive(Default)]
struct Processes {
    seen: HashMap<u32, ([f64; 3], [f64; 3])>,
    io_readable: bool,
}

impl Processes {
    fn saw(&mut self, pid: u32, at_start: bool) {
        let Some(now) = usage(pid, &mut self.io_readable) else {
            return;
        };
        self.seen
            .entry(pid)
            .and_modify(|(_, last)| *last = now)
            .or_insert((if at_start { now } else { [0.0; 3] }, now));
    }

    fn used(&self) -> (Option<f64>, Option<u64>, Option<u64>) {
        if self.seen.is_empty() {
            return (None, None, None);
        }
        let sum = |i: usize| -> f64 {
            self.seen
                .values()
                .map(|(first, last)| (last[i] - first[i]).max(0.0))
                .sum()
        };
        let io = |i: usize| self.io_readable.then(|| sum(i) as u64);
        // USER_HZ is 100 for user space on Linux.
        (Some(sum(0) / 100.0), io(1), io(2))
    }
}

/// `[cpu ticks, read bytes, written bytes]` of one process.
fn usage(pid: u32, io_readable: &mut bool) -> Option<[f64; 3]> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = number(fields.get(11)?) + number(fields.get(12)?);
    let (mut read, mut written) = (0.0, 0.0);
    if let Ok(io) = std::fs::read_to_string(format!("/proc/{pid}/io")) {
        *io_readable = true;
        for line in io.lines() {
            if let Some(v) = line.strip_prefix("read_bytes: ") {
                read = number(v);
            } else if let Some(v) = line.strip_prefix("write_bytes: ") {
                written = number(v);
            }
        }
    }
    Some([ticks, read, written])
}

/// Statements with a plan (not `BEGIN`, `COMMIT`, `SET`…).
fn explainable(query: &str) -> bool {
    let first = query
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    [
        "SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES", "MERGE", "TABLE",
    ]
    .contains(&first.trim_start_matches('('))
}

fn failed_plan(query: &str, error: String) -> StatementPlan {
    StatementPlan {
        query: query.to_string(),
        nodes: Vec::new(),
        seq_scans: Vec::new(),
        error: Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_statements_with_a_plan_are_explained() {
        assert!(explainable("select * from t"));
        assert!(explainable("  WITH x AS (SELECT 1) SELECT * FROM x"));
        assert!(!explainable("BEGIN"));
        assert!(!explainable("SET search_path = a"));
    }

    #[test]
    fn statements_are_measured_by_what_changed_during_the_run() {
        let before: Statements = [("1".to_string(), ("SELECT a".to_string(), 10.0, 5.0, 0.0))]
            .into_iter()
            .collect();
        let after: Statements = [
            ("1".to_string(), ("SELECT a".to_string(), 30.0, 45.0, 0.0)),
            ("2".to_string(), ("SELECT b".to_string(), 5.0, 10.0, 8.0)),
        ]
        .into_iter()
        .collect();
        let ran = statement_deltas(&before, &after);
        assert_eq!(ran.len(), 2);
        assert_eq!(ran[0].query, "SELECT a");
        assert_eq!(ran[0].calls, 20);
        assert!((ran[0].mean_ms - 2.0).abs() < 1e-9);
        assert!((ran[0].share - 0.8).abs() < 1e-9);
        assert_eq!(ran[1].temp_blocks, 8);
    }
}
