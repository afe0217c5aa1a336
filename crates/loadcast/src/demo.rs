//! `loadcast demo`: the whole story on an embedded default. A sample shop on SQLite, its bundled
//! history, and the same stages as the user-facing commands — forecast, plan, grow, capacity at
//! several data scales, runway, report — ending with the traffic-only answer beside the
//! data-aware one.

use std::path::Path;
use std::time::{Duration, Instant};

use loadcast_datagen::GrowOptions;
use loadcast_demo::story::{self, thousands};
use loadcast_forecast::history::{CsvSpec, SeriesKind, SeriesSpec, format_date};
use loadcast_plan::ResolvedPlan;
use loadcast_stats::time::now;
use loadcast_stats::{Cancel, Document};

use crate::cli::{DemoArgs, StoreArgs};
use crate::failure::{Failure, exit};
use loadcast_plan::StudySettings;

fn stage(started: Instant, text: &str) {
    eprintln!("[{:>5.1}s] {text}", started.elapsed().as_secs_f64());
}

/// Seeds today's shop: customers, products and the orders the history ends with.
fn seed(db: &Path, orders: u64) -> Result<(), Failure> {
    let url = format!("sqlite://{}", db.display());
    let options = GrowOptions::default();
    loadcast_datagen::grow(
        &url,
        &story::seed_tables(orders),
        &options,
        &mut (),
        &Cancel::new(),
    )
    .map(|_| ())
    .map_err(|e| Failure::run(format!("seeding the demo shop: {e}")))
}

