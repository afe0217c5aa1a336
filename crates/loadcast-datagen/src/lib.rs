//! loadcast's growth stage: make a test database as big as it will be at the horizon, so the
//! load test meets tomorrow's data.
//!
//! * **Introspection** (PostgreSQL, MariaDB/MySQL, SQLite): columns, types, nullability,
//!   defaults, primary and unique keys, foreign keys, simple check constraints.
//! * **Generators**: every column gets a realistic default (by type, name and constraints), and
//!   the plan can override any column ([`loadcast_plan::Generator`]).
//! * **Growth**: to an absolute count, a multiple of today's, or the forecast at the horizon;
//!   parents before children; incremental (existing rows stay); **resumable** — each batch is
//!   one transaction, so a run killed midway continues from `count(*)` with no duplicates;
//!   `ANALYZE` afterwards so the planner sees the new volume.
//! * **Safety**: writes only into a database marked as a test target (a `loadcast_target` table,
//!   made by [`init_marker`]) or named explicitly by the caller; URLs are never printed with
//!   their password.
//!
//! ```no_run
//! use loadcast_datagen::{GrowOptions, grow};
//! use loadcast_plan::TableSpec;
//! use loadcast_plan::RowsTarget;
//! let goals = [TableSpec { name: "orders".into(), rows: RowsTarget::Multiple(2.0), columns: vec![] }];
//! let report = grow("postgres://postgres@127.0.0.1/shop_test", &goals, &GrowOptions::default(),
//!                   &mut (), &Default::default())?;
//! println!("{} bytes", report.size_bytes);
//! # Ok::<(), loadcast_datagen::GrowError>(())
//! ```

mod db;
mod generate;
mod grower;
mod guard;
mod mysql;
mod postgres;
pub mod schema;
mod sqlite;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use loadcast_plan::{RowsTarget, TableSpec};
use loadcast_stats::Cancel;
use rand::SeedableRng as _;
use rand::rngs::SmallRng;

use db::{Batch, Db};
use generate::{ColumnGen, RowContext};
pub use generate::{DEFAULT_REF_ZIPF, Value};
pub use grower::DatagenGrower;
pub use guard::{BASELINE_TABLE, MARKER_TABLE, baseline, init_marker};
pub use schema::Schema;
use schema::{Column, Table};

/// Growth could not be done, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum GrowError {
    #[error("cannot connect to {url}: {cause}")]
    Connect { url: String, cause: String },
    #[error("refusing to write to database {database:?}: {why}")]
    Refused { database: String, why: String },
    #[error("{0}")]
    Plan(String),
    #[error("{}{cause}", table.as_ref().map_or(String::new(), |t| format!("table {t}: ")))]
    Database {
        table: Option<String>,
        cause: String,
    },
    #[error("interrupted: {0}")]
    Interrupted(String),
}

impl GrowError {
    fn in_table(self, table: &str) -> Self {
        match self {
            GrowError::Database { table: None, cause } => GrowError::Database {
                table: Some(table.to_string()),
                cause,
            },
            other => other,
        }
    }
}

pub(crate) fn db_error(table: Option<&str>, e: impl std::fmt::Display) -> GrowError {
    GrowError::Database {
        table: table.map(str::to_string),
        cause: e.to_string().trim().to_string(),
    }
}

/// `2026-11-24 10:00:00.123456`.
pub(crate) fn format_timestamp(us: i64) -> String {
    let t = loadcast_stats::time::format_time(us.div_euclid(1_000_000));
    format!(
        "{} {}.{:06}",
        &t[..10],
        &t[11..19],
        us.rem_euclid(1_000_000)
    )
}

/// The database's own data cache in bytes (PostgreSQL `shared_buffers`, InnoDB's buffer pool,
/// SQLite's page cache): where a working set stops fitting and latency jumps.
pub fn cache_bytes(url: &str) -> Result<Option<u64>, GrowError> {
    let mut db = Db::connect(url)?;
    match &mut db {
        Db::Pg(d) => d.setting_bytes(),
        Db::My(d) => d.buffer_pool_bytes(),
        Db::Lite(d) => d.cache_bytes(),
    }
}

/// The database's size on disk.
pub fn size_bytes(url: &str) -> Result<u64, GrowError> {
    Db::connect(url)?.size()
}

/// The schema and row counts of a database (read only; no guard needed).
pub fn inspect(url: &str) -> Result<(Schema, BTreeMap<String, u64>), GrowError> {
    let mut db = Db::connect(url)?;
    let schema = db.schema()?;
    let mut counts = BTreeMap::new();
    for t in &schema.tables {
        counts.insert(t.name.clone(), db.count(&t.name)?);
    }
    Ok((schema, counts))
}

