//! The commands that read the run store and what loadcast wrote: `runs`, `report`, `compare`,
//! `plan render` and `plan init`.

use loadcast_capacity::CapacityStudy;
use loadcast_forecast::Projection;
use loadcast_stats::Document;
use loadcast_stats::RunResult;
use loadcast_store::Kind;

use crate::cli::{CompareArgs, InitArgs, RenderArgs, ReportArgs, RunsArgs, StoreArgs};
use crate::failure::{Failure, exit};
use crate::store::{latest, load, open, write};
use loadcast_report::Input;

pub fn runs(args: RunsArgs, store_args: &StoreArgs) -> Result<u8, Failure> {
    let store = open(store_args).ok_or_else(|| Failure::usage("the run store is turned off"))?;
    if let Some(id) = args.id {
        let record = store.get(id).map_err(Failure::usage)?;
        print!("{}", loadcast_report::record_detail(&record)?);
        return Ok(exit::PASSED);
    }
    let records = store.list(args.kind, args.limit).map_err(Failure::run)?;
    print!("{}", loadcast_report::runs_table(&records));
    println!("(store: {})", store.path().display());
    Ok(exit::PASSED)
}

pub fn report(args: ReportArgs, store: &StoreArgs) -> Result<u8, Failure> {
    let mut run: Option<RunResult> = None;
    let mut capacity: Option<CapacityStudy> = None;
    let mut projection: Option<Projection> = None;
    for arg in &args.inputs {
        match load(arg, store)? {
            Input::Run(r) => match run.as_mut() {
                None => run = Some(*r),
                Some(merged) => {
                    let differences = merged.merge_shard(&r, args.force).map_err(|e| {
                        Failure::usage(format!("{arg}: {e} (--force merges anyway)"))
                    })?;
                    for d in &differences {
                        eprintln!("WARNING: merging results that differ: {d}");
                    }
                }
            },
            Input::Capacity(c) => capacity = Some(*c),
            Input::Forecast(p) => projection = Some(*p),
            Input::Watch(c) => {
                if args.files.html.is_some() {
                    return Err(Failure::usage(format!(
                        "{arg} is a watch cycle: the HTML report does not show one (`loadcast report {arg}` prints it)"
                    )));
                }
                print!("{}", loadcast_report::watch_summary(&c));
            }
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
    let title = args.title.clone().unwrap_or_else(|| {
        let name = run
            .as_ref()
            .map(|r| r.meta.plan_name.clone())
            .or_else(|| capacity.as_ref().map(|c| c.plan_name.clone()))
            .unwrap_or_else(|| "forecast".into());
        format!("loadcast report: {name}")
    });
    crate::store::write_outputs(
        &args.files,
        &loadcast_report::HtmlInput {
            title: &title,
            run: run.as_ref(),
            capacity: capacity.as_ref(),
            projection: projection.as_ref(),
            ..Default::default()
        },
    )?;
    Ok(exit::PASSED)
}

pub fn compare(args: CompareArgs, store: &StoreArgs) -> Result<u8, Failure> {
    let (a, b) = match (load(&args.a, store)?, load(&args.b, store)?) {
        (Input::Run(a), Input::Run(b)) => (*a, *b),
        (Input::Capacity(a), Input::Capacity(b)) => return compare_studies(&args, &a, &b),
        (a, b) => {
            return Err(Failure::usage(format!(
                "{} is a {} and {} a {}: compare takes two run results or two capacity studies",
                args.a,
                a.what(),
                args.b,
                b.what()
            )));
        }
    };
    for d in a.meta.differences(&b.meta) {
        eprintln!(
            "WARNING: the runs compared differ: {d}; their changes may be the plan's, not the service's"
        );
    }
    let mut floors = loadcast_report::NOISE_FLOORS;
    if let Some(floor) = args.noise_floor {
        floors[..3].fill(floor);
    }
    let c = loadcast_report::compare(&a, &b, floors);
    let text = || loadcast_report::comparison_text(&c, &args.a, &args.b);
    let json = || serde_json::to_string_pretty(&c);
    print_and_gate(&args, json, text, |limit| c.regressions(limit))
}

/// Prints a comparison (JSON or text) and exits 3 when `--fail-on-regression` finds any.
fn print_and_gate(
    args: &CompareArgs,
    json: impl FnOnce() -> serde_json::Result<String>,
    text: impl FnOnce() -> String,
    regressions: impl FnOnce(f64) -> Vec<String>,
) -> Result<u8, Failure> {
    if args.json {
        println!("{}", json().map_err(Failure::run)?);
    } else {
        print!("{}", text());
    }
    if let Some(limit) = args.fail_on_regression {
        let regressions = regressions(limit);
        if !regressions.is_empty() {
            eprintln!(
                "regression beyond {:.0}%: {}",
                limit * 100.0,
                regressions.join(", ")
            );
            return Ok(exit::THRESHOLD_FAILED);
        }
    }
    Ok(exit::PASSED)
}

/// Two capacity studies: each scale's capacity judged by the searches' brackets, not by a
/// noise floor (a search has no run-to-run resampling to offer).
fn compare_studies(
    args: &CompareArgs,
    a: &loadcast_capacity::CapacityStudy,
    b: &loadcast_capacity::CapacityStudy,
) -> Result<u8, Failure> {
    if args.noise_floor.is_some() {
        return Err(Failure::usage(
            "--noise-floor judges run results; two capacity studies are judged by their searches' brackets",
        ));
    }
    let c = loadcast_capacity::compare::compare(a, b);
    for d in &c.differences {
        eprintln!(
            "WARNING: the studies compared differ: {d}; their changes may be that, not the service's"
        );
    }
    let text = || loadcast_report::study_comparison_text(&c, &args.a, &args.b);
    let json = || serde_json::to_string_pretty(&c);
    print_and_gate(args, json, text, |limit| c.regressions(limit))
}

pub fn render(args: RenderArgs, store_args: &StoreArgs) -> Result<u8, Failure> {
    let plan = loadcast_plan::load(&args.plan)?;
    let projection = match &args.projection {
        Some(p) => match load(p, store_args)? {
            Input::Forecast(p) => Some(*p),
            _ => return Err(Failure::usage(format!("{p}: not a projection"))),
        },
        // The forecast the plan's [history] gives, when it has one.
        None => crate::resolve::resolve(&plan, None)?.projection,
    };
    let capacity = match &args.capacity {
        Some(c) => match load(c, store_args)? {
            Input::Capacity(c) => Some(*c),
            _ => return Err(Failure::usage(format!("{c}: not a capacity study"))),
        },
        // History as input: the plan's newest capacity study, when the store has one.
        None => latest(store_args, Kind::Capacity, &plan.name).map(|(_, study)| study),
    };
    let markdown = loadcast_report::review_markdown(&plan, projection.as_ref(), capacity.as_ref());
    match &args.out {
        Some(path) if path.extension().is_some_and(|e| e == "html" || e == "htm") => {
            let html = loadcast_report::review_html(
                &markdown,
                &format!("Load-test plan: {}", plan.name),
                projection.as_ref(),
            );
            write(path, &html)?;
        }
        Some(path) => write(path, &markdown)?,
        None => print!("{markdown}"),
    }
    Ok(exit::PASSED)
}

pub fn init(args: InitArgs, store_args: &StoreArgs) -> Result<u8, Failure> {
    use loadcast_plan::suggest::{Evidence, Forecasted, SuggestedHistory, SuggestedPlan};
    let last_run: Option<(i64, RunResult)> = latest(store_args, Kind::Run, &args.name);
    let last_study: Option<(i64, CapacityStudy)> = latest(store_args, Kind::Capacity, &args.name);
    let series: Vec<_> = args.traffic.iter().chain(&args.data).cloned().collect();
    let projection = match &args.history {
        Some(csv) => {
            let spec = loadcast_forecast::history::CsvSpec {
                timestamp: None,
                series: series.clone(),
            };
            let past = loadcast_forecast::history::read_csv(csv, &spec)?;
            let options = loadcast_forecast::Options::horizon(args.horizon);
            Some(loadcast_forecast::project(&past, &options)?)
        }
        None => None,
    };
    let forecast = match (&args.history, &projection) {
        (Some(csv), Some(projection)) => Some(Forecasted {
            history: SuggestedHistory::of(csv, &series, args.out.as_deref()),
            projection,
            horizon: args.horizon,
        }),
        _ => None,
    };
    let plan = SuggestedPlan::suggest(
        &args.name,
        &args.target,
        &Evidence {
            forecast,
            last_run: last_run
                .as_ref()
                .map(|(id, run)| (*id, run.thresholds.as_slice())),
            last_study: last_study.as_ref().map(|(id, study)| (*id, study)),
        },
    );
    let out = plan
        .to_toml()
        .map_err(|e| Failure::run(format!("cannot write the plan: {e}")))?;
    match &args.out {
        Some(path) => write(path, &out)?,
        None => print!("{out}"),
    }
    Ok(exit::PASSED)
}
