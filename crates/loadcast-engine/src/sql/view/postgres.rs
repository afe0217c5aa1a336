//! PostgreSQL's view of a run: `pg_stat_statements`, `pg_stat_database` and
//! `pg_stat_user_tables` read before and after the load; `pg_stat_activity` sampled once a
//! second for what the active sessions waited on; the backends' `/proc` entries when the server
//! runs here.
//!
//! [`explain`] asks for the generic plan (the one a prepared statement settles on), so no
//! parameter value has to be invented.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use loadcast_stats::database::{DatabaseView, StatementPlan, TableSize};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use super::{Processes, Sampled, Statements, failed_plan, noted, number, statement_deltas};
use crate::sql::postgres;

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

pub(super) async fn watch(
    config: tokio_postgres::Config,
    timeout: Duration,
    stopped: std::sync::mpsc::Receiver<()>,
) -> DatabaseView {
    let started = Instant::now();
    let local = is_local(&config);
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
        let mut after = statements(&client, &mut spent).await.unwrap_or_default();
        after.retain(|_, (query, ..)| !query.contains(TAG));
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
                seq_scans: Some((after[0] - before[0]).max(0.0) as u64),
                index_scans: Some((after[1] - before[1]).max(0.0) as u64),
            }
        })
        .collect();
    let sampled = Sampled {
        waits,
        samples,
        processes,
        started,
        spent,
    };
    sampled.fill(&mut view);
    view
}

/// How the server plans each of `statements` (`$1`… for parameters): the generic plan,
/// forced, so that no value has to be made up. A statement that cannot be prepared (a typo)
/// gets its error instead.
pub(super) async fn explain(
    config: &tokio_postgres::Config,
    connect_timeout: Duration,
    statements: &[&String],
) -> Vec<StatementPlan> {
    let client = match connect(config, connect_timeout).await {
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
    for query in statements {
        plans.push(explain_one(&client, query).await);
    }
    plans
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
}
