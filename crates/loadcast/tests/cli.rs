//! The `loadcast` binary end to end: real processes, real servers on loopback, real files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use loadcast_stats::{Document, RunResult, RunStatus};
use loadcast_testkit::db::{Engine, TestDb};
use loadcast_testkit::{CapacityServer, SessionApp, TestServer};

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

/// Fails with the whole output when `needle` is not in it.
fn assert_has(output: &str, needle: &str) {
    assert!(output.contains(needle), "{needle:?} not in:\n{output}");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

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
            "plan.toml:1:2: not JSON",
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
        "[load]\nmodel = \"open\"\nrate = \"10/s\"\nduration = \"1s\"",
    );
    let out = run_in(&dir, &["run", plan.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_has(&text(&out.stderr), "is unreachable: connection refused");
}

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
    assert!(
        text(&out.stderr).contains("[   1s/2s]"),
        "progress lines: {}",
        text(&out.stderr)
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
fn sigint_saves_a_valid_partial_result_and_exits_130() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let server = TestServer::start();
    let dir = workdir("sigint");
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
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopped promptly"
    );
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("interrupted, stopping the load"));
    assert!(text(&out.stdout).contains("INTERRUPTED: partial result"));
    let result = RunResult::load(&dir.join("partial.json")).unwrap();
    assert_eq!(result.meta.status, RunStatus::Interrupted);
    let count = result.total().count;
    assert!(
        (300..=600).contains(&count),
        "about 2.5 s at 200/s: {count}"
    );
    assert_eq!(
        server.counters.requests(),
        count + result.generator.abandoned
    );
}

