//! Charts as inline SVG (plotters), with axes, units and legends. Long series are downsampled
//! before drawing (bucket maxima for latency and rates, so spikes survive).

use loadcast_capacity::CapacityStudy;
use loadcast_capacity::runway::Runway;
use loadcast_forecast::SeriesProjection;
use loadcast_stats::RunResult;
use plotters::prelude::*;

const W: u32 = 760;
const H: u32 = 300;
const FONT: &str = "sans-serif";
/// Room to the right of a plot whose legend sits beside it.
const LEGEND_BESIDE: u32 = 200;
/// Most points a line is drawn with.
const MAX_POINTS: usize = 600;

const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN: RGBColor = RGBColor(44, 160, 44);
const RED_: RGBColor = RGBColor(214, 39, 40);
const PURPLE: RGBColor = RGBColor(148, 103, 189);
const GREY: RGBColor = RGBColor(127, 127, 127);
const PALETTE: [RGBColor; 6] = [RED_, ORANGE, PURPLE, BLUE, GREEN, GREY];

/// Bucket maxima: at most `max` points, each the largest of its bucket.
fn downsample(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max {
        return points.to_vec();
    }
    let per = points.len().div_ceil(max);
    points
        .chunks(per)
        .map(|c| {
            c.iter()
                .copied()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or(c[0])
        })
        .collect()
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        (0.0, 1.0)
    } else if (hi - lo).abs() < 1e-12 {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    }
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// A named, coloured series of points.
type Line<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

fn svg(
    draw: impl FnOnce(DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Drawn,
) -> Option<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        if root.fill(&WHITE).is_err() {
            return None;
        }
        draw(root.clone()).ok()?;
        root.present().ok()?;
    }
    Some(out)
}

fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    legend_at(chart, SeriesLabelPosition::UpperRight)
}

fn legend_at<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Drawn
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 12))
        .draw()?;
    Ok(())
}

/// A chart in the report's layout: its caption, margins and label areas.
fn chart_on<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(caption, (FONT, 16))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(60);
    builder
}

/// The report's grid: light lines only, small labels.
fn grid<'m, 'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend>(
    mesh: &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB> {
    mesh.light_line_style(WHITE.mix(0.0))
        .bold_line_style(RGBColor(230, 230, 230))
        .label_style((FONT, 11))
}

/// A legend entry that shows a line in `style`.
fn line_key(style: impl Into<ShapeStyle>) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    let style = style.into();
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style)
}

/// Completed and sent requests per second.
pub fn throughput(result: &RunResult) -> Option<String> {
    if result.timeline.is_empty() {
        return None;
    }
    let done: Vec<(f64, f64)> = result
        .timeline
        .iter()
        .map(|s| (f64::from(s.t), s.completed as f64))
        .collect();
    let sent: Vec<(f64, f64)> = result
        .timeline
        .iter()
        .map(|s| (f64::from(s.t), s.sent as f64))
        .collect();
    let (done, sent) = (downsample(&done, MAX_POINTS), downsample(&sent, MAX_POINTS));
    let x_max = done.last().map_or(1.0, |p| p.0).max(1.0);
    let (_, y_max) = bounds(done.iter().chain(&sent).map(|p| p.1));
    svg(|root| {
        let mut chart = chart_on(&root, "Throughput over time")
            .build_cartesian_2d(0f64..x_max, 0f64..(y_max * 1.1).max(1.0))?;
        grid(&mut chart.configure_mesh())
            .x_desc("seconds since start")
            .y_desc("requests per second")
            .draw()?;
        chart
            .draw_series(LineSeries::new(done, BLUE.stroke_width(2)))?
            .label("completed/s")
            .legend(line_key(BLUE.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(sent, GREY))?
            .label("sent/s")
            .legend(line_key(GREY));
        legend(&mut chart)
    })
}

/// p50, p90 and p99 of each second, milliseconds on a log axis.
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
    svg(|root| {
        let mut chart = chart_on(&root, "Latency percentiles over time (from intended start)")
            .build_cartesian_2d(0f64..x_max, 0f64..hi * 1.15)?;
        grid(&mut chart.configure_mesh())
            .x_desc("seconds since start")
            .y_desc("milliseconds")
            .draw()?;
        for (name, color, points) in lines {
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(name)
                .legend(line_key(color.stroke_width(2)));
        }
        legend(&mut chart)
    })
}