#[derive(Clone, Debug)]
pub struct GrowOptions {
    /// Write without a marker into the database of exactly this name.
    pub allow_database: Option<String>,
    /// Require the marker table (default true; `allow_database` overrides it).
    pub require_marker: bool,
    /// Rows per batch (one transaction each).
    pub batch_rows: usize,
    pub seed: u64,
    /// Row counts at the horizon by series name, for [`RowsTarget::Horizon`].
    pub horizon: BTreeMap<String, f64>,
    /// Run `ANALYZE` on each grown table.
    pub analyze: bool,
    /// Connections writing at once (PostgreSQL; other databases use one).
    pub writers: usize,
}

impl Default for GrowOptions {
    fn default() -> Self {
        Self {
            allow_database: None,
            require_marker: true,
            batch_rows: 20_000,
            seed: 1,
            horizon: BTreeMap::new(),
            analyze: true,
            writers: 2,
        }
    }
}

/// Progress while growing (the CLI draws bars).
pub trait GrowObserver {
    fn table_started(&mut self, _table: &str, _before: u64, _target: u64) {}
    fn progress(&mut self, _table: &str, _rows_now: u64, _target: u64, _bytes: u64) {}
    fn table_finished(&mut self, _report: &TableReport) {}
}

impl GrowObserver for () {}

#[derive(Clone, Debug, PartialEq)]
pub struct TableReport {
    pub table: String,
    pub before: u64,
    pub after: u64,
    pub target: u64,
    pub seconds: f64,
    /// Approximate bytes of values written.
    pub bytes: u64,
}

impl TableReport {
    pub fn inserted(&self) -> u64 {
        self.after - self.before
    }

