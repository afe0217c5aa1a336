//! The capacity study of `loadcast-capacity` wired to this machine: the engine's probe, datagen's
//! grower, the spec from the flags (or the demo's settings) and the resolved plan.
//! `loadcast capacity` and `loadcast demo` both run it from here.

use loadcast_capacity::{CapacityStudy, Grower, StudyEvent, StudyObserver};
use loadcast_datagen::DatagenGrower;
use loadcast_plan::{ResolvedPlan, StudySettings};
use loadcast_stats::Cancel;

use crate::cli::{CapacityArgs, StoreArgs};
use crate::failure::Failure;

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
            repeat: args.repeat.map(usize::from),
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
            StudyEvent::Searching { label, rows, round } => {
                eprintln!(
                    "loadcast: searching the breaking point at {label}{}{}",
                    rows.map_or(String::new(), |v| format!(" ({v:.0} rows)")),
                    match round {
                        (_, 1) => String::new(),
                        (i, n) => format!(", search {i} of {n}"),
                    }
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
    let mut probe = loadcast_engine::EngineProbe::new(plan, cancel.clone());
    let mut grower = match (&plan.database, &spec.table) {
        (Some(db), Some(table)) => Some(DatagenGrower::new(
            db,
            table,
            settings.allow_database.clone(),
            cancel.clone(),
        )),
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
    crate::store::record(store, loadcast_report::study_record(study, interrupted));
}
