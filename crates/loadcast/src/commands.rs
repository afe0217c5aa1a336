//! `loadcast run`, `plan import-har` and `forecast`: wire the stages together, report, choose the
//! exit code.

use std::path::{Path, PathBuf};

use loadcast_engine::RunOptions;
use loadcast_forecast::source::PrometheusWindow;
use loadcast_plan::resolve::ForecastAsk;
use loadcast_stats::{Cancel, Document, RunResult, RunStatus};

use crate::cli::{ForecastArgs, ImportHarArgs, ImportPgbenchArgs, RunArgs, StoreArgs};
use crate::failure::{Failure, exit};
use crate::progress::Display;

pub fn run(args: RunArgs, store: &StoreArgs) -> Result<u8, Failure> {
    let plan_path = crate::shards::fetched_plan(&args.plan)?;
    let plan = loadcast_plan::load(&plan_path).map_err(Failure::usage)?;
    let shard = crate::shards::which(&args)?;
    let start_at = crate::shards::start_at(args.start_at.as_deref())?;
    let whole = default_result_path(&args.plan);
    let default_out = match shard {
        Some((i, n)) => crate::shards::shard_path(&whole, i, n),
        None => whole,
    };
    // `-o s3://bucket/run/`: the result goes to object storage (checked before the run).
    let remote = crate::shards::remote_out(args.out.as_deref())?;
    let out = match &remote {
        Some(_) => default_out.clone(),
        None => args.out.clone().map_or(default_out, PathBuf::from),
    };
    // Every file the run will write, before it runs: a measurement must not be lost to a
    // directory that does not exist.
    let files = &args.files;
    let local_out = remote.is_none().then_some(&out);
    for path in local_out.into_iter().chain(
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
    if let Some(out) = local_out {
        RunResult::check_replaceable(out)
            .map_err(|e| Failure::usage(format!("{e}; nothing was run")))?;
    }
    let stop = Cancel::new();
    crate::interrupt::cancel_on_ctrl_c("stopping the load and saving a partial result", &stop)?;
    let mut display = Display::new(args.progress, plan.duration());
    eprintln!(
        "loadcast: {} → {} ({} model, {}); Ctrl-C stops and saves a partial result",
        plan.name,
        plan.target.url(),
        plan.model_name(),
        humantime::format_duration(std::time::Duration::from_secs(plan.duration().as_secs())),
    );
    let options = RunOptions {
        workers: args.workers,
        skip_preflight: args.skip_preflight,
        shard,
        start_at,
    };
    // A shard writing to object storage reports its progress there as it runs.
    let progress_prefix = match (&remote, shard) {
        (Some(crate::shards::RemoteOut::Prefix(prefix)), Some(shard)) => Some((prefix, shard)),
        _ => None,
    };
    let result = match progress_prefix {
        Some((prefix, shard)) => {
            let mut publishing = crate::shard_progress::Publishing::new(
                &mut display,
                prefix,
                &plan.name,
                shard,
                plan.duration(),
            );
            let result = loadcast_engine::run(&plan, &options, &stop, &mut publishing);
            if let Ok(r) = &result {
                let total = r.total();
                publishing.finish(total.count, total.error_count());
            }
            result
        }
        None => loadcast_engine::run(&plan, &options, &stop, &mut display),
    };
    display.finish();
    let result = result?;
    // Save first: whatever happens next, the measurements are on disk. A disk that filled up
    // during the run still gets the result somewhere, and says where.
    let fallback = format!(
        "loadcast-{}-{}.result.json",
        result.meta.plan_name,
        std::process::id()
    );
    let written = match &remote {
        Some(prefix) => crate::shards::put_result(prefix, &result, &fallback),
        None => result
            .save_or_rescue(&out, &fallback)
            .map(|()| out.display().to_string())
            .map_err(Failure::from),
    };
    // The store keeps it even when the file could not be written where asked.
    crate::store::record(store, loadcast_report::run_record(&result));
    let written = written?;
    print!("{}", loadcast_report::terminal_summary(&result));
    println!("\nresult written to {written}");
    write_run_outputs(&args.files, &result)?;
    Ok(exit_code(&result))
}

/// The HTML, JUnit, JSON summary and CSV a run result was asked for.
pub(crate) fn write_run_outputs(
    files: &crate::cli::OutputFiles,
    result: &RunResult,
) -> Result<(), Failure> {
    crate::store::write_outputs(
        files,
        &loadcast_report::HtmlInput {
            title: &format!("loadcast report: {}", result.meta.plan_name),
            run: Some(result),
            ..Default::default()
        },
    )
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
    let imported = loadcast_plan::har::import(&text, &options)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.har.display())))?;
    // Validate what was written, as `plan check` would, and say what deserves a look.
    let anchor = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("imported.toml"));
    let plan =
        loadcast_plan::parse(&imported.text_for_validation(), &anchor).map_err(Failure::run)?;
    match &args.out {
        Some(out) => {
            std::fs::write(out, &imported.text)
                .map_err(|e| Failure::run(format!("{}: {e}", out.display())))?;
            eprintln!(
                "wrote {} ({} steps)",
                out.display(),
                plan.scenarios.iter().map(|s| s.steps.len()).sum::<usize>()
            );
        }
        None => print!("{}", imported.text),
    }
    for w in &imported.withheld {
        eprintln!(
            "secret withheld: {} when recorded is ${{env:{}}} in the plan; set {} before the run",
            w.what, w.variable, w.variable
        );
    }
    for lint in plan.lints() {
        eprintln!("{lint}");
    }
    Ok(exit::PASSED)
}

