//! The capacity study of `loadcast-capacity` wired to this machine: the engine as its
//! [`Probe`], datagen as its [`Grower`], the spec from the flags (or the demo's settings) and the
//! resolved plan. `loadcast capacity` and `loadcast demo` both run it from here.

use std::collections::BTreeMap;
use std::time::Duration;

use loadcast_capacity::{
    CapacityStudy, EarlyStop, Grower, GrowerError, Probe, ProbeError, StudyEvent, StudyObserver,
    Volume,
};
use loadcast_engine::{Observer, Progress, RunOptions};
use loadcast_plan::{
    ClosedLoad, Load, OpenLoad, Plan, RateStage, ResolvedPlan, RowsTarget, StudySettings,
    TableSpec, UserStage,
};
use loadcast_stats::{Cancel, Document, RunResult};

use crate::cli::{CapacityArgs, StoreArgs};
use crate::failure::Failure;

/// Runs a plan's scenarios with the engine: one search step, the USL's closed-model level.
pub struct EngineProbe<'a> {
    pub plan: &'a Plan,
    pub cancel: Cancel,
}

impl EngineProbe<'_> {
    fn run(&self, load: Load, early_stop: bool) -> Result<RunResult, ProbeError> {
        if self.cancel.is_cancelled() {
            return Err(ProbeError::Interrupted);
        }
        let mut plan = self.plan.clone();
        plan.load = Some(load);
        for s in &mut plan.scenarios {
            s.load = None;
        }
        // A step of its own: ending it early (clearly broken) does not end the study.
        let step = self.cancel.child();
        let mut watch = StepWatch {
            rule: early_stop.then(|| EarlyStop::new(&self.plan.thresholds)),
            step: step.clone(),
        };
        let options = RunOptions {
            skip_preflight: true,
            ..RunOptions::default()
        };
        let result = loadcast_engine::run(&plan, &options, &step, &mut watch)
            .map_err(|e| ProbeError::Failed(Box::new(e)))?;
        if self.cancel.is_cancelled() {
            return Err(ProbeError::Interrupted);
        }
        Ok(result)
    }
}

impl Probe for EngineProbe<'_> {
    fn measure(&mut self, rate: f64, hold: Duration) -> Result<RunResult, ProbeError> {
        let (max_in_flight, late_after) = match &self.plan.load {
            Some(Load::Open(o)) => (o.max_in_flight, o.late_after),
            _ => (10_000, Duration::from_millis(10)),
        };
        let load = Load::Open(OpenLoad {
            stages: vec![RateStage {
                from: rate,
                to: rate,
                over: hold,
            }],
            max_in_flight,
            late_after,
            preallocate: 0,
        });
        self.run(load, true)
    }

    fn measure_users(&mut self, users: u32, hold: Duration) -> Result<RunResult, ProbeError> {
        let load = Load::Closed(ClosedLoad {
            stages: vec![UserStage {
                from: users,
                to: users,
                over: hold,
            }],
            pacing: None,
        });
        self.run(load, false)
    }
}

/// Ends a step once the early-stop rule says it is clearly broken.
struct StepWatch {
    rule: Option<EarlyStop>,
    step: Cancel,
}

impl Observer for StepWatch {
    fn on_second(&mut self, p: &Progress<'_>) {
        if let Some(rule) = &mut self.rule {
            if rule.second(p.elapsed, p.second) {
                self.step.cancel();
            }
        }
    }
}

/// Grows the plan's test database with datagen: the measuring table to the scale's rows, the
/// plan's other tables in proportion (a table without a `[database.tables.…]` section gets the
/// schema's default generators).
pub struct DatagenGrower {
    pub url: String,
    pub plan_tables: Vec<loadcast_plan::TableSpec>,
    pub table: String,
    pub require_marker: bool,
    pub allow_database: Option<String>,
    pub cancel: Cancel,
    /// Row counts when the study began.
    pub today: BTreeMap<String, u64>,
    /// The measuring table's recorded baseline (rows before loadcast first grew it).
    pub baseline: Option<u64>,
}

impl DatagenGrower {
    fn volume(&self) -> Result<Volume, GrowerError> {
        let (_, counts) =
            loadcast_datagen::inspect(&self.url).map_err(|e| GrowerError::Failed(Box::new(e)))?;
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
            bytes: loadcast_datagen::size_bytes(&self.url)
                .ok()
                .map(|b| b as f64),
        })
    }
}