pub fn demo(args: DemoArgs, store: &StoreArgs) -> Result<u8, Failure> {
    let started = Instant::now();
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("loadcast-demo-{}", std::process::id()))
    });
    loadcast_demo::workdir::prepare(&dir).map_err(|e| match e {
        e @ loadcast_demo::workdir::WorkdirError::NotOurs(_) => Failure::usage(e),
        e => Failure::run(e),
    })?;
    let db = dir.join("shop.db");
    loadcast_demo::create_database(&db)
        .map_err(|e| Failure::run(format!("{}: {e}", db.display())))?;
    let orders_today = story::orders_today();
    stage(
        started,
        &format!(
            "seeding the demo shop: {} customers, {} products, {} orders (SQLite in {})",
            thousands(story::CUSTOMERS as f64),
            story::PRODUCTS,
            thousands(orders_today as f64),
            dir.display()
        ),
    );
    seed(&db, orders_today)?;
    // The shop runs in a process of its own, as a real service would: the generator's CPU
    // figures are then its own.
    let exe = std::env::current_exe().map_err(Failure::run)?;
    let shop = loadcast_demo::ShopProcess::start(
        std::process::Command::new(exe)
            .args([
                "--no-store",
                "demo",
                "--port",
                &args.port.to_string(),
                "--serve-db",
            ])
            .arg(&db),
    )
    .map_err(|e| Failure::run(format!("the demo shop did not start: {e}")))?;
    std::fs::write(
        dir.join("users.csv"),
        loadcast_demo::users_csv(&db).map_err(|e| Failure::run(e.to_string()))?,
    )
    .map_err(Failure::run)?;
    let search = story::Search::new(args.quick);
    let plan_path = dir.join("plan.toml");
    std::fs::write(&plan_path, story::plan_text(&shop.url, &db, &search)).map_err(Failure::run)?;
    // The history file must exist before the plan is read; it is rescaled once the shop's
    // capacity on this machine is known.
    std::fs::write(dir.join("history.csv"), story::history(None, now()).0).map_err(Failure::run)?;
    if args.serve {
        println!(
            "the demo shop is serving at {} (database {}); Ctrl-C stops it",
            shop.url,
            db.display()
        );
        println!(
            "a plan that targets it: {} (try `loadcast plan check` or `loadcast run` on it)",
            plan_path.display()
        );
        println!(
            "customers and passwords: {}",
            dir.join("users.csv").display()
        );
        let stop = Cancel::new();
        crate::interrupt::cancel_on_ctrl_c("stopping the demo shop", &stop)?;
        while !stop.is_cancelled() {
            std::thread::sleep(Duration::from_millis(200));
        }
        return Ok(exit::PASSED);
    }
    let plan = loadcast_plan::load(&plan_path).map_err(Failure::usage)?;

    let cancel = Cancel::new();
    crate::interrupt::cancel_on_ctrl_c("ending the demo after this step", &cancel)?;
    let mut settings = StudySettings {
        from: Some(60.0),
        precision: search.precision,
        max_steps: search.max_steps,
        // Today's data only, first: the history is scaled to what the shop serves.
        scales: Some(Vec::new()),
        traffic_series: Some("requests_per_s".into()),
        ..StudySettings::default()
    };
    stage(
        started,
        "finding the breaking point at today's data (SLO: p99 250 ms, errors 1%)",
    );
    let today_study = crate::study::study(
        &ResolvedPlan::with_projection(&plan, None),
        &settings,
        !args.quiet,
        &cancel,
    )?;
    if cancel.is_cancelled() {
        eprintln!(
            "loadcast: the demo stopped before its first answer; its files are in {}",
            dir.display()
        );
        return Ok(exit::INTERRUPTED);
    }
    let baseline = today_study
        .scales
        .first()
        .cloned()
        .ok_or_else(|| Failure::run("no search at today's data"))?;
    let capacity_today = baseline.breaking_point.capacity();
    if baseline.breaking_point.generator_limited || capacity_today <= 0.0 {
        return Err(Failure::run(format!(
            "the generator could not find the shop's limit on this machine ({:.0}/s reached): {}",
            capacity_today,
            today_study.warnings.join("; ")
        )));
    }
    let (history, scale) = story::history(Some(capacity_today), now());
    std::fs::write(dir.join("history.csv"), &history).map_err(Failure::run)?;
    stage(
        started,
        &format!(
            "the shop holds its SLO up to ≈{capacity_today:.0} journeys/s today; the bundled history is scaled ×{scale:.2} so that today's peak uses {:.0}% of that",
            story::TODAY_SHARE * 100.0
        ),
    );

    stage(
        started,
        "forecasting traffic and orders six months ahead from 19 months of history",
    );
    let spec = CsvSpec {
        timestamp: None,
        series: vec![
            SeriesSpec::new("requests_per_s", "requests_per_s", SeriesKind::Traffic),
            SeriesSpec::new("orders", "orders_rows", SeriesKind::Data),
        ],
    };
    let history = loadcast_forecast::history::read_csv(&dir.join("history.csv"), &spec)
        .map_err(Failure::usage)?;
    let projection = loadcast_forecast::project(
        &history,
        &loadcast_forecast::Options::horizon(Duration::from_secs(183 * 86_400)),
    )
    .map_err(Failure::usage)?;
    std::fs::write(dir.join("projection.json"), projection.to_json()).map_err(Failure::run)?;
    let traffic = projection
        .series("requests_per_s")
        .ok_or_else(|| Failure::run("no traffic forecast"))?;
    let orders = projection
        .series("orders")
        .ok_or_else(|| Failure::run("no orders forecast"))?;
    stage(
        started,
        &format!(
            "forecast: traffic peaks at {:.0}/s on {} ({}); orders reach {} by {} ({})",
            traffic.peak.point,
            format_date(traffic.peak_at_unix),
            traffic.growth_percent(),
            thousands(orders.at_horizon.point),
            format_date(projection.horizon_end_unix),
            orders.growth_percent()
        ),
    );

    stage(
        started,
        "growing the orders to the forecast's volumes and searching again at each",
    );
    settings.scales = None;
    settings.from = Some((capacity_today * 0.2).max(5.0));
    settings.today = Some(baseline);
    let study = crate::study::study(
        &ResolvedPlan::with_projection(&plan, Some(projection.clone())),
        &settings,
        !args.quiet,
        &cancel,
    )?;
    study.save(&dir.join("capacity.json"))?;
    crate::study::record(&study, store, cancel.is_cancelled());
    if cancel.is_cancelled() {
        eprintln!(
            "loadcast: the demo stopped; the scales searched so far are in {}",
            dir.join("capacity.json").display()
        );
        return Ok(exit::INTERRUPTED);
    }
    // The story, told from the study's own figures.
    let facts = story::Facts::of(
        &study,
        &projection,
        orders_today,
        "requests_per_s",
        "orders",
    )
    .ok_or_else(|| Failure::run("the study has no runway"))?;
    let story = story::story(&facts);

    let report_path = dir.join("report.html");
    let html = loadcast_report::html_report(&loadcast_report::HtmlInput {
        title: "loadcast demo: the shop, six months from now",
        run: None,
        capacity: Some(&study),
        projection: Some(&projection),
        traffic_series: Some("requests_per_s"),
        narrative: story.clone(),
    });
    std::fs::write(&report_path, html).map_err(Failure::run)?;
    let mut summary = facts.summary(&study);
    summary["seconds"] = started.elapsed().as_secs_f64().into();
    summary["report"] = report_path.display().to_string().into();
    let json_path = args.json.clone().unwrap_or_else(|| dir.join("demo.json"));
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&summary).map_err(Failure::run)?,
    )
    .map_err(Failure::run)?;
    stage(started, "done");
    println!();
    for line in &story {
        println!("{line}\n");
    }
    println!("report: {}", report_path.display());
    println!(
        "everything the demo made (plan, history, projection, capacity study) is in {}; try `loadcast demo --serve` and point the other commands at the shop",
        dir.display()
    );
    drop(shop);
    Ok(exit::PASSED)
}

/// `loadcast demo --serve-db DB`: serve an existing shop database and print its URL (the demo
/// starts its shop this way, in a child process).
pub fn serve_db(db: &Path, port: u16) -> Result<u8, Failure> {
    let shop = loadcast_demo::Shop::start_on(db, 2, port)
        .map_err(|e| Failure::run(format!("cannot serve on 127.0.0.1:{port}: {e}")))?;
    println!("{}", shop.url());
    // Ctrl-C reaches the whole process group: the parent decides (it finishes its step, then
    // drops this process), so the shop keeps serving until then and says nothing.
    ctrlc::set_handler(|| {})
        .map_err(|e| Failure::run(format!("cannot install the Ctrl-C handler: {e}")))?;
    // Ends with the parent: its stdin closes.
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
    drop(shop);
    Ok(exit::PASSED)
}
