//! MySQL and MariaDB's view of a run: statement digests from `performance_schema` (when the
//! server runs with it; MariaDB's default is off), InnoDB buffer pool reads and temporary
//! tables from `SHOW GLOBAL STATUS`, table and index sizes from `information_schema.TABLES`,
//! sessions sampled once a second from the process list (a session in an InnoDB lock wait
//! counts as `Lock`); the server process's `/proc` entry when it runs here.
//!
//! The view's own connection has no default database, so that its statements, which
//! `performance_schema` files under no schema, never count among the load's. Prepared
//! statements (which the load's steps are) are not in the digest summary: their counts live in
//! `prepared_statements_instances` only while their connection is open, so they are sampled
//! each second and once more as the load ends.
//!
//! [`explain`]: `EXPLAIN FORMAT=JSON` with each `?` as `'1'` — MySQL has no generic plan, and
//! a quoted literal compares with numbers and strings alike without defeating an index.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use loadcast_stats::database::{DatabaseView, StatementPlan, TableSize};
use mysql_async::prelude::Queryable as _;
use mysql_async::{Conn, Opts, OptsBuilder, Value};

use super::{
    Processes, Sampled, Statements, failed_plan, noted, number, statement_deltas, until_next_sample,
};

/// Where the load's database is, and a connection to the server without it.
struct Watched {
    conn: Conn,
    /// The load's database (schema), quoted as a SQL string literal.
    schema: String,
    /// The user the load connects as.
    user: String,
    spent: (u64, Duration),
}

async fn open(options: Opts, timeout: Duration) -> Result<Watched, String> {
    let schema = options.db_name().unwrap_or_default().replace('\'', "''");
    let user = options.user().unwrap_or("root").to_string();
    let server_only = OptsBuilder::from_opts(options).db_name(None::<String>);
    match tokio::time::timeout(timeout, Conn::new(server_only)).await {
        Ok(Ok(conn)) => Ok(Watched {
            conn,
            schema: format!("'{schema}'"),
            user,
            spent: (0, Duration::ZERO),
        }),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within the connect timeout".into()),
    }
}

