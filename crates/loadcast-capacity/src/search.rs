//! The breaking-point search (open model): warm up, step the arrival rate up geometrically
//! until the SLO breaks (confirmed once, so one noisy step is not a break), then bisect between
//! the last good and the first bad rate. It stops as soon as a break is confirmed: a broken
//! target is never pushed further.
//!
//! After a step that broke, the target is given time to recover before the next one: light
//! probes until it holds the SLO again (the recovery time is reported), so that a step's verdict
//! never depends on the backlog of the step before it.
//!
//! A step the generator could not deliver is *invalid*: it says nothing about the target, and
//! the search stops there rather than report the generator's limit as the target's capacity. A
//! step that held the SLO is invalid only when arrivals were dropped (late ones are measured
//! from their intended start, so they made the step harsher, not easier); a step that broke it
//! is invalid when arrivals were late or dropped, or the generator's CPU was saturated, unless
//! it broke on service time too.

use std::time::Duration;

use loadcast_stats::{RunResult, Threshold, ThresholdOutcome};
use serde::{Deserialize, Serialize};

use crate::error::{CapacityError, ProbeError};

/// Measures the target. The CLI implements it with the engine; tests with a synthetic target.
pub trait Probe {
    /// Runs `rate` arrivals per second (open model) for `hold` and returns everything measured.
    fn measure(&mut self, rate: f64, hold: Duration) -> Result<RunResult, ProbeError>;

    /// Runs `users` looping virtual users (closed model) for `hold`: the USL sweep.
    fn measure_users(&mut self, users: u32, hold: Duration) -> Result<RunResult, ProbeError> {
        let _ = (users, hold);
        Err(ProbeError::Unsupported("a closed-model sweep"))
    }

    /// How the database plans the statements that took its time (`top`) and any others the
    /// probe runs, at the data volume of the moment; empty without a database to ask.
    fn explain(&mut self, top: &[String]) -> Vec<loadcast_stats::StatementPlan> {
        let _ = top;
        Vec::new()
    }
}

/// How the search steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchOptions {
    /// First rate (per second).
    pub from: f64,
    /// Geometric factor between steps (1.5 = +50%).
    pub factor: f64,
    /// How long each step holds its rate.
    pub hold: Duration,
    /// A warm-up at `from` before the first measured step.
    pub warmup: Duration,
    /// Bisection stops when the bracket is narrower than this share of its lower end.
    pub precision: f64,
    /// Most steps in all (warm-up excluded).
    pub max_steps: usize,
    /// Largest rate tried.
    pub max_rate: f64,
    /// A step is invalid when more than this share of arrivals (and more than two) were late or
    /// dropped.
    pub max_generator_miss: f64,
    /// Each light probe after a broken step holds this long.
    pub recovery_hold: Duration,
    /// Longest wait for the target to recover after a broken step; past it the search goes on
    /// and the next step says the target had not recovered.
    pub max_recovery: Duration,
}

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            from: 50.0,
            factor: 1.5,
            hold: Duration::from_secs(10),
            warmup: Duration::from_secs(5),
            precision: 0.05,
            max_steps: 20,
            max_rate: 1e6,
            max_generator_miss: 0.01,
            recovery_hold: Duration::from_secs(1),
            max_recovery: Duration::from_secs(30),
        }
    }
}

/// One measured step of the search: a point of the latency curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Arrival rate asked for (per second).
    pub rate: f64,
    /// Responses per second actually completed.
    pub throughput: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub error_rate: f64,
    /// Every SLO held.
    pub passed: bool,
    /// The generator kept its schedule (when false the step says nothing about the target).
    pub valid: bool,
    /// Why the step failed or was invalid.
    pub note: Option<String>,
    /// `geometric`, `confirm`, `descend` (below a start that broke) or `bisect`.
    pub phase: String,
    /// Seconds of light probing before this step until the target held the SLO again (after a
    /// broken step); `None` when the step before it held.
    #[serde(default)]
    pub recovery_seconds: Option<f64>,
    /// The target had not recovered within the allowed time when this step began.
    #[serde(default)]
    pub unrecovered: bool,
    /// What the database itself reported during the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<loadcast_stats::DatabaseView>,
}

