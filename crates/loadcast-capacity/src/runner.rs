//! The capacity study as one call: a breaking-point search at each data scale (the data grown
//! between them by a [`Grower`]), capacity against data volume with its cliffs, the USL sweep,
//! and the runway against a projection. The binary builds the [`StudySpec`] from flags and the
//! plan and implements [`Probe`] and [`Grower`] with the engine and datagen; tests implement
//! them with synthetic targets.

use std::time::Duration;

use loadcast_stats::{Cancel, Threshold};

use crate::data::{self, DataPoint, Prediction};
use crate::error::{CapacityError, GrowerError, ProbeError};
use crate::runway::{self, PathPoint};
use crate::search::{self, BreakingPoint, Probe, SearchOptions, Step};
use crate::study::{CapacityStudy, ScaleResult};

/// The data volume reached: rows of the table that measures it, and the database's size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Volume {
    pub rows: f64,
    pub bytes: Option<f64>,
}

/// Brings the test data to a volume. The binary grows a real database with datagen.
pub trait Grower {
    /// The volume now, before anything is grown: the study's `1x`.
    fn current(&mut self) -> Result<Volume, GrowerError>;

    /// Grows the data until the measuring table has `rows` rows (other tables in proportion)
    /// and returns the volume reached.
    fn grow_to(&mut self, label: &str, rows: f64) -> Result<Volume, GrowerError>;

    /// The measuring table's rows before loadcast first grew it, when recorded: what `1x`
    /// means. `None`: today's volume is the baseline.
    fn baseline(&mut self) -> Option<f64> {
        None
    }

    /// Limits an extrapolation may cross unseen: the database's cache, the machine's memory
    /// (`(what, bytes)`).
    fn limits(&mut self) -> Vec<(String, f64)> {
        Vec::new()
    }
}

/// A data scale to measure after today's.
#[derive(Clone, Debug, PartialEq)]
pub enum ScaleTarget {
    /// A multiple of today's volume (`2x`).
    Times(f64),
    /// The horizon's volume, from the projection (with the plan's bound); `None` when there is
    /// no projection for the table (an error if the scale is asked for).
    Horizon(Option<f64>),
}

impl ScaleTarget {
    pub fn label(&self) -> String {
        match self {
            ScaleTarget::Times(m) => format!("{m}x"),
            ScaleTarget::Horizon(_) => "horizon".into(),
        }
    }
}

/// The traffic and data forecasts the runway is computed against.
#[derive(Clone, Debug, PartialEq)]
pub struct RunwayInput {
    pub traffic: Vec<PathPoint>,
    /// The traffic "now" is judged by: the forecast's today (its history's peak over the last
    /// cycle).
    pub today: f64,
    /// The data path of the measuring table; `None`: capacity does not follow the data.
    pub data: Option<Vec<PathPoint>>,
    /// Why a forecast the runway rests on is not supported by its history, when one is not:
    /// the study says so beside the dates.
    pub caveats: Vec<String>,
    /// What changed inside the histories the forecast was read from (a lasting step in
    /// traffic, a trend that broke), each naming its series: the dates hold only if it lasts.
    pub changes: Vec<String>,
}

/// Everything a study needs to know.
#[derive(Clone, Debug)]
pub struct StudySpec {
    pub plan_name: String,
    pub plan_hash: String,
    pub target: String,
    pub started_at: String,
    /// What "broken" means.
    pub thresholds: Vec<Threshold>,
    pub search: SearchOptions,
    /// The table whose rows measure the data volume.
    pub table: Option<String>,
    /// Scales after today's, in the order given (they are measured ascending).
    pub scales: Vec<ScaleTarget>,
    /// The horizon's data volume (with the plan's bound), for the prediction and cliffs.
    pub horizon_volume: Option<f64>,
    /// Concurrency levels of the USL sweep (empty: none).
    pub usl_users: Vec<u32>,
    pub runway: Option<RunwayInput>,
    /// Today's search, already done by the caller: not searched twice.
    pub today: Option<ScaleResult>,
    /// Searches at each scale (at least one): its capacity is their median, and the spread
    /// between them is what a change must leave to count (`compare`, the runway's interval).
    pub repeat: usize,
}

