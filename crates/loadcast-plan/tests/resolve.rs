//! A plan resolved against a projection: "horizon" means one volume for every command.

use std::time::Duration;

use loadcast_forecast::history::{History, SeriesKind};
use loadcast_forecast::{Options, Projection, project};
use loadcast_plan::{Bound, ResolvedPlan};

const DAY: i64 = 86_400;

fn projection() -> Projection {
    let start = 1_730_000_000 / DAY * DAY;
    let traffic = (0..400)
        .map(|d| {
            (
                start + d * DAY,
                200.0 + 0.2 * d as f64 + 30.0 * ((d % 7) as f64),
            )
        })
        .collect();
    let orders = (0..400)
        .map(|d| {
            // A few percent of day-to-day noise: the forecast has a band to pick from.
            let noise = 1.0 + 0.03 * ((d as f64) * 1.7).sin();
            (start + d * DAY, 1e6 * 1.002f64.powi(d as i32) * noise)
        })
        .collect();
    let h = History::from_points(
        "test",
        None,
        vec![
            ("requests".into(), SeriesKind::Traffic, traffic),
            ("orders_rows".into(), SeriesKind::Data, orders),
        ],
    )
    .unwrap();
    project(&h, &Options::horizon(Duration::from_secs(90 * DAY as u64))).unwrap()
}

