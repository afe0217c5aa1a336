//! The engine as the capacity study's [`Probe`]: one search step is an open-model run at a
//! fixed rate that ends early once it is clearly broken; one USL level is a closed-model run.

use std::time::Duration;

use loadcast_capacity::{EarlyStop, Probe, ProbeError};
use loadcast_plan::{ClosedLoad, Load, OpenLoad, Plan, RateStage, UserStage};
use loadcast_stats::{Cancel, RunResult};

use crate::{Observer, Progress, RunOptions};

/// Runs a plan's scenarios at the load each step asks for.
#[derive(Debug)]
pub struct EngineProbe<'a> {
    plan: &'a Plan,
    cancel: Cancel,
    /// The target and databases answered once: later steps do not ask again (a target that
    /// refuses connections while it recovers from a broken step is a measurement, not an error).
    reachable: std::cell::Cell<bool>,
}

impl<'a> EngineProbe<'a> {
    pub fn new(plan: &'a Plan, cancel: Cancel) -> Self {
        Self {
            plan,
            cancel,
            reachable: std::cell::Cell::new(false),
        }
    }

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
        // The first step checks, as `run` does, that the target answers: a study of an
        // unreachable target is an error, not a search through 100% errors.
        let options = RunOptions {
            skip_preflight: self.reachable.get(),
            ..RunOptions::default()
        };
        let result = crate::run(&plan, &options, &step, &mut watch)
            .map_err(|e| ProbeError::Failed(Box::new(e)))?;
        self.reachable.set(true);
        if self.cancel.is_cancelled() {
            return Err(ProbeError::Interrupted);
        }
        Ok(result)
    }
}

impl Probe for EngineProbe<'_> {
    fn measure(&mut self, rate: f64, hold: Duration) -> Result<RunResult, ProbeError> {
        let (max_in_flight, late_after, latency_limit) = match &self.plan.load {
            Some(Load::Open(o)) => (o.max_in_flight, o.late_after, o.latency_limit),
            _ => (10_000, Duration::from_millis(10), None),
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
            latency_limit,
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
            latency_limit: None,
        });
        self.run(load, false)
    }

    fn explain(&mut self, top: &[String]) -> Vec<loadcast_stats::StatementPlan> {
        // The statements that took the database's time, then the plan's own (the database may
        // not time statements: pg_stat_statements is optional), each once.
        let mut statements: Vec<String> = Vec::new();
        let plans = self.plan.sql_statements();
        for query in top.iter().map(String::as_str).chain(plans) {
            let same = |s: &String| s.split_whitespace().eq(query.split_whitespace());
            if !statements.iter().any(same) && statements.len() < EXPLAINED {
                statements.push(query.to_string());
            }
        }
        crate::explain(self.plan, &statements)
    }
}

/// Statements explained at each data scale at most.
const EXPLAINED: usize = 6;

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
