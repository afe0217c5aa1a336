//! The database's own view of a run (PostgreSQL): statistics read before and after the load
//! (`pg_stat_statements`, `pg_stat_database`, `pg_stat_user_tables`) give what changed during
//! it; `pg_stat_activity`, sampled once a second on a connection and a thread of its own, gives
//! what the active sessions waited on; `/proc` gives the server processes' CPU and I/O when the
//! server runs on this machine. Nothing is reset: other users' statistics stay as they were.
//!
//! [`explain`] asks the server how it plans statements: their generic plan (the one a prepared
//! statement settles on), so no parameter value has to be invented.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use loadcast_stats::database::{DatabaseView, StatementPlan, StatementTime, TableSize, WaitShare};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use super::postgres;

/// Marks the view's own statements, so that `pg_stat_statements` (which keeps comments but
/// replaces constants) shows them apart from the load's.
const TAG: &str = "/* loadcast db-view */";
const STATEMENTS: &str = "/* loadcast db-view */ SELECT s.queryid::text, s.query, s.calls::text, s.total_exec_time::text, s.temp_blks_written::text FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database()";
const DATABASE: &str = "/* loadcast db-view */ SELECT blks_hit::text, blks_read::text, temp_files::text, temp_bytes::text FROM pg_stat_database WHERE datname = current_database()";
/// Rows as the planner knows them (`reltuples`, set by ANALYZE and VACUUM); `n_live_tup` only
/// for a table never analysed, as its counters can double-count a bulk load followed by
/// ANALYZE (60,000 for 30,000 rows measured on PostgreSQL 15).
const TABLES: &str = "/* loadcast db-view */ SELECT t.schemaname || '.' || t.relname, coalesce(t.seq_scan, 0)::text, coalesce(t.idx_scan, 0)::text, (CASE WHEN c.reltuples >= 0 THEN c.reltuples ELSE t.n_live_tup END)::text, pg_table_size(t.relid)::text, pg_indexes_size(t.relid)::text FROM pg_stat_user_tables t JOIN pg_class c ON c.oid = t.relid";
const ACTIVITY: &str = "/* loadcast db-view */ SELECT pid::text, coalesce(state, ''), coalesce(wait_event_type, ''), coalesce(datname = current_database(), false)::text FROM pg_stat_activity WHERE pid <> pg_backend_pid()";

/// Statements shown at most.
const TOP: usize = 5;

/// A sampler watching one run; [`ViewSampler::finish`] ends it and returns what it saw.
pub(crate) struct ViewSampler {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<DatabaseView>,
}

