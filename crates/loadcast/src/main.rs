//! The `loadcast` binary: parses the command line and hands each command to its stage.

mod capacity;
mod cli;
mod commands;
mod demo;
mod grow;
mod history;
mod progress;

use std::process::ExitCode;

use clap::Parser as _;

/// Documented exit codes (see `loadcast --help`).
pub mod exit {
    pub const PASSED: u8 = 0;
    pub const FAILED_TO_RUN: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const THRESHOLD_FAILED: u8 = 3;
    pub const INTERRUPTED: u8 = 130;
}

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
