//! `loadcast demo --quick`: the story, from its own measurements.

use super::*;

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
    // A figure that is missing is a failure, never a `None` that compares as smaller.
    let figure = |value: &serde_json::Value, what: &str| -> f64 {
        value
            .as_f64()
            .unwrap_or_else(|| panic!("{what} is missing or not a number in {summary}"))
    };
    let number = |key: &str| figure(&summary[key], key);

    // Capacity measured at each volume falls as the orders grow.
    let capacities = summary["capacities"].as_array().unwrap();
    assert!(capacities.len() >= 2, "{summary}");
    for pair in capacities.windows(2) {
        assert!(
            figure(&pair[1]["volume"], "volume") > figure(&pair[0]["volume"], "volume"),
            "{summary}"
        );
        assert!(
            figure(&pair[1]["capacity"], "capacity") < figure(&pair[0]["capacity"], "capacity"),
            "{summary}"
        );
        assert_eq!(pair[1]["generator_limited"], false, "{summary}");
    }
    // The capacity the story gives at the horizon is the one searched at the horizon's
    // volume, the figure the report's scale table shows, not the curve fitted through it.
    let last = capacities.last().unwrap();
    assert!(
        (figure(&last["volume"], "volume") / number("orders_at_horizon") - 1.0).abs() < 0.005,
        "the quick demo searches at the horizon's volume: {summary}"
    );
    assert_eq!(
        number("capacity_at_horizon"),
        figure(&last["capacity"], "capacity"),
        "{summary}"
    );

    // The data-aware view runs out by the seasonal peak (on a busy machine the measured
    // capacity is lower, and the first day demand passes it can be the peak day itself); the
    // traffic-only view runs out later, or never within the horizon (then it is written, as
    // null).
    let peak_at = number("traffic_peak_at");
    let data_aware = number("data_aware_runs_out");
    assert!(data_aware <= peak_at, "{summary}");
    match summary.get("traffic_only_runs_out") {
        Some(serde_json::Value::Null) => {}
        Some(v) => assert!(data_aware < figure(v, "traffic_only_runs_out"), "{summary}"),
        None => panic!("traffic_only_runs_out is missing from {summary}"),
    }
    assert!(
        number("traffic_peak") < number("capacity_today"),
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

/// The demo deletes nothing it did not make: a directory with a file of the user's in it is
/// refused (exit 2), and the file is still there.
#[test]
fn the_demo_refuses_a_directory_it_did_not_make() {
    let _alone = measuring_alone();
    let dir = workdir("demo-dir");
    let theirs = dir.join("mine").join("notes.txt");
    std::fs::create_dir_all(theirs.parent().unwrap()).unwrap();
    std::fs::write(&theirs, "keep me").unwrap();
    let out = run_in(
        &dir,
        &[
            "--no-store",
            "demo",
            "--quick",
            "--dir",
            dir.join("mine").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_has(&text(&out.stderr), "deletes nothing it did not create");
    assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "keep me");
    let _ = std::fs::remove_dir_all(&dir);
}