/// A study's volumes may drift this far from a scale's target (batches, concurrent writers).
const REACHED_TOLERANCE: f64 = 0.01;

/// What the study is doing, for the terminal.
#[derive(Debug)]
pub enum StudyEvent<'a> {
    Growing {
        label: &'a str,
        rows: f64,
    },
    /// A search begins: `round` is `(this one, of how many)` at this scale.
    Searching {
        label: &'a str,
        rows: Option<f64>,
        round: (usize, usize),
    },
    Step(&'a Step),
    Sweep {
        users: u32,
        throughput: f64,
    },
}

/// Receives a study's progress.
pub trait StudyObserver {
    fn event(&mut self, event: StudyEvent<'_>);
}

impl StudyObserver for () {
    fn event(&mut self, _: StudyEvent<'_>) {}
}

/// The caller's probe, refusing to start anything once the user has asked to stop.
struct Cancellable<'a> {
    probe: &'a mut dyn Probe,
    cancel: &'a Cancel,
}

impl Probe for Cancellable<'_> {
    fn measure(
        &mut self,
        rate: f64,
        hold: Duration,
    ) -> Result<loadcast_stats::RunResult, ProbeError> {
        if self.cancel.is_cancelled() {
            return Err(ProbeError::Interrupted);
        }
        self.probe.measure(rate, hold)
    }

    fn measure_users(
        &mut self,
        users: u32,
        hold: Duration,
    ) -> Result<loadcast_stats::RunResult, ProbeError> {
        if self.cancel.is_cancelled() {
            return Err(ProbeError::Interrupted);
        }
        self.probe.measure_users(users, hold)
    }

    fn explain(&mut self, top: &[String]) -> Vec<loadcast_stats::StatementPlan> {
        self.probe.explain(top)
    }
}