impl Grower for DatagenGrower {
    fn current(&mut self) -> Result<Volume, GrowerError> {
        let (_, counts) =
            loadcast_datagen::inspect(&self.url).map_err(|e| GrowerError::Failed(Box::new(e)))?;
        self.today = counts;
        self.baseline = loadcast_datagen::baseline(&self.url, &self.table)
            .map_err(|e| GrowerError::Failed(Box::new(e)))?;
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
        // Every table of the plan in proportion; the measuring table even when the plan has
        // no section for it (the schema's default generators).
        let mut goals: Vec<TableSpec> = self
            .plan_tables
            .iter()
            .map(|t| TableSpec {
                rows: factor.clone(),
                ..t.clone()
            })
            .collect();
        TableSpec::set_target(
            &mut goals,
            TableSpec {
                name: self.table.clone(),
                rows: factor,
                columns: Vec::new(),
            },
        );
        loadcast_datagen::grow(
            &self.url,
            &goals,
            &loadcast_datagen::GrowOptions {
                require_marker: self.require_marker,
                allow_database: self.allow_database.clone(),
                ..loadcast_datagen::GrowOptions::default()
            },
            &mut (),
            &self.cancel,
        )
        .map_err(|e| match e {
            loadcast_datagen::GrowError::Interrupted(_) => GrowerError::Interrupted,
            e @ (loadcast_datagen::GrowError::Refused { .. }
            | loadcast_datagen::GrowError::Plan(_)) => GrowerError::Refused(Box::new(e)),
            e => GrowerError::Failed(Box::new(e)),
        })?;
        self.volume()
    }

    fn limits(&mut self) -> Vec<(String, f64)> {
        let mut limits = Vec::new();
        if let Ok(Some(cache)) = loadcast_datagen::cache_bytes(&self.url) {
            limits.push(("the database's cache".to_string(), cache as f64));
        }
        if let Some(memory) = memory_bytes() {
            limits.push(("the machine's memory".to_string(), memory));
        }
        limits
    }
}

/// How a study searches and what it covers, from flags or from the demo.
/// `loadcast capacity`'s flags over the plan's `[capacity]`.
impl From<&CapacityArgs> for StudySettings {
    fn from(args: &CapacityArgs) -> Self {
        Self {
            from: args.from,
            factor: args.factor,
            hold: args.hold,
            warmup: args.warmup,
            precision: args.precision,
            max_steps: args.max_steps,
            scales: args.scales.clone(),
            traffic_series: args.traffic_series.clone(),
            usl: args.usl,
            allow_database: args.allow_database.clone(),
            today: None,
        }
    }
}

/// The terminal's view of a study as it runs.
pub struct StudyPrinter {
    pub verbose: bool,
}

impl StudyObserver for StudyPrinter {
    fn event(&mut self, event: StudyEvent<'_>) {
        match event {
            StudyEvent::Growing { label, rows } => {
                eprintln!("loadcast: growing the data to {label} ({rows:.0} rows)")
            }
            StudyEvent::Searching { label, rows } => {
                eprintln!(
                    "loadcast: searching the breaking point at {label}{}",
                    rows.map_or(String::new(), |v| format!(" ({v:.0} rows)"))
                );
                // Each search's steps under the headings the final table uses.
                if self.verbose {
                    eprintln!("  {}", loadcast_report::STEP_HEADER);
                }
            }
            StudyEvent::Step(step) if self.verbose => {
                eprintln!("  {}", loadcast_report::step_line(step))
            }
            StudyEvent::Step(_) => {}
            StudyEvent::Sweep { users, throughput } if self.verbose => {
                eprintln!("  {users:>5} users → {throughput:>8.1} iterations/s")
            }
            StudyEvent::Sweep { .. } => {}
        }
    }
}

/// Runs a study for the plan: the engine probes, datagen grows.
pub fn study(
    resolved: &ResolvedPlan<'_>,
    settings: &StudySettings,
    verbose: bool,
    cancel: &Cancel,
) -> Result<CapacityStudy, Failure> {
    let plan = resolved.plan;
    let spec = loadcast_plan::study_spec(resolved, settings);
    let mut probe = EngineProbe {
        plan,
        cancel: cancel.clone(),
    };
    let mut grower = match (&plan.database, &spec.table) {
        (Some(db), Some(table)) => Some(DatagenGrower {
            url: db.url.clone(),
            plan_tables: db.tables.clone(),
            table: table.clone(),
            require_marker: db.require_marker,
            allow_database: settings.allow_database.clone(),
            cancel: cancel.clone(),
            today: BTreeMap::new(),
            baseline: None,
        }),
        _ => None,
    };
    let mut printer = StudyPrinter { verbose };
    Ok(loadcast_capacity::run_study(
        &spec,
        &mut probe,
        grower.as_mut().map(|g| g as &mut dyn Grower),
        &mut printer,
        cancel,
    )?)
}

/// Records a capacity study in the run store.
pub fn record(study: &CapacityStudy, store: &StoreArgs, interrupted: bool) {
    crate::store::record(
        store,
        loadcast_store::NewRecord {
            kind: loadcast_store::Kind::Capacity,
            plan_name: study.plan_name.clone(),
            plan_hash: study.plan_hash.clone(),
            started_at: study.started_at.clone(),
            ended_at: loadcast_stats::time::format_time(loadcast_stats::time::now()),
            status: if interrupted {
                "interrupted".into()
            } else {
                "complete".into()
            },
            headline: loadcast_report::capacity_headline(study),
            body: study.to_json(),
        },
    );
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