    pub fn rows_per_second(&self) -> f64 {
        self.inserted() as f64 / self.seconds.max(1e-9)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct GrowReport {
    pub database: String,
    pub kind: &'static str,
    pub tables: Vec<TableReport>,
    /// The database's size on disk afterwards.
    pub size_bytes: u64,
    pub seconds: f64,
}

impl GrowReport {
    /// The table `loadcast grow` prints: rows before and after, rates, and the size on disk.
    pub fn summary(&self, analyzed: bool) -> String {
        let mut out = format!(
            "{:<20} {:>12} {:>12} {:>12} {:>12} {:>9}\n",
            "table", "before", "after", "inserted", "rows/s", "MB/s"
        );
        for t in &self.tables {
            out += &format!(
                "{:<20} {:>12} {:>12} {:>12} {:>12.0} {:>9.1}\n",
                t.table,
                t.before,
                t.after,
                t.inserted(),
                t.rows_per_second(),
                t.bytes as f64 / 1e6 / t.seconds.max(1e-9)
            );
        }
        out += &format!(
            "{} {}: {:.1} MB on disk after growth ({:.1} s{})\n",
            self.kind,
            self.database,
            self.size_bytes as f64 / 1e6,
            self.seconds,
            if analyzed {
                ", statistics refreshed with ANALYZE"
            } else {
                ""
            }
        );
        out
    }
}

/// Orders goal tables so that a table comes after every goal table it references.
fn parents_first<'a>(
    schema: &Schema,
    goals: &'a [TableSpec],
) -> Result<Vec<&'a TableSpec>, GrowError> {
    let mut ordered: Vec<&TableSpec> = Vec::new();
    let mut pending: Vec<&TableSpec> = goals.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|goal| {
            let table = schema.table(&goal.name);
            let waits = table.is_some_and(|t| {
                t.foreign_keys.iter().any(|fk| {
                    fk.table != goal.name
                        && goals.iter().any(|g| g.name == fk.table)
                        && !ordered.iter().any(|o| o.name == fk.table)
                })
            });
            if !waits {
                ordered.push(goal);
            }
            waits
        });
        if pending.len() == before {
            return Err(GrowError::Plan(format!(
                "tables {} reference each other in a cycle; grow them in separate runs",
                pending
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    Ok(ordered)
}

/// Grows each goal table to its target. Stops between batches when `stop` is cancelled (everything
/// committed so far stays; a rerun finishes the rest).
pub fn grow(
    url: &str,
    goals: &[TableSpec],
    options: &GrowOptions,
    observer: &mut dyn GrowObserver,
    stop: &Cancel,
) -> Result<GrowReport, GrowError> {
    let started = Instant::now();
    let mut db = Db::connect(url)?;
    let database = db.check_allowed(options)?;
    let schema = db.schema()?;
    // Every table named before any row is written.
    let table_of = |goal: &TableSpec| {
        schema.table(&goal.name).ok_or_else(|| {
            GrowError::Plan(format!(
                "database {database} has no table {:?} (tables: {})",
                goal.name,
                schema
                    .tables
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    };
    for goal in goals {
        table_of(goal)?;
    }
    // PostgreSQL ingests a COPY on one backend per connection: a second connection puts the
    // server's second core to work. SQLite has one writer; MariaDB's batches are cheap enough.
    let mut extra = match db {
        Db::Pg(_) => (1..options.writers.max(1))
            .map(|_| Db::connect(url))
            .collect::<Result<Vec<_>, _>>()?,
        _ => Vec::new(),
    };
    let mut rng = SmallRng::seed_from_u64(options.seed);
    let mut reports = Vec::new();
    for goal in parents_first(&schema, goals)? {
        let table = table_of(goal)?;
        let report = grow_table(
            &mut db, &mut extra, &schema, table, goal, options, &mut rng, observer, stop,
        )?;
        observer.table_finished(&report);
        reports.push(report);
        if stop.is_cancelled() {
            return Err(GrowError::Interrupted(format!(
                "stopped in table {}; every committed row stays, and running again finishes the rest",
                goal.name
            )));
        }
    }
    Ok(GrowReport {
        database,
        kind: db.kind(),
        size_bytes: db.size()?,
        tables: reports,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The rows a goal asks for. A multiple is of the table's recorded baseline (recorded now, on
/// its first growth), so an interrupted `2x` resumed later still ends at twice the original.
fn target_rows(
    db: &mut Db,
    goal: &TableSpec,
    before: u64,
    options: &GrowOptions,
) -> Result<u64, GrowError> {
    Ok(match &goal.rows {
        RowsTarget::Absolute(n) => *n,
        RowsTarget::Multiple(m) => {
            let base = db.record_baseline(&goal.name, before)?;
            (base as f64 * m).round() as u64
        }
        RowsTarget::Horizon { series } => {
            let name = series.as_deref().unwrap_or(&goal.name);
            let rows = options.horizon.get(name).ok_or_else(|| {
                GrowError::Plan(if options.horizon.is_empty() {
                    format!(
                        "table {} grows to the horizon, but there is no forecast with data series: give a projection (loadcast forecast --data {name}=COLUMN) or a plan with [history]",
                        goal.name
                    )
                } else {
                    format!(
                        "table {} grows to the horizon, but the projection has no data series {name:?} (its data series: {}; name one with rows = \"horizon:SERIES\")",
                        goal.name,
                        options.horizon.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                })
            })?;
            rows.round().max(0.0) as u64
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn grow_table(
    db: &mut Db,
    extra: &mut [Db],
    schema: &Schema,
    table: &Table,
    goal: &TableSpec,
    options: &GrowOptions,
    rng: &mut SmallRng,
    observer: &mut dyn GrowObserver,
    stop: &Cancel,
) -> Result<TableReport, GrowError> {
    let started = Instant::now();
    let before = db.count(&table.name)?;
    let target = target_rows(db, goal, before, options)?;
    // Growth only adds rows: a count asked for below what is there is a mistake to name, not
    // a silent success.
    if let RowsTarget::Absolute(asked) = goal.rows {
        if asked < before {
            return Err(GrowError::Plan(format!(
                "table {} has {before} rows, more than the {asked} asked for: loadcast grows tables and never deletes rows (ask for a count above {before}, or a multiple such as 2x)",
                table.name
            )));
        }
    }
    observer.table_started(&table.name, before, target);
    if target <= before {
        return Ok(TableReport {
            table: table.name.clone(),
            before,
            after: before,
            target,
            seconds: 0.0,
            bytes: 0,
        });
    }
    let gens = {
        // A sequence continues after the largest existing value.
        let mut maxes = BTreeMap::new();
        for c in &table.columns {
            if c.sql_type.is_integer() && !c.auto {
                maxes.insert(c.name.clone(), db.max(&table.name, &c.name)?);
            }
        }
        let max_of = |column: &str| Ok(maxes.get(column).copied().flatten());
        let mut key_cache: BTreeMap<(String, String), generate::Keys> = BTreeMap::new();
        let mut refs = Vec::new();
        for fk in &table.foreign_keys {
            refs.push((fk.table.clone(), fk.referenced.clone()));
        }
        for (_, spec) in &goal.columns {
            if let loadcast_plan::Generator::Ref { table, column, .. } = &spec.generator {
                refs.push((table.clone(), vec![column.clone()]));
            }
        }
        for (parent, columns) in refs {
            if columns.len() != 1 {
                continue;
            }
            let Some(parent_table) = schema.table(&parent) else {
                return Err(GrowError::Plan(format!(
                    "table {} references {parent}, which does not exist",
                    table.name
                )));
            };
            let Some(column) = parent_table.column(&columns[0]) else {
                return Err(GrowError::Plan(format!(
                    "table {} references {parent}.{}, which does not exist",
                    table.name, columns[0]
                )));
            };
            let keys = db.keys(&parent, column)?;
            key_cache.insert(
                (parent.clone(), columns[0].clone()),
                generate::shuffled(keys, rng),
            );
        }
        let mut keys_of = |t: &str, c: &str| -> Result<generate::Keys, GrowError> {
            key_cache
                .get(&(t.to_string(), c.to_string()))
                .cloned()
                .ok_or_else(|| GrowError::Plan(format!("no keys loaded for {t}.{c}")))
        };
        let mut ctx = generate::Context {
            table,
            max_of: &max_of,
            keys_of: &mut keys_of,
            now_us: generate::now_us(),
        };
        generate::compile(&mut ctx, &goal.columns)?
    };
    let columns: Vec<Column> = gens.iter().map(|g| g.column.clone()).collect();
    if columns.is_empty() {
        return Err(GrowError::Plan(format!(
            "table {}: every column is filled by the database; nothing to generate",
            table.name
        )));
    }
    // Generate on a thread of its own while the database ingests earlier batches, on as many
    // connections as the database uses cores for it (PostgreSQL runs a backend per connection).
    let (batches, received) =
        mpsc::sync_channel::<(Result<Batch, String>, u64)>(2 * (1 + extra.len()));
    let received = std::sync::Mutex::new(received);
    let (done_tx, done_rx) = mpsc::channel::<Result<(u64, u64), GrowError>>();
    let encode = db.encoder();
    let producer_columns = columns.clone();
    let need = target - before;
    let batch_rows = options.batch_rows.max(1) as u64;
    // A stream of its own per table and starting count: a second run, or a resumed one,
    // draws new values (random UUIDs must not repeat the first run's).
    let seed = rand::Rng::random::<u64>(rng)
        ^ before.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ table
            .name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let run_tag = format!("{:04x}", seed & 0xffff);
    let halt = AtomicBool::new(false);
    let mut bytes = 0u64;
    let mut written = 0u64;
    let mut outcome = Ok(());
    std::thread::scope(|scope| {
        let halt = &halt;
        let run_tag = run_tag.as_str();
        scope.spawn(move || {
            let mut gens: Vec<ColumnGen> = gens;
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut done = 0u64;
            while done < need && !halt.load(Ordering::Relaxed) {
                let n = batch_rows.min(need - done);
                let mut size = 0u64;
                let rows: Vec<Vec<Value>> = (0..n)
                    .map(|i| {
                        let row = RowContext {
                            ordinal: before + done + i,
                            run: run_tag,
                        };
                        gens.iter_mut()
                            .map(|g| {
                                let v = g.value(&mut rng, &row);
                                size += v.size() as u64;
                                v
                            })
                            .collect()
                    })
                    .collect();
                done += n;
                if batches
                    .send((encode(&producer_columns, rows), size))
                    .is_err()
                {
                    return;
                }
            }
        });
        for writer in std::iter::once(&mut *db).chain(extra.iter_mut()) {
            let (received, done_tx, columns) = (&received, done_tx.clone(), &columns);
            let name = &table.name;
            scope.spawn(move || {
                loop {
                    if halt.load(Ordering::Relaxed) {
                        return;
                    }
                    let next = received.lock().map(|r| r.recv());
                    let Ok(Ok((batch, size))) = next else {
                        return;
                    };
                    let result = batch
                        .map_err(|cause| GrowError::Database {
                            table: Some(name.clone()),
                            cause,
                        })
                        .and_then(|batch| {
                            writer.insert(name, columns, &batch)?;
                            Ok((batch.rows(), size))
                        });
                    let failed = result.is_err();
                    if done_tx.send(result).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        for result in done_rx.iter() {
            match result {
                Ok((rows, size)) => {
                    written += rows;
                    bytes += size;
                    observer.progress(&table.name, before + written, target, bytes);
                }
                Err(e) => {
                    outcome = Err(e);
                    halt.store(true, Ordering::Relaxed);
                }
            }
            if stop.is_cancelled() {
                halt.store(true, Ordering::Relaxed);
            }
        }
        halt.store(true, Ordering::Relaxed);
        // Unblock a generator waiting on a full channel.
        if let Ok(r) = received.lock() {
            while r.try_recv().is_ok() {}
        }
    });
    outcome?;

    if options.analyze && written > 0 {
        db.analyze(&table.name)?;
    }
    Ok(TableReport {
        table: table.name.clone(),
        before,
        after: before + written,
        target,
        seconds: started.elapsed().as_secs_f64(),
        bytes,
    })
}