impl Watched {
    /// Rows of a text-protocol query, every value as text (NULL as empty).
    async fn rows(&mut self, sql: &str) -> Result<Vec<Vec<String>>, mysql_async::Error> {
        let started = Instant::now();
        let result: Result<Vec<mysql_async::Row>, _> = self.conn.query(sql).await;
        self.spent.0 += 1;
        self.spent.1 += started.elapsed();
        Ok(result?
            .into_iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| match row.as_ref(i) {
                        Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
                        Some(Value::NULL) | None => String::new(),
                        Some(other) => other.as_sql(true).trim_matches('\'').to_string(),
                    })
                    .collect()
            })
            .collect())
    }

    async fn statements(&mut self) -> Result<Statements, String> {
        let sql = format!(
            "SELECT DIGEST, DIGEST_TEXT, COUNT_STAR, SUM_TIMER_WAIT / 1000000000, SUM_CREATED_TMP_DISK_TABLES FROM performance_schema.events_statements_summary_by_digest WHERE SCHEMA_NAME = {}",
            self.schema
        );
        let found = self.rows(&sql).await.map_err(|e| e.to_string())?;
        Ok(found
            .into_iter()
            .filter(|r| r.len() == 5)
            .map(|r| {
                (
                    r[0].clone(),
                    (r[1].clone(), number(&r[2]), number(&r[3]), number(&r[4])),
                )
            })
            .collect())
    }

    /// The load's prepared statements now: instance → (text, `[executions, ms, temp tables]`).
    async fn prepared(&mut self) -> Option<HashMap<String, (String, [f64; 3])>> {
        let sql = format!(
            "SELECT p.OBJECT_INSTANCE_BEGIN, p.SQL_TEXT, p.COUNT_EXECUTE, p.SUM_TIMER_EXECUTE / 1000000000, p.SUM_CREATED_TMP_DISK_TABLES FROM performance_schema.prepared_statements_instances p JOIN performance_schema.threads t ON t.THREAD_ID = p.OWNER_THREAD_ID WHERE t.PROCESSLIST_DB = {}",
            self.schema
        );
        let found = self.rows(&sql).await.ok()?;
        Some(
            found
                .into_iter()
                .filter(|r| r.len() == 5)
                .map(|r| {
                    let values = [number(&r[2]), number(&r[3]), number(&r[4])];
                    (r[0].clone(), (r[1].clone(), values))
                })
                .collect(),
        )
    }

    /// Every prepared statement execution by the load's user so far: `[executions, ms]`. The
    /// per-user summary keeps what a connection did after it closes, which the per-statement
    /// instances do not.
    async fn executions(&mut self) -> Option<[f64; 2]> {
        let user = self.user.replace('\'', "''");
        let sql = format!(
            "SELECT COUNT_STAR, SUM_TIMER_WAIT / 1000000000 FROM performance_schema.events_statements_summary_by_user_by_event_name WHERE USER = '{user}' AND EVENT_NAME = 'statement/com/Execute'"
        );
        let found = self.rows(&sql).await.ok()?;
        let row = found.first()?;
        (row.len() == 2).then(|| [number(&row[0]), number(&row[1])])
    }

    /// Whether `performance_schema` is collecting (its tables exist, but stay empty, when off),
    /// and whether it counts prepared statements' executions, which need the
    /// `events_statements_current` consumer.
    async fn performance_schema_on(&mut self) -> Result<bool, String> {
        let on = self
            .rows("SELECT @@performance_schema")
            .await
            .map_err(|e| e.to_string())?;
        if on.first().and_then(|r| r.first()).map(String::as_str) != Some("1") {
            return Err("performance_schema is off".into());
        }
        let consumer = self
            .rows("SELECT ENABLED FROM performance_schema.setup_consumers WHERE NAME = 'events_statements_current'")
            .await
            .unwrap_or_default();
        Ok(consumer.first().and_then(|r| r.first()).map(String::as_str) == Some("YES"))
    }

    /// `[buffer pool read requests, reads from disk, temporary disk tables, temporary files]`.
    async fn status(&mut self) -> [f64; 4] {
        const NAMES: [&str; 4] = [
            "Innodb_buffer_pool_read_requests",
            "Innodb_buffer_pool_reads",
            "Created_tmp_disk_tables",
            "Created_tmp_files",
        ];
        let found: HashMap<String, f64> = self
            .rows("SHOW GLOBAL STATUS")
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.len() == 2 && NAMES.contains(&r[0].as_str()))
            .map(|r| (r[0].clone(), number(&r[1])))
            .collect();
        NAMES.map(|n| found.get(n).copied().unwrap_or(0.0))
    }

    async fn tables(&mut self) -> Vec<TableSize> {
        let sql = format!(
            "SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_TYPE = 'BASE TABLE'",
            self.schema
        );
        self.rows(&sql)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.len() == 4)
            .map(|r| TableSize {
                name: r[0].clone(),
                rows: number(&r[1]),
                table_bytes: number(&r[2]) as u64,
                index_bytes: number(&r[3]) as u64,
                seq_scans: None,
                index_scans: None,
            })
            .collect()
    }

    /// The load's sessions running a statement now, by class.
    async fn active(&mut self) -> Option<Vec<&'static str>> {
        let sql = format!(
            "SELECT p.STATE, coalesce(t.trx_state, '') FROM information_schema.PROCESSLIST p LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID WHERE p.ID <> CONNECTION_ID() AND p.DB = {} AND p.COMMAND IN ('Query', 'Execute')",
            self.schema
        );
        let found = self.rows(&sql).await.ok()?;
        Some(
            found
                .iter()
                .filter(|r| r.len() == 2)
                .map(|r| wait_class(&r[0], &r[1]))
                .collect(),
        )
    }
}

/// Prepared statements' executions during the run, from samples of their instances: an
/// instance seen at the first sample counts from there, one that appears later from zero, and
/// one that vanishes (its connection closed) keeps what it had when last seen.
#[derive(Default)]
struct PreparedTimes {
    /// instance → (text, first seen, last seen).
    live: HashMap<String, (String, [f64; 3], [f64; 3])>,
    /// Executions of instances that ended (or whose address was reused), by text.
    ended: HashMap<String, [f64; 3]>,
}

