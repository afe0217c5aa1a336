//! Charts as inline SVG (plotters), with axes, units and legends. Every legend sits beside its
//! plot, never over it: a legend inside the plot area covers whatever climbs into its corner.
//! Long series are downsampled before drawing (bucket maxima for latency and rates, so spikes
//! survive).

mod capacity;
mod forecast;
mod run;

pub use capacity::{capacity_curve, capacity_vs_data};
pub use forecast::{forecast_fan, runway_comparison};
pub use run::{errors_over_time, latency_distribution, latency_over_time, throughput};

use plotters::prelude::*;

const W: u32 = 760;
const H: u32 = 300;
const FONT: &str = "sans-serif";
/// Room to the right of the plot for its legend.
const LEGEND_BESIDE: u32 = 210;
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

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// What a legend lists: each series' name and how it is drawn.
type Key = Vec<(String, Swatch)>;

/// A named, coloured series of points.
type Line<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// An SVG chart whose plot `draw` fills, with the legend `draw` returns beside it.
fn svg(draw: impl FnOnce(&Area<'_>) -> Result<Key, Box<dyn std::error::Error>>) -> Option<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        if root.fill(&WHITE).is_err() {
            return None;
        }
        let (plot_area, legend_area) = root.split_horizontally(W - LEGEND_BESIDE);
        let key = draw(&plot_area).ok()?;
        legend_beside(&legend_area, &key).ok()?;
        root.present().ok()?;
    }
    Some(out)
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

/// How a legend entry shows its series.
enum Swatch {
    Fill(RGBAColor),
    Line(RGBColor, u32),
    Dashed(RGBColor),
    Tick(RGBColor),
    Dot(RGBColor),
}

/// A legend in its own drawing area, aligned with the top of the plot beside it. A long name
/// wraps onto a second line rather than running off the chart.
fn legend_beside(area: &Area<'_>, key: &[(String, Swatch)]) -> Drawn {
    const TOP: i32 = 40;
    const ROW: i32 = 18;
    const CHARS: usize = 27;
    let mut y = TOP;
    for (name, swatch) in key {
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
                    area.draw(&PathElement::new(
                        vec![(x, y), (x + 4, y)],
                        color.stroke_width(2),
                    ))?;
                }
            }
            Swatch::Tick(color) => {
                area.draw(&PathElement::new(
                    vec![(13, y - 6), (13, y + 6)],
                    color.stroke_width(2),
                ))?;
            }
            Swatch::Dot(color) => {
                area.draw(&Circle::new((13, y), 4, color.filled()))?;
            }
        }
        for line in wrap(name, CHARS) {
            area.draw(&Text::new(
                line,
                (28, y - 7),
                (FONT, 12).into_font().color(&BLACK),
            ))?;
            y += ROW;
        }
    }
    Ok(())
}

/// Splits `text` at spaces into lines of at most `width` characters (a longer word stays whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn a_long_legend_name_wraps_at_spaces() {
        assert_eq!(
            wrap("predicted at the horizon's volume (95%)", 27),
            ["predicted at the horizon's", "volume (95%)"]
        );
        assert_eq!(wrap("p99", 27), ["p99"]);
    }
}
