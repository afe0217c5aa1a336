//! `loadcast forecast`, and a plan's `[history]` driving forecast and grow.

use super::*;

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
    // "today" is what growth is measured from (for traffic, the last cycle's peak, not the
    // last sample), the same figure as the projection's, and the table says which it is.
    let rps_today = stdout
        .lines()
        .find(|l| l.starts_with("rps "))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or_default();
    let current_peak = projection["series"][0]["current_peak"]
        .as_f64()
        .unwrap_or(f64::NAN);
    assert_eq!(
        rps_today,
        loadcast_stats::figure::si(current_peak),
        "{stdout}"
    );
    assert_has(
        &stdout,
        "today: a traffic series' highest value over its last cycle, a data series' last value",
    );
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

/// `projection.json`, `capacity.json` and `<plan>.result.json` are common names: a file of the
/// user's by that name is left as it was, with an error naming it (before any load for `run`
/// and `capacity`), while loadcast's own earlier document is replaced.
#[test]
fn outputs_replace_loadcasts_own_documents_and_never_a_users_file() {
    let _alone = measuring_alone();
    let dir = workdir("forecast-own-files");
    std::fs::write(dir.join("history.csv"), daily_history(50_000.0)).unwrap();
    let theirs = "{\"mine\": true}\n";
    std::fs::write(dir.join("projection.json"), theirs).unwrap();
    let forecast = [
        "forecast",
        "history.csv",
        "--traffic",
        "requests",
        "--horizon",
        "30d",
    ];
    let out = run_in(&dir, &forecast);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_has(
        &text(&out.stderr),
        "projection.json: exists and is not a loadcast projection (no loadcast format field)",
    );
    let kept = std::fs::read_to_string(dir.join("projection.json")).unwrap_or_default();
    assert_eq!(kept, theirs, "the user's file is untouched");
    assert!(!dir.join("projection.json.partial").exists());

    std::fs::remove_file(dir.join("projection.json")).unwrap();
    for attempt in ["first", "over its own"] {
        let out = run_in(&dir, &forecast);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{attempt}: {}",
            text(&out.stderr)
        );
    }
    let written = std::fs::read_to_string(dir.join("projection.json")).unwrap_or_default();
    assert_has(&written, "\"format\": \"loadcast-projection\"");

    // A run and a study find the file in their way before they send a request (the target
    // here, port 9, is never reached); a loadcast document of another kind is not theirs
    // to replace either.
    write_plan(
        &dir,
        "http://127.0.0.1:9",
        "[slo]\np99 = \"1s\"\n[load]\nmodel = \"open\"\nrate = \"1/s\"\nduration = \"1s\"",
    );
    for (file, content, command, refused) in [
        (
            "smoke.result.json",
            theirs,
            "run",
            "smoke.result.json: exists and is not a loadcast run result (no loadcast format field)",
        ),
        (
            "capacity.json",
            written.as_str(),
            "capacity",
            "capacity.json: exists and is not a loadcast capacity study (its format is \"loadcast-projection\")",
        ),
    ] {
        std::fs::write(dir.join(file), content).unwrap();
        let out = run_in(&dir, &[command, "smoke.toml"]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert_has(&stderr, refused);
        assert_has(&stderr, "nothing was");
        let kept = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert_eq!(kept, content, "{command} left the user's {file} untouched");
    }
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
    let stderr = text(&out.stderr);
    assert_has(&stderr, "forecast from the plan's [history]");
    assert_has(
        &stderr,
        "orders grows to the horizon: the forecast of orders there is",
    );
    // A steady history's forecast carries no caution (one that does: the plan crate's
    // a_table_grown_to_the_horizon_carries_its_forecasts_cautions).
    assert!(!stderr.contains("warning"), "{stderr}");
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

/// A monthly table-size report, the most common history there is: read on its calendar, a
/// pin the backtest refuses named, and the HTML report's forecast dated in months.
#[test]
fn a_monthly_history_is_forecast_in_months_and_a_wrong_pin_is_named() {
    let _alone = measuring_alone();
    let dir = workdir("forecast-monthly");
    let mut csv = String::from("month,rows,visits\n");
    for i in 0..60u32 {
        let rows = 1e6 * 1.03f64.powi(i as i32);
        let visits = 1e4 * (1.0 + 0.3 * (std::f64::consts::TAU * f64::from(i % 12) / 12.0).sin());
        csv.push_str(&format!(
            "{}-{:02},{rows:.0},{visits:.0}\n",
            2021 + i / 12,
            i % 12 + 1
        ));
    }
    std::fs::write(dir.join("monthly.csv"), csv).unwrap();
    std::fs::write(
        dir.join("events.csv"),
        "date,name\n2023-03-01,a migration\n",
    )
    .unwrap();
    let out = run_in(
        &dir,
        &[
            "--no-store",
            "forecast",
            "monthly.csv",
            "--traffic",
            "visits",
            "--data",
            "rows:plateau",
            "--horizon",
            "12months",
            "--events",
            "events.csv",
            "-o",
            "p.json",
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{stdout}",
        text(&out.stderr)
    );
    assert!(stdout.contains("(step monthly on the 1st)"), "{stdout}");
    assert!(
        stdout.contains("1 events (a migration) cover 1 samples"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rows: the pinned plateau shape backtests")
            && stdout.contains("the pin is refused"),
        "{stdout}"
    );
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("p.json")).unwrap()).unwrap();
    assert_eq!(
        p["horizon_end"], "2026-12-01T00:00:00Z",
        "{}",
        p["horizon_end"]
    );
    let visits = &p["series"][0];
    let peak_at = visits["peak_at"].as_str().unwrap_or("");
    assert!(peak_at.ends_with("-01T00:00:00Z"), "a month: {peak_at}");
    let out = run_in(
        &dir,
        &["--no-store", "report", "p.json", "--html", "r.html"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(dir.join("r.html")).unwrap();
    assert!(
        html.contains("monthly on the 1st"),
        "the page names the calendar"
    );
    // The page's table carries the projection's own peak date, as the terminal does.
    let day = &peak_at[..10];
    assert!(
        html.contains(&format!("<td class=\"date\">{day}</td>")) && stdout.contains(day),
        "the peak {peak_at} on the page and in the terminal"
    );
}

#[test]
fn samples_at_a_wandering_hour_are_refused_with_the_way_out_and_resampled_by_day() {
    let _alone = measuring_alone();
    let dir = workdir("forecast-irregular");
    // A daily export run by hand: between 06:00 and 20:00, whenever someone got to it.
    let mut csv = String::from("time,orders\n");
    for day in 0..120u32 {
        let hour = 6 + (day * 5) % 15;
        let weekday = day % 7; // 2026-06-01 is a Monday: 5 and 6 are the weekend
        let orders = 1000.0 + 4.0 * f64::from(day) + if weekday >= 5 { -300.0 } else { 0.0 };
        // Unix seconds: 2026-06-01T00:00:00Z is 1780272000.
        let t = 1_780_272_000 + u64::from(day) * 86_400 + u64::from(hour) * 3600;
        csv.push_str(&format!("{t},{orders}\n"));
    }
    std::fs::write(dir.join("export.csv"), csv).unwrap();
    let plain = run_in(
        &dir,
        &[
            "--no-store",
            "forecast",
            "export.csv",
            "--traffic",
            "orders",
        ],
    );
    let stderr = text(&plain.stderr);
    assert_eq!(plain.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("export.csv: a sample at ") && stderr.contains("`--resample 1day`"),
        "{stderr}"
    );
    let out = run_in(
        &dir,
        &[
            "--no-store",
            "forecast",
            "export.csv",
            "--traffic",
            "orders",
            "--resample",
            "1day",
            "--horizon",
            "30d",
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{stdout}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("orders: resampled from irregular samples (on average ")
            && stdout.contains(" to 1 day by mean (about 1 sample a bucket)"),
        "{stdout}"
    );
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("projection.json")).unwrap())
            .unwrap();
    let at_horizon = p["series"][0]["at_horizon"]["point"]
        .as_f64()
        .unwrap_or(f64::NAN);
    // Four more orders a day: about 1,600 a month after the last of 1,476 (weekends lower).
    assert!(
        (1_350.0..1_800.0).contains(&at_horizon),
        "at the horizon: {at_horizon}\n{stdout}"
    );
}

/// A spreadsheet export in local time across the night the clocks go back: refused on UTC
/// with the way out, read on the zone's wall clock with `--tz` or the plan's `[history] tz`.
#[test]
fn local_times_across_a_clock_change_are_read_on_the_zones_wall_clock() {
    let _alone = measuring_alone();
    let dir = workdir("forecast-tz");
    // Six weeks of hourly Berlin times without an offset, 2026-10-04 to 2026-11-14: a noon
    // peak every day, and 02:00 twice on 2026-10-25.
    let mut csv = String::from("time,requests\n");
    let first: i64 = 1_791_064_800; // 2026-10-03T22:00:00Z, midnight in Berlin
    for k in 0..42 * 24 + 1 {
        let t = first + k * 3_600;
        let offset = if t < 1_792_890_000 { 7_200 } else { 3_600 };
        let wall = t + offset;
        let hour = wall.rem_euclid(86_400) / 3_600;
        let requests = 100.0 + 400.0 * (-((hour - 12) as f64).powi(2) / 8.0).exp();
        let stamp = loadcast_stats::time::format_time(wall)[..19].replace('T', " ");
        csv.push_str(&format!("{stamp},{requests:.1}\n"));
    }
    std::fs::write(dir.join("local.csv"), csv).unwrap();
    let plain = run_in(
        &dir,
        &[
            "--no-store",
            "forecast",
            "local.csv",
            "--traffic",
            "requests",
        ],
    );
    let stderr = text(&plain.stderr);
    assert_eq!(plain.status.code(), Some(2), "{stderr}");
    assert_has(
        &stderr,
        "timestamp 2026-10-25 02:00:00 repeats the one on line",
    );
    assert_has(&stderr, "`--tz ZONE` reads them on that zone's clock");

    let out = run_in(
        &dir,
        &[
            "--no-store",
            "forecast",
            "local.csv",
            "--traffic",
            "requests",
            "--tz",
            "Europe/Berlin",
            "--horizon",
            "7d",
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{stdout}",
        text(&out.stderr)
    );
    assert_has(&stdout, "on Europe/Berlin's wall clock");
    assert_has(&stdout, "the clock changed 1 time in the history");
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("projection.json")).unwrap())
            .unwrap();
    // Noon in Berlin in November is 11:00 UTC, and every time written is UTC.
    let peak_at = p["series"][0]["peak_at"].as_str().unwrap_or_default();
    assert!(
        peak_at.ends_with("T11:00:00Z"),
        "peak at {peak_at}\n{stdout}"
    );
    assert_eq!(
        p["as_of"].as_str(),
        Some("2026-11-14T22:00:00Z"),
        "{stdout}"
    );

    let bad = run_in(
        &dir,
        &[
            "--no-store",
            "forecast",
            "local.csv",
            "--traffic",
            "requests",
            "--tz",
            "Europe/Berln",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert_has(&text(&bad.stderr), "\"Europe/Berln\" is not a time zone");

    // The plan says it once for forecast, grow, capacity and watch.
    let body = "[[scenario]]\n[[scenario.step]]\nget = \"/\"\n[load]\nmodel = \"open\"\nrate = \"1/s\"\nduration = \"1s\"\n";
    let plan = |tz: &str| {
        format!(
            "name = \"local\"\ntarget = \"http://127.0.0.1:9\"\n[history]\ncsv = \"local.csv\"\ntraffic = [\"requests\"]\ntz = \"{tz}\"\n[horizon]\nuntil = \"7 days\"\n{body}"
        )
    };
    std::fs::write(dir.join("plan.toml"), plan("Europe/Berlin")).unwrap();
    let out = run_in(
        &dir,
        &[
            "--no-store",
            "forecast",
            "--plan",
            "plan.toml",
            "-o",
            "plan.json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_has(&text(&out.stdout), "on Europe/Berlin's wall clock");
    std::fs::write(dir.join("mars.toml"), plan("Mars/Olympus_Mons")).unwrap();
    let out = run_in(&dir, &["plan", "check", "mars.toml"]);
    let stderr = text(&out.stderr) + &text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_has(&stderr, "mars.toml:6");
    assert_has(&stderr, "\"Mars/Olympus_Mons\" is not a time zone");
}
