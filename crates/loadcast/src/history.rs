//! The run store from the command line: recording runs, studies and forecasts; `runs`; reading
//! inputs that are files or run ids; `report` and `compare`.

use std::path::Path;

use loadcast_capacity::CapacityStudy;
use loadcast_forecast::Projection;
use loadcast_stats::RunResult;
use loadcast_store::{Kind, NewRecord, Store};

use crate::cli::{CompareArgs, ReportArgs, RunsArgs, StoreArgs};
use crate::commands::Failure;
use crate::exit;

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

fn parse(text: &str, origin: &str) -> Result<Input, Failure> {
    let format = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("format").and_then(|f| f.as_str()).map(str::to_string));
    match format.as_deref() {
        Some(loadcast_capacity::study::STUDY_FORMAT) => CapacityStudy::from_json(text)
            .map(|s| Input::Capacity(Box::new(s)))
            .map_err(|e| Failure::usage(format!("{origin}: {e}"))),
        Some(loadcast_forecast::PROJECTION_FORMAT) => Projection::from_json(text, origin)
            .map(|p| Input::Forecast(Box::new(p)))
            .map_err(Failure::usage),
        _ => RunResult::from_json(text)
            .map(|r| Input::Run(Box::new(r)))
            .map_err(|e| Failure::usage(format!("{origin}: {e}"))),
    }
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

pub fn runs(args: RunsArgs, store_args: &StoreArgs) -> Result<u8, Failure> {
    let store = open(store_args).ok_or_else(|| Failure::usage("the run store is turned off"))?;
    if let Some(id) = args.id {
        let r = store.get(id).map_err(Failure::usage)?;
        println!(
            "#{} {} of {} (plan hash {})\nstarted {}, ended {}, {}\nloadcast {} on {}\n{}",
            r.id,
            r.kind,
            r.plan_name,
            &r.plan_hash[..r.plan_hash.len().min(12)],
            r.started_at,
            r.ended_at,
            r.status,
            r.loadcast_version,
            r.machine,
            r.headline
        );
        match parse(&r.body, &format!("run #{id}"))? {
            Input::Run(run) => print!("\n{}", loadcast_report::terminal_summary(&run)),
            Input::Capacity(s) => print!("\n{}", loadcast_report::capacity_summary(&s)),
            Input::Forecast(p) => print!("\n{}", loadcast_report::forecast_summary(&p)),
        }
        return Ok(exit::PASSED);
    }
    let kind = match args.kind.as_deref() {
        Some("run") => Some(Kind::Run),
        Some("capacity") => Some(Kind::Capacity),
        Some("forecast") => Some(Kind::Forecast),
        _ => None,
    };
    let records = store.list(kind, args.limit).map_err(Failure::run)?;
    println!(
        "{:>5}  {:<9} {:<21} {:<24} {:<12} headline",
        "id", "kind", "started", "plan", "status"
    );
    for r in records {
        println!(
            "{:>5}  {:<9} {:<21} {:<24} {:<12} {}",
            format!("#{}", r.id),
            r.kind.name(),
            r.started_at,
            r.plan_name,
            r.status,
            r.headline
        );
    }
    println!("(store: {})", store.path().display());
    Ok(exit::PASSED)
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| Failure::run(format!("{}: {e}", path.display())))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

pub fn report(args: ReportArgs, store: &StoreArgs) -> Result<u8, Failure> {
    let mut run: Option<RunResult> = None;
    let mut capacity: Option<CapacityStudy> = None;
    let mut projection: Option<Projection> = None;
    for arg in &args.inputs {
        match load(arg, store)? {
            Input::Run(r) => match run.as_mut() {
                None => run = Some(*r),
                Some(m) => m.merge(&r),
            },
            Input::Capacity(c) => capacity = Some(*c),
            Input::Forecast(p) => projection = Some(*p),
        }
    }
    if args.json {
        let r = run
            .as_ref()
            .ok_or_else(|| Failure::usage("--json prints a run result; none given"))?;
        println!("{}", r.to_json());
        return Ok(exit::PASSED);
    }
    if let Some(p) = &projection {
        print!("{}", loadcast_report::forecast_summary(p));
    }
    if let Some(c) = &capacity {
        print!("{}", loadcast_report::capacity_summary(c));
    }
    if let Some(r) = &run {
        print!("{}", loadcast_report::terminal_summary(r));
    }
    let needs_run = |what: &str| -> Result<&RunResult, Failure> {
        run.as_ref()
            .ok_or_else(|| Failure::usage(format!("{what} needs a run result")))
    };
    if let Some(path) = &args.junit {
        write(path, &loadcast_report::junit(needs_run("--junit")?))?;
    }
    if let Some(path) = &args.summary {
        let json =
            serde_json::to_string_pretty(&loadcast_report::summary_json(needs_run("--summary")?))
                .map_err(Failure::run)?;
        write(path, &json)?;
    }
    if let Some(path) = &args.csv {
        write(path, &loadcast_report::timeline_csv(needs_run("--csv")?))?;
    }
    if let Some(path) = &args.html {
        let title = args.title.clone().unwrap_or_else(|| {
            let name = run
                .as_ref()
                .map(|r| r.meta.plan_name.clone())
                .or_else(|| capacity.as_ref().map(|c| c.plan_name.clone()))
                .unwrap_or_else(|| "forecast".into());
            format!("loadcast report: {name}")
        });
        let html = loadcast_report::html_report(&loadcast_report::HtmlInput {
            title: &title,
            run: run.as_ref(),
            capacity: capacity.as_ref(),
            projection: projection.as_ref(),
            ..Default::default()
        });
        write(path, &html)?;
    }
    Ok(exit::PASSED)
}

pub fn compare(args: CompareArgs, store: &StoreArgs) -> Result<u8, Failure> {
    let run = |arg: &str| -> Result<RunResult, Failure> {
        match load(arg, store)? {
            Input::Run(r) => Ok(*r),
            _ => Err(Failure::usage(format!("{arg}: compare takes run results"))),
        }
    };
    let (a, b) = (run(&args.a)?, run(&args.b)?);
    let limit =
        match &args.fail_on_regression {
            Some(text) => Some(loadcast_plan::units::parse_fraction(text).map_err(|e| {
                Failure::usage(format!("--fail-on-regression {text:?}: expected {e}"))
            })?),
            None => None,
        };
    let c = loadcast_report::compare(&a, &b);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&c).map_err(Failure::run)?
        );
    } else {
        print!("{}", loadcast_report::comparison_text(&c, &args.a, &args.b));
    }
    if let Some(limit) = limit {
        let regressions: Vec<_> = c.overall.iter().filter(|ch| ch.regressed(limit)).collect();
        if !regressions.is_empty() {
            eprintln!(
                "regression beyond {:.0}%: {}",
                limit * 100.0,
                regressions
                    .iter()
                    .map(|r| format!("{} {:+.1}%", r.metric, r.change * 100.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Ok(exit::THRESHOLD_FAILED);
        }
    }
    Ok(exit::PASSED)
}

/// The store's one-line headline of a run.
pub fn run_headline(r: &RunResult) -> String {
    let t = r.total();
    format!(
        "{:.1}/s, p99 {}, {:.2}% errors{}",
        r.throughput(),
        loadcast_stats::format_duration(t.latency.quantile(0.99)),
        t.error_rate() * 100.0,
        match r.thresholds.iter().filter(|t| !t.passed).count() {
            0 => String::new(),
            n => format!(", {n} threshold(s) failed"),
        }
    )
}