impl PreparedTimes {
    fn saw(&mut self, now: HashMap<String, (String, [f64; 3])>, at_start: bool) {
        for (instance, (text, values)) in now {
            match self.live.get_mut(&instance) {
                // The same address, fewer executions: a new statement in a freed one's place.
                Some(entry) if entry.0 != text || values[0] < entry.2[0] => {
                    let old = std::mem::replace(entry, (text, [0.0; 3], values));
                    add(&mut self.ended, old);
                }
                Some(entry) => entry.2 = values,
                None => {
                    let first = if at_start { values } else { [0.0; 3] };
                    self.live.insert(instance, (text, first, values));
                }
            }
        }
    }

    /// Each text's executions, milliseconds and temporary tables during the run, keyed apart
    /// from the digests. The samples miss what a connection did after the last sample before
    /// it closed; `executed` (every execution by the load's user during the run, from the
    /// per-user summary, when readable) scales their counts and times up to the whole, shared
    /// among the texts as the samples saw them.
    fn totals(mut self, executed: Option<[f64; 2]>) -> Statements {
        for (_, entry) in std::mem::take(&mut self.live) {
            add(&mut self.ended, entry);
        }
        let sampled = self
            .ended
            .values()
            .fold([0.0; 2], |t, v| [t[0] + v[0], t[1] + v[1]]);
        let scale = |i: usize| match executed {
            Some(all) if sampled[i] > 0.0 && all[i] >= sampled[i] => all[i] / sampled[i],
            _ => 1.0,
        };
        let (calls, ms) = (scale(0), scale(1));
        self.ended
            .into_iter()
            .filter(|(_, v)| v[0] > 0.0)
            .map(|(text, v)| {
                let entry = (text.clone(), (v[0] * calls).round(), v[1] * ms, v[2]);
                (format!("prepared:{text}"), entry)
            })
            .collect()
    }
}

fn add(ended: &mut HashMap<String, [f64; 3]>, (text, first, last): (String, [f64; 3], [f64; 3])) {
    let total = ended.entry(text).or_default();
    for i in 0..3 {
        total[i] += (last[i] - first[i]).max(0.0);
    }
}

/// A session's wait class from its process-list state and InnoDB transaction state.
fn wait_class(state: &str, trx_state: &str) -> &'static str {
    let state = state.to_ascii_lowercase();
    if trx_state == "LOCK WAIT" || state.contains("lock") {
        "Lock"
    } else if state.contains("disk")
        || state.contains("tmp table")
        || state.contains("reading file")
    {
        "IO"
    } else if state.contains("commit") || state.contains("flush") {
        "Commit"
    } else {
        "CPU"
    }
}

