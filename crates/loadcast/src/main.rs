//! The `loadcast` binary: parses the command line and hands each command to its stage.

mod capacity;
mod cli;
mod commands;
mod demo;
mod failure;
mod grow;
mod history;
mod interrupt;
mod progress;
mod resolve;
mod shard_progress;
mod shards;
mod store;
mod study;
mod watch;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};

use crate::cli::{Cli, Command, PlanCommand};
use crate::failure::{Failure, exit};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {}", error.message);
            ExitCode::from(error.code)
        }
    }
}

/// Hands each command to its module.
fn dispatch(cli: Cli) -> Result<u8, Failure> {
    let store = cli.store.clone();
    match cli.command {
        Command::Demo(args) => match &args.serve_db {
            Some(db) => crate::demo::serve_db(db, args.port),
            None => crate::demo::demo(args, &store),
        },
        Command::Run(args) => commands::run(args, &store),
        Command::Plan(PlanCommand::Check {
            plan,
            deny_warnings,
        }) => {
            let plan = loadcast_plan::load(&plan).map_err(Failure::usage)?;
            print!("{}", plan.describe());
            let lints = plan.lints();
            for lint in &lints {
                eprintln!("{lint}");
            }
            if deny_warnings && !lints.is_empty() {
                return Err(Failure::usage(format!(
                    "{}: {} warning(s) and --deny-warnings",
                    plan.path.display(),
                    lints.len()
                )));
            }
            let warnings = match lints.len() {
                0 => String::new(),
                n => format!(" ({n} warning{})", if n == 1 { "" } else { "s" }),
            };
            println!("ok: {} is valid{warnings}", plan.path.display());
            Ok(exit::PASSED)
        }
        Command::Plan(PlanCommand::ImportHar(args)) => commands::import_har(args),
        Command::Plan(PlanCommand::ImportPgbench(args)) => commands::import_pgbench(args),
        Command::Plan(PlanCommand::Render(args)) => crate::history::render(args, &store),
        Command::Plan(PlanCommand::Init(args)) => crate::history::init(args, &store),
        Command::Forecast(args) => commands::forecast(args, &store),
        Command::Grow(args) => crate::grow::grow(args),
        Command::Capacity(args) => crate::capacity::capacity(args, &store),
        Command::Merge(args) => shards::merge(args, &store),
        Command::Export(cli::ExportCommand::Kubernetes(args)) => shards::export_kubernetes(args),
        Command::Watch(args) => crate::watch::watch(args, &store),
        Command::Report(args) => crate::history::report(args, &store),
        Command::Runs(args) => crate::history::runs(args, &store),
        Command::Compare(args) => crate::history::compare(args, &store),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "loadcast",
                &mut std::io::stdout(),
            );
            Ok(exit::PASSED)
        }
        Command::Man { command } => {
            // The top page lists loadcast-COMMAND(1) for each command: each one is printed here.
            let root = Cli::command();
            let page = match &command {
                None => root,
                Some(name) => {
                    let sub = root.find_subcommand(name).cloned().ok_or_else(|| {
                        Failure::usage(format!(
                            "no command {name:?} (commands: {})",
                            root.get_subcommands()
                                .map(|c| c.get_name().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                    // The process ends after printing: the name may live as long.
                    sub.name(&*format!("loadcast-{name}").leak())
                }
            };
            clap_mangen::Man::new(page)
                .render(&mut std::io::stdout())
                .map_err(Failure::run)?;
            Ok(exit::PASSED)
        }
    }
}
