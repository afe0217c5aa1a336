//! A run's charts: throughput against the schedule, latency over time and as a distribution,
//! errors by kind.

use loadcast_stats::RunResult;
use plotters::prelude::*;

use super::{
    BLUE, GREEN, GREY, Key, Line, MAX_POINTS, ORANGE, PALETTE, RED_, Swatch, bounds, chart_on,
    downsample, grid, svg,
};

/// Requests completed and sent each second, and the arrivals the open model's schedule asked
/// for: a rate that falls behind its schedule shows as a gap between the lines.
pub fn throughput(result: &RunResult) -> Option<String> {
    if result.timeline.is_empty() {
        return None;
    }
    let series = |f: fn(&loadcast_stats::Second) -> u64| -> Vec<(f64, f64)> {
        let points: Vec<(f64, f64)> = result
            .timeline
            .iter()
            .map(|s| (f64::from(s.t), f(s) as f64))
            .collect();
        downsample(&points, MAX_POINTS)
    };
    let (done, sent, scheduled) = (
        series(|s| s.completed),
        series(|s| s.sent),
        series(|s| s.scheduled),
    );
    let open = result.timeline.iter().any(|s| s.scheduled > 0);
    let x_max = done.last().map_or(1.0, |p| p.0).max(1.0);
    let (_, y_max) = bounds(done.iter().chain(&sent).chain(&scheduled).map(|p| p.1));
    svg(|area| {
        let mut chart = chart_on(area, "Throughput over time")
            .build_cartesian_2d(0f64..x_max, 0f64..(y_max * 1.1).max(1.0))?;
        grid(&mut chart.configure_mesh())
            .x_desc("seconds since start")
            .y_desc("per second")
            .draw()?;
        let mut key: Key = Vec::new();
        if open {
            chart.draw_series(DashedLineSeries::new(
                scheduled,
                6,
                4,
                BLACK.stroke_width(2),
            ))?;
            key.push((
                "arrivals scheduled/s (iterations)".into(),
                Swatch::Dashed(BLACK),
            ));
        }
        chart.draw_series(LineSeries::new(done, BLUE.stroke_width(2)))?;
        key.push(("requests completed/s".into(), Swatch::Line(BLUE, 2)));
        chart.draw_series(LineSeries::new(sent, GREY))?;
        key.push(("requests sent/s".into(), Swatch::Line(GREY, 1)));
        Ok(key)
    })
}

/// p50, p90 and p99 of each second, milliseconds.
pub fn latency_over_time(result: &RunResult) -> Option<String> {
    let series: Vec<(&str, f64, RGBColor)> = vec![
        ("p50", 0.5, GREEN),
        ("p90", 0.9, ORANGE),
        ("p99", 0.99, RED_),
    ];
    let lines: Vec<Line<'_>> = series
        .iter()
        .map(|(name, q, color)| {
            let points: Vec<(f64, f64)> = result
                .timeline
                .iter()
                .filter(|s| s.latency.count() > 0)
                .map(|s| {
                    (
                        f64::from(s.t),
                        (s.latency.quantile(*q).as_secs_f64() * 1e3).max(0.01),
                    )
                })
                .collect();
            (*name, *color, downsample(&points, MAX_POINTS))
        })
        .collect();
    if lines.iter().all(|l| l.2.is_empty()) {
        return None;
    }
    let x_max = result
        .timeline
        .last()
        .map_or(1.0, |s| f64::from(s.t))
        .max(1.0);
    let (_, hi) = bounds(lines.iter().flat_map(|l| l.2.iter().map(|p| p.1)));
    svg(|area| {
        let mut chart = chart_on(area, "Latency over time (from intended start)")
            .build_cartesian_2d(0f64..x_max, 0f64..hi * 1.15)?;
        grid(&mut chart.configure_mesh())
            .x_desc("seconds since start")
            .y_desc("milliseconds")
            .draw()?;
        let mut key: Key = Vec::new();
        for (name, color, points) in lines {
            chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?;
            key.push((name.to_string(), Swatch::Line(color, 2)));
        }
        Ok(key)
    })
}

