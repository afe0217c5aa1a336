//! `plan import-har` and `plan check`.

use super::*;

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
    // Nor is the recorded user's password: the plan names a variable, and the import says
    // which to set.
    assert!(!plan.contains("pw-3"), "{plan}");
    assert!(
        plan.contains("password = \"${env:HAR_PASSWORD}\""),
        "{plan}"
    );
    assert!(
        stderr.contains("secret withheld: the password field when recorded is ${env:HAR_PASSWORD} in the plan; set HAR_PASSWORD"),
        "{stderr}"
    );

    // A shorter run of the imported plan, as written, against the same app.
    std::fs::write(
        dir.join("shop.toml"),
        plan.replace("duration = \"30s\"", "duration = \"3s\""),
    )
    .unwrap();
    // Unset, the variable is named before anything runs; set, the JSON body sends it.
    let out = run_in(&dir, &["run", "shop.toml", "--progress", "off"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("environment variable HAR_PASSWORD is not set"),
        "{}",
        text(&out.stderr)
    );
    let out = loadcast()
        .env("HAR_PASSWORD", "pw-3")
        .args(["run", "shop.toml", "--progress", "off"])
        .current_dir(&dir)
        .output()
        .unwrap();
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
