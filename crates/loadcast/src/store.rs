//! The run store from the command line: recording runs, studies and forecasts, and reading an
//! input that is a file or a run id as the document it is.

use std::path::Path;

use loadcast_report::Input;
use loadcast_stats::{Document, RunResult};
use loadcast_store::{Kind, NewRecord, Store};

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

/// The newest record of `kind` for `plan` in the store, with its id, read as the document it is.
pub fn latest<T: Document>(args: &StoreArgs, kind: Kind, plan: &str) -> Option<(i64, T)> {
    let record = open(args)?.latest(kind, Some(plan)).ok().flatten()?;
    let origin = format!("run #{}", record.id);
    T::from_json(&record.body, &origin)
        .ok()
        .map(|d| (record.id, d))
}

/// A file, or a run id (`12` or `#12`) from the store.
pub fn load(arg: &str, store: &StoreArgs) -> Result<Input, Failure> {
    let path = Path::new(arg);
    if path.exists() {
        let text =
            std::fs::read_to_string(path).map_err(|e| Failure::usage(format!("{arg}: {e}")))?;
        return Ok(Input::parse(&text, arg)?);
    }
    let Ok(id) = arg.trim_start_matches('#').parse::<i64>() else {
        return Err(Failure::usage(format!(
            "{arg}: no such file, and not a run id"
        )));
    };
    let store =
        open(store).ok_or_else(|| Failure::usage(format!("{arg}: no run store to look in")))?;
    let record = store.get(id).map_err(Failure::usage)?;
    Ok(Input::parse(&record.body, &format!("run #{id}"))?)
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