/// The whole-run latency distribution: percentile on a log axis (nines), latency in ms.
pub fn latency_distribution(result: &RunResult) -> Option<String> {
    let total = result.total();
    if total.latency.count() == 0 {
        return None;
    }
    // x = nines: 0 → p0, 1 → p90, 2 → p99, 3 → p99.9, 4 → p99.99.
    let at = |histogram: &loadcast_stats::LatencyHistogram| -> Vec<(f64, f64)> {
        (0..=160)
            .map(|i| {
                let nines = f64::from(i) / 40.0;
                let q = 1.0 - 10f64.powf(-nines);
                (nines, (histogram.quantile(q).as_secs_f64() * 1e3).max(0.01))
            })
            .collect()
    };
    let (points, service) = (at(&total.latency), at(&total.service));
    let (_, hi) = bounds(points.iter().chain(&service).map(|p| p.1));
    svg(|area| {
        let mut chart = chart_on(area, "Latency distribution (log percentile axis)")
            .margin_right(30)
            .build_cartesian_2d(0f64..4f64, 0f64..hi * 1.1)?;
        grid(&mut chart.configure_mesh())
            .x_desc("percentile (one step per nine)")
            .y_desc("milliseconds")
            .x_labels(5)
            .x_label_formatter(&|n| match n.round() as i32 {
                0 => "p0".into(),
                1 => "p90".into(),
                2 => "p99".into(),
                3 => "p99.9".into(),
                _ => "p99.99".into(),
            })
            .draw()?;
        chart.draw_series(LineSeries::new(points, BLUE.stroke_width(2)))?;
        chart.draw_series(LineSeries::new(service, GREY))?;
        Ok(vec![
            ("from intended start".into(), Swatch::Line(BLUE, 2)),
            ("service time (from send)".into(), Swatch::Line(GREY, 1)),
        ])
    })
}

/// Errors per second by kind (a flat zero line when there were none).
pub fn errors_over_time(result: &RunResult) -> Option<String> {
    if result.timeline.is_empty() {
        return None;
    }
    let mut kinds: Vec<loadcast_stats::ErrorKind> = result
        .timeline
        .iter()
        .flat_map(|s| s.errors.keys().copied())
        .collect();
    kinds.sort();
    kinds.dedup();
    let x_max = result
        .timeline
        .last()
        .map_or(1.0, |s| f64::from(s.t))
        .max(1.0);
    let lines: Vec<(String, Vec<(f64, f64)>)> = if kinds.is_empty() {
        vec![(
            "no errors".to_string(),
            result
                .timeline
                .iter()
                .map(|s| (f64::from(s.t), 0.0))
                .collect(),
        )]
    } else {
        kinds
            .iter()
            .map(|k| {
                let points: Vec<(f64, f64)> = result
                    .timeline
                    .iter()
                    .map(|s| (f64::from(s.t), s.errors.get(k).copied().unwrap_or(0) as f64))
                    .collect();
                (k.name(), downsample(&points, MAX_POINTS))
            })
            .collect()
    };
    let (_, hi) = bounds(lines.iter().flat_map(|l| l.1.iter().map(|p| p.1)));
    svg(|area| {
        let mut chart = chart_on(area, "Errors over time, by kind")
            .build_cartesian_2d(0f64..x_max, 0f64..(hi * 1.1).max(1.0))?;
        grid(&mut chart.configure_mesh())
            .x_desc("seconds since start")
            .y_desc("errors per second")
            .draw()?;
        let mut key: Key = Vec::new();
        for (i, (name, points)) in lines.into_iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?;
            key.push((name, Swatch::Line(color, 2)));
        }
        Ok(key)
    })
}