/// The server's process id, when it runs on this machine and its pid file is readable.
async fn server_pid(watched: &mut Watched, options: &Opts) -> Option<u32> {
    let host = options.ip_or_hostname();
    let local = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !local {
        return None;
    }
    let file = watched
        .rows("SELECT @@pid_file")
        .await
        .ok()?
        .into_iter()
        .next()?
        .into_iter()
        .next()?;
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

pub(super) async fn watch(
    options: Opts,
    timeout: Duration,
    load_ends: Instant,
    stopped: std::sync::mpsc::Receiver<()>,
) -> DatabaseView {
    let started = Instant::now();
    let mut watched = match open(options.clone(), timeout).await {
        Ok(w) => w,
        Err(cause) => return noted(format!("the database was not watched: {cause}")),
    };
    let version = watched
        .rows("SELECT VERSION()")
        .await
        .ok()
        .and_then(|r| r.into_iter().next())
        .and_then(|r| r.into_iter().next())
        .unwrap_or_default();
    let mut view = DatabaseView {
        server: server_name(&version),
        ..DatabaseView::default()
    };
    let statements_before = match watched.performance_schema_on().await {
        Ok(counts_prepared) => {
            if !counts_prepared {
                view.notes.push("prepared statements (which SQL steps are) are not timed: enable performance_schema's events_statements_current consumer (UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME = 'events_statements_current', or start the server with performance-schema-consumer-events-statements-current=ON)".into());
            }
            watched.statements().await
        }
        Err(cause) => Err(cause),
    };
    let statements_before = match statements_before {
        Ok(s) => Some(s),
        Err(cause) => {
            view.notes.push(format!(
                "no statement times: {cause}; start the server with performance_schema=ON"
            ));
            None
        }
    };
    let status_before = watched.status().await;
    let executions_before = watched.executions().await;
    let pid = server_pid(&mut watched, &options).await;
    let mut processes = pid.map(|_| Processes::default());
    let mut prepared = PreparedTimes::default();

    let mut waits: BTreeMap<String, f64> = BTreeMap::new();
    let mut samples = 0u64;
    loop {
        let tick = Instant::now();
        if statements_before.is_some() {
            if let Some(now) = watched.prepared().await {
                prepared.saw(now, samples == 0);
            }
        }
        if let Some(active) = watched.active().await {
            samples += 1;
            if let (Some(p), Some(pid)) = (&mut processes, pid) {
                p.saw(pid, samples == 1);
            }
            for class in active {
                *waits.entry(class.to_string()).or_default() += 1.0;
            }
        }
        match stopped.recv_timeout(until_next_sample(tick, load_ends)) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            _ => break,
        }
    }

    if let Some(before) = &statements_before {
        let mut after = watched.statements().await.unwrap_or_default();
        if let Some(now) = watched.prepared().await {
            prepared.saw(now, false);
        }
        let executed = match (executions_before, watched.executions().await) {
            (Some(before), Some(after)) => Some([after[0] - before[0], after[1] - before[1]]),
            _ => None,
        };
        after.extend(prepared.totals(executed));
        view.statements = statement_deltas(before, &after);
        view.statements_source = "performance_schema".into();
    }
    let status_after = watched.status().await;
    let d = |i: usize| (status_after[i] - status_before[i]).max(0.0);
    // Read requests are logical reads; reads are the ones the buffer pool had to fetch.
    view.cache_hit_ratio = (d(0) > 0.0).then(|| (d(0) - d(1)).max(0.0) / d(0));
    view.temp_files = (d(2) + d(3)) as u64;
    view.tables = watched.tables().await;
    let sampled = Sampled {
        waits,
        samples,
        processes,
        started,
        spent: watched.spent,
    };
    sampled.fill(&mut view);
    let _ = watched.conn.disconnect().await;
    view
}

/// `10.11.19-MariaDB-0+deb12u1` → `MariaDB 10.11.19`; `8.0.36` → `MySQL 8.0.36`.
fn server_name(version: &str) -> String {
    let number = version.split('-').next().unwrap_or(version);
    if version.contains("MariaDB") {
        format!("MariaDB {number}")
    } else {
        format!("MySQL {number}")
    }
}

/// How the server plans each of `statements`, with `'1'` for each `?`.
pub(super) async fn explain(
    options: Opts,
    connect_timeout: Duration,
    statements: &[&String],
) -> Vec<StatementPlan> {
    let connecting = Conn::new(options);
    let mut conn = match tokio::time::timeout(connect_timeout, connecting).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            let cause = e.to_string();
            return statements
                .iter()
                .map(|q| failed_plan(q, format!("could not connect: {cause}")))
                .collect();
        }
        Err(_) => {
            return statements
                .iter()
                .map(|q| failed_plan(q, "could not connect within the timeout".into()))
                .collect();
        }
    };
    let mut plans = Vec::new();
    for query in statements {
        let explained: Result<Option<String>, _> = conn
            .query_first(format!("EXPLAIN FORMAT=JSON {}", with_literals(query)))
            .await;
        plans.push(match explained {
            Ok(Some(text)) => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(plan) => {
                    let (mut nodes, mut full_scans) = (Vec::new(), Vec::new());
                    walk(&plan, &mut nodes, &mut full_scans);
                    StatementPlan {
                        query: query.to_string(),
                        nodes,
                        seq_scans: full_scans,
                        error: None,
                    }
                }
                Err(_) => failed_plan(query, "the server's plan could not be read".into()),
            },
            Ok(None) => failed_plan(query, "the server returned no plan".into()),
            Err(e) => failed_plan(query, e.to_string()),
        });
    }
    let _ = conn.disconnect().await;
    plans
}

