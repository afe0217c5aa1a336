//! `loadcast capacity`: the engine as the capacity stage's [`Probe`], data scales grown with
//! datagen between searches, the USL sweep, and the runway against a projection.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use loadcast_capacity::data::{self, DataPoint, Prediction};
use loadcast_capacity::runway::{self, PathPoint};
use loadcast_capacity::{CapacityStudy, Probe, ScaleResult, SearchOptions};
use loadcast_engine::{Observer, Progress, RunOptions, StopHandle};
use loadcast_plan::{
    ClosedLoad, DataScale, Load, OpenLoad, Plan, RateStage, RowsTarget, UserStage,
};
use loadcast_stats::RunResult;

use crate::cli::{CapacityArgs, StoreArgs};
use crate::commands::{Failure, install_interrupt_handler};
use crate::exit;

/// Runs a plan's scenarios at one arrival rate with the engine.
pub struct EngineProbe<'a> {
    pub plan: &'a Plan,
    pub interrupted: Arc<AtomicBool>,
    pub verbose: bool,
}

impl EngineProbe<'_> {
    fn run(&self, load: Load, latency_limit: Option<f64>) -> Result<RunResult, String> {
        let mut plan = self.plan.clone();
        plan.load = Some(load);
        for s in &mut plan.scenarios {
            s.load = None;
        }
        let stop = StopHandle::new();
        let mut watch = BreakWatch {
            stop: stop.clone(),
            interrupted: self.interrupted.clone(),
            latency_limit,
            bad_seconds: 0,
        };
        let options = RunOptions {
            skip_preflight: true,
            ..RunOptions::default()
        };
        loadcast_engine::run(&plan, &options, &stop, &mut watch).map_err(|e| e.to_string())
    }
}

impl Probe for EngineProbe<'_> {
    fn measure(&mut self, rate: f64, hold: Duration) -> Result<RunResult, String> {
        if self.interrupted.load(Ordering::SeqCst) {
            return Err("interrupted".into());
        }
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
        let latency_limit = self
            .plan
            .thresholds
            .iter()
            .filter(|t| t.scope.is_none() && t.metric.is_latency())
            .map(|t| t.limit)
            .fold(None, |a: Option<f64>, l| Some(a.map_or(l, |a| a.min(l))));
        let result = self.run(load, latency_limit)?;
        if self.verbose {
            let t = result.total();
            eprintln!(
                "  {:>8.1}/s → {:>8.1}/s done, p99 {}, errors {:.2}%{}",
                rate,
                result.throughput(),
                loadcast_stats::format_duration(t.latency.quantile(0.99)),
                t.error_rate() * 100.0,
                if result.meta.status == loadcast_stats::RunStatus::Interrupted {
                    " (stopped early: clearly broken)"
                } else {
                    ""
                }
            );
        }
        Ok(result)
    }
}

/// Stops a step early once it is clearly broken (two consecutive seconds with half the
/// requests failing, or p99 ten times the SLO): a broken target is not hammered for the whole
/// hold. Also passes Ctrl-C on.
struct BreakWatch {
    stop: StopHandle,
    interrupted: Arc<AtomicBool>,
    latency_limit: Option<f64>,
    bad_seconds: u32,
}

impl Observer for BreakWatch {
    fn on_second(&mut self, p: &Progress<'_>) {
        if self.interrupted.load(Ordering::SeqCst) {
            self.stop.stop();
            return;
        }
        let s = p.second;
        let errors = s.error_count() as f64 / s.completed.max(1) as f64;
        let slow = self
            .latency_limit
            .is_some_and(|l| s.latency.quantile(0.99).as_secs_f64() > 10.0 * l);
        if p.elapsed >= Duration::from_secs(2) && (errors > 0.5 || slow) {
            self.bad_seconds += 1;
            if self.bad_seconds >= 2 {
                self.stop.stop();
            }
        } else {
            self.bad_seconds = 0;
        }
    }
}

