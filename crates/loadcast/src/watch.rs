//! `loadcast watch`: schedules the cycles (`loadcast_plan::watch` reads and forecasts
//! production, `loadcast_capacity::watch` judges it), serves the figures on /metrics, records
//! each cycle, writes the alerting rules.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use loadcast_capacity::CapacityStudy;
use loadcast_capacity::watch::{WatchCycle, WatchState};
use loadcast_plan::watch::{CycleAsk, watch_cycle};
use loadcast_plan::{Plan, WatchSpec};
use loadcast_report::Input;
use loadcast_stats::{Cancel, Document};
use loadcast_store::Kind;

use crate::cli::{StoreArgs, WatchArgs};
use crate::failure::{Failure, exit};
use crate::store::{latest, load};

/// The capacity study a cycle judges against, with where it came from.
fn study(
    args: &WatchArgs,
    plan: &Plan,
    store: &StoreArgs,
) -> Result<(CapacityStudy, String), Failure> {
    match &args.study {
        Some(arg) => match load(arg, store)? {
            Input::Capacity(study) => Ok((*study, arg.clone())),
            other => Err(Failure::usage(format!(
                "{arg} is a {}, not a capacity study",
                other.what()
            ))),
        },
        None => latest(store, Kind::Capacity, &plan.name)
            .map(|(id, study)| (study, format!("run #{id}")))
            .ok_or_else(|| {
                Failure::usage(format!(
                    "no capacity study of plan {:?} in the run store: run `loadcast capacity {}` first, or give --study FILE",
                    plan.name,
                    plan.path.display()
                ))
            }),
    }
}

/// The plan's `[watch]` with the flags over it.
fn spec(args: &WatchArgs, plan: &Plan) -> Result<WatchSpec, Failure> {
    let mut spec = plan.watch.clone().ok_or_else(|| {
        Failure::usage(format!(
            "{}: the plan has no [watch] section (prometheus = \"http://…:9090\", traffic = \"sum(rate(…[5m]))\", data = \"…\")",
            plan.path.display()
        ))
    })?;
    if let Some(url) = &args.prometheus {
        spec.prometheus = url.trim_end_matches('/').to_string();
    }
    if let Some(interval) = args.interval {
        spec.interval = interval;
    }
    Ok(spec)
}

pub fn watch(args: WatchArgs, store: &StoreArgs) -> Result<u8, Failure> {
    let plan = loadcast_plan::load(&args.plan)?;
    let spec = spec(&args, &plan)?;
    if let Some(path) = &args.rules {
        let limits = loadcast_report::AlertLimits {
            runway_under: args.fail_under,
            headroom_under: args.headroom_under,
            stale_after: args.stale_after,
            interval: spec.interval,
        };
        crate::store::write(path, &loadcast_report::alert_rules(&plan.name, &limits))?;
        return Ok(exit::PASSED);
    }
    let mut previous: Option<WatchCycle> = latest(store, Kind::Watch, &plan.name).map(|(_, c)| c);
    let cycle = |previous: Option<&WatchCycle>| -> Result<WatchCycle, Failure> {
        let (study, origin) = study(&args, &plan, store)?;
        watch_cycle(&CycleAsk {
            plan: &plan,
            spec: &spec,
            study: &study,
            study_origin: origin,
            previous,
            now: loadcast_stats::time::now(),
        })
        .map_err(Failure::run)
    };
    if args.once {
        let c = cycle(previous.as_ref())?;
        crate::store::record(store, loadcast_report::watch_record(&c));
        if args.json {
            println!("{}", c.to_json());
        } else {
            print!("{}", loadcast_report::watch_summary(&c));
        }
        return Ok(match c.runway_seconds() {
            Some(s) if (s as u64) < args.fail_under.as_secs() => {
                eprintln!(
                    "the runway ({:.0} days) is under --fail-under ({})",
                    s as f64 / 86_400.0,
                    loadcast_stats::time::duration_words(args.fail_under)
                );
                exit::THRESHOLD_FAILED
            }
            _ => exit::PASSED,
        });
    }
    // A study that cannot be found is a mistake to report now, not a cycle error to count.
    study(&args, &plan, store)?;
    let state = Arc::new(Mutex::new(WatchState::default()));
    let served = state.clone();
    let name = plan.name.clone();
    let _server = loadcast_demo::serve_pages(args.listen, move |path| match path {
        "/metrics" => {
            let state = served.lock().unwrap_or_else(PoisonError::into_inner);
            Some((
                "text/plain; version=0.0.4; charset=utf-8",
                loadcast_report::exposition(&name, &state, loadcast_stats::time::now()),
            ))
        }
        "/" => Some((
            "text/plain; charset=utf-8",
            "loadcast watch: the figures are at /metrics\n".to_string(),
        )),
        _ => None,
    })
    .map_err(|e| Failure::run(format!("cannot serve on {}: {e}", args.listen)))?;
    eprintln!(
        "loadcast: watching {} every {}; figures at http://{}/metrics",
        spec.prometheus,
        humantime::format_duration(spec.interval),
        args.listen
    );
    let cancel = Cancel::new();
    crate::interrupt::cancel_on_ctrl_c("stopping the watch", &cancel)?;
    let mut ran = 0u64;
    while !cancel.is_cancelled() && args.cycles.is_none_or(|n| ran < n) {
        let started = Instant::now();
        match cycle(previous.as_ref()) {
            Ok(c) => {
                eprintln!("{}", loadcast_report::watch_line(&c));
                for w in &c.warnings {
                    eprintln!("  WARNING: {}", w.message(&c.plan_path));
                }
                crate::store::record(store, loadcast_report::watch_record(&c));
                previous = Some(c.clone());
                state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .succeeded(c);
            }
            Err(e) => {
                eprintln!(
                    "loadcast: watch cycle failed (the last figures stay): {}",
                    e.message
                );
                state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .failed(e.message);
            }
        }
        ran += 1;
        if args.cycles.is_some_and(|n| ran >= n) {
            break;
        }
        sleep_until(started + spec.interval, &cancel);
    }
    Ok(if cancel.is_cancelled() {
        exit::INTERRUPTED
    } else {
        exit::PASSED
    })
}

/// Sleeps until `deadline`, waking early when cancelled.
fn sleep_until(deadline: Instant, cancel: &Cancel) {
    while !cancel.is_cancelled() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(200)));
    }
}