/// Runs the study. Ctrl-C (`cancel`) ends it after the step under way: the scales already
/// searched stand, the one cut short is left out, not guessed.
pub fn run_study(
    spec: &StudySpec,
    probe: &mut dyn Probe,
    grower: Option<&mut dyn Grower>,
    observer: &mut dyn StudyObserver,
    cancel: &Cancel,
) -> Result<CapacityStudy, CapacityError> {
    let mut study = CapacityStudy::new(
        &spec.plan_name,
        &spec.plan_hash,
        &spec.target,
        &spec.started_at,
    );
    study.table = spec.table.clone();
    study.thresholds = spec.thresholds.clone();
    if !spec.scales.is_empty() && grower.is_none() {
        return Err(CapacityError::NoDatabase);
    }
    let mut grower = grower;
    let today_volume = match grower.as_deref_mut() {
        Some(g) => Some(g.current().map_err(|source| CapacityError::Grow {
            label: "1x".into(),
            source,
        })?),
        None => None,
    };
    // "1x" is the recorded baseline; data grown by an earlier study or `grow` is said so, and
    // today's search is labelled with the volume it measures.
    let table = spec.table.clone().unwrap_or_else(|| "the data".into());
    let baseline = grower.as_deref_mut().and_then(|g| g.baseline());
    let base = baseline.or(today_volume.map(|v| v.rows)).unwrap_or(0.0);
    let mut today_label = "1x".to_string();
    if let (Some(b), Some(v)) = (baseline, today_volume) {
        if b > 0.0 && (v.rows / b - 1.0).abs() > REACHED_TOLERANCE {
            let ratio = format!("{:.2}", v.rows / b);
            today_label = format!("{}x", ratio.trim_end_matches('0').trim_end_matches('.'));
            study.warnings.push(format!(
                "today's data is {:.0} rows of {table}, {:.2}× the {b:.0} recorded before loadcast first grew it: today's search measured that volume (labelled {today_label}), not the baseline; restore the database to measure at 1x",
                v.rows,
                v.rows / b
            ));
        }
    }
    // Resolve every scale to rows of the measuring table, ascending (data only grows).
    let now_rows = today_volume.map_or(0.0, |v| v.rows);
    let mut targets: Vec<(String, f64)> = Vec::new();
    for scale in &spec.scales {
        let label = scale.label();
        let rows = match scale {
            ScaleTarget::Times(m) => base * m,
            ScaleTarget::Horizon(Some(v)) => *v,
            ScaleTarget::Horizon(None) => {
                return Err(CapacityError::NoHorizonVolume {
                    label,
                    table: table.clone(),
                });
            }
        };
        if rows <= now_rows * (1.0 + REACHED_TOLERANCE) {
            study.warnings.push(format!(
                "the {label} scale ({rows:.0} rows) is not above the {now_rows:.0} rows of {table} measured first: not measured again"
            ));
            continue;
        }
        targets.push((label, rows));
    }
    targets.sort_by(|a, b| a.1.total_cmp(&b.1));

    let mut probe = Cancellable { probe, cancel };
    // Today's scale.
    match spec.today.clone() {
        Some(today) => study.scales.push(today),
        None => {
            let today = search_scale(
                &mut probe,
                observer,
                spec,
                &today_label,
                today_volume,
                &mut study.warnings,
            )?;
            match today {
                Some(result) if !probe.cancel.is_cancelled() => study.scales.push(result),
                Some(result) => {
                    study.scales.push(result);
                    return Ok(finish(study, spec, &mut probe, observer));
                }
                None => return Ok(finish(study, spec, &mut probe, observer)),
            }
        }
    }
    for (label, rows) in &targets {
        if cancel.is_cancelled() {
            break;
        }
        let Some(g) = grower.as_deref_mut() else {
            break;
        };
        observer.event(StudyEvent::Growing { label, rows: *rows });
        let reached = match g.grow_to(label, *rows) {
            Ok(v) => v,
            Err(GrowerError::Interrupted) => break,
            Err(source) => {
                return Err(CapacityError::Grow {
                    label: label.clone(),
                    source,
                });
            }
        };
        if (reached.rows / rows - 1.0).abs() > REACHED_TOLERANCE {
            return Err(CapacityError::ScaleNotReached {
                label: label.clone(),
                table: table.clone(),
                target: *rows,
                reached: reached.rows,
            });
        }
        let searched = search_scale(
            &mut probe,
            observer,
            spec,
            label,
            Some(reached),
            &mut study.warnings,
        )?;
        match searched {
            Some(result) => study.scales.push(result),
            None => break,
        }
    }
    if let Some(g) = grower {
        let limits = g.limits();
        fit_data(&mut study, spec, &limits)?;
    }
    Ok(finish(study, spec, &mut probe, observer))
}