#[test]
fn completions_and_man_page_come_from_the_same_definitions() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let out = run_in(&std::env::temp_dir(), &["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("loadcast"));
    let out = run_in(&std::env::temp_dir(), &["man"]);
    assert!(text(&out.stdout).contains(".TH loadcast"));
    let out = run_in(&std::env::temp_dir(), &["--help"]);
    assert!(text(&out.stdout).contains("Exit codes"));
}

#[test]
fn a_recorded_browser_session_becomes_a_plan_that_runs_green() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    // `tests/fixtures/shop.har` was recorded by headless Chromium against this same app
    // (scripts/record-har.mjs): page, static assets, login, session, token, cart.
    let app = SessionApp::start(50);
    let dir = workdir("har");
    let har = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shop.har");
    let out = run_in(
        &dir,
        &[
            "plan",
            "import-har",
            har.to_str().unwrap(),
            "--target",
            &app.url(),
            "--out",
            "shop.toml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("wrote shop.toml (13 steps)"), "{stderr}");
    // The recording logged in as one user: the importer says so.
    assert!(stderr.contains("warning[single-identity]"), "{stderr}");
    let plan = std::fs::read_to_string(dir.join("shop.toml")).unwrap();
    assert!(!plan.contains("/static/"), "{plan}");
    assert!(plan.contains("Bearer {{token}}"), "{plan}");
    // The recorded token is not in the plan: each user sends the one it was given.
    let recorded = std::fs::read_to_string(&har).unwrap();
    let recorded_token = recorded
        .split("\\\"token\\\":\\\"")
        .nth(1)
        .and_then(|rest| rest.split("\\\"").next())
        .expect("a token in the recording");
    assert!(!plan.contains(recorded_token), "{plan}");

    // A shorter run of the imported plan, as written, against the same app.
    std::fs::write(
        dir.join("shop.toml"),
        plan.replace("duration = \"30s\"", "duration = \"3s\""),
    )
    .unwrap();
    let out = run_in(&dir, &["run", "shop.toml", "--progress", "off"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let result = RunResult::load(&dir.join("shop.result.json")).unwrap();
    let total = result.total();
    assert!(total.count >= 5 * 12, "{}", total.count);
    assert_eq!(total.error_count(), 0, "{:?}", total.errors);
    assert!(app.state.logins() >= 10);
    assert_eq!(app.state.violations(), 0);
    assert_eq!(
        app.state
            .unauthenticated
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

#[test]
fn plan_check_warns_about_one_identity_and_is_quiet_on_many() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let dir = workdir("lint");
    std::fs::write(dir.join("users.csv"), SessionApp::users_csv(100)).unwrap();
    let single = dir.join("single.toml");
    std::fs::write(
        &single,
        r#"target = "http://127.0.0.1:8080"
[http]
headers = { authorization = "Bearer 0123456789" }
[[scenario]]
name = "buy"
[[scenario.step]]
post = "/api/login"
json = { email = "tester@example.com", password = "secret" }
[[scenario.step]]
get = "/api/cart"
[load]
model = "closed"
users = 50
duration = "1m"
"#,
    )
    .unwrap();
    let out = run_in(&dir, &["plan", "check", single.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning[single-identity]: http.headers.authorization is the same"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning[single-identity]: step \"POST /api/login\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning[no-checks]: scenario \"buy\""),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("is valid (3 warnings)"));
    let out = run_in(
        &dir,
        &["plan", "check", "--deny-warnings", single.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));

    let many = dir.join("many.toml");
    std::fs::write(
        &many,
        r#"target = "http://127.0.0.1:8080"
[feeders.user]
csv = "users.csv"
[[scenario]]
name = "buy"
[[scenario.step]]
post = "/api/login"
json = { email = "{{user.email}}", password = "{{user.password}}" }
capture = { token = "json:/token" }
check = { status = 200 }
[[scenario.step]]
get = "/api/cart"
headers = { authorization = "Bearer {{token}}" }
[load]
model = "closed"
users = 50
duration = "1m"
"#,
    )
    .unwrap();
    let out = run_in(
        &dir,
        &["plan", "check", "--deny-warnings", many.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
    assert_has(&text(&out.stdout), "user ← ");

    // Fewer rows than users: an error before any load, naming the file and line.
    let few = dir.join("few.toml");
    std::fs::write(
        &few,
        std::fs::read_to_string(&many)
            .unwrap()
            .replace("users = 50", "users = 150"),
    )
    .unwrap();
    let out = run_in(&dir, &["plan", "check", few.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:2:1: `feeders.user`", few.display()))
            && stderr.contains("has 100 rows but the load may have 150 virtual users"),
        "{stderr}"
    );
    // With reuse allowed, it runs, and the lint says users will share rows.
    std::fs::write(
        &few,
        std::fs::read_to_string(&few)
            .unwrap()
            .replace("csv = \"users.csv\"", "csv = \"users.csv\"\nreuse = true"),
    )
    .unwrap();
    let out = run_in(&dir, &["plan", "check", few.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("warning[few-users]: feeder \"user\" has 100 rows for up to 150")
    );
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

#[test]
fn forecast_reads_history_writes_a_projection_and_names_bad_lines() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let dir = workdir("forecast");
    let csv = daily_history(50_000.0);
    std::fs::write(dir.join("history.csv"), &csv).unwrap();
    let out = run_in(
        &dir,
        &[
            "forecast",
            "history.csv",
            "--traffic",
            "rps=requests",
            "--data",
            "orders=orders_rows",
            "--horizon",
            "90d",
            "-o",
            "p.json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("rps ") && stdout.contains("orders "),
        "{stdout}"
    );
    assert!(stdout.contains("growth to the horizon: rps +"), "{stdout}");
    let projection: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("p.json")).unwrap()).unwrap();
    assert_eq!(projection["format"], "loadcast-projection");
    let orders = &projection["series"][1];
    assert_eq!(orders["name"], "orders");
    let expected = 50_000.0 * 1.004f64.powi(399 + 90);
    let at = orders["at_horizon"]["point"].as_f64().unwrap();
    assert!((at / expected - 1.0).abs() < 0.05, "{at} vs {expected}");

    let out = run_in(
        &dir,
        &[
            "forecast",
            "history.csv",
            "--traffic",
            "requests",
            "--backtest",
            "--holdout",
            "28d",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_has(&text(&out.stdout), "MASE");

    let broken = csv.replacen(",200.0,", ",lots,", 1);
    std::fs::write(dir.join("broken.csv"), broken).unwrap();
    let out = run_in(&dir, &["forecast", "broken.csv", "--traffic", "requests"]);
    assert_eq!(out.status.code(), Some(2));
    assert_has(
        &text(&out.stderr),
        "broken.csv:2: series requests: \"lots\" is not a number",
    );
    let out = run_in(
        &dir,
        &[
            "forecast",
            "history.csv",
            "--traffic",
            "requests",
            "--seasonality",
            "yearly",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_has(&text(&out.stderr), "yearly seasonality needs 548 samples");
}

#[test]
fn a_plans_history_and_horizon_drive_forecast_and_grow() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let db = TestDb::create(
        Engine::Postgres,
        "CREATE TABLE orders (id BIGSERIAL PRIMARY KEY, customer_id INT NOT NULL, total NUMERIC(10, 2) NOT NULL);",
    );
    let dir = workdir("plan-history");
    std::fs::create_dir_all(dir.join("history")).unwrap();
    std::fs::create_dir_all(dir.join("elsewhere")).unwrap();
    std::fs::write(dir.join("history/daily.csv"), daily_history(1_000.0)).unwrap();
    let body = "[[scenario]]\n[[scenario.step]]\nget = \"/\"\n[load]\nmodel = \"open\"\nrate = \"1/s\"\nduration = \"1s\"\n";
    std::fs::write(
        dir.join("plan.toml"),
        format!(
            "name = \"from-history\"\ntarget = \"http://127.0.0.1:9\"\n\
             [history]\ncsv = \"history/daily.csv\"\ntraffic = [\"requests\"]\ndata = {{ orders = \"orders_rows\" }}\n\
             [horizon]\nuntil = \"90 days\"\n\
             [database]\nurl = \"{}\"\n[database.tables.orders]\nrows = \"horizon\"\n{body}",
            db.url
        ),
    )
    .unwrap();

    // The history's path is the plan's, wherever loadcast runs from.
    let out = run_in(
        &dir.join("elsewhere"),
        &["forecast", "--plan", "../plan.toml", "-o", "p.json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let projection: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("elsewhere/p.json")).unwrap())
            .unwrap();
    let names: Vec<&str> = projection["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["requests", "orders"]);
    let span = projection["horizon_end_unix"].as_i64().unwrap()
        - projection["as_of_unix"].as_i64().unwrap();
    assert_eq!(span, 90 * 86_400, "the plan's [horizon] until");
    let expected = 1_000.0 * 1.004f64.powi(399 + 90);
    let at = projection["series"][1]["at_horizon"]["point"]
        .as_f64()
        .unwrap();
    assert!((at / expected - 1.0).abs() < 0.05, "{at} vs {expected}");

    // `grow` with rows = "horizon" and no --projection forecasts from the same [history].
    let out = run_in(&dir, &["grow", "plan.toml", "--init-marker"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run_in(&dir, &["grow", "plan.toml", "--progress", "off"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_has(&text(&out.stderr), "forecast from the plan's [history]");
    let rows = db.number("SELECT count(*) FROM orders");
    assert!((rows / at - 1.0).abs() < 0.01, "{rows} rows vs {at}");

    std::fs::write(
        dir.join("plain.toml"),
        format!("name = \"plain\"\ntarget = \"http://127.0.0.1:9\"\n{body}"),
    )
    .unwrap();
    let out = run_in(&dir, &["forecast", "--plan", "plain.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_has(
        &text(&out.stderr),
        "plain.toml: the plan has no [history] section",
    );
}

#[test]
fn grow_refuses_unmarked_databases_and_resumes_exactly_after_sigkill() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let db = TestDb::create(
        Engine::Postgres,
        "CREATE TABLE events (id BIGSERIAL PRIMARY KEY, ref UUID NOT NULL UNIQUE, \
         user_email TEXT NOT NULL UNIQUE, kind VARCHAR(10) NOT NULL CHECK (kind IN ('view', 'click', 'buy')), \
         created_at TIMESTAMPTZ NOT NULL, payload JSONB);",
    );
    // Trust authentication ignores the password; the point is that it is never printed.
    let url = db.url.replace("postgres@", "postgres:s3cret-pw@");
    let dir = workdir("grow");
    let grow = |extra: &[&str]| {
        let mut args = vec!["grow", "--db", url.as_str(), "--progress", "lines"];
        args.extend_from_slice(extra);
        run_in(&dir, &args)
    };
    let out = grow(&["--rows", "events=100"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("refusing to write to database"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
    assert_eq!(db.number("SELECT count(*) FROM events"), 0.0);

    let out = grow(&["--init-marker"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_has(&text(&out.stdout), "postgres:***@");

    let target = 300_000u64;
    let child = loadcast()
        .args(["grow", "--db", &url, "--progress", "off", "--batch", "5000"])
        .args(["--rows", &format!("events={target}")])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while db.number("SELECT count(*) FROM events") < 20_000.0 {
        assert!(std::time::Instant::now() < deadline, "growth did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = child;
    let _ = child.wait();
    let partial = db.number("SELECT count(*) FROM events") as u64;
    assert!(partial > 0 && partial < target, "killed at {partial} rows");
    assert_eq!(partial % 5000, 0, "whole batches only: {partial}");

    let out = grow(&["--batch", "5000", "--rows", &format!("events={target}")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!("{partial}")), "{stdout}");
    assert!(
        stdout.contains("statistics refreshed with ANALYZE"),
        "{stdout}"
    );
    assert_eq!(db.number("SELECT count(*) FROM events") as u64, target);
    assert_eq!(
        db.number("SELECT count(DISTINCT ref) FROM events") as u64,
        target
    );
    assert_eq!(
        db.number("SELECT count(DISTINCT user_email) FROM events") as u64,
        target
    );
    assert_eq!(
        db.number("SELECT count(DISTINCT id) FROM events") as u64,
        target
    );
}

fn capacity_plan(dir: &Path, target: &str, extra_load: &str) -> PathBuf {
    let path = dir.join("capacity.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"known\"\ntarget = \"{target}\"\n[http]\ntimeout = \"5s\"\n[slo]\np99 = \"100ms\"\nerrors = \"1%\"\n\
             [[scenario]]\n[[scenario.step]]\nget = \"/\"\ncheck = {{ status = 200 }}\n\
             [load]\nmodel = \"open\"\nrate = \"10/s\"\nduration = \"1s\"\n{extra_load}\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn capacity_search_finds_a_known_capacity_and_stops_at_the_break() {
    let _alone = measuring_alone();
    // 4 workers × 10 ms: 400 requests per second by construction.
    let server = CapacityServer::start(4, Duration::from_millis(10), Duration::ZERO, 0);
    let truth = server.capacity(0);
    let dir = workdir("capacity");
    let plan = capacity_plan(&dir, &server.url(), "");
    let started = std::time::Instant::now();
    let out = run_in(
        &dir,
        &[
            "capacity",
            plan.to_str().unwrap(),
            "--from",
            "100/s",
            "--factor",
            "1.5",
            "--hold",
            "3s",
            "--warmup",
            "1s",
            "-o",
            "study.json",
        ],
    );
    let elapsed = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(elapsed < Duration::from_secs(120), "took {elapsed:?}");
    let study: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("study.json")).unwrap()).unwrap();
    let point = &study["scales"][0]["breaking_point"];
    let (good, bad) = (
        point["max_rate"].as_f64().unwrap(),
        point["broke_at"].as_f64().unwrap(),
    );
    // The capacity is the highest rate that held (the bracket's lower end). A 4-server queue
    // breaks a p99 of 10× its service time below its throughput limit, and a busy 2-core machine
    // delays arrivals: the figure lies between 85% and 100% of the 400/s by construction.
    let capacity = good;
    eprintln!("found {good:.0}..{bad:.0}/s (truth {truth:.0}/s) in {elapsed:?}");
    assert!(
        capacity >= 0.85 * truth && capacity <= 1.02 * truth && bad > good,
        "capacity {capacity:.0} (bracket {good:.0}..{bad:.0}) vs {truth:.0}\n{}",
        text(&out.stdout)
    );
    assert_eq!(point["generator_limited"], false);
    // The failing step and its confirmation; after that the search only goes down.
    assert!(point["steps_after_break"].as_u64().unwrap() <= 2, "{point}");
    assert!(
        point["first_broken"].as_str().unwrap().contains("p99"),
        "{point}"
    );
    assert_has(&text(&out.stdout), "held; broke at");
}

#[test]
fn a_saturated_generator_is_never_reported_as_the_targets_capacity() {
    let _alone = measuring_alone();
    let server = CapacityServer::start(4, Duration::from_millis(10), Duration::ZERO, 0);
    let dir = workdir("capacity-saturated");
    // Two requests in flight at most: the generator tops out near 200/s, the target at 400/s.
    let plan = capacity_plan(&dir, &server.url(), "max_in_flight = 2");
    let out = run_in(
        &dir,
        &[
            "capacity",
            plan.to_str().unwrap(),
            "--from",
            "100/s",
            "--factor",
            "1.5",
            "--hold",
            "2s",
            "--warmup",
            "0s",
            "-o",
            "study.json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("GENERATOR-LIMITED"), "{stdout}");
    assert!(stdout.contains("INVALID (generator"), "{stdout}");
    assert!(
        stdout.contains("lower bounds, not the target's limit"),
        "{stdout}"
    );
    let study: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("study.json")).unwrap()).unwrap();
    let point = &study["scales"][0]["breaking_point"];
    assert_eq!(point["generator_limited"], true);
    assert!(point["max_rate"].as_f64().unwrap() < 300.0, "{point}");
}

/// Each iteration: one `slow` request and two 8 ms ones, so that the whole run's median sits
/// in the 8 ms mode (with an even mix it may jump between the two modes from run to run).
fn slow_plan(dir: &Path, target: &str, name: &str, ms: u64) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\ntarget = \"{target}\"\n[slo]\np99 = \"500ms\"\nerrors = \"1%\"\n\
             [[scenario]]\n[[scenario.step]]\nname = \"slow\"\nget = \"/slow/{ms}\"\n\
             [[scenario.step]]\nname = \"steady\"\nget = \"/slow/8\"\n\
             [[scenario.step]]\nname = \"again\"\nget = \"/slow/8\"\n\
             [load]\nmodel = \"open\"\nrate = \"100/s\"\nduration = \"6s\"\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn runs_are_recorded_and_compare_flags_a_planted_regression_but_not_noise() {
    let _alone = measuring_alone();
    let server = TestServer::start();
    let dir = workdir("compare");
    let go = |plan: &Path, out: &str| {
        let out = stored(
            &dir,
            &[
                "run",
                plan.to_str().unwrap(),
                "--progress",
                "off",
                "--out",
                out,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_has(&text(&out.stderr), "recorded as run #");
    };
    go(&slow_plan(&dir, &server.url(), "base", 20), "a.json");
    go(&slow_plan(&dir, &server.url(), "base", 20), "b.json");
    go(&slow_plan(&dir, &server.url(), "base", 24), "c.json");

    let out = stored(&dir, &["runs"]);
    let listing = text(&out.stdout);
    assert_eq!(listing.matches(" run ").count(), 3, "{listing}");
    assert!(
        listing.contains("#3") && listing.contains("p99"),
        "{listing}"
    );

    let compare = |a: &str, b: &str, extra: &[&str]| {
        let mut args = vec!["compare", a, b];
        args.extend_from_slice(extra);
        stored(&dir, &args)
    };
    // Two runs of one configuration: within noise, and the gate stays open.
    let out = compare("1", "2", &["--fail-on-regression", "10%"]);
    let same = text(&out.stdout);
    eprintln!("same configuration:\n{same}");
    assert_eq!(out.status.code(), Some(0), "{same}\n{}", text(&out.stderr));
    assert!(!same.contains("WORSE"), "{same}");
    for request in ["slow ", "steady "] {
        let row = same.lines().find(|l| l.starts_with(request)).unwrap();
        assert!(row.ends_with("within noise"), "{same}");
    }
    // 20 ms → 24 ms: p99 +20%, beyond noise; the gate closes.
    let out = compare("a.json", "#3", &["--fail-on-regression", "10%"]);
    let worse = text(&out.stdout);
    eprintln!("planted regression:\n{worse}");
    assert_eq!(out.status.code(), Some(3), "{worse}");
    let p99 = worse.lines().find(|l| l.starts_with("p99")).unwrap();
    assert!(p99.contains("WORSE"), "{worse}");
    // Judged per request too: only the endpoint that slowed down is flagged.
    let slow = worse.lines().find(|l| l.starts_with("slow ")).unwrap();
    assert!(slow.contains("p99 WORSE"), "{worse}");
    let steady = worse.lines().find(|l| l.starts_with("steady ")).unwrap();
    assert!(steady.ends_with("within noise"), "{worse}");
    assert!(
        text(&out.stderr).contains("regression beyond 10%: p99 +")
            && text(&out.stderr).contains("slow p50 +")
            && !text(&out.stderr).contains("steady"),
        "{}",
        text(&out.stderr)
    );
    // A floor above the change: nothing is judged, the gate stays open.
    let out = compare(
        "a.json",
        "#3",
        &["--fail-on-regression", "10%", "--noise-floor", "40%"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        !text(&out.stdout).contains("WORSE"),
        "{}",
        text(&out.stdout)
    );
    let out = compare("a.json", "c.json", &["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let change = json["overall"][2]["change"].as_f64().unwrap();
    assert!((0.12..0.30).contains(&change), "p99 change {change}");
}

#[test]
fn a_report_from_the_store_is_identical_and_junit_validates() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let server = TestServer::start();
    let dir = workdir("report");
    let plan = dir.join("strict.toml");
    std::fs::write(
        &plan,
        format!(
            "name = \"strict\"\ntarget = \"{}\"\n[slo]\np99 = \"5ms\"\nerrors = \"1%\"\n\"GET /status/500\".errors = \"10%\"\n\
             [[scenario]]\n[[scenario.step]]\nget = \"/slow/12\"\n[[scenario.step]]\nget = \"/status/500\"\n\
             [load]\nmodel = \"open\"\nrate = \"50/s\"\nduration = \"2s\"\n",
            server.url()
        ),
    )
    .unwrap();
    let out = stored(
        &dir,
        &[
            "run",
            plan.to_str().unwrap(),
            "--progress",
            "off",
            "--out",
            "r.json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "thresholds fail: {}",
        text(&out.stdout)
    );
    let from_file = stored(
        &dir,
        &[
            "report",
            "r.json",
            "--html",
            "file.html",
            "--junit",
            "junit.xml",
            "--summary",
            "summary.json",
            "--csv",
            "timeline.csv",
        ],
    );
    assert_eq!(
        from_file.status.code(),
        Some(0),
        "{}",
        text(&from_file.stderr)
    );
    let from_store = stored(&dir, &["report", "#1", "--html", "store.html"]);
    assert_eq!(
        from_store.status.code(),
        Some(0),
        "{}",
        text(&from_store.stderr)
    );
    assert_eq!(text(&from_file.stdout), text(&from_store.stdout));
    let (a, b) = (
        std::fs::read_to_string(dir.join("file.html")).unwrap(),
        std::fs::read_to_string(dir.join("store.html")).unwrap(),
    );
    assert!(a == b, "the stored run renders the same report");

    // JUnit against the schema Jenkins' xUnit plugin publishes (via pytest's sdist).
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../loadcast-report/tests/fixtures/junit-10.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--schema", xsd.to_str().unwrap(), "junit.xml"])
        .current_dir(&dir)
        .output()
        .expect("xmllint (libxml2-utils; scripts/test.sh installs it)");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("tests=\"3\"") && junit.contains("failures=\"3\""),
        "{junit}"
    );
    assert!(
        junit.contains("<failure message=\"p99 &lt;= 5.00ms: measured"),
        "{junit}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["passed"], false);
    let csv = std::fs::read_to_string(dir.join("timeline.csv")).unwrap();
    assert!(csv.starts_with("second,sent,completed,errors"), "{csv}");
    assert!(csv.lines().count() >= 3, "{csv}");
}

#[test]
fn plan_init_suggests_from_history_and_render_writes_a_review_document() {
    // Every CLI test runs alone: a load or a growth beside a measurement is its noise.
    let _alone = measuring_alone();
    let server = TestServer::start();
    let dir = workdir("init");
    std::fs::write(dir.join("h.csv"), daily_history(50_000.0)).unwrap();
    // An earlier run of the same plan, with its SLOs, in the store.
    let earlier = dir.join("earlier.toml");
    std::fs::write(
        &earlier,
        format!(
            "name = \"shop-init\"\ntarget = \"{}\"\n[slo]\np99 = \"250ms\"\nerrors = \"2%\"\n[[scenario]]\n[[scenario.step]]\nget = \"/\"\n\
             [load]\nmodel = \"open\"\nrate = \"20/s\"\nduration = \"1s\"\n",
            server.url()
        ),
    )
    .unwrap();
    let out = stored(
        &dir,
        &["run", earlier.to_str().unwrap(), "--progress", "off"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = stored(
        &dir,
        &[
            "plan",
            "init",
            "--name",
            "shop-init",
            "--target",
            &server.url(),
            "--history",
            "h.csv",
            "--traffic",
            "requests",
            "--data",
            "orders=orders_rows",
            "--horizon",
            "90d",
            "-o",
            "plan.toml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan_text = std::fs::read_to_string(dir.join("plan.toml")).unwrap();
    assert!(
        plan_text.contains("# from run #1 of this plan"),
        "{plan_text}"
    );
    assert!(plan_text.contains("p99 = \"250ms\""), "{plan_text}");
    assert!(
        plan_text.contains("the forecast's peak of requests (upper 95%)"),
        "{plan_text}"
    );
    assert!(
        plan_text.contains("data_scales = [\"2x\", \"horizon\"]"),
        "{plan_text}"
    );
    // It is a valid plan, and its load is the projected peak: above today's peak of ≈ 460/s.
    let out = run_in(&dir, &["plan", "check", "plan.toml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{plan_text}",
        text(&out.stderr)
    );
    // Written to another directory, its history path still leads to the file.
    let mut elsewhere: Vec<&str> = vec!["plan", "init", "--name", "shop-init"];
    let target = server.url();
    elsewhere.extend([
        "--target",
        &target,
        "--history",
        "h.csv",
        "--traffic",
        "requests",
    ]);
    elsewhere.extend(["--horizon", "90d", "-o", "nested/plan.toml"]);
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    let out = stored(&dir, &elsewhere);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run_in(&dir, &["plan", "check", "nested/plan.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rate: f64 = plan_text
        .split("rate = \"0..")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|r| r.parse().ok())
        .unwrap();
    assert!((480.0..900.0).contains(&rate), "{rate}");

    let out = stored(&dir, &["plan", "render", "plan.toml", "-o", "review.md"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let review = std::fs::read_to_string(dir.join("review.md")).unwrap();
    for section in [
        "# Load-test plan: shop-init — for review",
        "## 1. What is tested",
        "## 2. Target and data volume",
        "**No test database is declared**",
        "## 3. History and forecast",
        // Computed from the plan's [history]: no --projection was given.
        "Forecast from history 2025-01-01",
        "Horizon: 90 days ahead; traffic at the upper 95% bound",
        "data scales 1x (today's), 2x, horizon.",
        "## 4. Service-level objectives",
        "- p99 <= 250ms",
        "## 5. Schedule",
        "## 6. Risks and warnings",
        "## 7. Open assumptions",
        "| role | name | date | decision |",
    ] {
        assert!(review.contains(section), "missing {section:?}:\n{review}");
    }
    // Written for people: no Rust debug notation.
    assert!(
        !review.contains("Upper95") && !review.contains("Times("),
        "{review}"
    );
    let out = stored(&dir, &["plan", "render", "plan.toml", "-o", "review.html"]);
    assert_eq!(out.status.code(), Some(0));
    let html = std::fs::read_to_string(dir.join("review.html")).unwrap();
    assert!(
        html.contains("<table>")
            && html.contains("<h2>8. Sign-off</h2>")
            && html.contains("<figure data-chart=\"forecast-fan\"><svg"),
        "{html}"
    );
}

#[test]
fn the_quick_demo_tells_the_data_growth_story_from_its_own_measurements() {
    let _alone = measuring_alone();
    let dir = workdir("demo");
    let out = run_in(
        &dir,
        &[
            "demo",
            "--quick",
            "--dir",
            dir.join("shop").to_str().unwrap(),
            "--json",
            "demo.json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Traffic-only plan"), "{stdout}");
    assert!(stdout.contains("Data-aware plan"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("demo.json")).unwrap()).unwrap();
    let number = |key: &str| summary[key].as_f64();

    // Capacity measured at each volume falls as the orders grow.
    let capacities = summary["capacities"].as_array().unwrap();
    assert!(capacities.len() >= 2, "{summary}");
    for pair in capacities.windows(2) {
        assert!(
            pair[1]["volume"].as_f64() > pair[0]["volume"].as_f64(),
            "{summary}"
        );
        assert!(
            pair[1]["capacity"].as_f64() < pair[0]["capacity"].as_f64(),
            "{summary}"
        );
        assert_eq!(pair[1]["generator_limited"], false, "{summary}");
    }

    // The data-aware view runs out, before the seasonal peak; the traffic-only view runs out
    // later (or never within the horizon).
    let peak_at = number("traffic_peak_at").unwrap();
    let data_aware = number("data_aware_runs_out").expect("the data-aware headroom runs out");
    assert!(data_aware < peak_at, "{summary}");
    if let Some(traffic_only) = number("traffic_only_runs_out") {
        assert!(data_aware < traffic_only, "{summary}");
    }
    assert!(
        number("traffic_peak").unwrap() < number("capacity_today").unwrap(),
        "{summary}"
    );

    // The report it points to exists and carries the story.
    let report = std::fs::read_to_string(summary["report"].as_str().unwrap()).unwrap();
    assert!(
        report.contains("Data-aware plan") && report.contains("<svg"),
        "report"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