/// The result of a search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BreakingPoint {
    /// The highest rate that held every SLO (per second).
    pub max_rate: f64,
    /// The lowest rate that broke one (none found: `None`).
    pub broke_at: Option<f64>,
    /// The SLO that broke first.
    pub first_broken: Option<String>,
    /// The generator could not keep its schedule: `max_rate` is a lower bound of the target's
    /// capacity, not its capacity.
    pub generator_limited: bool,
    /// Every step, in order.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Steps run at or above the first rate that failed (the failure and its confirmation).
    pub steps_after_break: usize,
    /// The user stopped the search before it ended: `max_rate` is the highest rate held so
    /// far, a lower bound.
    #[serde(default)]
    pub interrupted: bool,
}

impl Step {
    /// A valid step of the geometric phase and what it measured, with no error and no
    /// database view: the shape of a synthetic study (tests, examples).
    pub fn measured(rate: f64, p50_ms: f64, p99_ms: f64, passed: bool) -> Self {
        Self {
            rate,
            throughput: rate,
            p50_ms,
            p99_ms,
            error_rate: 0.0,
            passed,
            valid: true,
            note: None,
            phase: "geometric".into(),
            recovery_seconds: None,
            unrecovered: false,
            database: None,
        }
    }
}

impl BreakingPoint {
    /// What the steps of a search the user stopped establish: the highest rate they held.
    pub fn interrupted(steps: Vec<Step>) -> Self {
        let held = steps
            .iter()
            .filter(|s| s.valid && s.passed)
            .map(|s| s.rate)
            .fold(0.0, f64::max);
        Self {
            max_rate: held,
            broke_at: None,
            first_broken: None,
            generator_limited: false,
            steps,
            steps_after_break: 0,
            interrupted: true,
        }
    }

    /// **The** capacity: the highest rate at which the target was measured to hold every SLO.
    /// Not the bracket's middle, which is a rate nobody measured: what a team may plan on is a
    /// load it has seen the target sustain. Terminal, HTML, the run store, headroom, the
    /// capacity-vs-data fit and the runway all use this one figure; the bracket is shown beside.
    pub fn capacity(&self) -> f64 {
        self.max_rate
    }

    /// Its capacity is only a lower bound: its generator fell behind the schedule, or the
    /// user stopped it before a break.
    pub fn lower_bound(&self) -> bool {
        self.generator_limited || self.interrupted
    }

    /// `[max_rate, broke_at]`: the true limit lies in between (the upper end is `max_rate` when
    /// no break was found).
    pub fn interval(&self) -> (f64, f64) {
        (self.max_rate, self.broke_at.unwrap_or(self.max_rate))
    }
}

/// Late or dropped arrivals a step may have whatever its length, before the share applies.
const MISSES_TOLERATED: f64 = 2.0;

