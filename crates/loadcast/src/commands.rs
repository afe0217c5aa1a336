//! `loadcast run`, `plan import-har` and `forecast`: wire the stages together, report, choose the
//! exit code.

use std::path::{Path, PathBuf};

use loadcast_engine::RunOptions;
use loadcast_stats::{Cancel, Document, RunResult, RunStatus};

use crate::cli::{ForecastArgs, ImportHarArgs, RunArgs, StoreArgs};
use crate::failure::{Failure, exit};
use crate::progress::Display;

pub fn run(args: RunArgs, store: &StoreArgs) -> Result<u8, Failure> {
    let plan = loadcast_plan::load(&args.plan).map_err(Failure::usage)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_result_path(&args.plan));
    // Every file the run will write, before it runs: a measurement must not be lost to a
    // directory that does not exist.
    let files = &args.files;
    for path in std::iter::once(&out).chain(
        [&files.html, &files.junit, &files.summary, &files.csv]
            .into_iter()
            .flatten(),
    ) {
        loadcast_stats::document::check_writable(path).map_err(|e| {
            Failure::usage(format!(
                "cannot write the run's output: {e}; nothing was run"
            ))
        })?;
    }
    let stop = Cancel::new();
    crate::interrupt::cancel_on_ctrl_c("stopping the load and saving a partial result", &stop)?;
    let mut display = Display::new(args.progress, plan.duration());
    eprintln!(
        "loadcast: {} → {} ({} model, {}); Ctrl-C stops and saves a partial result",
        plan.name,
        plan.target.url(),
        plan.model_name(),
        humantime_secs(plan.duration().as_secs_f64()),
    );
    let options = RunOptions {
        workers: args.workers,
        skip_preflight: args.skip_preflight,
    };
    let result = loadcast_engine::run(&plan, &options, &stop, &mut display);
    display.finish();
    let result = result?;
    // Save first: whatever happens next, the measurements are on disk. A disk that filled up
    // during the run still gets the result somewhere, and says where.
    if let Err(e) = result.save(&out) {
        let rescue = std::env::temp_dir().join(format!(
            "loadcast-{}-{}.result.json",
            result.meta.plan_name,
            std::process::id()
        ));
        return Err(match result.save(&rescue) {
            Ok(()) => Failure::run(format!(
                "{e}; the result is saved in {} instead",
                rescue.display()
            )),
            Err(again) => Failure::run(format!(
                "{e}; and in {} neither ({again}): the result is lost",
                rescue.display()
            )),
        });
    }
    print!("{}", loadcast_report::terminal_summary(&result));
    println!("\nresult written to {}", out.display());
    crate::store::write_outputs(
        &args.files,
        &loadcast_report::HtmlInput {
            title: &format!("loadcast report: {}", result.meta.plan_name),
            run: Some(&result),
            ..Default::default()
        },
    )?;
    crate::store::record(
        store,
        loadcast_store::NewRecord {
            kind: loadcast_store::Kind::Run,
            plan_name: result.meta.plan_name.clone(),
            plan_hash: result.meta.plan_hash.clone(),
            started_at: result.meta.started_at.clone(),
            ended_at: loadcast_stats::time::format_time(loadcast_stats::time::now()),
            status: match result.meta.status {
                RunStatus::Complete => "complete".into(),
                RunStatus::Interrupted => "interrupted".into(),
            },
            headline: loadcast_report::run_headline(&result),
            body: result.to_json(),
        },
    );
    Ok(exit_code(&result))
}

pub fn import_har(args: ImportHarArgs) -> Result<u8, Failure> {
    let text = std::fs::read_to_string(&args.har)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.har.display())))?;
    let options = loadcast_plan::har::HarOptions {
        target: args.target,
        include_static: args.include_static,
        name: args
            .har
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned()),
    };
    let plan_text = loadcast_plan::har::import(&text, &options)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.har.display())))?;
    // Validate what was written, as `plan check` would, and say what deserves a look.
    let anchor = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("imported.toml"));
    let plan = loadcast_plan::parse(&plan_text, &anchor).map_err(Failure::run)?;
    match &args.out {
        Some(out) => {
            std::fs::write(out, &plan_text)
                .map_err(|e| Failure::run(format!("{}: {e}", out.display())))?;
            eprintln!(
                "wrote {} ({} steps)",
                out.display(),
                plan.scenarios.iter().map(|s| s.steps.len()).sum::<usize>()
            );
        }
        None => print!("{plan_text}"),
    }
    for lint in plan.lints() {
        eprintln!("{lint}");
    }
    Ok(exit::PASSED)
}