fn parse_rate(text: &str) -> Result<f64, Failure> {
    loadcast_plan::units::parse_rate(text)
        .map_err(|e| Failure::usage(format!("{text:?}: expected {e}")))
}

pub fn capacity(args: CapacityArgs, store: &StoreArgs) -> Result<u8, Failure> {
    let plan = loadcast_plan::load(&args.plan).map_err(Failure::usage)?;
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    install_interrupt_handler("ending the capacity study after this step", move || {
        flag.store(true, Ordering::SeqCst)
    })?;
    let projection = match &args.projection {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
            Some(
                loadcast_forecast::Projection::from_json(&text, &path.display().to_string())
                    .map_err(Failure::usage)?,
            )
        }
        None => crate::commands::plan_projection(&plan)?,
    };
    let study = study(&plan, &args, projection.as_ref(), None, &interrupted)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("capacity.json"));
    std::fs::write(&out, study.to_json() + "\n")
        .map_err(|e| Failure::run(format!("{}: {e}", out.display())))?;
    print!("{}", loadcast_report::capacity_summary(&study));
    println!("capacity study written to {}", out.display());
    record(&study, store, interrupted.load(Ordering::SeqCst));
    if interrupted.load(Ordering::SeqCst) {
        return Ok(exit::INTERRUPTED);
    }
    Ok(exit::PASSED)
}

/// Records a capacity study in the run store.
pub fn record(study: &CapacityStudy, store: &StoreArgs, interrupted: bool) {
    crate::history::record(
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
            headline: study.today().map_or(String::new(), |b| {
                format!("capacity {:.1}/s at today's data", b.capacity())
            }),
            body: study.to_json(),
        },
    );
}

