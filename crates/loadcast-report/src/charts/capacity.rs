//! A capacity study's charts: each scale's curve of p99 against arrival rate with the SLO it was
//! held to, and capacity against data volume with the fit and the horizon's prediction.

use loadcast_capacity::CapacityStudy;
use loadcast_stats::slo::Metric;
use plotters::prelude::*;

use super::{BLUE, FONT, Key, PALETTE, RED_, Swatch, bounds, chart_on, grid, svg};

/// The p99 limit (seconds) the whole run was held to, when the plan had one.
fn p99_limit(study: &CapacityStudy) -> Option<f64> {
    study
        .thresholds
        .iter()
        .find(|t| {
            t.scope.is_none()
                && matches!(t.metric, Metric::Latency { quantile } if (quantile - 0.99).abs() < 1e-9)
        })
        .map(|t| t.limit)
}

/// The capacity curve of each scale: arrival rate → p99 (log), errors on the right axis, and
/// the p99 SLO as the line a step had to stay under.
pub fn capacity_curve(study: &CapacityStudy) -> Option<String> {
    let steps: Vec<(&str, Vec<&loadcast_capacity::search::Step>)> = study
        .scales
        .iter()
        .map(|s| {
            let mut steps: Vec<_> = s
                .breaking_point
                .steps
                .iter()
                .filter(|st| st.valid)
                .collect();
            steps.sort_by(|a, b| a.rate.total_cmp(&b.rate));
            (s.scale.as_str(), steps)
        })
        .filter(|(_, s)| !s.is_empty())
        .collect();
    if steps.is_empty() {
        return None;
    }
    let slo_ms = p99_limit(study).map(|s| s * 1e3);
    let (x_lo, x_hi) = bounds(steps.iter().flat_map(|s| s.1.iter().map(|st| st.rate)));
    let (lo, hi) = bounds(
        steps
            .iter()
            .flat_map(|s| s.1.iter().map(|st| st.p99_ms.max(0.01)))
            .chain(slo_ms),
    );
    let err_hi = steps
        .iter()
        .flat_map(|s| s.1.iter().map(|st| st.error_rate * 100.0))
        .fold(1.0, f64::max);
    let x_range = x_lo * 0.9..x_hi * 1.05;
    svg(|area| {
        let mut chart = chart_on(
            area,
            "Capacity curve: arrival rate → p99 (solid), errors (dashed)",
        )
        .right_y_label_area_size(50)
        .build_cartesian_2d(
            x_range.clone(),
            ((lo * 0.8).max(0.01)..hi * 1.5).log_scale(),
        )?
        .set_secondary_coord(x_range.clone(), 0f64..err_hi * 1.1);
        grid(&mut chart.configure_mesh())
            .x_desc("arrival rate (iterations per second)")
            .y_desc("p99, milliseconds (log)")
            .y_labels(6)
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_desc("errors %")
            .label_style((FONT, 11))
            .draw()?;
        let mut key: Key = Vec::new();
        if let Some(slo) = slo_ms {
            chart.draw_series(DashedLineSeries::new(
                vec![(x_range.start, slo), (x_range.end, slo)],
                8,
                4,
                BLUE.stroke_width(2),
            ))?;
            key.push((
                format!(
                    "SLO p99 <= {}",
                    loadcast_stats::format_duration(std::time::Duration::from_secs_f64(slo / 1e3))
                ),
                Swatch::Dashed(BLUE),
            ));
        }
        for (i, (scale, steps)) in steps.into_iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let p99: Vec<(f64, f64)> = steps.iter().map(|s| (s.rate, s.p99_ms.max(0.01))).collect();
            chart.draw_series(LineSeries::new(p99.clone(), color.stroke_width(2)))?;
            key.push((format!("p99 at {scale} data"), Swatch::Line(color, 2)));
            chart.draw_series(p99.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
            let errors: Vec<(f64, f64)> = steps
                .iter()
                .map(|s| (s.rate, s.error_rate * 100.0))
                .collect();
            chart.draw_secondary_series(DashedLineSeries::new(errors, 4, 3, color.into()))?;
        }
        key.push(("errors (right axis)".to_string(), Swatch::Dashed(BLACK)));
        Ok(key)
    })
}

/// Measured capacity at each data volume, the fitted curve and the horizon's prediction.
pub fn capacity_vs_data(study: &CapacityStudy) -> Option<String> {
    let model = study.data_model.as_ref()?;
    let horizon = study.horizon_volume;
    let x_hi = horizon.unwrap_or(0.0).max(model.measured_up_to()) * 1.1;
    let measured: Vec<(f64, f64)> = model
        .points
        .iter()
        .map(|p| (p.volume, p.capacity))
        .collect();
    let (_, hi) = bounds(measured.iter().map(|p| p.1));
    // The fit is only drawn from half the smallest measured volume on, and only where it stays
    // near the measurements: a curve bending faster than linear has a pole at small volumes
    // that would otherwise flatten everything else.
    let x_lo = measured.iter().map(|p| p.0).fold(f64::INFINITY, f64::min) * 0.5;
    let curve: Vec<(f64, f64)> = (0..=200)
        .map(|i| {
            let v = x_lo + (x_hi - x_lo) * f64::from(i) / 200.0;
            (v, model.predict(v).capacity)
        })
        .filter(|p| p.1.is_finite() && p.1 > 0.0 && p.1 <= hi * 1.2)
        .collect();
    svg(|area| {
        let mut chart = chart_on(area, "Capacity against data volume")
            .build_cartesian_2d(0f64..x_hi, 0f64..hi * 1.2)?;
        grid(&mut chart.configure_mesh())
            .x_desc("rows")
            .y_desc("capacity (arrivals per second)")
            .x_label_formatter(&|v| crate::si(*v))
            .draw()?;
        chart.draw_series(LineSeries::new(curve, BLUE.stroke_width(2)))?;
        chart.draw_series(measured.iter().map(|p| Circle::new(*p, 5, BLACK.filled())))?;
        let mut key: Key = vec![
            (
                format!("fit: {}", model.form.formula()),
                Swatch::Line(BLUE, 2),
            ),
            (
                "measured (breaking-point search)".into(),
                Swatch::Dot(BLACK),
            ),
        ];
        if let (Some(h), Some(p)) = (horizon, study.at_horizon) {
            let top = if p.high.is_finite() {
                p.high.min(hi * 1.2)
            } else {
                hi * 1.2
            };
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(h, p.low), (h, top)],
                RED_.stroke_width(2),
            )))?;
            chart.draw_series(std::iter::once(Circle::new(
                (h, p.capacity),
                5,
                RED_.filled(),
            )))?;
            key.push((
                "predicted at the horizon's volume (95%)".into(),
                Swatch::Dot(RED_),
            ));
        }
        Ok(key)
    })
}