impl ViewSampler {
    /// Starts watching the PostgreSQL database at `url`; `None` for any other server.
    pub(crate) fn start(url: &str, connect_timeout: Duration) -> Option<ViewSampler> {
        let config = postgres::config(url).ok()?;
        let local = is_local(&config);
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
                runtime.block_on(watch(config, connect_timeout, local, stopped))
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

fn noted(note: String) -> DatabaseView {
    DatabaseView {
        notes: vec![note],
        ..DatabaseView::default()
    }
}

/// A server on a loopback address or a Unix socket runs here: its processes are in `/proc`.
fn is_local(config: &tokio_postgres::Config) -> bool {
    config.get_hosts().iter().all(|h| match h {
        tokio_postgres::config::Host::Tcp(name) => {
            name == "localhost"
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        tokio_postgres::config::Host::Unix(_) => true,
    })
}

/// Rows of a simple query as text, the time it took added to `spent`.
async fn rows(
    client: &Client,
    sql: &str,
    spent: &mut (u64, Duration),
) -> Result<Vec<Vec<String>>, tokio_postgres::Error> {
    let started = Instant::now();
    let messages = client.simple_query(sql).await;
    spent.0 += 1;
    spent.1 += started.elapsed();
    Ok(messages?
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or("").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

fn number(text: &str) -> f64 {
    text.parse().unwrap_or(0.0)
}

async fn connect(config: &tokio_postgres::Config, timeout: Duration) -> Result<Client, String> {
    let connecting = config.connect(NoTls);
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok((client, connection))) => {
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok(client)
        }
        Ok(Err(e)) => Err(postgres::describe(&e)),
        Err(_) => Err("no answer within the connect timeout".into()),
    }
}

/// `(queryid → (query, calls, ms, temp blocks))`.
type Statements = HashMap<String, (String, f64, f64, f64)>;

async fn statements(client: &Client, spent: &mut (u64, Duration)) -> Result<Statements, String> {
    let found = rows(client, STATEMENTS, spent)
        .await
        .map_err(|e| postgres::describe(&e))?;
    Ok(found
        .into_iter()
        .map(|r| {
            (
                r[0].clone(),
                (r[1].clone(), number(&r[2]), number(&r[3]), number(&r[4])),
            )
        })
        .collect())
}

/// Makes `pg_stat_statements` readable, or says why it is not.
async fn statements_ready(client: &Client, spent: &mut (u64, Duration)) -> Result<(), String> {
    if statements(client, spent).await.is_ok() {
        return Ok(());
    }
    // Created when allowed; it reads nothing until the server preloads it.
    let _ = client
        .simple_query(&format!(
            "{TAG} CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
        ))
        .await;
    statements(client, spent).await.map(drop).map_err(|cause| {
        format!(
            "no statement times: pg_stat_statements is not available ({cause}); add it to shared_preload_libraries and restart the server"
        )
    })
}

/// `(table → (seq scans, index scans, rows, table bytes, index bytes))`.
type Tables = BTreeMap<String, [f64; 5]>;

async fn tables(client: &Client, spent: &mut (u64, Duration)) -> Tables {
    rows(client, TABLES, spent)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let values = [1, 2, 3, 4, 5].map(|i| number(&r[i]));
            (r[0].trim_start_matches("public.").to_string(), values)
        })
        .collect()
}

async fn database(client: &Client, spent: &mut (u64, Duration)) -> [f64; 4] {
    rows(client, DATABASE, spent)
        .await
        .ok()
        .and_then(|r| r.into_iter().next())
        .map_or([0.0; 4], |r| [0, 1, 2, 3].map(|i| number(&r[i])))
}

async fn watch(
    config: tokio_postgres::Config,
    timeout: Duration,
    local: bool,
    stopped: std::sync::mpsc::Receiver<()>,
) -> DatabaseView {
    let started = Instant::now();
    let client = match connect(&config, timeout).await {
        Ok(c) => c,
        Err(cause) => return noted(format!("the database was not watched: {cause}")),
    };
    let mut spent = (0u64, Duration::ZERO);
    let server = rows(&client, &format!("{TAG} SHOW server_version"), &mut spent)
        .await
        .ok()
        .and_then(|r| r.into_iter().next())
        .map_or_else(|| "PostgreSQL".into(), |r| format!("PostgreSQL {}", r[0]));
    let mut view = DatabaseView {
        server,
        ..DatabaseView::default()
    };
    let with_statements = match statements_ready(&client, &mut spent).await {
        Ok(()) => true,
        Err(note) => {
            view.notes.push(note);
            false
        }
    };
    let statements_before = if with_statements {
        statements(&client, &mut spent).await.unwrap_or_default()
    } else {
        Statements::new()
    };
    let database_before = database(&client, &mut spent).await;
    let tables_before = tables(&client, &mut spent).await;
    let mut processes = local.then(Processes::default);

    let mut waits: BTreeMap<String, f64> = BTreeMap::new();
    let mut samples = 0u64;
    loop {
        let tick = Instant::now();
        if let Ok(active) = rows(&client, ACTIVITY, &mut spent).await {
            samples += 1;
            for r in &active {
                if let Some(p) = &mut processes {
                    if let Ok(pid) = r[0].parse::<u32>() {
                        p.saw(pid, samples == 1);
                    }
                }
                // Only this database's sessions that are running a statement.
                if r[3] != "true" || r[1] != "active" {
                    continue;
                }
                let class = if r[2].is_empty() { "CPU" } else { &r[2] };
                *waits.entry(class.to_string()).or_default() += 1.0;
            }
        }
        let next = Duration::from_secs(1).saturating_sub(tick.elapsed());
        match stopped.recv_timeout(next) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            _ => break,
        }
    }

    if with_statements {
        let after = statements(&client, &mut spent).await.unwrap_or_default();
        view.statements = statement_deltas(&statements_before, &after);
        view.statements_source = "pg_stat_statements".into();
    }
    let database_after = database(&client, &mut spent).await;
    let d = |i: usize| (database_after[i] - database_before[i]).max(0.0);
    let touched = d(0) + d(1);
    view.cache_hit_ratio = (touched > 0.0).then(|| d(0) / touched);
    view.temp_files = d(2) as u64;
    view.temp_bytes = d(3) as u64;
    let tables_after = tables(&client, &mut spent).await;
    view.tables = tables_after
        .iter()
        .map(|(name, after)| {
            let before = tables_before.get(name).copied().unwrap_or([0.0; 5]);
            TableSize {
                name: name.clone(),
                rows: after[2],
                table_bytes: after[3] as u64,
                index_bytes: after[4] as u64,
                seq_scans: (after[0] - before[0]).max(0.0) as u64,
                index_scans: (after[1] - before[1]).max(0.0) as u64,
            }
        })
        .collect();
    view.tables
        .sort_by_key(|t| std::cmp::Reverse(t.table_bytes + t.index_bytes));
    view.tables.truncate(10);
    let active: f64 = waits.values().sum();
    view.waits = waits
        .into_iter()
        .map(|(class, n)| WaitShare {
            class,
            sessions: n / samples.max(1) as f64,
            share: n / active.max(1.0),
        })
        .collect();
    view.waits.sort_by(|a, b| b.sessions.total_cmp(&a.sessions));
    if let Some(p) = processes {
        let (cpu, read, write) = p.used();
        view.server_cpu_seconds = cpu;
        view.server_read_bytes = read;
        view.server_write_bytes = write;
    }
    view.seconds = started.elapsed().as_secs_f64();
    view.sampling_queries = spent.0;
    view.sampling_seconds = spent.1.as_secs_f64();
    view
}

