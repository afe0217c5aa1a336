//! `loadcast run`: results, exit codes, Ctrl-C; completions and the man page.

use super::*;

#[test]
fn a_passing_run_writes_a_result_that_report_re_renders_and_merges() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let server = TestServer::start();
    let dir = workdir("pass");
    let plan = write_plan(
        &dir,
        &server.url(),
        "[slo]\np99 = \"2s\"\nerrors = \"1%\"\n[load]\nmodel = \"open\"\nrate = \"100/s\"\nduration = \"2s\"",
    );
    let out = run_in(
        &dir,
        &["run", plan.to_str().unwrap(), "--progress", "lines"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("pass  p99 <= 2.00s"), "{stdout}");
    // Each live line says what its rates count: the schedule's arrivals, the target's requests.
    let progress = text(&out.stderr);
    assert!(
        progress
            .lines()
            .any(|l| l.starts_with("[   1s/2s] arrivals   100/s due (")
                && l.contains(" requests ")
                && l.contains("/s done")),
        "progress lines: {progress}"
    );
    let result_path = dir.join("smoke.result.json");
    let result = RunResult::load(&result_path).unwrap();
    assert_eq!(result.total().count, 200);

    let out = run_in(&dir, &["report", "smoke.result.json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("GET /"));

    let out = run_in(
        &dir,
        &["report", "--json", "smoke.result.json", "smoke.result.json"],
    );
    let merged: RunResult = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(merged.total().count, 400);
    assert_eq!(merged.meta.shards, 2);
}

#[test]
fn a_failed_threshold_exits_3() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let server = TestServer::start();
    let dir = workdir("threshold");
    let plan = dir.join("slow.toml");
    std::fs::write(&plan, format!("target = \"{}\"\n[slo]\np99 = \"5ms\"\n[[scenario]]\n[[scenario.step]]\nget = \"/slow/20\"\n[load]\nmodel = \"open\"\nrate = \"50/s\"\nduration = \"1s\"\n", server.url())).unwrap();
    let out = run_in(&dir, &["run", plan.to_str().unwrap(), "--progress", "off"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_has(&text(&out.stdout), "FAIL  p99 <= 5.00ms");
}

#[test]
fn sigint_and_sigterm_save_a_valid_partial_result_and_exit_130() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    // Ctrl-C at a terminal; SIGTERM from a scheduler stopping the pod (Kubernetes, systemd).
    for signal in ["INT", "TERM"] {
        let server = TestServer::start();
        let dir = workdir(&format!("sig{signal}"));
        let plan = write_plan(
            &dir,
            &server.url(),
            "[load]\nmodel = \"open\"\nrate = \"200/s\"\nduration = \"60s\"",
        );
        let child = loadcast()
            .args([
                "run",
                plan.to_str().unwrap(),
                "--out",
                "partial.json",
                "--progress",
                "lines",
            ])
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(2500));
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let started = std::time::Instant::now();
        let out = child.wait_with_output().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "SIG{signal}: stopped promptly"
        );
        assert_eq!(
            out.status.code(),
            Some(130),
            "SIG{signal}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stderr).contains("interrupted, stopping the load"));
        assert!(text(&out.stdout).contains("INTERRUPTED: partial result"));
        let result = RunResult::load(&dir.join("partial.json")).unwrap();
        assert_eq!(result.meta.status, RunStatus::Interrupted);
        let count = result.total().count;
        assert!(
            (300..=600).contains(&count),
            "SIG{signal}: about 2.5 s at 200/s: {count}"
        );
        assert_eq!(
            server.counters.requests(),
            count + result.generator.abandoned
        );
    }
}

#[test]
fn completions_and_man_page_come_from_the_same_definitions() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let out = run_in(&std::env::temp_dir(), &["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("loadcast"));
    let out = run_in(&std::env::temp_dir(), &["man"]);
    let page = text(&out.stdout);
    assert!(page.contains(".TH loadcast"));
    // Every page the top page lists can be printed.
    let listed: Vec<String> = page
        .split("loadcast\\-")
        .skip(1)
        .filter_map(|rest| rest.split('(').next().map(str::to_string))
        .collect();
    assert!(listed.len() >= 8, "{page}");
    for command in &listed {
        let out = run_in(&std::env::temp_dir(), &["man", command]);
        assert_eq!(out.status.code(), Some(0), "loadcast man {command}");
        assert!(
            text(&out.stdout).contains(&format!(".TH loadcast-{command}")),
            "loadcast man {command}: {}",
            text(&out.stdout)
        );
    }
    let out = run_in(&std::env::temp_dir(), &["--help"]);
    assert!(text(&out.stdout).contains("Exit codes"));
}

/// A result path that cannot be written is refused before any load is sent; a disk that fills
/// up during the run (a 16 KiB tmpfs the test mounts and fills) still gets the result somewhere, named,
/// and leaves no half-written file.
#[test]
fn an_unwritable_result_is_refused_before_the_run_and_a_full_disk_loses_nothing() {
    let _alone = measuring_alone();
    let server = TestServer::start();
    let dir = workdir("full-disk");
    let plan = write_plan(
        &dir,
        &server.url(),
        "[load]\nmodel = \"open\"\nrate = \"100/s\"\nduration = \"2s\"",
    );
    let plan = plan.to_str().unwrap();
    let out = run_in(
        &dir,
        &["--no-store", "run", plan, "--out", "missing/dir/r.json"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_has(&text(&out.stderr), "missing/dir/r.json");
    assert_has(&text(&out.stderr), "nothing was run");
    assert_eq!(server.counters.requests(), 0, "no load before the check");

    let full = dir.join("full");
    std::fs::create_dir_all(&full).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
        .arg(&full)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        mounted,
        "mounting a 16 KiB tmpfs at {} needs root (CI runs as root)",
        full.display()
    );
    // The test's own file takes every page: an empty file still fits (the check before the
    // run passes), the result does not.
    let mut filler = std::fs::File::create(full.join("filler")).unwrap();
    while std::io::Write::write_all(&mut filler, &[0u8; 1024]).is_ok() {}
    drop(filler);
    let out = run_in(&dir, &["--no-store", "run", plan, "--out", "full/r.json"]);
    let leftovers: Vec<_> = std::fs::read_dir(&full)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != "filler")
        .collect();
    let _ = Command::new("umount").arg(&full).status();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        leftovers.is_empty(),
        "half-written files left: {leftovers:?}"
    );
    let rescued = stderr
        .split("the run result is saved in ")
        .nth(1)
        .and_then(|rest| rest.split(" instead").next())
        .unwrap_or_else(|| panic!("no rescue named in:\n{stderr}"));
    let result = RunResult::load(Path::new(rescued)).unwrap();
    assert_eq!(result.total().count, 200, "the whole run, rescued");
    std::fs::remove_file(rescued).ok();
}
