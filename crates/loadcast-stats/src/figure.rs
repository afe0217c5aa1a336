//! How a figure is written for a person: `1.23k`, `45.6M`, the same in every table, chart
//! and note.

/// `1.23k`, `45.6M`: figures for a table.
pub fn si(v: f64) -> String {
    let a = v.abs();
    let (x, unit) = if a >= 1e12 {
        (v / 1e12, "T")
    } else if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    if x.abs() >= 100.0 || unit.is_empty() && x.fract() == 0.0 {
        format!("{x:.0}{unit}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}{unit}")
    } else {
        format!("{x:.2}{unit}")
    }
}
