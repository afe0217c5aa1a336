//! Trend fits: a robust line (Theil–Sen) and the median it rests on.

pub(super) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let m = values.len() / 2;
    if values.len() % 2 == 1 {
        values[m]
    } else {
        (values[m - 1] + values[m]) / 2.0
    }
}

/// A line `a + b·i` through the points, robust to outliers (Theil–Sen on a subsample).
pub(super) fn robust_line(y: &[f64]) -> (f64, f64) {
    let n = y.len();
    // Pairs far enough apart that a single outlier cannot dominate; at most ~2,000 slopes.
    let stride = (n / 45).max(1);
    let mut slopes = Vec::new();
    let idx: Vec<usize> = (0..n).step_by(stride).collect();
    for (a, &i) in idx.iter().enumerate() {
        for &j in &idx[a + 1..] {
            slopes.push((y[j] - y[i]) / (j - i) as f64);
        }
    }
    let b = if slopes.is_empty() {
        0.0
    } else {
        median(&mut slopes)
    };
    let mut intercepts: Vec<f64> = y
        .iter()
        .enumerate()
        .map(|(i, v)| v - b * i as f64)
        .collect();
    (median(&mut intercepts), b)
}
