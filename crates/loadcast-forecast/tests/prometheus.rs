//! History from a real Prometheus: values come back exactly as written, projected like CSV
//! history, and every failure (no data, several series, bad PromQL, no server) is a clear error.

use std::time::Duration;

use loadcast_forecast::clock::WallClock;
use loadcast_forecast::history::SeriesKind;
use loadcast_forecast::prometheus::{PromSeries, query_range};
use loadcast_forecast::source::{HistorySource, PrometheusWindow};
use loadcast_forecast::{Options, project};
use loadcast_testkit::prometheus::{Prometheus, openmetrics};

const HOUR: i64 = 3600;

fn rps(t: i64) -> f64 {
    let hour = (t / HOUR) % 24;
    (100.0 + 60.0 * ((hour as f64 - 6.0) / 24.0 * std::f64::consts::TAU).sin()).round()
}

fn rows(t: i64, start: i64) -> f64 {
    (1.0e6 * (1.0 + 0.002 * ((t - start) / HOUR) as f64)).round()
}

#[test]
fn prometheus_history_round_trips_and_projects() {
    let now = loadcast_forecast::history::now();
    let end = now - now % HOUR - 2 * HOUR;
    let start = end - 35 * 24 * HOUR;
    let hours: Vec<i64> = (0..=35 * 24).map(|i| start + i * HOUR).collect();
    let history = openmetrics(&[
        (
            r#"shop_requests_per_second{job="shop"}"#,
            hours.iter().map(|t| (*t, rps(*t))).collect(),
        ),
        (
            r#"pg_table_rows{table="orders"}"#,
            hours.iter().map(|t| (*t, rows(*t, start))).collect(),
        ),
        (
            r#"shop_replica_rps{replica="a"}"#,
            hours.iter().map(|t| (*t, 1.0)).collect(),
        ),
        (
            r#"shop_replica_rps{replica="b"}"#,
            hours.iter().map(|t| (*t, 2.0)).collect(),
        ),
    ]);
    let prometheus = Prometheus::start_with_history(&history);
    let series = [
        PromSeries::new(
            "rps",
            r#"shop_requests_per_second{job="shop"}"#,
            SeriesKind::Traffic,
        ),
        PromSeries::new(
            "orders",
            r#"pg_table_rows{table="orders"}"#,
            SeriesKind::Data,
        ),
    ];
    let step = Duration::from_secs(HOUR as u64);
    let timeout = Duration::from_secs(10);
    let h = query_range(&prometheus.url(), &series, start, end, step, timeout).unwrap();
    assert_eq!(h.start, start);
    assert_eq!(h.len(), hours.len());
    assert!(h.notes.is_empty(), "{:?}", h.notes);
    for (i, t) in hours.iter().enumerate() {
        assert_eq!(h.series[0].values[i], rps(*t), "rps at {t}");
        assert_eq!(h.series[1].values[i], rows(*t, start), "rows at {t}");
    }
    let p = project(
        &h,
        &Options::horizon(Duration::from_secs(7 * 24 * HOUR as u64)),
    )
    .unwrap();
    let rps_projection = p.series("rps").unwrap();
    // A repeating daily curve: the peak ahead is today's peak, within 5%.
    assert!(
        (rps_projection.peak.point / 160.0 - 1.0).abs() < 0.05,
        "{rps_projection:?}"
    );
    let orders = p.series("orders").unwrap();
    let expected = rows(end + 7 * 24 * HOUR, start);
    assert!((orders.at_horizon.point / expected - 1.0).abs() < 0.02);

    // The same samples on a local wall clock (India's, +05:30 all year): the grid moves by
    // the offset, the values do not, and the times written out are the same instants.
    let kolkata = WallClock::new("Asia/Kolkata").unwrap();
    let source = HistorySource::Prometheus {
        url: prometheus.url(),
        series: series.to_vec(),
        window: PrometheusWindow {
            since: Duration::from_secs((end - start) as u64),
            until: Some(end),
            step,
        },
    };
    let local = source
        .read_prepared(None, Some(&kolkata))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(local.len(), h.len());
    assert_eq!(local.wall_time(0), start + 19_800);
    assert_eq!((local.time_of(0), local.end()), (h.time_of(0), h.end()));
    assert_eq!(local.series[0].values, h.series[0].values);

    let err = |query: &str| {
        query_range(
            &prometheus.url(),
            &[PromSeries::new("x", query, SeriesKind::Traffic)],
            start,
            end,
            step,
            timeout,
        )
        .unwrap_err()
        .to_string()
    };
    let e = err("no_such_metric");
    assert!(
        e.contains("query for series x (no_such_metric) returned no data between"),
        "{e}"
    );
    let e = err("shop_replica_rps");
    assert!(e.contains("returned 2 series") && e.contains("sum("), "{e}");
    let e = err("sum(");
    assert!(
        e.contains("query for series x failed (400)") && e.contains("parse error"),
        "{e}"
    );
    // The same queries summed are fine.
    assert!(
        query_range(
            &prometheus.url(),
            &[PromSeries::new(
                "x",
                "sum(shop_replica_rps)",
                SeriesKind::Traffic
            )],
            start,
            end,
            step,
            timeout,
        )
        .unwrap()
        .series[0]
            .values
            .iter()
            .all(|v| *v == 3.0)
    );

    let port = prometheus.port;
    drop(prometheus);
    let e = query_range(
        &format!("http://127.0.0.1:{port}"),
        &series,
        start,
        end,
        step,
        timeout,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with(&format!(
            "Prometheus at http://127.0.0.1:{port}: unreachable"
        )),
        "{e}"
    );
}