/// Judges one step against the thresholds and the generator's health.
pub fn judge(
    result: &RunResult,
    rate: f64,
    thresholds: &[Threshold],
    options: &SearchOptions,
    phase: &str,
) -> Step {
    let total = result.total();
    let outcomes: Vec<ThresholdOutcome> = loadcast_stats::slo::evaluate(thresholds, result);
    let broken: Vec<&ThresholdOutcome> = outcomes.iter().filter(|o| !o.passed).collect();
    let g = &result.generator;
    let miss = g.miss_rate();
    let cpu_saturated = match (g.cpu_seconds, result.meta.elapsed_seconds) {
        (Some(cpu), elapsed) if elapsed > 0.0 && g.workers > 0 => {
            cpu / elapsed / f64::from(g.workers) > 0.95
        }
        _ => false,
    };
    // A late generator explains a broken SLO only if the target itself held it: measured from
    // the actual send (service time), excluding the generator's own delay, did it still break?
    let broken_on_service_time = !broken.is_empty() && {
        let mut served = result.clone();
        for r in &mut served.requests {
            r.latency = r.service.clone();
        }
        loadcast_stats::slo::evaluate(thresholds, &served)
            .iter()
            .any(|o| !o.passed)
    };
    // A share alone would let one arrival delayed by a scheduler hiccup invalidate a short
    // step (1 of 90 is 1.1%): a few missed arrivals are always tolerated.
    let tolerated = (options.max_generator_miss * g.scheduled as f64).max(MISSES_TOLERATED);
    let generator_fine = if broken.is_empty() {
        // A step that held its SLO held it with the generator's delays counted in (latency
        // runs from each arrival's intended start): late arrivals only made it harsher. It
        // says nothing only when load was not delivered at all.
        g.dropped as f64 <= tolerated
    } else {
        // A broken step may be the generator's doing: late, dropped, or its CPU saturated.
        (g.late + g.dropped) as f64 <= tolerated && !cpu_saturated
    };
    let valid = generator_fine || broken_on_service_time;
    let note = if !valid {
        Some(if cpu_saturated && !broken.is_empty() {
            "the generator's CPU was saturated".to_string()
        } else {
            format!(
                "the generator missed {:.1}% of its schedule ({} late, {} dropped, {} waited for a free user)",
                miss * 100.0,
                g.late,
                g.dropped,
                g.waited_for_capacity
            )
        })
    } else {
        broken.first().map(|o| {
            if generator_fine {
                o.to_string()
            } else {
                format!("{o} (also on service time: the target broke, not the late generator)")
            }
        })
    };
    Step {
        rate,
        throughput: result.throughput(),
        p50_ms: total.latency.quantile(0.5).as_secs_f64() * 1e3,
        p99_ms: total.latency.quantile(0.99).as_secs_f64() * 1e3,
        error_rate: total.error_rate(),
        passed: broken.is_empty(),
        valid,
        note,
        phase: phase.to_string(),
        recovery_seconds: None,
        unrecovered: false,
        database: result.database.clone(),
    }
}

/// Light probes after a broken step until the target holds the SLO again: the rate a quarter
/// of the last good one (or of the start), each `recovery_hold` long. Returns the seconds it
/// took and whether it recovered within `max_recovery`.
pub(crate) fn recover(
    probe: &mut dyn Probe,
    thresholds: &[Threshold],
    options: &SearchOptions,
    good: Option<f64>,
) -> Result<(f64, bool), ProbeError> {
    let light = (good.unwrap_or(options.from) * 0.25).max(1.0);
    let mut waited = Duration::ZERO;
    while waited < options.max_recovery {
        let result = probe.measure(light, options.recovery_hold)?;
        waited += options.recovery_hold;
        let step = judge(&result, light, thresholds, options, "recovery");
        if step.passed {
            return Ok((waited.as_secs_f64(), true));
        }
    }
    Ok((waited.as_secs_f64(), false))
}

/// Steps a search takes below a start that broke, at most: a start 5× (factor 1.5) to 16×
/// (factor 2) above the capacity is still found.
const DESCENT_STEPS: usize = 4;

/// Finds the highest arrival rate at which every threshold holds.
pub fn search(
    probe: &mut dyn Probe,
    thresholds: &[Threshold],
    options: &SearchOptions,
) -> Result<BreakingPoint, CapacityError> {
    search_with(probe, thresholds, options, &mut |_| {})
}

