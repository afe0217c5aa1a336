//! The commands that read the run store and what loadcast wrote: `runs`, `report`, `compare`,
//! `plan render` and `plan init`.

use std::path::Path;

use loadcast_capacity::CapacityStudy;
use loadcast_forecast::Projection;
use loadcast_stats::Document;
use loadcast_stats::RunResult;
use loadcast_store::Kind;

use crate::cli::{CompareArgs, InitArgs, RenderArgs, ReportArgs, RunsArgs, StoreArgs};
use crate::failure::{Failure, exit};
use crate::store::{Input, load, open, parse};

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
                Some(m) => {
                    let differences = run_differences(m, &r);
                    if !differences.is_empty() && !args.force {
                        return Err(Failure::usage(format!(
                            "{arg}: not a shard of the same run as the results before it ({}): refusing to merge (--force merges anyway)",
                            differences.join("; ")
                        )));
                    }
                    for d in &differences {
                        eprintln!("WARNING: merging results that differ: {d}");
                    }
                    m.merge(&r)
                }
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
            Input::Capacity(_) => Err(Failure::usage(format!(
                "{arg} is a capacity study: compare takes two run results (`loadcast report {arg}` shows a study)"
            ))),
            Input::Forecast(_) => Err(Failure::usage(format!(
                "{arg} is a projection: compare takes two run results (`loadcast report {arg}` shows a projection)"
            ))),
        }
    };
    let (a, b) = (run(&args.a)?, run(&args.b)?);
    for d in run_differences(&a, &b) {
        eprintln!(
            "WARNING: the runs compared differ: {d}; their changes may be the plan's, not the service's"
        );
    }
    let limit =
        match &args.fail_on_regression {
            Some(text) => Some(loadcast_plan::units::parse_fraction(text).map_err(|e| {
                Failure::usage(format!("--fail-on-regression {text:?}: expected {e}"))
            })?),
            None => None,
        };
    let mut floors = loadcast_report::NOISE_FLOORS;
    if let Some(text) = &args.noise_floor {
        let floor = loadcast_plan::units::parse_fraction(text)
            .map_err(|e| Failure::usage(format!("--noise-floor {text:?}: expected {e}")))?;
        floors[..3].fill(floor);
    }
    let c = loadcast_report::compare(&a, &b, floors);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&c).map_err(Failure::run)?
        );
    } else {
        print!("{}", loadcast_report::comparison_text(&c, &args.a, &args.b));
    }
    if let Some(limit) = limit {
        // The whole run's, then each request's: a regression of one endpoint is one too.
        let regressions: Vec<String> = c
            .overall
            .iter()
            .map(|ch| (None, ch))
            .chain(
                c.requests
                    .iter()
                    .flat_map(|r| r.changes.iter().map(|ch| (Some(&r.name), ch))),
            )
            .filter(|(_, ch)| ch.regressed(limit))
            .map(|(request, ch)| {
                let change = if ch.metric == "error rate" {
                    format!("{:+.2}pt", ch.change * 100.0)
                } else {
                    format!("{:+.1}%", ch.change * 100.0)
                };
                match request {
                    Some(name) => format!("{name} {} {change}", ch.metric),
                    None => format!("{} {change}", ch.metric),
                }
            })
            .collect();
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

/// How two results differ in what they ran: plan, target or load model.
fn run_differences(a: &RunResult, b: &RunResult) -> Vec<String> {
    let (a, b) = (&a.meta, &b.meta);
    let mut out = Vec::new();
    if a.plan_hash != b.plan_hash {
        out.push(format!(
            "plan {} ({}) vs {} ({})",
            a.plan_name,
            &a.plan_hash[..a.plan_hash.len().min(12)],
            b.plan_name,
            &b.plan_hash[..b.plan_hash.len().min(12)]
        ));
    }
    if a.target != b.target {
        out.push(format!("target {} vs {}", a.target, b.target));
    }
    if a.model != b.model {
        out.push(format!("{} model vs {} model", a.model, b.model));
    }
    out
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
        None => open(store_args)
            .and_then(|s| s.latest(Kind::Capacity, Some(&plan.name)).ok().flatten())
            .and_then(|r| CapacityStudy::from_json(&r.body, &format!("run #{}", r.id)).ok()),
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

/// A TOML string.
fn toml_str(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

pub fn init(args: InitArgs, store_args: &StoreArgs) -> Result<u8, Failure> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Suggested by `loadcast plan init` from history; review every line before use."
    );
    let _ = writeln!(
        out,
        "name = {}\ntarget = {}",
        toml_str(&args.name),
        toml_str(&args.target)
    );
    let store = open(store_args);
    let last_run = store
        .as_ref()
        .and_then(|s| s.latest(Kind::Run, Some(&args.name)).ok().flatten())
        .and_then(|r| {
            RunResult::from_json(&r.body, &format!("run #{}", r.id))
                .ok()
                .map(|run| (r.id, run))
        });
    let last_capacity = store
        .as_ref()
        .and_then(|s| s.latest(Kind::Capacity, Some(&args.name)).ok().flatten())
        .and_then(|r| {
            CapacityStudy::from_json(&r.body, &format!("run #{}", r.id))
                .ok()
                .map(|c| (r.id, c))
        });

    // The forecast, when there is history.
    let mut peak: Option<(String, f64, String)> = None;
    let mut data_names: Vec<String> = Vec::new();
    if let Some(csv) = &args.history {
        use loadcast_forecast::history::{CsvSpec, SeriesKind};
        let mut series: Vec<(String, String, SeriesKind)> = args
            .traffic
            .iter()
            .map(|c| (c.clone(), c.clone(), SeriesKind::Traffic))
            .collect();
        for d in &args.data {
            let (name, column) = d.split_once('=').unwrap_or((d.as_str(), d.as_str()));
            series.push((name.to_string(), column.to_string(), SeriesKind::Data));
            data_names.push(name.to_string());
        }
        let history = loadcast_forecast::history::read_csv(
            csv,
            &CsvSpec {
                timestamp: None,
                series,
            },
        )
        .map_err(Failure::usage)?;
        let projection = loadcast_forecast::project(
            &history,
            &loadcast_forecast::Options::horizon(args.horizon),
        )
        .map_err(Failure::usage)?;
        let _ = writeln!(
            out,
            "\n[history]                     # the forecast this plan rests on"
        );
        // A plan's paths are relative to the plan: from another directory, name the file
        // absolutely.
        let plan_elsewhere = args
            .out
            .as_deref()
            .and_then(Path::parent)
            .is_some_and(|dir| !dir.as_os_str().is_empty());
        let csv_in_plan = match std::fs::canonicalize(csv) {
            Ok(absolute) if plan_elsewhere && csv.is_relative() => absolute,
            _ => csv.clone(),
        };
        let _ = writeln!(
            out,
            "csv = {}",
            toml_str(&csv_in_plan.display().to_string())
        );
        let traffic: Vec<String> = args.traffic.iter().map(|t| toml_str(t)).collect();
        let _ = writeln!(out, "traffic = [{}]", traffic.join(", "));
        let data: Vec<String> = args
            .data
            .iter()
            .map(|d| {
                let (name, column) = d.split_once('=').unwrap_or((d.as_str(), d.as_str()));
                format!("{name} = {}", toml_str(column))
            })
            .collect();
        let _ = writeln!(out, "data = {{ {} }}", data.join(", "));
        let _ = writeln!(
            out,
            "\n[horizon]\nuntil = {}\ntraffic = \"p95\"             # the seasonal peak's upper 95% bound\ndata = \"p95\"",
            toml_str(&humantime::format_duration(args.horizon).to_string())
        );
        let _ = writeln!(out, "# forecast: {}", projection.growth_summary());
        if let Some(t) = projection
            .series
            .iter()
            .find(|s| s.kind == SeriesKind::Traffic)
        {
            peak = Some((
                t.name.clone(),
                t.peak.hi95,
                loadcast_stats::time::format_date(t.peak_at_unix),
            ));
        }
    }

    let _ = writeln!(out, "\n[slo]");
    match &last_run {
        Some((id, run)) if !run.thresholds.is_empty() => {
            let _ = writeln!(out, "# from run #{id} of this plan");
            for t in &run.thresholds {
                let limit = if t.threshold.metric.is_latency() {
                    format!("{}ms", (t.threshold.limit * 1000.0).round())
                } else {
                    format!("{}%", t.threshold.limit * 100.0)
                };
                match &t.threshold.scope {
                    Some(scope) => {
                        let _ = writeln!(
                            out,
                            "{}.{} = {}",
                            toml_str(scope),
                            t.threshold.metric,
                            toml_str(&limit)
                        );
                    }
                    None => {
                        let _ = writeln!(out, "{} = {}", t.threshold.metric, toml_str(&limit));
                    }
                }
            }
        }
        _ => {
            let _ = writeln!(
                out,
                "# no earlier run of this plan in the store: common defaults\np99 = \"500ms\"\nerrors = \"1%\""
            );
        }
    }
    let _ = writeln!(
        out,
        "\n# One scenario to start from: replace it, or record a browser session and run\n\
         # `loadcast plan import-har session.har`; give every user their own data with [feeders.user].\n\
         [[scenario]]\nname = \"home\"\n\n[[scenario.step]]\nget = \"/\"\ncheck = {{ status = 200 }}\n\n[[scenario.step]]\nthink = \"1s..3s\""
    );
    let (rate, why) = match &peak {
        Some((name, value, date)) => (
            value.max(1.0),
            format!("the forecast's peak of {name} (upper 95%) on {date}"),
        ),
        None => (100.0, "no history: a starting rate to adjust".to_string()),
    };
    let rate = format!("{:.0}/s", rate.ceil());
    let _ = writeln!(
        out,
        "\n[load]                        # {why}\nmodel = \"open\"\nstages = [ {{ rate = \"0..{rate}\", over = \"2m\" }}, {{ rate = {}, over = \"10m\" }} ]",
        toml_str(&rate)
    );
    let _ = writeln!(out, "\n[capacity]");
    match &last_capacity {
        Some((id, c)) => {
            let today = c.today().map_or(0.0, |b| b.capacity());
            let _ = writeln!(
                out,
                "# capacity study #{id} of this plan: {}",
                loadcast_report::capacity_headline(c)
            );
            let _ = writeln!(out, "from = \"{:.0}/s\"", (today / 4.0).max(1.0));
        }
        None => {
            let _ = writeln!(out, "from = \"20/s\"");
        }
    }
    let _ = writeln!(out, "factor = 1.5\nhold = \"20s\"");
    if !data_names.is_empty() {
        let _ = writeln!(
            out,
            "data_scales = [\"2x\", \"horizon\"]\ntable = {}",
            toml_str(&data_names[0])
        );
        let _ = writeln!(
            out,
            "\n# The test database to grow to the horizon's volume (mark it first: loadcast grow --init-marker).\n\
             # [database]\n# url = \"${{env:TEST_DATABASE_URL}}\"\n# [database.tables.{}]\n# rows = \"horizon\"",
            data_names[0]
        );
    }
    match &args.out {
        Some(path) => write(path, &out)?,
        None => print!("{out}"),
    }
    Ok(exit::PASSED)
}
