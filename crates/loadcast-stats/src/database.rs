//! The database's own view of a run: what the server says it spent its time on while the load
//! ran (statements, wait events, cache, temporary files, tables) and how it plans the top
//! statements. Measured by the engine beside the load; kept in results and capacity studies so
//! that a falling capacity comes with its reason.

use serde::{Deserialize, Serialize};

/// What the database server reported over one run (or one capacity step).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DatabaseView {
    /// `PostgreSQL 15.20`.
    pub server: String,
    /// Seconds the view covers.
    pub seconds: f64,
    /// The statements that took the most database time during the run, most first.
    #[serde(default)]
    pub statements: Vec<StatementTime>,
    /// Where the statement times come from: `pg_stat_statements`, or loadcast's own timings
    /// of the plan's SQL steps when the extension is not available.
    #[serde(default)]
    pub statements_source: String,
    /// Average active sessions by wait class (`CPU` when active and not waiting), from one
    /// sample of `pg_stat_activity` a second, most first.
    #[serde(default)]
    pub waits: Vec<WaitShare>,
    /// Shared-buffer hits over block reads and hits during the run (`None`: no block touched).
    pub cache_hit_ratio: Option<f64>,
    /// Temporary files written during the run (sorts and hashes that spilled to disk).
    #[serde(default)]
    pub temp_files: u64,
    #[serde(default)]
    pub temp_bytes: u64,
    /// The user tables at the end of the run, largest first.
    #[serde(default)]
    pub tables: Vec<TableSize>,
    /// CPU seconds the server's processes used during the run, when the server runs on this
    /// machine (read from `/proc`).
    pub server_cpu_seconds: Option<f64>,
    /// Bytes the server's processes read from and wrote to storage, when readable.
    pub server_read_bytes: Option<u64>,
    pub server_write_bytes: Option<u64>,
    /// What the sampling itself cost: its queries and the seconds they took on the server.
    #[serde(default)]
    pub sampling_queries: u64,
    #[serde(default)]
    pub sampling_seconds: f64,
    /// What could not be measured, and why.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// One statement's share of the database's time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatementTime {
    /// The statement as the server normalises it (`$1` for parameters).
    pub query: String,
    pub calls: u64,
    pub total_ms: f64,
    pub mean_ms: f64,
    /// Its share of the time of every statement measured.
    pub share: f64,
    /// Temporary blocks it wrote: a sort or hash that spilled.
    #[serde(default)]
    pub temp_blocks: u64,
}

/// Average active sessions in one wait class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaitShare {
    /// `CPU`, `IO`, `Lock`, `LWLock`, `Client`, `IPC`, …
    pub class: String,
    /// Sessions in this class on average over the samples.
    pub sessions: f64,
    /// Its share of all active samples.
    pub share: f64,
}

/// A user table and its indexes on disk, with the scans it saw during the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableSize {
    pub name: String,
    pub rows: f64,
    pub table_bytes: u64,
    pub index_bytes: u64,
    /// Sequential and index scans of the table during the run, where the server counts them
    /// per table (PostgreSQL; MySQL does not).
    #[serde(default)]
    pub seq_scans: Option<u64>,
    #[serde(default)]
    pub index_scans: Option<u64>,
}

/// How the server plans one statement (its generic plan, the one a prepared statement runs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatementPlan {
    pub query: String,
    /// The plan's nodes, outermost first, as `Seq Scan on orders`, `Index Scan using
    /// orders_customer_idx on orders`, `Sort`.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Relations the plan reads by sequential scan.
    #[serde(default)]
    pub seq_scans: Vec<String>,
    /// Why the statement could not be explained, when it could not.
    pub error: Option<String>,
}

impl DatabaseView {
    /// The wait class most active sessions were in.
    pub fn dominant_wait(&self) -> Option<&WaitShare> {
        self.waits.first()
    }

    /// The statement that took the most database time.
    pub fn top_statement(&self) -> Option<&StatementTime> {
        self.statements.first()
    }
}

impl StatementPlan {
    /// The plan in one line: its scan nodes (where the work on data is), else every node.
    pub fn summary(&self) -> String {
        if let Some(e) = &self.error {
            return format!("not explained: {e}");
        }
        let scans: Vec<&str> = self
            .nodes
            .iter()
            .filter(|n| n.contains("Scan"))
            .map(String::as_str)
            .collect();
        if scans.is_empty() {
            self.nodes.join(" → ")
        } else {
            scans.join(", ")
        }
    }
}

/// A statement shown in one line: whitespace collapsed, cut to `width` characters.
pub fn short_query(query: &str, width: usize) -> String {
    let one_line = query.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= width {
        one_line
    } else {
        let cut: String = one_line.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}