/// [`search`], telling `on_step` about each step as it is judged.
pub fn search_with(
    probe: &mut dyn Probe,
    thresholds: &[Threshold],
    options: &SearchOptions,
    on_step: &mut dyn FnMut(&Step),
) -> Result<BreakingPoint, CapacityError> {
    if thresholds.is_empty() {
        return Err(CapacityError::NoSlo);
    }
    if options.factor.is_nan()
        || options.factor <= 1.0
        || options.from.is_nan()
        || options.from <= 0.0
    {
        return Err(CapacityError::BadSearch {
            from: options.from,
            factor: options.factor,
        });
    }
    if !options.warmup.is_zero() {
        probe.measure(options.from, options.warmup)?;
    }
    let mut steps: Vec<Step> = Vec::new();
    let mut good: Option<f64> = None;
    // The step before broke: the next one waits for the target to recover first.
    let mut needs_recovery = false;
    let mut run = |rate: f64,
                   phase: &str,
                   steps: &mut Vec<Step>,
                   good: Option<f64>,
                   needs_recovery: &mut bool|
     -> Result<Step, ProbeError> {
        let recovery = if *needs_recovery {
            Some(recover(probe, thresholds, options, good)?)
        } else {
            None
        };
        let result = probe.measure(rate, options.hold)?;
        let mut step = judge(&result, rate, thresholds, options, phase);
        if let Some((seconds, recovered)) = recovery {
            step.recovery_seconds = Some(seconds);
            step.unrecovered = !recovered;
        }
        *needs_recovery = step.valid && !step.passed;
        on_step(&step);
        steps.push(step.clone());
        Ok(step)
    };
    let mut bad: Option<f64> = None;
    // The rate of the first step that failed (before its confirmation).
    let mut first_failure: Option<f64> = None;
    let mut generator_limited = false;
    let mut rate = options.from;
    // Geometric phase.
    while steps.len() < options.max_steps && rate <= options.max_rate {
        let step = run(rate, "geometric", &mut steps, good, &mut needs_recovery)?;
        if !step.valid {
            generator_limited = true;
            break;
        }
        if step.passed {
            good = Some(rate);
            rate *= options.factor;
            continue;
        }
        // Confirm a break once: one noisy step is not a break.
        first_failure.get_or_insert(rate);
        let again = run(rate, "confirm", &mut steps, good, &mut needs_recovery)?;
        if !again.valid {
            generator_limited = true;
            break;
        }
        if again.passed {
            good = Some(rate);
            rate *= options.factor;
            continue;
        }
        bad = Some(rate);
        break;
    }
    // The start already broke: the limit lies below it (a `--from` set too high, a busier
    // machine than the one it was chosen on). Step down by the same factor, a few steps at
    // most, until a rate holds; the bisection then closes the bracket. A step that began before
    // the target recovered from the one above says nothing of its own rate, so it does not
    // lower the bracket's top. A target that failed every request and did not recover even at
    // the recovery rate is down: searching lower would only wait for it again.
    let down = |s: &Step| s.unrecovered && s.error_rate >= 1.0;
    if let (None, Some(mut high)) = (good, bad) {
        let mut rate = high;
        for _ in 0..DESCENT_STEPS {
            if steps.len() >= options.max_steps || steps.last().is_some_and(down) {
                break;
            }
            rate /= options.factor;
            // Recovery probes at a quarter of the rate about to be tried, not of the start.
            let step = run(rate, "descend", &mut steps, Some(rate), &mut needs_recovery)?;
            if !step.valid {
                generator_limited = true;
                break;
            }
            if step.passed {
                good = Some(rate);
                break;
            }
            if !step.unrecovered {
                high = rate;
            }
        }
        bad = Some(high);
    }
    // Bisection between the last good and the first bad rate.
    if let (Some(mut low), Some(mut high)) = (good, bad) {
        while (high - low) / low > options.precision && steps.len() < options.max_steps {
            let mid = (low + high) / 2.0;
            let step = run(mid, "bisect", &mut steps, Some(low), &mut needs_recovery)?;
            if !step.valid {
                generator_limited = true;
                break;
            }
            if step.passed {
                low = mid;
            } else {
                high = mid;
            }
        }
        good = Some(low);
        bad = Some(high);
    }
    // Steps run at or above the first rate that failed: the failing step and its
    // confirmation, then the search only goes down.
    let steps_after_break = match first_failure {
        Some(f) => steps.iter().filter(|s| s.rate >= f).count(),
        None => 0,
    };
    // What broke at the bracket's upper end — the step the bracket quotes, not an earlier,
    // faster one whose figures belong to another rate.
    let first_broken = match bad {
        Some(b) => steps
            .iter()
            .rev()
            .find(|s| s.valid && !s.passed && s.rate == b)
            .and_then(|s| s.note.clone()),
        None => None,
    };
    Ok(BreakingPoint {
        max_rate: good.unwrap_or(0.0),
        broke_at: bad,
        first_broken,
        generator_limited,
        steps,
        steps_after_break,
        interrupted: false,
    })
}
