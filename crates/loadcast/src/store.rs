//! The run store from the command line: recording runs, studies and forecasts, and reading an
//! input that is a file or a run id as the document it is.

use std::path::Path;

use loadcast_capacity::CapacityStudy;
use loadcast_forecast::Projection;
use loadcast_stats::{Document, RunResult};
use loadcast_store::{NewRecord, Store};

use crate::cli::StoreArgs;
use crate::failure::Failure;

/// Opens the store unless `--no-store`; a store that cannot be opened is a warning, never a
/// lost run (results are on disk before they are recorded).
pub fn open(args: &StoreArgs) -> Option<Store> {
    if args.no_store {
        return None;
    }
    let path = args.store.clone().unwrap_or_else(Store::default_path);
    match Store::open(&path) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("warning: not recorded in the run store: {e}");
            None
        }
    }
}

/// Records something in the store and says under which id.
pub fn record(args: &StoreArgs, record: NewRecord) -> Option<i64> {
    let store = open(args)?;
    match store.save(&record) {
        Ok(id) => {
            eprintln!(
                "recorded as {} #{id} in {}",
                record.kind,
                store.path().display()
            );
            Some(id)
        }
        Err(e) => {
            eprintln!("warning: not recorded in the run store: {e}");
            None
        }
    }
}

/// One input of `report` or `compare`.
pub enum Input {
    Run(Box<RunResult>),
    Capacity(Box<CapacityStudy>),
    Forecast(Box<Projection>),
}

pub fn parse(text: &str, origin: &str) -> Result<Input, Failure> {
    let value = serde_json::from_str::<serde_json::Value>(text).map_err(|e| {
        Failure::usage(format!(
            "{origin}:{}:{}: not JSON ({e}); expected a run result, capacity study or projection written by loadcast",
            e.line(),
            e.column()
        ))
    })?;
    let format = value
        .get("format")
        .and_then(|f| f.as_str())
        .map(str::to_string);
    Ok(match format.as_deref() {
        Some(CapacityStudy::FORMAT) => {
            Input::Capacity(Box::new(CapacityStudy::from_json(text, origin)?))
        }
        Some(Projection::FORMAT) => Input::Forecast(Box::new(Projection::from_json(text, origin)?)),
        _ => Input::Run(Box::new(RunResult::from_json(text, origin)?)),
    })
}

/// A file, or a run id (`12` or `#12`) from the store.
pub fn load(arg: &str, store: &StoreArgs) -> Result<Input, Failure> {
    let path = Path::new(arg);
    if path.exists() {
        let text =
            std::fs::read_to_string(path).map_err(|e| Failure::usage(format!("{arg}: {e}")))?;
        return parse(&text, arg);
    }
    let Ok(id) = arg.trim_start_matches('#').parse::<i64>() else {
        return Err(Failure::usage(format!(
            "{arg}: no such file, and not a run id"
        )));
    };
    let store =
        open(store).ok_or_else(|| Failure::usage(format!("{arg}: no run store to look in")))?;
    let record = store.get(id).map_err(Failure::usage)?;
    parse(&record.body, &format!("run #{id}"))
}

/// The store's one-line headline of a run.
pub fn run_headline(r: &RunResult) -> String {
    let t = r.total();
    let verdict = if r.thresholds.iter().any(|t| !t.passed) {
        "FAIL: "
    } else if r.thresholds.is_empty() {
        ""
    } else {
        "pass: "
    };
    format!(
        "{verdict}{:.1} requests/s, p99 {}, {:.2}% errors{}",
        r.throughput(),
        loadcast_stats::format_duration(t.latency.quantile(0.99)),
        t.error_rate() * 100.0,
        match r.thresholds.iter().filter(|t| !t.passed).count() {
            0 => String::new(),
            n => format!(", {n} threshold(s) failed"),
        }
    )
}

/// Writes the files asked for (`--html`, `--junit`, `--summary`, `--csv`) of what is given;
/// the run-only ones need a run result.
pub fn write_outputs(
    files: &crate::cli::OutputFiles,
    input: &loadcast_report::HtmlInput<'_>,
) -> Result<(), Failure> {
    let needs_run = |what: &str| -> Result<&RunResult, Failure> {
        input
            .run
            .ok_or_else(|| Failure::usage(format!("{what} needs a run result")))
    };
    if let Some(path) = &files.junit {
        write(path, &loadcast_report::junit(needs_run("--junit")?))?;
    }
    if let Some(path) = &files.summary {
        let json =
            serde_json::to_string_pretty(&loadcast_report::summary_json(needs_run("--summary")?))
                .map_err(Failure::run)?;
        write(path, &json)?;
    }
    if let Some(path) = &files.csv {
        write(path, &loadcast_report::timeline_csv(needs_run("--csv")?))?;
    }
    if let Some(path) = &files.html {
        write(path, &loadcast_report::html_report(input))?;
    }
    Ok(())
}

/// Writes a file loadcast made and says so.
pub fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure::run(format!("{}: {e}", path.display())))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