/// One scale's searches (`spec.repeat` of them; the median stands for the scale). When the
/// user stops one, the searches that ended stand; when none had, the steps measured so far are
/// kept as an interrupted breaking point (the highest rate they held, a lower bound) and the
/// study says so; `None` when no step had ended.
fn search_scale(
    probe: &mut Cancellable<'_>,
    observer: &mut dyn StudyObserver,
    spec: &StudySpec,
    label: &str,
    volume: Option<Volume>,
    warnings: &mut Vec<String>,
) -> Result<Option<ScaleResult>, CapacityError> {
    let repeat = spec.repeat.max(1);
    let mut points: Vec<BreakingPoint> = Vec::new();
    for round in 1..=repeat {
        observer.event(StudyEvent::Searching {
            label,
            rows: volume.map(|v| v.rows),
            round: (round, repeat),
        });
        if round > 1 {
            // The last search ended on a broken step: its backlog is not the next one's start.
            let broke_last = points
                .last()
                .and_then(|p| p.steps.last())
                .is_some_and(|s| !s.passed);
            if broke_last {
                match search::recover(probe, &spec.thresholds, &spec.search, None) {
                    Ok(_) => {}
                    Err(ProbeError::Interrupted) => break,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let mut seen: Vec<Step> = Vec::new();
        let searched = search::search_with(probe, &spec.thresholds, &spec.search, &mut |step| {
            seen.push(step.clone());
            observer.event(StudyEvent::Step(step))
        });
        match searched {
            Ok(point) => points.push(point),
            Err(e) if e.is_interrupted() && !points.is_empty() => {
                let ended = match points.len() {
                    1 => "the one search that ended".to_string(),
                    n => format!("the median of the {n} searches that ended"),
                };
                warnings.push(format!(
                    "interrupted during search {round} of {repeat} at {label}: the capacity there is {ended}"
                ));
                break;
            }
            Err(e) if e.is_interrupted() && seen.is_empty() => return Ok(None),
            Err(e) if e.is_interrupted() => {
                let point = BreakingPoint::interrupted(seen);
                warnings.push(format!(
                    "interrupted during the search at {label} after {} steps: {:.1}/s held so far is a lower bound of the capacity, not the capacity",
                    point.steps.len(),
                    point.max_rate
                ));
                points.push(point);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    let Some(mut scale) = ScaleResult::of_searches(
        label,
        volume.map(|v| v.rows),
        volume.and_then(|v| v.bytes),
        points,
    ) else {
        return Ok(None);
    };
    // Asked at this volume, before the data grows again: the plans of this scale.
    let top: Vec<String> = scale
        .knee()
        .and_then(|s| s.database.as_ref())
        .map(|v| v.statements.iter().map(|s| s.query.clone()).collect())
        .unwrap_or_default();
    scale.plans = probe.explain(&top);
    Ok(Some(scale))
}

/// Capacity against data volume, its prediction at the horizon and the cliffs on the way.
fn fit_data(
    study: &mut CapacityStudy,
    spec: &StudySpec,
    limits: &[(String, f64)],
) -> Result<(), CapacityError> {
    let points: Vec<DataPoint> = study
        .scales
        .iter()
        // Lower bounds are not capacities: a fit through them would move the runway.
        .filter(|s| !s.lower_bound())
        .filter_map(|s| {
            Some(DataPoint {
                volume: s.volume?,
                capacity: s.capacity(),
                bytes: s.bytes,
                bracket: Some(s.interval()),
            })
        })
        .collect();
    let measured = points.iter().filter(|p| p.capacity > 0.0).count();
    if measured < 2 {
        if points.len() >= 2 {
            study.warnings.push(format!(
                "no capacity against data volume: only {measured} of {} scales held the SLO at the search's first rate (lower capacity.from)",
                points.len()
            ));
        }
        return Ok(());
    }
    let model = data::fit(&points).map_err(CapacityError::Fit)?;
    if model.dof == 0 {
        study.warnings.push(format!(
            "capacity against data volume rests on {} scales: {}",
            model.points.len(),
            model.quality()
        ));
    }
    if let Some((first, last)) = model.superlinear() {
        let beyond = spec.horizon_volume.is_some_and(|h| h > last.volume * 1.01);
        study.warnings.push(format!(
            "capacity fell faster than the data grew, beyond the searches' brackets: {:.1}/s at {:.0} rows, {:.1}/s at {:.0} ({:.2}× the rows, {:.2}× the capacity). A scan's cost grows in proportion to the rows; more than that is a step between the scales (the working set outgrowing a cache){}",
            first.capacity,
            first.volume,
            last.capacity,
            last.volume,
            last.volume / first.volume,
            last.capacity / first.capacity,
            if beyond {
                ", and the fit carries that pace on to the horizon: measure a scale between them, or at the horizon"
            } else {
                ": a scale between them would show where"
            }
        ));
    }
    if let Some(h) = spec.horizon_volume {
        study.at_horizon = Some(model.predict(h));
        study.horizon_volume = Some(h);
        let limits: Vec<(&str, f64)> = limits.iter().map(|(w, b)| (w.as_str(), *b)).collect();
        study.cliffs = data::cliffs(&model, h, &limits);
        for c in &study.cliffs {
            study.warnings.push(format!(
                "between the largest measured scale ({:.0} MB) and the horizon ({:.0} MB) the data outgrows {} ({:.0} MB): the fitted curve cannot see the cliff there; measure at the horizon's volume",
                c.measured_bytes / 1e6, c.horizon_bytes / 1e6, c.what, c.limit_bytes / 1e6
            ));
        }
    }
    study.data_model = Some(model);
    Ok(())
}

/// The generator's warning, the USL sweep and the runway: what follows the searches.
fn finish(
    mut study: CapacityStudy,
    spec: &StudySpec,
    probe: &mut Cancellable<'_>,
    observer: &mut dyn StudyObserver,
) -> CapacityStudy {
    if study
        .scales
        .iter()
        .any(|s| s.breaking_point.generator_limited)
    {
        study.warnings.push(
            "the generator could not keep its schedule at the highest rates: those capacities are lower bounds, not the target's limit (raise load.max_in_flight or run on a bigger generator)".into(),
        );
    }
    for &users in &spec.usl_users {
        match probe.measure_users(users, spec.search.hold) {
            Ok(result) => {
                let throughput = result.throughput();
                observer.event(StudyEvent::Sweep { users, throughput });
                study.sweep.push((f64::from(users), throughput));
            }
            Err(ProbeError::Interrupted) => break,
            Err(e) => {
                study
                    .warnings
                    .push(format!("USL sweep at {users} users: {e}"));
                break;
            }
        }
    }
    if study.sweep.len() >= 3 {
        match crate::usl::fit(&study.sweep) {
            Ok(fit) => study.usl = Some(fit),
            Err(e) => study.warnings.push(format!("USL: {e}")),
        }
    }
    // No runway from a capacity that is only a lower bound (the search was stopped, or its
    // generator fell behind): it would date a shortfall the target may not have ("runs out
    // now" from a generator that topped out below today's traffic).
    let bound = study
        .today()
        .filter(|t| t.lower_bound())
        .map(|t| t.capacity());
    if let (Some(_), Some(bound)) = (&spec.runway, bound) {
        study.warnings.push(format!(
            "no runway: today's capacity, {bound:.1}/s, is only a lower bound (the search was stopped, or its generator fell behind): a runway from it would date a shortfall the target may not have"
        ));
    }
    let today = study.today().filter(|t| !t.lower_bound());
    if let (Some(input), Some(today)) = (&spec.runway, today) {
        let (low, high) = today.interval();
        let today_capacity = Prediction {
            capacity: today.capacity(),
            low,
            high,
        };
        let flat = runway::Flat(today_capacity);
        let data_path = input.data.clone().unwrap_or_else(|| {
            vec![PathPoint {
                t: input.traffic.first().map_or(0, |p| p.t),
                point: 1.0,
                lo95: 1.0,
                hi95: 1.0,
            }]
        });
        let curve: &dyn runway::CapacityCurve = match (&study.data_model, &input.data) {
            (Some(m), Some(_)) => m,
            _ => &flat,
        };
        let not_data_aware =
            runway::not_data_aware(study.data_model.is_some(), input.data.is_some());
        for caveat in &input.caveats {
            study.warnings.push(format!(
                "the runway's dates rest on a forecast its history does not support ({caveat}): read them as a range, not a date"
            ));
        }
        for change in &input.changes {
            study.warnings.push(format!(
                "the runway's forecast rests on a change inside its history ({change}): its dates hold only if that change lasts"
            ));
        }
        let runway = runway::runway(
            &input.traffic,
            &data_path,
            curve,
            today_capacity,
            input.today,
        );
        study.runway = Some(match not_data_aware {
            Some(why) => runway.without_data(why.into()),
            None => runway,
        });
    }
    study
}
