//! The run store: `runs`, `report` and `compare`.

use super::*;

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
    // A first run meets a cold server, cold caches and a cold generator: a warm-up, not
    // recorded, so that the two runs compared as "the same" are alike.
    let warm = run_in(
        &dir,
        &[
            "--no-store",
            "run",
            slow_plan(&dir, &server.url(), "base", 20).to_str().unwrap(),
            "--progress",
            "off",
            "--out",
            "warm.json",
        ],
    );
    assert_eq!(warm.status.code(), Some(0), "{}", text(&warm.stderr));
    go(&slow_plan(&dir, &server.url(), "base", 20), "a.json");
    go(&slow_plan(&dir, &server.url(), "base", 20), "b.json");
    go(&slow_plan(&dir, &server.url(), "base", 40), "c.json");

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
    // Two runs of one configuration: their medians agree. On a shared 2-core machine the p99 of
    // a few hundred requests moves by tens of percent between identical runs (19–66% measured
    // here), so a per-request tail is not asserted here; the whole run's and every request's
    // median are.
    let out = compare("1", "2", &[]);
    let same = text(&out.stdout);
    eprintln!("same configuration:\n{same}");
    assert_eq!(out.status.code(), Some(0), "{same}\n{}", text(&out.stderr));
    for metric in ["throughput ", "p50 "] {
        let row = same.lines().find(|l| l.starts_with(metric)).unwrap();
        assert!(row.ends_with("within noise"), "{same}");
    }
    for request in ["slow ", "steady ", "again "] {
        let row = same.lines().find(|l| l.starts_with(request)).unwrap();
        assert!(
            !row.contains("p50 WORSE") && !row.contains("p50 better"),
            "{same}"
        );
    }
    // 20 ms → 40 ms on one endpoint: beyond noise with the default floors; the gate closes.
    let out = compare("a.json", "#3", &["--fail-on-regression", "10%"]);
    let worse = text(&out.stdout);
    eprintln!("planted regression:\n{worse}");
    assert_eq!(out.status.code(), Some(3), "{worse}");
    let p99 = worse.lines().find(|l| l.starts_with("p99")).unwrap();
    assert!(p99.contains("WORSE"), "{worse}");
    // Judged per request too: the endpoint that slowed down is flagged on its median and
    // closes the 10% gate; the others do not (a neighbour of a slowed endpoint may move by a
    // few percent, past the 5% floor, but not past the gate).
    let slow = worse.lines().find(|l| l.starts_with("slow ")).unwrap();
    assert!(slow.contains("p50 WORSE"), "{worse}");
    assert!(
        text(&out.stderr).contains("regression beyond 10%: p99 +")
            && text(&out.stderr).contains("slow p50 +")
            && !text(&out.stderr).contains("steady p50")
            && !text(&out.stderr).contains("again p50"),
        "{}",
        text(&out.stderr)
    );
    // With a floor of 100% (the most it takes), only a change beyond it is judged. The planted
    // regression is itself +100%: judged on its unrounded value, a p99 of +100.04% is beyond
    // the floor and prints "+100.0%", so the printed change is compared with >=.
    let out = compare("a.json", "#3", &["--noise-floor", "100%"]);
    let floored = text(&out.stdout);
    for metric in ["throughput", "p50", "p99"] {
        let row = floored.lines().find(|l| l.starts_with(metric)).unwrap();
        let change: f64 = row
            .split_whitespace()
            .nth(3)
            .and_then(|c| c.trim_end_matches('%').parse().ok())
            .unwrap_or_else(|| panic!("no change in {row:?}"));
        assert!(
            row.ends_with("within noise") || change.abs() >= 100.0,
            "{floored}"
        );
    }
    let out = compare("a.json", "c.json", &["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let change = json["overall"][2]["change"].as_f64().unwrap();
    // 20 → 40 ms on the slow third of the requests.
    assert!((0.3..2.0).contains(&change), "p99 change {change}");
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
fn two_capacity_studies_compare_by_their_searches_brackets_and_gate_ci() {
    use loadcast_capacity::search::BreakingPoint;
    use loadcast_capacity::{CapacityStudy, ScaleResult};
    let dir = workdir("compare-studies");
    let study = |file: &str, scales: &[(&str, f64, f64)]| {
        let mut s = CapacityStudy::new("shop", "h", "http://127.0.0.1:1", "2026-12-06T00:00:00Z");
        s.scales = scales
            .iter()
            .map(|&(scale, held, broke)| ScaleResult {
                scale: scale.into(),
                volume: Some(if scale == "1x" { 250_000.0 } else { 700_000.0 }),
                bytes: None,
                breaking_point: BreakingPoint {
                    max_rate: held,
                    broke_at: Some(broke),
                    first_broken: Some("p99 <= 250ms".into()),
                    generator_limited: false,
                    steps: Vec::new(),
                    steps_after_break: 2,
                    interrupted: false,
                },
                searches: Vec::new(),
                plans: Vec::new(),
            })
            .collect();
        std::fs::write(dir.join(file), serde_json::to_string(&s).unwrap()).unwrap();
    };
    // Before an index: 75/s at the horizon. After: 230/s. At 1x the brackets overlap.
    study(
        "before.json",
        &[("1x", 214.0, 233.0), ("horizon", 75.0, 84.0)],
    );
    study(
        "after.json",
        &[("1x", 220.0, 240.0), ("horizon", 230.0, 250.0)],
    );
    let out = run_in(
        &dir,
        &["--no-store", "compare", "before.json", "after.json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = |scale: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(scale))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("horizon").contains("+206.7%") && line("horizon").contains("higher"),
        "{stdout}"
    );
    assert!(
        line("1x").contains("+2.8%") && line("1x").contains("within the searches' resolution"),
        "{stdout}"
    );
    // The other way round is a regression beyond the brackets: CI fails on it.
    let out = run_in(
        &dir,
        &[
            "--no-store",
            "compare",
            "after.json",
            "before.json",
            "--fail-on-regression",
            "10%",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    assert_has(
        &text(&out.stderr),
        "regression beyond 10%: horizon: capacity -67.4%",
    );
    // A run and a study are not comparable; --noise-floor is for runs.
    let out = run_in(
        &dir,
        &[
            "--no-store",
            "compare",
            "before.json",
            "after.json",
            "--noise-floor",
            "5%",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_has(&text(&out.stderr), "--noise-floor judges run results");
}
