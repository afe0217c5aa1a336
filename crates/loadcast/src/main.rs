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
mod store;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {}", error.message);
            ExitCode::from(error.code)
        }
    }
}
