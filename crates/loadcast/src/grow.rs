//! `loadcast grow`: the plan's [database] (or --db and --rows) to datagen, with progress.

use std::io::IsTerminal as _;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use loadcast_datagen::{GrowObserver, GrowOptions, TableReport};
use loadcast_plan::redact_url;
use loadcast_plan::resolve::GrowthGoals;
use loadcast_stats::{Cancel, Document};

use crate::cli::{GrowArgs, ProgressMode};
use crate::failure::{Failure, exit};

pub fn grow(args: GrowArgs) -> Result<u8, Failure> {
    let plan = match &args.plan {
        Some(path) => Some(loadcast_plan::load(path)?),
        None => None,
    };
    let database = plan.as_ref().and_then(|p| p.database.clone());
    let url = args
        .db
        .clone()
        .or_else(|| database.as_ref().map(|d| d.url.clone()))
        .ok_or_else(|| {
            Failure::usage("no database: give a plan with [database] url, or --db URL")
        })?;
    if args.init_marker {
        let name = loadcast_datagen::init_marker(&url)?;
        println!(
            "marked database {name} ({}) as a test target: loadcast grow may write to it",
            redact_url(&url)
        );
        return Ok(exit::PASSED);
    }
    let plan_tables = database.as_ref().map_or(&[][..], |d| &d.tables[..]);
    let goals = GrowthGoals::new(plan_tables, args.rows.iter().cloned())?;
    // The horizon's volumes with the plan's bound (or --bound): what `capacity` aims at too.
    let goals = match (&plan, &args.projection) {
        (Some(plan), _) if goals.needs_horizon() || args.projection.is_some() => {
            let resolved = crate::resolve::resolve(plan, args.projection.as_deref())?;
            let bound = args.bound.unwrap_or(resolved.data_bound);
            goals.at_horizon(resolved.projection.as_ref(), bound)?
        }
        (None, Some(path)) => goals.at_horizon(
            Some(&loadcast_forecast::Projection::load(path)?),
            args.bound.unwrap_or(loadcast_plan::Bound::Point),
        )?,
        _ => goals.at_horizon(None, loadcast_plan::Bound::Point)?,
    };
    let bound = args
        .bound
        .or(plan.as_ref().and_then(|p| p.horizon).map(|h| h.data));
    for target in goals.horizon_targets() {
        eprintln!(
            "loadcast: {} grows to the horizon: the forecast of {} there is {:.0} rows{}",
            target.table,
            target.series,
            target.rows,
            bound.map_or(String::new(), |b| format!(" ({b})"))
        );
        for caution in target.cautions {
            eprintln!(
                "loadcast: warning: the forecast of {}: {caution}",
                target.series
            );
        }
    }
    let options = GrowOptions {
        allow_database: args.allow_database.clone(),
        require_marker: database.as_ref().is_none_or(|d| d.require_marker),
        batch_rows: args.batch,
        seed: args.seed,
        horizon: goals.horizon.clone(),
        analyze: !args.no_analyze,
        writers: args.writers,
    };
    let stop = Cancel::new();
    crate::interrupt::cancel_on_ctrl_c("finishing the current batch; committed rows stay", &stop)?;
    eprintln!("loadcast: growing {}", redact_url(&url));
    let mut display = GrowDisplay::new(args.progress);
    let outcome = loadcast_datagen::grow(&url, &goals.tables, &options, &mut display, &stop);
    display.clear();
    let report = outcome?;
    print!("{}", report.summary(options.analyze));
    Ok(exit::PASSED)
}

/// A bar per table on a terminal; a line every second otherwise.
struct GrowDisplay {
    bar: Option<ProgressBar>,
    lines: bool,
    started: Instant,
    last_line: Instant,
    from: u64,
}

impl GrowDisplay {
    fn new(mode: ProgressMode) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = match mode {
            ProgressMode::Bar => true,
            ProgressMode::Auto => terminal,
            _ => false,
        };
        Self {
            bar: bar.then(|| {
                let b = ProgressBar::new(1);
                b.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>12} {bar:30} {pos}/{len} rows  {per_sec}  ETA {eta}  {msg}",
                    )
                    .expect("static template"),
                );
                b
            }),
            lines: !bar && mode != ProgressMode::Off,
            started: Instant::now(),
            last_line: Instant::now(),
            from: 0,
        }
    }

    fn clear(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl GrowObserver for GrowDisplay {
    fn table_started(&mut self, table: &str, before: u64, target: u64) {
        self.started = Instant::now();
        self.from = before;
        if let Some(b) = &self.bar {
            b.reset();
            b.set_prefix(table.to_string());
            b.set_length(target.max(before));
            b.set_position(before);
        } else if self.lines {
            eprintln!("{table}: {before} rows → {target}");
        }
    }

    fn progress(&mut self, table: &str, rows: u64, target: u64, bytes: u64) {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        let mb_s = bytes as f64 / 1e6 / seconds;
        if let Some(b) = &self.bar {
            b.set_position(rows);
            b.set_message(format!("{mb_s:.1} MB/s"));
        } else if self.lines && self.last_line.elapsed().as_secs_f64() >= 1.0 {
            self.last_line = Instant::now();
            let rate = (rows - self.from) as f64 / seconds;
            let eta = (target - rows) as f64 / rate.max(1e-9);
            eprintln!(
                "{table}: {rows}/{target} rows, {rate:.0} rows/s, {mb_s:.1} MB/s, ETA {eta:.0} s"
            );
        }
    }

    fn table_finished(&mut self, r: &TableReport) {
        if self.lines {
            eprintln!(
                "{}: {} rows (+{}) in {:.1} s",
                r.table,
                r.after,
                r.inserted(),
                r.seconds
            );
        }
    }
}
