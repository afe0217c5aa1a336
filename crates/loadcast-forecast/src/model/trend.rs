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
    change_of_trend(y, 0.5)
}

/// A change of trend that two lines explain all but `left` of one line's residual error in
/// ([`changepoint`]'s, with its own bar).
pub(crate) fn change_of_trend(y: &[f64], left: f64) -> Option<usize> {
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
    let (best, at) = (lo..hi)
        .map(|k| (sse(0, k) + sse(k, n), k))
        .min_by(|a, b| a.0.total_cmp(&b.0))?;
    (best < left * whole).then_some(at)
}