/// The statements that ran during the run, by the time they took, most first.
fn statement_deltas(before: &Statements, after: &Statements) -> Vec<StatementTime> {
    let mut ran: Vec<StatementTime> = after
        .iter()
        .filter(|(_, (query, ..))| !query.contains(TAG))
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

/// How the server plans each of `statements` (`$1`… for parameters): the generic plan,
/// forced, so that no value has to be made up. A statement that cannot be prepared (a
/// transaction command, a typo) gets its error instead.
pub(crate) fn explain(
    url: &str,
    connect_timeout: Duration,
    statements: &[String],
) -> Vec<StatementPlan> {
    let Ok(config) = postgres::config(url) else {
        return Vec::new();
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    runtime.block_on(async {
        let client = match connect(&config, connect_timeout).await {
            Ok(c) => c,
            Err(cause) => {
                return statements
                    .iter()
                    .map(|q| failed_plan(q, format!("could not connect: {cause}")))
                    .collect();
            }
        };
        let _ = client
            .simple_query(&format!("{TAG} SET plan_cache_mode = force_generic_plan"))
            .await;
        let mut plans = Vec::new();
        for query in statements.iter().filter(|q| explainable(q)) {
            plans.push(explain_one(&client, query).await);
        }
        plans
    })
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

async fn explain_one(client: &Client, query: &str) -> StatementPlan {
    let parameters = loadcast_plan::placeholders(query)
        .highest_dollar
        .unwrap_or(0);
    let prepare = format!("{TAG} PREPARE loadcast_explain AS {query}");
    if let Err(e) = client.simple_query(&prepare).await {
        return failed_plan(query, postgres::describe(&e));
    }
    let arguments = if parameters == 0 {
        String::new()
    } else {
        format!("({})", vec!["NULL"; parameters].join(", "))
    };
    let explained = client
        .simple_query(&format!(
            "{TAG} EXPLAIN (FORMAT JSON) EXECUTE loadcast_explain{arguments}"
        ))
        .await;
    let _ = client
        .simple_query(&format!("{TAG} DEALLOCATE loadcast_explain"))
        .await;
    let text = match explained {
        Ok(messages) => messages.into_iter().find_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        }),
        Err(e) => return failed_plan(query, postgres::describe(&e)),
    };
    let Some(plan) = text
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get(0).and_then(|p| p.get("Plan")).cloned())
    else {
        return failed_plan(query, "the server's plan could not be read".into());
    };
    let mut nodes = Vec::new();
    let mut seq_scans = Vec::new();
    walk(&plan, &mut nodes, &mut seq_scans);
    StatementPlan {
        query: query.to_string(),
        nodes,
        seq_scans,
        error: None,
    }
}

/// The plan's nodes, outermost first.
fn walk(node: &serde_json::Value, nodes: &mut Vec<String>, seq_scans: &mut Vec<String>) {
    let field = |name: &str| node.get(name).and_then(|v| v.as_str());
    let kind = field("Node Type").unwrap_or("?");
    let mut label = kind.to_string();
    if let Some(index) = field("Index Name") {
        label.push_str(&format!(" using {index}"));
    }
    if let Some(relation) = field("Relation Name") {
        label.push_str(&format!(" on {relation}"));
        if kind == "Seq Scan" && !seq_scans.iter().any(|r| r == relation) {
            seq_scans.push(relation.to_string());
        }
    }
    nodes.push(label);
    for child in node
        .get("Plans")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        walk(child, nodes, seq_scans);
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
    fn a_plan_lists_its_nodes_and_its_sequential_scans() {
        let plan: serde_json::Value = serde_json::from_str(
            r#"{"Node Type": "Sort", "Plans": [{"Node Type": "Seq Scan", "Relation Name": "orders"},
                {"Node Type": "Index Scan", "Index Name": "c_pk", "Relation Name": "customers"}]}"#,
        )
        .unwrap();
        let (mut nodes, mut scans) = (Vec::new(), Vec::new());
        walk(&plan, &mut nodes, &mut scans);
        assert_eq!(
            nodes,
            [
                "Sort",
                "Seq Scan on orders",
                "Index Scan using c_pk on customers"
            ]
        );
        assert_eq!(scans, ["orders"]);
    }

    #[test]
    fn statements_are_measured_by_what_changed_during_the_run() {
        let before: Statements = [("1".to_string(), ("SELECT a".to_string(), 10.0, 5.0, 0.0))]
            .into_iter()
            .collect();
        let after: Statements = [
            ("1".to_string(), ("SELECT a".to_string(), 30.0, 45.0, 0.0)),
            ("2".to_string(), ("SELECT b".to_string(), 5.0, 10.0, 8.0)),
            (
                "3".to_string(),
                (TABLES.replace("'.'", "$1"), 3.0, 1.0, 0.0),
            ),
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
