//! The `loadcast` binary end to end: real processes, real servers on loopback, real files. One
//! test binary, a module per command (as ripgrep's `tests/`); the helpers are here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use loadcast_stats::{Document, RunResult, RunStatus};
use loadcast_testkit::db::{Engine, TestDb};
use loadcast_testkit::{CapacityServer, SessionApp, TestServer};

mod capacity;
mod database;
mod demo;
mod forecast;
mod grow;
mod har_check;
mod input;
mod plan_init;
mod run;
mod secrets;
mod shards;
mod signals;
mod store;
mod watch;

fn loadcast() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_loadcast"));
    // Never the user's own run store.
    command.env(
        "LOADCAST_STORE",
        std::env::temp_dir().join(format!("loadcast-cli-store-{}.db", std::process::id())),
    );
    command
}

/// Tests whose assertions rest on measured capacity take turns: on a two-core machine two
/// breaking-point searches at once would each measure the other.
fn measuring_alone() -> std::sync::MutexGuard<'static, ()> {
    static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    MEASURING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadcast-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_plan(dir: &Path, target: &str, extra: &str) -> PathBuf {
    let path = dir.join("smoke.toml");
    std::fs::write(
        &path,
        format!("name = \"smoke\"\ntarget = \"{target}\"\n{extra}\n[[scenario]]\n[[scenario.step]]\nget = \"/\"\n"),
    )
    .unwrap();
    path
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    loadcast().args(args).current_dir(dir).output().unwrap()
}

/// `run_in` with the run store in `dir/runs.db`.
fn stored(dir: &Path, args: &[&str]) -> Output {
    let store = dir.join("runs.db");
    let mut all = vec!["--store", store.to_str().unwrap()];
    all.extend_from_slice(args);
    run_in(dir, &all)
}

/// A capacity measurement, taken again (three attempts at most) while its study says the
/// generator could not keep its schedule: on a machine busy with other work that measurement is
/// invalid by loadcast's own account, a verdict on neither the target nor loadcast, and the
/// test is about the measurement. The last attempt stands either way, and the test judges it.
fn with_a_generator_that_kept_up<T>(
    mut measure: impl FnMut(u32) -> T,
    study: impl Fn(&T) -> serde_json::Value,
) -> T {
    let mut attempt = 1;
    loop {
        let measured = measure(attempt);
        let late = study(&measured)["scales"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["breaking_point"]["generator_limited"] == true);
        if !late || attempt == 3 {
            return measured;
        }
        eprintln!("attempt {attempt}: the generator fell behind its schedule; measuring again");
        attempt += 1;
    }
}

/// Fails with the whole output when `needle` is not in it.
fn assert_has(output: &str, needle: &str) {
    assert!(output.contains(needle), "{needle:?} not in:\n{output}");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// 400 days from 2025-01-01: requests with a weekly shape and a linear trend, and an orders
/// table growing 0.4% a day from `first_rows`.
fn daily_history(first_rows: f64) -> String {
    let mut csv = String::from("date,requests,orders_rows\n");
    for d in 0..400i64 {
        let weekday = [1.0, 1.1, 1.15, 1.1, 1.05, 0.7, 0.6][(d % 7) as usize];
        csv.push_str(&format!(
            "{},{:.1},{:.0}\n",
            loadcast_forecast::history::format_date(1_735_689_600 + d * 86_400),
            (200.0 + 0.5 * d as f64) * weekday,
            first_rows * 1.004f64.powi(d as i32)
        ));
    }
    csv
}
