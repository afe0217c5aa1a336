//! The forecast's charts: the traffic fan against the capacity the data leaves, with dates on
//! the time axis, and the runway of each view in days.

use loadcast_capacity::runway::Runway;
use loadcast_forecast::SeriesProjection;
use loadcast_stats::time::format_date;
use plotters::prelude::*;

use super::{BLUE, GREEN, Key, RED_, Swatch, bounds, chart_on, grid, svg};

/// The traffic forecast as a fan (history, point, 80% and 95% bands), the capacity the data
/// leaves over time, and the two runway dates.
pub fn forecast_fan(
    traffic: &SeriesProjection,
    runway: Option<&Runway>,
    capacity: Option<&[(f64, f64)]>,
) -> Option<String> {
    if traffic.path.is_empty() {
        return None;
    }
    let day = 86_400.0;
    let t0 = traffic.history.first().map_or(traffic.path[0].t, |h| h.0) as f64;
    let x = |t: i64| (t as f64 - t0) / day;
    let history: Vec<(f64, f64)> = traffic.history.iter().map(|(t, v)| (x(*t), *v)).collect();
    let point: Vec<(f64, f64)> = traffic
        .path
        .iter()
        .map(|p| (x(p.t), p.band.point))
        .collect();
    let x_hi = point.last().map_or(1.0, |p| p.0);
    let (_, hi) = bounds(
        history
            .iter()
            .map(|p| p.1)
            .chain(traffic.path.iter().map(|p| p.band.hi95))
            .chain(capacity.unwrap_or(&[]).iter().map(|c| c.1)),
    );
    let band = |lo: &dyn Fn(&loadcast_forecast::PathPoint) -> f64,
                hi: &dyn Fn(&loadcast_forecast::PathPoint) -> f64|
     -> Vec<(f64, f64)> {
        let mut polygon: Vec<(f64, f64)> = traffic.path.iter().map(|p| (x(p.t), hi(p))).collect();
        polygon.extend(traffic.path.iter().rev().map(|p| (x(p.t), lo(p))));
        polygon
    };
    let band95 = band(&|p| p.band.lo95, &|p| p.band.hi95);
    let band80 = band(&|p| p.band.lo80, &|p| p.band.hi80);
    svg(|area| {
        let mut chart = chart_on(
            area,
            &format!(
                "Forecast of {} (80% and 95% bands){}",
                traffic.name,
                if capacity.is_some() {
                    " against capacity"
                } else {
                    ""
                }
            ),
        )
        .build_cartesian_2d(0f64..x_hi, 0f64..hi * 1.05)?;
        // Days on the scale (ticks fall on whole days), dates on the labels.
        grid(&mut chart.configure_mesh())
            .x_desc("date (UTC)")
            .x_labels(7)
            .x_label_formatter(&|d| format_date((t0 + d * day).round() as i64))
            .y_desc(format!("{} (per second)", traffic.name))
            .draw()?;
        let mut key = vec![
            ("95% band".to_string(), Swatch::Fill(BLUE.mix(0.15))),
            ("80% band".to_string(), Swatch::Fill(BLUE.mix(0.3))),
            ("history".to_string(), Swatch::Line(BLACK, 1)),
            ("forecast".to_string(), Swatch::Line(BLUE, 2)),
        ];
        chart.draw_series(std::iter::once(Polygon::new(band95, BLUE.mix(0.15))))?;
        chart.draw_series(std::iter::once(Polygon::new(band80, BLUE.mix(0.3))))?;
        chart.draw_series(LineSeries::new(history, BLACK))?;
        chart.draw_series(LineSeries::new(point, BLUE.stroke_width(2)))?;
        if let Some(capacity) = capacity {
            let line: Vec<(f64, f64)> = capacity.iter().map(|(t, c)| (x(*t as i64), *c)).collect();
            chart.draw_series(LineSeries::new(line, RED_.stroke_width(2)))?;
            key.push((
                "capacity as the data grows".to_string(),
                Swatch::Line(RED_, 2),
            ));
        }
        if let Some(r) = runway {
            let data_aware = r.data_view().map(|v| (v, RED_, "runs out (data-aware)"));
            for (view, color, name) in
                data_aware
                    .into_iter()
                    .chain([(&r.traffic_only, GREEN, "runs out (traffic-only)")])
            {
                if let Some(t) = view.runs_out {
                    let at = x(t);
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(at, 0.0), (at, hi * 1.05)],
                        color.stroke_width(2),
                    )))?;
                    key.push((name.to_string(), Swatch::Tick(color)));
                }
            }
        }
        Ok(key)
    })
}

/// Days of runway, traffic-only beside data-aware, with 10–90% whiskers; a bar reaching the
/// horizon means "not within the horizon".
pub fn runway_comparison(runway: &Runway) -> Option<String> {
    let horizon_days = (runway.horizon - runway.now) as f64 / 86_400.0;
    if horizon_days <= 0.0 {
        return None;
    }
    let days = |t: Option<i64>| t.map_or(horizon_days, |t| (t - runway.now) as f64 / 86_400.0);
    let views: Vec<_> = std::iter::once(("traffic-only", &runway.traffic_only, GREEN))
        .chain(runway.data_view().map(|v| ("data-aware", v, RED_)))
        .collect();
    let rows = views.len() as f64;
    svg(|area| {
        let mut chart = chart_on(
            area,
            "Runway: days until projected peak traffic exceeds capacity",
        )
        .y_label_area_size(110)
        .build_cartesian_2d(0f64..horizon_days * 1.05, 0f64..rows)?;
        grid(&mut chart.configure_mesh())
            .disable_y_mesh()
            .y_labels(5)
            .y_label_formatter(&|v| {
                views
                    .iter()
                    .enumerate()
                    .find(|(i, _)| (*v - (*i as f64 + 0.5)).abs() < 0.3)
                    .map_or(String::new(), |(_, (name, _, _))| name.to_string())
            })
            .x_desc("days from now (the horizon is the right end)")
            .draw()?;
        let mut key: Key = Vec::new();
        for (i, (name, view, color)) in views.iter().enumerate() {
            let y = i as f64;
            let d = days(view.runs_out);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y + 0.25), (d, y + 0.75)],
                color.mix(0.7).filled(),
            )))?;
            key.push((
                format!(
                    "{name}: {}",
                    view.runs_out
                        .map_or("not within the horizon".into(), format_date)
                ),
                Swatch::Fill(color.mix(0.7)),
            ));
            if view.runs_out_p10.is_some() || view.runs_out_p90.is_some() {
                let (a, b) = (days(view.runs_out_p10), days(view.runs_out_p90));
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(a, y + 0.5), (b, y + 0.5)],
                    BLACK.stroke_width(2),
                )))?;
            }
        }
        Ok(key)
    })
}