/// `query` with each `?` placeholder (outside quotes and comments) as `'1'`.
fn with_literals(query: &str) -> String {
    let at = loadcast_plan::placeholders(query).question_marks;
    let mut out = String::with_capacity(query.len() + 2 * at.len());
    let mut last = 0;
    for i in at {
        out.push_str(&query[last..i]);
        out.push_str("'1'");
        last = i + 1;
    }
    out.push_str(&query[last..]);
    out
}

/// The plan's nodes, outermost first, and the tables it reads in full.
fn walk(node: &serde_json::Value, nodes: &mut Vec<String>, full_scans: &mut Vec<String>) {
    match node {
        serde_json::Value::Object(fields) => {
            if let (Some(table), Some(access)) = (
                fields.get("table_name").and_then(|v| v.as_str()),
                fields.get("access_type").and_then(|v| v.as_str()),
            ) {
                let key = fields.get("key").and_then(|v| v.as_str());
                nodes.push(access_label(access, key, table));
                if access == "ALL" && !full_scans.iter().any(|t| t == table) {
                    full_scans.push(table.to_string());
                }
            }
            for (name, value) in fields {
                match name.as_str() {
                    "filesort" => nodes.push("Sort (filesort)".into()),
                    "temporary_table" => nodes.push("Temporary table".into()),
                    _ => {}
                }
                walk(value, nodes, full_scans);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                walk(item, nodes, full_scans);
            }
        }
        _ => {}
    }
}

/// MySQL's access types in the words PostgreSQL's plans use, so that findings read alike.
fn access_label(access: &str, key: Option<&str>, table: &str) -> String {
    let kind = match access {
        "ALL" => "Full Table Scan",
        "index" => "Full Index Scan",
        "range" => "Index Range Scan",
        "ref" | "eq_ref" | "ref_or_null" | "const" | "system" | "fulltext" => "Index Lookup",
        "index_merge" => "Index Merge",
        _ => access,
    };
    match key {
        Some(key) => format!("{kind} using {key} on {table}"),
        None => format!("{kind} on {table}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_quoted_literals_but_quoted_question_marks_stay() {
        assert_eq!(
            with_literals("SELECT * FROM t WHERE a = ? AND b = '?' AND c IN (?, ?)"),
            "SELECT * FROM t WHERE a = '1' AND b = '?' AND c IN ('1', '1')"
        );
    }

    #[test]
    fn a_mariadb_plan_lists_its_tables_and_full_scans() {
        let plan: serde_json::Value = serde_json::from_str(
            r#"{"query_block": {"select_id": 1, "nested_loop": [
                {"read_sorted_file": {"filesort": {"sort_key": "o.total",
                    "table": {"table_name": "orders", "access_type": "ALL", "rows": 3}}}},
                {"table": {"table_name": "customers", "access_type": "eq_ref", "key": "PRIMARY"}}]}}"#,
        )
        .unwrap();
        let (mut nodes, mut scans) = (Vec::new(), Vec::new());
        walk(&plan, &mut nodes, &mut scans);
        assert_eq!(
            nodes,
            [
                "Sort (filesort)",
                "Full Table Scan on orders",
                "Index Lookup using PRIMARY on customers"
            ]
        );
        assert_eq!(scans, ["orders"]);
    }

    #[test]
    fn sessions_are_classed_by_what_they_wait_on() {
        assert_eq!(wait_class("Updating", "LOCK WAIT"), "Lock");
        assert_eq!(
            wait_class("Waiting for table metadata lock", "RUNNING"),
            "Lock"
        );
        assert_eq!(wait_class("Sending data", "RUNNING"), "CPU");
        assert_eq!(wait_class("Converting HEAP to on-disk", ""), "IO");
        assert_eq!(
            server_name("10.11.19-MariaDB-0+deb12u1"),
            "MariaDB 10.11.19"
        );
        assert_eq!(server_name("8.0.36"), "MySQL 8.0.36");
    }
}
