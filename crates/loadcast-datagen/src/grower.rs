//! Datagen as the capacity study's [`Grower`]: brings the plan's measuring table to the rows a
//! data scale asks for, the plan's other tables in proportion, and names the memory limits
//! (the database's cache, the machine's memory) a cliff may be explained by.

use std::collections::BTreeMap;

use loadcast_capacity::{Grower, GrowerError, Volume};
use loadcast_plan::{DatabaseSpec, RowsTarget, TableSpec};
use loadcast_stats::Cancel;

use crate::{GrowError, GrowOptions};

/// Grows a plan's test database between the study's searches.
pub struct DatagenGrower {
    url: String,
    plan_tables: Vec<TableSpec>,
    table: String,
    options: GrowOptions,
    cancel: Cancel,
    /// Row counts when the study began.
    today: BTreeMap<String, u64>,
    /// The measuring table's recorded baseline (rows before loadcast first grew it).
    baseline: Option<u64>,
}

impl DatagenGrower {
    /// Grows `database` with `table` as the measuring table; `allow_database` writes without
    /// the marker into the database of exactly that name.
    pub fn new(
        database: &DatabaseSpec,
        table: &str,
        allow_database: Option<String>,
        cancel: Cancel,
    ) -> Self {
        Self {
            url: database.url.clone(),
            plan_tables: database.tables.clone(),
            table: table.to_string(),
            options: GrowOptions {
                require_marker: database.require_marker,
                allow_database,
                ..GrowOptions::default()
            },
            cancel,
            today: BTreeMap::new(),
            baseline: None,
        }
    }

    fn volume(&self) -> Result<Volume, GrowerError> {
        let (_, counts) = crate::inspect(&self.url).map_err(failed)?;
        let rows = counts.get(&self.table).copied().ok_or_else(|| {
            GrowerError::Refused(
                format!(
                    "the database has no table {:?} (tables: {})",
                    self.table,
                    counts.keys().cloned().collect::<Vec<_>>().join(", ")
                )
                .into(),
            )
        })?;
        Ok(Volume {
            rows: rows as f64,
            bytes: crate::size_bytes(&self.url).ok().map(|b| b as f64),
        })
    }
}

impl std::fmt::Debug for DatagenGrower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatagenGrower")
            .field("url", &loadcast_plan::redact_url(&self.url))
            .field("table", &self.table)
            .field("baseline", &self.baseline)
            .finish_non_exhaustive()
    }
}

fn failed(e: GrowError) -> GrowerError {
    GrowerError::Failed(Box::new(e))
}

impl Grower for DatagenGrower {
    fn current(&mut self) -> Result<Volume, GrowerError> {
        let (_, counts) = crate::inspect(&self.url).map_err(failed)?;
        self.today = counts;
        self.baseline = crate::baseline(&self.url, &self.table).map_err(failed)?;
        self.volume()
    }

    fn baseline(&mut self) -> Option<f64> {
        self.baseline.map(|b| b as f64)
    }

    fn grow_to(&mut self, _label: &str, rows: f64) -> Result<Volume, GrowerError> {
        // Multiples of the recorded baselines (datagen records them on a table's first
        // growth): the measuring table lands on `rows`, the others in proportion, and a rerun
        // after an interruption aims at the same counts.
        let base = self
            .baseline
            .or_else(|| self.today.get(&self.table).copied())
            .unwrap_or(0)
            .max(1) as f64;
        let factor = RowsTarget::Multiple(rows / base);
        let mut goals: Vec<TableSpec> = self
            .plan_tables
            .iter()
            .map(|t| TableSpec {
                rows: factor.clone(),
                ..t.clone()
            })
            .collect();
        // The measuring table even when the plan has no section for it (the schema's default
        // generators).
        TableSpec::set_target(
            &mut goals,
            TableSpec {
                name: self.table.clone(),
                rows: factor,
                columns: Vec::new(),
            },
        );
        crate::grow(&self.url, &goals, &self.options, &mut (), &self.cancel).map_err(
            |e| match e {
                GrowError::Interrupted(_) => GrowerError::Interrupted,
                e @ (GrowError::Refused { .. } | GrowError::Plan(_)) => {
                    GrowerError::Refused(Box::new(e))
                }
                e => failed(e),
            },
        )?;
        self.volume()
    }

    fn limits(&mut self) -> Vec<(String, f64)> {
        let mut limits = Vec::new();
        if let Ok(Some(cache)) = crate::cache_bytes(&self.url) {
            limits.push(("the database's cache".to_string(), cache as f64));
        }
        if let Some(memory) = memory_bytes() {
            limits.push(("the machine's memory".to_string(), memory));
        }
        limits
    }
}

/// Total memory of the machine, from /proc/meminfo (Linux).
fn memory_bytes() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: f64 = info
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024.0)
}