/// The capacity study itself: searches at each data scale (growing the data between them), the
/// fits and the runway. `loadcast capacity` and `loadcast demo` both run it.
pub fn study(
    plan: &Plan,
    args: &CapacityArgs,
    projection: Option<&loadcast_forecast::Projection>,
    baseline: Option<ScaleResult>,
    interrupted: &Arc<AtomicBool>,
) -> Result<CapacityStudy, Failure> {
    let spec = plan.capacity.clone();
    let options = SearchOptions {
        from: match &args.from {
            Some(r) => parse_rate(r)?,
            None => spec.as_ref().and_then(|c| c.from).unwrap_or(50.0),
        },
        factor: args
            .factor
            .or(spec.as_ref().and_then(|c| c.factor))
            .unwrap_or(1.5),
        hold: args
            .hold
            .or(spec.as_ref().and_then(|c| c.hold))
            .unwrap_or(Duration::from_secs(10)),
        warmup: args
            .warmup
            .or(spec.as_ref().and_then(|c| c.warmup))
            .unwrap_or(Duration::from_secs(3)),
        precision: args.precision,
        max_steps: args.max_steps,
        ..SearchOptions::default()
    };
    let scales: Vec<DataScale> = match &args.scales {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                DataScale::parse(s)
                    .ok_or_else(|| Failure::usage(format!("--scales: {s:?} is not 2x or horizon")))
            })
            .collect::<Result<_, _>>()?,
        None => spec
            .as_ref()
            .map(|c| c.data_scales.clone())
            .unwrap_or_default(),
    };
    let mut study = CapacityStudy::new(
        &plan.name,
        &plan.hash,
        &plan.target.url(),
        &loadcast_stats::time::format_time(loadcast_stats::time::now()),
    );
    let mut probe = EngineProbe {
        plan,
        interrupted: interrupted.clone(),
        verbose: !args.quiet,
    };

    // The data scales: grow the plan's tables between searches.
    let database = plan.database.clone();
    let table = spec.as_ref().and_then(|c| c.table.clone()).or_else(|| {
        database
            .as_ref()
            .and_then(|d| d.tables.first().map(|t| t.name.clone()))
    });
    let base: BTreeMap<String, u64> = match (&database, scales.is_empty()) {
        (Some(db), false) => {
            loadcast_datagen::inspect(&db.url)
                .map_err(|e| Failure::run(e.to_string()))?
                .1
        }
        (None, false) => {
            return Err(Failure::usage(
                "data scales need a [database] section with the tables to grow",
            ));
        }
        _ => BTreeMap::new(),
    };
    let mut plan_scales: Vec<(String, Option<DataScale>)> = vec![("1x".into(), None)];
    for s in &scales {
        match s {
            DataScale::Times(m) if (*m - 1.0).abs() < 1e-9 => {}
            _ => plan_scales.push((s.to_string(), Some(*s))),
        }
    }
    study.table = table.clone();
    let data_series = args.data_series.clone().or_else(|| table.clone());
    let horizon_volume = match (projection, &data_series) {
        (Some(p), Some(name)) => p.series(name).map(|s| s.at_horizon.point),
        _ => None,
    };
    let mut baseline = baseline;
    for (label, scale) in &plan_scales {
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        // Today's scale, already measured by the caller: not searched twice.
        if scale.is_none() {
            if let Some(b) = baseline.take() {
                study.scales.push(b);
                continue;
            }
        }
        let (volume, bytes) = match (&database, &table) {
            (Some(db), Some(table)) => {
                let target = |base_rows: u64| -> Result<u64, Failure> {
                    Ok(match scale {
                        None => base_rows,
                        Some(DataScale::Times(m)) => (base_rows as f64 * m).round() as u64,
                        Some(DataScale::Horizon) => {
                            let h = horizon_volume.ok_or_else(|| {
                                Failure::usage("the horizon scale needs --projection with the table's data series")
                            })?;
                            let driving = base.get(table).copied().unwrap_or(1).max(1);
                            (base_rows as f64 * h / driving as f64).round() as u64
                        }
                    })
                };
                if scale.is_some() {
                    let goals: Vec<loadcast_datagen::Goal> = db
                        .tables
                        .iter()
                        .map(|t| {
                            Ok(loadcast_datagen::Goal {
                                table: t.name.clone(),
                                rows: RowsTarget::Absolute(target(
                                    base.get(&t.name).copied().unwrap_or(0),
                                )?),
                                columns: t.columns.clone(),
                            })
                        })
                        .collect::<Result<_, Failure>>()?;
                    eprintln!("loadcast: growing the data to {label}");
                    loadcast_datagen::grow(
                        &db.url,
                        &goals,
                        &loadcast_datagen::GrowOptions {
                            require_marker: db.require_marker,
                            allow_database: args.allow_database.clone(),
                            ..loadcast_datagen::GrowOptions::default()
                        },
                        &mut (),
                        interrupted,
                    )
                    .map_err(|e| Failure::run(e.to_string()))?;
                }
                let (_, counts) =
                    loadcast_datagen::inspect(&db.url).map_err(|e| Failure::run(e.to_string()))?;
                let size = loadcast_datagen::size_bytes(&db.url).ok();
                (counts.get(table).map(|c| *c as f64), size.map(|s| s as f64))
            }
            _ => (None, None),
        };
        eprintln!(
            "loadcast: searching the breaking point at {label}{}",
            volume.map_or(String::new(), |v| format!(" ({v:.0} rows)"))
        );
        let point = match loadcast_capacity::search(&mut probe, &plan.thresholds, &options) {
            Ok(point) => point,
            // Ctrl-C: the scales already searched stand; this one is left out, not guessed.
            Err(_) if interrupted.load(Ordering::SeqCst) => break,
            Err(e) => return Err(Failure::usage(e)),
        };
        study.scales.push(ScaleResult {
            scale: label.clone(),
            volume,
            bytes,
            breaking_point: point,
        });
    }
    if study
        .scales
        .iter()
        .any(|s| s.breaking_point.generator_limited)
    {
        study.warnings.push(
            "the generator could not keep its schedule at the highest rates: those capacities are lower bounds, not the target's limit (raise load.max_in_flight or run on a bigger generator)".into(),
        );
    }
    // Capacity against data volume.
    let points: Vec<DataPoint> = study
        .scales
        .iter()
        .filter(|s| !s.breaking_point.generator_limited)
        .filter_map(|s| {
            Some(DataPoint {
                volume: s.volume?,
                capacity: s.breaking_point.capacity(),
                bytes: s.bytes,
            })
        })
        .collect();
    if points.len() >= 2 {
        let model = data::fit(&points).map_err(Failure::run)?;
        if let Some(h) = horizon_volume {
            study.at_horizon = Some(model.predict(h));
            study.horizon_volume = Some(h);
            let mut limits: Vec<(&str, f64)> = Vec::new();
            let cache = database
                .as_ref()
                .and_then(|db| loadcast_datagen::cache_bytes(&db.url).ok().flatten());
            if let Some(c) = cache {
                limits.push(("the database's cache", c as f64));
            }
            if let Some(m) = memory_bytes() {
                limits.push(("the machine's memory", m));
            }
            study.cliffs = data::cliffs(&model, h, &limits);
            for c in &study.cliffs {
                study.warnings.push(format!(
                    "between the largest measured scale ({:.0} MB) and the horizon ({:.0} MB) the data outgrows {} ({:.0} MB): the fitted curve cannot see the cliff there; measure at the horizon's volume",
                    c.measured_bytes / 1e6, c.horizon_bytes / 1e6, c.what, c.limit_bytes / 1e6
                ));
            }
        }
        study.data_model = Some(model);
    }
    // The concurrency sweep and the USL.
    let users: Vec<u32> = if args.usl {
        spec.as_ref()
            .map(|c| c.users.clone())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| vec![1, 2, 4, 8, 16, 32])
    } else {
        Vec::new()
    };
    for n in users {
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        let load = Load::Closed(ClosedLoad {
            stages: vec![UserStage {
                from: n,
                to: n,
                over: options.hold,
            }],
            pacing: None,
        });
        let result = probe.run(load, None).map_err(Failure::run)?;
        study.sweep.push((f64::from(n), result.throughput()));
    }
    if study.sweep.len() >= 3 {
        match loadcast_capacity::usl::fit(&study.sweep) {
            Ok(fit) => study.usl = Some(fit),
            Err(e) => study.warnings.push(format!("USL: {e}")),
        }
    }
    // The runway.
    let traffic_name = projection.and_then(|p| {
        args.traffic_series.clone().or_else(|| {
            p.series
                .iter()
                .find(|s| s.kind == loadcast_forecast::history::SeriesKind::Traffic)
                .map(|s| s.name.clone())
        })
    });
    if projection.is_some() && traffic_name.is_none() {
        study
            .warnings
            .push("the projection has no traffic series: no runway".into());
    }
    if let (Some(p), Some(today), Some(traffic_name)) = (projection, study.today(), traffic_name) {
        let traffic = p.series(&traffic_name).ok_or_else(|| {
            Failure::usage(format!("the projection has no series {traffic_name:?}"))
        })?;
        let to_path = |s: &loadcast_forecast::SeriesProjection| -> Vec<PathPoint> {
            s.path
                .iter()
                .map(|q| PathPoint {
                    t: q.t,
                    point: q.band.point,
                    lo95: q.band.lo95,
                    hi95: q.band.hi95,
                })
                .collect()
        };
        let data_path = match data_series.as_deref().and_then(|d| p.series(d)) {
            Some(d) => to_path(d),
            None => vec![PathPoint {
                t: p.as_of_unix,
                point: 1.0,
                lo95: 1.0,
                hi95: 1.0,
            }],
        };
        let (low, high) = today.interval();
        let today_capacity = Prediction {
            capacity: today.capacity(),
            low,
            high,
        };
        let flat = runway::Flat(today_capacity);
        let curve: &dyn runway::CapacityCurve = match &study.data_model {
            Some(m) => m,
            None => &flat,
        };
        study.runway = Some(runway::runway(
            &to_path(traffic),
            &data_path,
            curve,
            today_capacity,
        ));
    }
    Ok(study)
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