fn plan(dir: &std::path::Path, bound: &str) -> loadcast_plan::Plan {
    std::fs::create_dir_all(dir).unwrap();
    let text = format!(
        r#"
target = "http://127.0.0.1:8080"
[[scenario]]
name = "home"
[[scenario.step]]
get = "/"
check = {{ status = 200 }}
[load]
model = "open"
rate = "10/s"
duration = "10s"
[horizon]
until = "90 days"
traffic = "{bound}"
data = "{bound}"
[database]
url = "sqlite://{}/shop.db"
[database.tables.orders]
rows = "horizon:orders_rows"
[capacity]
table = "orders"
data_scales = ["horizon"]
"#,
        dir.display()
    );
    let path = dir.join("plan.toml");
    std::fs::write(&path, text).unwrap();
    loadcast_plan::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// `grow` takes `horizon_volumes()` for its tables, `capacity` takes `horizon_volume_of()` for
/// its measuring table: for a plan that tests at the p95 bound both are the p95 volume, not
/// the point forecast (they once differed: capacity used the point, grow the bound).
#[test]
fn grow_and_capacity_aim_at_the_same_volume_with_the_plans_bound() {
    let dir = std::env::temp_dir().join(format!("loadcast-resolve-{}", std::process::id()));
    let p = projection();
    let orders = p.series("orders_rows").unwrap().at_horizon;
    assert!(orders.hi95 > orders.point * 1.001, "{orders:?}");
    for (bound, expected) in [
        ("p95", orders.hi95),
        ("p80", orders.hi80),
        ("point", orders.point),
    ] {
        let plan = plan(&dir, bound);
        let resolved = ResolvedPlan::with_projection(&plan, Some(p.clone()));
        let grow_volume = resolved.horizon_volumes()["orders_rows"];
        // What `capacity` hands its study: the horizon scale's target and the fit's horizon.
        let spec = loadcast_plan::study_spec(
            &resolved,
            &loadcast_plan::StudySettings {
                scales: Some(vec![loadcast_plan::DataScale::Horizon]),
                ..Default::default()
            },
        );
        let scale_volume = match spec.scales.as_slice() {
            [loadcast_capacity::ScaleTarget::Horizon(Some(v))] => *v,
            other => panic!("{bound}: the horizon scale is {other:?}"),
        };
        assert_eq!(grow_volume, expected, "{bound}");
        assert_eq!(scale_volume, expected, "{bound}");
        assert_eq!(spec.horizon_volume, Some(expected), "{bound}");
        let peak = p.series("requests").unwrap().peak;
        let want = match resolved.traffic_bound {
            Bound::Point => peak.point,
            Bound::Upper80 => peak.hi80,
            Bound::Upper95 => peak.hi95,
        };
        assert_eq!(resolved.traffic_peak(None), Some(want));
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A plan's `[history]` with a pinned shape, events and a resampling: the forecast `grow` and
/// `capacity` make from it is the one `loadcast forecast --plan` makes, pin and all.
#[test]
fn a_plans_history_pins_a_shape_and_keeps_events_out_for_every_command() {
    let dir = std::env::temp_dir().join(format!("loadcast-history-pins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Hourly rows of a table growing linearly, with a one-day burst of writes to keep out.
    let start = 1_730_000_000 / DAY * DAY;
    let mut csv = String::from("time,orders_rows\n");
    for h in 0..(120 * 24) {
        let burst = if (50 * 24..51 * 24).contains(&h) {
            40_000.0
        } else {
            0.0
        };
        let noise = 150.0 * ((h as f64) * 0.7).sin();
        csv.push_str(&format!(
            "{},{:.0}\n",
            start + h * 3600,
            1e6 + 500.0 * h as f64 + burst + noise
        ));
    }
    std::fs::write(dir.join("history.csv"), csv).unwrap();
    let burst_start = start + 50 * DAY;
    std::fs::write(
        dir.join("events.csv"),
        format!("{burst_start},{},bulk import\n", burst_start + DAY),
    )
    .unwrap();
    let text = r#"
target = "http://127.0.0.1:8080"
[[scenario]]
[[scenario.step]]
get = "/"
[load]
model = "closed"
users = 1
duration = "1s"
[history]
csv = "history.csv"
data = { orders = "orders_rows:linear" }
events = "events.csv"
resample = "1d:last"
[horizon]
until = "30d"
"#;
    std::fs::write(dir.join("plan.toml"), text).unwrap();
    let plan = loadcast_plan::load(&dir.join("plan.toml")).unwrap_or_else(|e| panic!("{e}"));
    let shown = plan.describe();
    assert!(
        shown.contains("orders ← orders_rows, pinned linear")
            && shown.contains("resampled to 1day")
            && shown.contains("events kept out of the fit"),
        "{shown}"
    );
    let projection = loadcast_plan::resolve::forecast_history(&plan)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the plan has a history"));
    let orders = &projection.series[0];
    assert!(
        orders
            .notes
            .iter()
            .any(|n| n.contains("pinned to the linear shape")),
        "the pin is followed: {:?}",
        orders.notes
    );
    assert_eq!(
        projection.step_seconds, 86_400,
        "the daily grid the plan asked for"
    );
    assert!(
        projection.notes.iter().any(|n| n.contains("(bulk import)")),
        "the plan's events are kept out: {:?}",
        projection.notes
    );
    // 120 days of +12,000 a day, 30 more: about 1e6 + 150 × 12,000.
    let expected = 1e6 + 150.0 * 12_000.0;
    let at = orders.at_horizon.point;
    assert!(
        (at - expected).abs() / expected < 0.02,
        "the linear growth is projected, not bent by the burst: {at:.0} vs {expected:.0}"
    );

    let missing = text.replace("events.csv", "no-such-events.csv");
    std::fs::write(dir.join("missing.toml"), missing).unwrap();
    let e = loadcast_plan::load(&dir.join("missing.toml"))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("history.events") || e.contains("no such file"),
        "a missing events file is named: {e}"
    );
    let e = loadcast_plan::load(&{
        std::fs::write(
            dir.join("resample.toml"),
            text.replace("1d:last", "1d:median"),
        )
        .unwrap();
        dir.join("resample.toml")
    })
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(e.contains("is not an aggregate"), "{e}");

    // `tz` puts the hourly history on Berlin's clock for forecast, grow, capacity and watch.
    let local = text.replace("resample = \"1d:last\"", "tz = \"Europe/Berlin\"")
        + "[watch]\nprometheus = \"http://127.0.0.1:9\"\ntraffic = \"sum(rate(requests[5m]))\"\n";
    std::fs::write(dir.join("local.toml"), local).unwrap();
    let plan = loadcast_plan::load(&dir.join("local.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        plan.describe()
            .contains("modelled on Europe/Berlin's wall clock"),
        "{}",
        plan.describe()
    );
    let projection = loadcast_plan::resolve::forecast_history(&plan)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the plan has a history"));
    assert_eq!(projection.grid, "1 hour on Europe/Berlin's wall clock");
    let spec = plan
        .watch
        .clone()
        .unwrap_or_else(|| panic!("the plan has [watch]"));
    let inputs = loadcast_plan::watch::watch_inputs(&plan, &spec, None, start + 120 * DAY);
    assert_eq!(
        inputs.clock.as_ref().map(|c| c.name()),
        Some("Europe/Berlin")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `grow` resolves a table's "horizon" through [`loadcast_plan::resolve::GrowthGoals`]: the
/// same volume as `capacity`, and what the forecast of it carries (a trend that broke inside
/// the history) beside it, so that a table is not grown to a guess without a word.
#[test]
fn a_table_grown_to_the_horizon_carries_its_forecasts_cautions() {
    use loadcast_plan::resolve::GrowthGoals;
    let dir = std::env::temp_dir().join(format!("loadcast-cautions-{}", std::process::id()));
    let plan = plan(&dir, "p80");
    let tables = &plan.database.as_ref().unwrap().tables;

    let steady = projection();
    let goals = GrowthGoals::new(tables, [])
        .and_then(|g| g.at_horizon(Some(&steady), Bound::Upper80))
        .unwrap_or_else(|e| panic!("{e}"));
    let targets = goals.horizon_targets();
    let resolved = ResolvedPlan::with_projection(&plan, Some(steady.clone()));
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert_eq!(
        (targets[0].table, targets[0].series, targets[0].rows),
        (
            "orders",
            "orders_rows",
            resolved.horizon_volumes()["orders_rows"]
        )
    );
    assert!(targets[0].cautions.is_empty(), "{targets:?}");

    // 2,000 rows a day for 250 days, then 9,000 a day after a launch.
    let start = 1_730_000_000 / DAY * DAY;
    let orders = (0..400)
        .map(|d: i64| {
            let rows = 1e6 + 2_000.0 * d.min(250) as f64 + 9_000.0 * (d - 250).max(0) as f64;
            (
                start + d * DAY,
                rows * (1.0 + 0.001 * ((d as f64) * 1.7).sin()),
            )
        })
        .collect();
    let history = History::from_points(
        "test",
        None,
        vec![("orders_rows".into(), SeriesKind::Data, orders)],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let launched = project(
        &history,
        &Options::horizon(Duration::from_secs(90 * DAY as u64)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let goals = GrowthGoals::new(tables, [])
        .and_then(|g| g.at_horizon(Some(&launched), Bound::Upper80))
        .unwrap_or_else(|e| panic!("{e}"));
    let targets = goals.horizon_targets();
    let cautions = targets.first().map_or(&[][..], |t| t.cautions);
    assert!(
        cautions
            .iter()
            .any(|c| c.contains("its trend changed around")
                && c.contains("holds only if that change lasts")),
        "{targets:?}"
    );

    // No forecast at all: a table that grows to the horizon is refused, as before.
    let refused = GrowthGoals::new(tables, []).and_then(|g| g.at_horizon(None, Bound::Point));
    assert!(refused.is_err(), "{refused:?}");
}