pub fn import_pgbench(args: ImportPgbenchArgs) -> Result<u8, Failure> {
    let script = std::fs::read_to_string(&args.script)
        .map_err(|e| Failure::usage(format!("{}: {e}", args.script.display())))?;
    if let Some(limit) = &args.latency_limit {
        loadcast_plan::units::parse_duration(limit)
            .map_err(|e| Failure::usage(format!("--latency-limit {limit:?}: {e}")))?;
    }
    let options = loadcast_plan::pgbench::PgbenchOptions {
        name: args
            .script
            .file_stem()
            .map_or("pgbench".into(), |s| s.to_string_lossy().into_owned()),
        database: args.database,
        scale: args.scale,
        clients: args.clients,
        rate: args.rate,
        duration: args.duration,
        latency_limit: args.latency_limit,
    };
    let text = loadcast_plan::pgbench::import(&script, &options)
        .map_err(|e| Failure::usage(format!("{}:{e}", args.script.display())))?;
    let anchor = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("imported.toml"));
    let plan = loadcast_plan::parse(&text, &anchor).map_err(Failure::usage)?;
    match &args.out {
        Some(out) => {
            std::fs::write(out, &text)
                .map_err(|e| Failure::run(format!("{}: {e}", out.display())))?;
            eprintln!(
                "wrote {} ({} steps)",
                out.display(),
                plan.scenarios.iter().map(|s| s.steps.len()).sum::<usize>()
            );
        }
        None => print!("{text}"),
    }
    Ok(exit::PASSED)
}

pub fn forecast(args: ForecastArgs, store: &StoreArgs) -> Result<u8, Failure> {
    let seasons = args.seasonality.0;
    let plan = match &args.plan {
        Some(path) => Some(loadcast_plan::load(path).map_err(Failure::usage)?),
        None => None,
    };
    let window = PrometheusWindow {
        since: args.since,
        until: args.until,
        step: args.step,
    };
    let inputs = loadcast_plan::resolve::forecast_inputs(ForecastAsk {
        plan: plan.as_ref().zip(args.plan.as_deref()),
        csv: args.history.clone(),
        prometheus: args.prometheus.clone().map(|url| (url, window)),
        timestamp: args.timestamp.clone(),
        series: args.traffic.iter().chain(&args.data).cloned().collect(),
        horizon: args.horizon,
        events: args.events.clone(),
        resample: args.resample,
        clock: args.tz.clone(),
    })?;
    let history = inputs.history()?;
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
        seasons,
        ..inputs.options()
    };
    let projection = loadcast_forecast::project(&history, &options).map_err(Failure::usage)?;
    let out = args.out.unwrap_or_else(|| PathBuf::from("projection.json"));
    projection.save(&out)?;
    print!("{}", loadcast_report::forecast_summary(&projection));
    if let Some(warning) = projection.staleness(loadcast_stats::time::now()) {
        eprintln!("WARNING: {warning}");
    }
    println!("projection written to {}", out.display());
    crate::store::record(
        store,
        loadcast_report::forecast_record(&projection, &inputs.name),
    );
    Ok(exit::PASSED)
}

pub(crate) fn exit_code(result: &RunResult) -> u8 {
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
