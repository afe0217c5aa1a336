//! SIGINT (Ctrl-C at a terminal) and SIGTERM (a scheduler stopping the pod) during `grow`,
//! `capacity` and `demo`: what was done is kept and consistent, the exit code is 130. (`run`'s
//! own test is in `run.rs`.)

use std::process::{Child, ExitStatus};
use std::time::Instant;

use super::*;

/// Starts loadcast in `dir` with its output in files there: a pipe nobody reads while it runs
/// could block it.
fn spawn_in(dir: &Path, args: &[&str]) -> Child {
    let file = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
    loadcast()
        .args(args)
        .current_dir(dir)
        .stdout(file("stdout.txt"))
        .stderr(file("stderr.txt"))
        .spawn()
        .unwrap()
}

fn output_of(dir: &Path) -> (String, String) {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    (read("stdout.txt"), read("stderr.txt"))
}

/// Waits for `what` at most `limit`; says what it waited for when it never came.
fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn send(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {}", child.id());
}

/// The child's exit within `limit`, or a failure that says how long it ran on (and kills it).
fn exit_within(child: &mut Child, limit: Duration, dir: &Path) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let (stdout, stderr) = output_of(dir);
            panic!("still running {limit:?} after the signal:\n{stdout}\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn grow_stops_at_a_whole_batch_and_a_rerun_completes_exactly() {
    let _alone = measuring_alone();
    for signal in ["INT", "TERM"] {
        let db = TestDb::create(
            Engine::Postgres,
            "CREATE TABLE events (id BIGSERIAL PRIMARY KEY, note TEXT NOT NULL);",
        );
        db.mark();
        let dir = workdir(&format!("grow-sig{signal}"));
        let count = || db.number("SELECT count(*) FROM events") as u64;
        let grow = [
            "grow",
            "--db",
            &db.url,
            "--progress",
            "off",
            "--batch",
            "5000",
        ];
        let mut child = spawn_in(&dir, &[&grow[..], &["--rows", "events=5000000"]].concat());
        until("the growth to start", Duration::from_secs(60), || {
            count() >= 10_000
        });
        send(&child, signal);
        let status = exit_within(&mut child, Duration::from_secs(30), &dir);
        let (_, stderr) = output_of(&dir);
        assert_eq!(status.code(), Some(130), "SIG{signal}: {stderr}");
        assert!(
            stderr.contains("interrupted, finishing the current batch"),
            "SIG{signal}: {stderr}"
        );
        // Committed batches stay, whole; nothing half-written.
        let rows = count();
        assert!(rows < 5_000_000, "SIG{signal}: {rows} rows");
        assert_eq!(rows % 5000, 0, "SIG{signal}: whole batches only: {rows}");
        let target = rows + 12_345;
        let rerun = run_in(
            &dir,
            &[&grow[..], &["--rows", &format!("events={target}")]].concat(),
        );
        assert_eq!(rerun.status.code(), Some(0), "{}", text(&rerun.stderr));
        assert_eq!(count(), target, "SIG{signal}: the rerun lands on the count");
        assert_eq!(
            db.number("SELECT count(DISTINCT id) FROM events") as u64,
            target,
            "SIG{signal}: no duplicates"
        );
    }
}

#[test]
fn capacity_saves_the_steps_it_measured_as_a_lower_bound_and_records_an_interrupted_study() {
    let _alone = measuring_alone();
    for signal in ["INT", "TERM"] {
        let server = CapacityServer::start(4, Duration::from_millis(10), Duration::ZERO, 0);
        let dir = workdir(&format!("capacity-sig{signal}"));
        let plan = super::capacity::capacity_plan(&dir, &server.url(), "");
        let store = dir.join("runs.db");
        let mut child = spawn_in(
            &dir,
            &[
                "--store",
                store.to_str().unwrap(),
                "capacity",
                plan.to_str().unwrap(),
                "--from",
                "50/s",
                "--factor",
                "1.5",
                "--hold",
                "2s",
                "--warmup",
                "1s",
                "-o",
                "study.json",
            ],
        );
        // Two steps measured, the third under way.
        until("two search steps", Duration::from_secs(60), || {
            output_of(&dir).1.matches("  pass").count() >= 2
        });
        send(&child, signal);
        let status = exit_within(&mut child, Duration::from_secs(20), &dir);
        let (stdout, stderr) = output_of(&dir);
        assert_eq!(status.code(), Some(130), "SIG{signal}: {stdout}\n{stderr}");
        assert!(
            stdout.contains("held so far; interrupted before a break"),
            "SIG{signal}: {stdout}"
        );
        let study: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("study.json")).unwrap())
                .unwrap();
        let point = &study["scales"][0]["breaking_point"];
        assert_eq!(point["interrupted"], true, "SIG{signal}: {study}");
        let steps = point["steps"].as_array().map_or(0, Vec::len);
        assert!(steps >= 2, "SIG{signal}: {steps} steps kept: {study}");
        assert!(study["runway"].is_null(), "SIG{signal}: {study}");
        let runs = run_in(
            &dir,
            &[
                "--store",
                store.to_str().unwrap(),
                "runs",
                "--kind",
                "capacity",
            ],
        );
        let listing = text(&runs.stdout);
        assert!(
            listing.contains("interrupted") && listing.contains("held so far"),
            "SIG{signal}: {listing}"
        );
    }
}

#[test]
fn the_demo_stops_with_its_files_kept_and_its_shop_process_gone() {
    let _alone = measuring_alone();
    for signal in ["INT", "TERM"] {
        let dir = workdir(&format!("demo-sig{signal}"));
        let shop = dir.join("shop");
        let mut child = spawn_in(&dir, &["demo", "--quick", "--dir", shop.to_str().unwrap()]);
        // The first search step, whichever its verdict: on a busy machine the demo's first
        // rate may already break its SLO.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (stdout, stderr) = output_of(&dir);
            if stderr.contains("  pass") || stderr.contains("  FAIL") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "SIG{signal}: waited 120 s for the first search step:\n{stdout}\n{stderr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let children = Command::new("pgrep")
            .args(["-P", &child.id().to_string()])
            .output()
            .unwrap();
        let shops: Vec<String> = text(&children.stdout)
            .split_whitespace()
            .map(String::from)
            .collect();
        assert!(
            !shops.is_empty(),
            "SIG{signal}: the shop runs in a child process"
        );
        send(&child, signal);
        let status = exit_within(&mut child, Duration::from_secs(30), &dir);
        let (stdout, stderr) = output_of(&dir);
        assert_eq!(status.code(), Some(130), "SIG{signal}: {stdout}\n{stderr}");
        assert!(stderr.contains("the demo stopped"), "SIG{signal}: {stderr}");
        for kept in ["plan.toml", "history.csv", "shop.db", "users.csv"] {
            assert!(shop.join(kept).is_file(), "SIG{signal}: {kept} kept");
        }
        until("the shop process to end", Duration::from_secs(10), || {
            shops
                .iter()
                .all(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        });
    }
}