pub fn forecast(args: ForecastArgs, store: &StoreArgs) -> Result<u8, Failure> {
    use loadcast_forecast::history::{self, CsvSpec};
    let seasons = args.seasonality.0;
    let plan = match &args.plan {
        Some(path) => Some(loadcast_plan::load(path).map_err(Failure::usage)?),
        None => None,
    };
    let plan_history = match (&plan, &args.plan) {
        (Some(plan), Some(path)) => Some(plan.history.as_ref().ok_or_else(|| {
            Failure::usage(format!(
                "{}: the plan has no [history] section (csv = \"…\", traffic = […], data = {{ … }})",
                path.display()
            ))
        })?),
        _ => None,
    };
    let horizon = args.horizon.unwrap_or_else(|| {
        plan.as_ref()
            .and_then(|p| p.horizon)
            .map_or(loadcast_plan::resolve::DEFAULT_HORIZON, |h| h.until)
    });
    let mut declared: Vec<_> = args.traffic.iter().chain(&args.data).cloned().collect();
    if let (true, Some(h)) = (declared.is_empty(), plan_history) {
        declared = loadcast_plan::resolve::history_series(h);
    }
    if declared.is_empty() {
        return Err(Failure::usage(
            "declare at least one series with --traffic COLUMN or --data COLUMN",
        ));
    }
    let csv = args.history.as_ref().or(plan_history.map(|h| &h.csv));
    let history = match (csv, &args.prometheus) {
        (Some(path), _) => history::read_csv(
            path,
            &CsvSpec {
                timestamp: args
                    .timestamp
                    .clone()
                    .or_else(|| plan_history.and_then(|h| h.timestamp.clone())),
                series: declared,
            },
        )
        .map_err(Failure::usage)?,
        (None, Some(url)) => {
            let end = args.until.unwrap_or_else(history::now);
            let step = args.step.as_secs().max(1) as i64;
            let end = end - end % step;
            let queries = declared;
            loadcast_forecast::prometheus::query_range(
                url,
                &queries,
                end - args.since.as_secs() as i64,
                end,
                args.step,
                std::time::Duration::from_secs(30),
            )
            .map_err(Failure::run)?
        }
        (None, None) => return Err(Failure::usage("give a history CSV or --prometheus URL")),
    };
    if args.backtest {
        let results =
            loadcast_forecast::backtest(&history, args.holdout, args.min_train, seasons.as_deref())
                .map_err(Failure::usage)?;
        if args.json {
            let json = serde_json::to_string_pretty(&results).map_err(Failure::run)?;
            println!("{json}");
        } else {
            print!("{}", loadcast_report::backtest_table(&results));
        }
        return Ok(exit::PASSED);
    }
    let options = loadcast_forecast::Options {
        horizon,
        seasons,
        path_points: 400,
    };
    let projection = loadcast_forecast::project(&history, &options).map_err(Failure::usage)?;
    let out = args.out.unwrap_or_else(|| PathBuf::from("projection.json"));
    projection.save(&out)?;
    print!("{}", loadcast_report::forecast_summary(&projection));
    let stale_days = (loadcast_stats::time::now() - projection.as_of_unix) / 86_400;
    if stale_days > 7 {
        eprintln!(
            "WARNING: the history ends on {}, {stale_days} days ago: the forecast's \"now\" is that day, so its peak and horizon dates are counted from then, not from today",
            loadcast_stats::time::format_date(projection.as_of_unix)
        );
    }
    println!("projection written to {}", out.display());
    let source = match (&plan, csv) {
        (Some(plan), _) => plan.name.clone(),
        (None, Some(path)) => path.display().to_string(),
        (None, None) => args.prometheus.clone().unwrap_or_default(),
    };
    crate::store::record(
        store,
        loadcast_store::NewRecord {
            kind: loadcast_store::Kind::Forecast,
            plan_name: source,
            plan_hash: String::new(),
            started_at: loadcast_stats::time::format_time(loadcast_stats::time::now()),
            ended_at: loadcast_stats::time::format_time(loadcast_stats::time::now()),
            status: "complete".into(),
            headline: projection.growth_summary(),
            body: projection.to_json(),
        },
    );
    Ok(exit::PASSED)
}

fn exit_code(result: &RunResult) -> u8 {
    if result.meta.status == RunStatus::Interrupted {
        exit::INTERRUPTED
    } else if result.thresholds.iter().any(|t| !t.passed) {
        exit::THRESHOLD_FAILED
    } else {
        exit::PASSED
    }
}

fn default_result_path(plan: &Path) -> PathBuf {
    let stem = plan
        .file_stem()
        .map_or("loadcast".into(), |s| s.to_string_lossy().into_owned());
    let stem = stem.strip_suffix(".plan").unwrap_or(&stem).to_string();
    PathBuf::from(format!("{stem}.result.json"))
}

fn humantime_secs(seconds: f64) -> String {
    if seconds >= 60.0 {
        format!("{:.0}m{:02.0}s", (seconds / 60.0).floor(), seconds % 60.0)
    } else {
        format!("{seconds:.0}s")
    }
}
