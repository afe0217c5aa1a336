//! `plan init` and `plan render`.

use super::*;

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
