//! Bad input: a malformed or missing plan, a file that is not a result, an unreachable target.

use super::*;

#[test]
fn a_malformed_plan_names_file_line_and_column_and_exits_2() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let dir = workdir("malformed");
    let plan = write_plan(
        &dir,
        "http://127.0.0.1:1",
        "[load]\nmodel = \"open\"\nrate = \"fast\"\nduration = \"1s\"",
    );
    let out = run_in(&dir, &["plan", "check", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:5:8: `load.rate`: \"fast\" is not valid; expected a rate",
            plan.display()
        )),
        "{err}"
    );

    let out = run_in(&dir, &["run", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));

    std::fs::write(&plan, "target = \"http://127.0.0.1:1\"\n[load\n").unwrap();
    let out = run_in(&dir, &["plan", "check", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(&format!("{}:2:", plan.display())),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_missing_plan_file_is_named() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let out = run_in(&std::env::temp_dir(), &["run", "/nonexistent/plan.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/plan.toml: cannot read plan"));
}

#[test]
fn report_and_compare_name_the_input_that_is_not_a_result() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let dir = workdir("bad-inputs");
    std::fs::write(dir.join("plan.toml"), "name = \"x\"\n").unwrap();
    std::fs::write(
        dir.join("bad.json"),
        "{\"format\": \"loadcast-result\", \"version\": 1, \"meta\": 3}",
    )
    .unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["compare", "plan.toml", "bad.json"],
            "plan.toml:1:2: invalid run result, capacity study, projection or watch cycle: not JSON",
        ),
        (&["report", "bad.json"], "bad.json:1:"),
        (
            &["report", "missing.json"],
            "missing.json: no such file, and not a run id",
        ),
        (&["compare", "bad.json", "bad.json"], "invalid run result"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["--no-store"];
        all.extend_from_slice(args);
        let out = run_in(&dir, &all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("<input>") && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
}

#[test]
fn an_unreachable_target_exits_1_with_a_clear_message() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = workdir("unreachable");
    let plan = write_plan(
        &dir,
        &format!("http://127.0.0.1:{port}"),
        "[slo]\np99 = \"100ms\"\n[load]\nmodel = \"open\"\nrate = \"10/s\"\nduration = \"1s\"",
    );
    let out = run_in(&dir, &["run", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_has(&text(&out.stderr), "is unreachable: connection refused");
    // A capacity study says the same before its first step, not after a search through
    // 100% errors (it used to search, and wait for a recovery that never came).
    let started = std::time::Instant::now();
    let out = run_in(
        &dir,
        &[
            "--no-store",
            "capacity",
            plan.to_str().unwrap(),
            "--scales",
            "1x",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert_has(&text(&out.stderr), "is unreachable: connection refused");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}
