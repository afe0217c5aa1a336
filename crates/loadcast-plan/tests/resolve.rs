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
