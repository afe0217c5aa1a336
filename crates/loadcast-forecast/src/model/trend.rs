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

/// Where a series' trend changed: the sample after which a second line fits, chosen by least
/// squares of two separate lines over breaks between a tenth and nine tenths of the series
/// (each side keeps at least 8 samples). `None` when one line fits about as well (the two
/// lines must explain at least half of the one line's residual error).
pub(super) fn changepoint(y: &[f64]) -> Option<usize> {
    two_lines(y).and_then(|fit| (fit.two < 0.5 * fit.one).then_some(fit.at))
}

/// A break in a series' trend: a change that redraws it (a table that stopped growing when a
/// retention job began, or grew four times faster after a launch), not a curve's bend. Two
/// lines must leave under 5% of one line's residual error and under 10% of a parabola's: a
/// plateau after growth leaves 0.02% and 0.1%, a launch 0.03% and 0.2%; a seasonal write rate's
/// cumulative volume 4% of a line's but 180% of a parabola's, a growing population 13% and
/// 69%.
pub(crate) fn break_in_trend(y: &[f64]) -> Option<usize> {
    let fit = two_lines(y)?;
    (fit.two < 0.05 * fit.one && fit.two < 0.1 * parabola_error(y)).then_some(fit.at)
}

/// The best two-line fit of a series: where the second line starts, and the residual sums of
/// squares of the two lines and of one.
struct TwoLines {
    at: usize,
    two: f64,
    one: f64,
}

/// The residual sum of squares of the least-squares parabola through `y`.
fn parabola_error(y: &[f64]) -> f64 {
    let n = y.len();
    // On x in [−1, 1], so that x⁴ stays well scaled over thousands of samples.
    let x = |i: usize| 2.0 * i as f64 / (n.max(2) - 1) as f64 - 1.0;
    let design = nalgebra::DMatrix::from_fn(n, 3, |i, j| x(i).powi(j as i32));
    let target = nalgebra::DVector::from_column_slice(y);
    let Ok(coefficients) = design.clone().svd(true, true).solve(&target, 1e-12) else {
        return f64::INFINITY;
    };
    (design * coefficients - target).norm_squared()
}

fn two_lines(y: &[f64]) -> Option<TwoLines> {
    let n = y.len();
    if n < 24 {
        return None;
    }
    // Prefix sums make each candidate's two fits O(1).
    let mut s = [
        vec![0.0; n + 1],
        vec![0.0; n + 1],
        vec![0.0; n + 1],
        vec![0.0; n + 1],
        vec![0.0; n + 1],
    ];
    for (i, v) in y.iter().enumerate() {
        let x = i as f64;
        for (k, add) in [1.0, x, x * x, *v, x * v].into_iter().enumerate() {
            s[k][i + 1] = s[k][i] + add;
        }
    }
    let sq: Vec<f64> = std::iter::once(0.0)
        .chain(y.iter().scan(0.0, |acc, v| {
            *acc += v * v;
            Some(*acc)
        }))
        .collect();
    let sse = |a: usize, b: usize| {
        let get = |k: usize| s[k][b] - s[k][a];
        let (n, sx, sxx, sy, sxy) = (get(0), get(1), get(2), get(3), get(4));
        let syy = sq[b] - sq[a];
        let d = n * sxx - sx * sx;
        if d <= 0.0 {
            return syy - sy * sy / n;
        }
        let slope = (n * sxy - sx * sy) / d;
        let intercept = (sy - slope * sx) / n;
        // Residual sum of squares of the least-squares line.
        (syy - intercept * sy - slope * sxy).max(0.0)
    };
    let whole = sse(0, n);
    let lo = (n / 10).max(8);
    let hi = (n - n / 10).min(n - 8);
    let (two, at) = (lo..hi)
        .map(|k| (sse(0, k) + sse(k, n), k))
        .min_by(|a, b| a.0.total_cmp(&b.0))?;
    Some(TwoLines {
        at,
        two,
        one: whole,
    })
}