/// The whole-run latency distribution: percentile on a log axis (nines), latency on a log axis.
pub fn latency_distribution(result: &RunResult) -> Option<String> {
    let total = result.total();
    if total.latency.count() == 0 {
        return None;
    }
    // x = nines: 0 → p0, 1 → p90, 2 → p99, 3 → p99.9, 4 → p99.99.
    let points: Vec<(f64, f64)> = (0..=160)
        .map(|i| {
            let nines = f64::from(i) / 40.0;
            let q = 1.0 - 10f64.powf(-nines);
            (
                nines,
                (total.latency.quantile(q).as_secs_f64() * 1e3).max(0.01),
            )
        })
        .collect();
    let service: Vec<(f64, f64)> = points
        .iter()
        .map(|(n, _)| {
            let q = 1.0 - 10f64.powf(-n);
            (
                *n,
                (total.service.quantile(q).as_secs_f64() * 1e3).max(0.01),
            )
        })
        .collect();
    let (_, hi) = bounds(points.iter().chain(&service).map(|p| p.1));
    svg(|root| {
        let mut chart = chart_on(
            &root,
            "Latency distribution (percentile plot, log percentile axis)",
        )
        .margin_right(30)
        .build_cartesian_2d(0f64..4f64, 0f64..hi * 1.1)?;
        grid(&mut chart.configure_mesh())
            .x_desc("percentile (p90, p99, p99.9: one step per nine)")
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
        chart
            .draw_series(LineSeries::new(points, BLUE.stroke_width(2)))?
            .label("from intended start")
            .legend(line_key(BLUE.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(service, GREY))?
            .label("service time (from send)")
            .legend(line_key(GREY));
        legend(&mut chart)
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
    svg(|root| {
        let mut chart = chart_on(&root, "Errors over time, by kind")
            .build_cartesian_2d(0f64..x_max, 0f64..(hi * 1.1).max(1.0))?;
        grid(&mut chart.configure_mesh())
            .x_desc("seconds since start")
            .y_desc("errors per second")
            .draw()?;
        for (i, (name, points)) in lines.into_iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(name)
                .legend(line_key(color.stroke_width(2)));
        }
        legend(&mut chart)
    })
}

/// The capacity curve of each scale: arrival rate → p99 (log), errors on the right axis.
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
    let (x_lo, x_hi) = bounds(steps.iter().flat_map(|s| s.1.iter().map(|st| st.rate)));
    let (lo, hi) = bounds(
        steps
            .iter()
            .flat_map(|s| s.1.iter().map(|st| st.p99_ms.max(0.01))),
    );
    let err_hi = steps
        .iter()
        .flat_map(|s| s.1.iter().map(|st| st.error_rate * 100.0))
        .fold(1.0, f64::max);
    svg(|root| {
        // The legend beside the plot: p99 climbs into the top right and, at a large data
        // scale, the top left too.
        let (plot_area, legend_area) = root.split_horizontally(W - LEGEND_BESIDE);
        let mut chart = chart_on(
            &plot_area,
            "Capacity curve: arrival rate → p99 (solid) and errors (dashed)",
        )
        .right_y_label_area_size(50)
        .build_cartesian_2d(
            x_lo * 0.9..x_hi * 1.05,
            ((lo * 0.8).max(0.01)..hi * 1.5).log_scale(),
        )?
        .set_secondary_coord(x_lo * 0.9..x_hi * 1.05, 0f64..err_hi * 1.1);
        grid(&mut chart.configure_mesh())
            .x_desc("arrival rate (per second)")
            .y_desc("p99, milliseconds (log)")
            .y_labels(6)
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_desc("errors %")
            .label_style((FONT, 11))
            .draw()?;
        let mut key = Vec::new();
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
        legend_beside(&legend_area, &key)
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
    svg(|root| {
        let mut chart = chart_on(&root, "Capacity against data volume")
            .build_cartesian_2d(0f64..x_hi, 0f64..hi * 1.2)?;
        grid(&mut chart.configure_mesh())
            .x_desc("rows")
            .y_desc("capacity (arrivals per second)")
            .x_label_formatter(&|v| crate::si(*v))
            .draw()?;
        chart
            .draw_series(LineSeries::new(curve, BLUE.stroke_width(2)))?
            .label(format!("fit: {}", model.form.formula()))
            .legend(line_key(BLUE.stroke_width(2)));
        chart
            .draw_series(measured.iter().map(|p| Circle::new(*p, 5, BLACK.filled())))?
            .label("measured (breaking-point search)")
            .legend(|(x, y)| Circle::new((x + 9, y), 4, BLACK.filled()));
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
            chart
                .draw_series(std::iter::once(Circle::new(
                    (h, p.capacity),
                    5,
                    RED_.filled(),
                )))?
                .label("predicted at the horizon's volume (95%)")
                .legend(|(x, y)| Circle::new((x + 9, y), 4, RED_.filled()));
        }
        legend(&mut chart)
    })
}

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
    svg(|root| {
        // The legend beside the plot: history, forecast and capacity fill the whole range
        // between them, so no corner inside it is free.
        let (plot_area, legend_area) = root.split_horizontally(W - LEGEND_BESIDE);
        let mut chart = chart_on(
            &plot_area,
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
        grid(&mut chart.configure_mesh())
            .x_desc(format!(
                "days from {}",
                loadcast_stats::time::format_date(t0 as i64)
            ))
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
            for (view, color, name) in [
                (&r.data_aware, RED_, "runs out (data-aware)"),
                (&r.traffic_only, GREEN, "runs out (traffic-only)"),
            ] {
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
        legend_beside(&legend_area, &key)
    })
}

/// How a legend entry drawn outside a chart shows its series.
enum Swatch {
    Fill(RGBAColor),
    Line(RGBColor, u32),
    Dashed(RGBColor),
    Tick(RGBColor),
}

/// A legend in its own drawing area, aligned with the top of the plot beside it.
fn legend_beside(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    key: &[(String, Swatch)],
) -> Drawn {
    const TOP: i32 = 40;
    const ROW: i32 = 18;
    for (i, (name, swatch)) in key.iter().enumerate() {
        let y = TOP + ROW * i as i32;
        match swatch {
            Swatch::Fill(color) => {
                area.draw(&Rectangle::new([(4, y - 5), (22, y + 5)], color.filled()))?;
            }
            Swatch::Line(color, width) => {
                area.draw(&PathElement::new(
                    vec![(4, y), (22, y)],
                    color.stroke_width(*width),
                ))?;
            }
            Swatch::Dashed(color) => {
                for x in [4, 11, 18] {
                    area.draw(&PathElement::new(vec![(x, y), (x + 4, y)], color))?;
                }
            }
            Swatch::Tick(color) => {
                area.draw(&PathElement::new(
                    vec![(13, y - 6), (13, y + 6)],
                    color.stroke_width(2),
                ))?;
            }
        }
        area.draw(&Text::new(
            name.as_str(),
            (28, y - 7),
            (FONT, 12).into_font().color(&BLACK),
        ))?;
    }
    Ok(())
}

/// Days of runway, traffic-only beside data-aware, with 10–90% whiskers; a bar reaching the
/// horizon means "not within the horizon".
pub fn runway_comparison(runway: &Runway) -> Option<String> {
    let horizon_days = (runway.horizon - runway.now) as f64 / 86_400.0;
    if horizon_days <= 0.0 {
        return None;
    }
    let days = |t: Option<i64>| t.map_or(horizon_days, |t| (t - runway.now) as f64 / 86_400.0);
    let views = [
        ("traffic-only", &runway.traffic_only, GREEN),
        ("data-aware", &runway.data_aware, RED_),
    ];
    svg(|root| {
        let mut chart = chart_on(
            &root,
            "Runway: days until projected peak traffic exceeds capacity",
        )
        .y_label_area_size(110)
        .build_cartesian_2d(0f64..horizon_days * 1.05, 0f64..2f64)?;
        grid(&mut chart.configure_mesh())
            .disable_y_mesh()
            .y_labels(5)
            .y_label_formatter(&|v| {
                if (*v - 0.5).abs() < 0.3 {
                    "traffic-only".into()
                } else if (*v - 1.5).abs() < 0.3 {
                    "data-aware".into()
                } else {
                    String::new()
                }
            })
            .x_desc("days from now (the horizon is the right end)")
            .draw()?;
        for (i, (name, view, color)) in views.iter().enumerate() {
            let y = i as f64;
            let d = days(view.runs_out);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y + 0.25), (d, y + 0.75)],
                    color.mix(0.7).filled(),
                )))?
                .label(format!(
                    "{name}: {}",
                    view.runs_out.map_or(
                        "not within the horizon".into(),
                        loadcast_stats::time::format_date
                    )
                ))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 18, y + 5)], color.mix(0.7).filled())
                });
            if view.runs_out_p10.is_some() || view.runs_out_p90.is_some() {
                let (a, b) = (days(view.runs_out_p10), days(view.runs_out_p90));
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(a, y + 0.5), (b, y + 0.5)],
                    BLACK.stroke_width(2),
                )))?;
            }
        }
        legend(&mut chart)
    })
}
