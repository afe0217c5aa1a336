//! Seasonal models: slot medians, harmonic regression, augurs' MSTL and seasonal drift.

use nalgebra::{DMatrix, DVector};

use super::FitError;
use super::trend::median;

/// The slot-by-slot median of the last `cycles` cycles, indexed by absolute position mod
/// `period` (so that slot `i` of the forecast lines up with sample `n + i`).
pub(super) fn median_profile(y: &[f64], period: usize, cycles: usize) -> Vec<f64> {
    let n = y.len();
    let mut profile = vec![0.0; period];
    let mut values = Vec::with_capacity(cycles);
    for (slot, out) in profile.iter_mut().enumerate() {
        // The latest sample at this slot.
        let last = n - 1 - (n - 1 + period - slot) % period;
        values.clear();
        values.extend((0..cycles).map(|c| y[last - c * period]));
        *out = median(&mut values);
    }
    profile
}

/// `y` starts at sample `offset` of the series (so that seasonal phases stay put).
pub(super) fn harmonic(
    y: &[f64],
    offset: usize,
    year: f64,
    harmonics: usize,
    week: Option<usize>,
    day: Option<usize>,
    horizon: usize,
) -> Result<Vec<f64>, FitError> {
    let n = y.len();
    if y.iter().any(|v| *v <= 0.0) {
        return Err(FitError("harmonic regression needs positive values".into()));
    }
    let row = |t: usize, out: &mut Vec<f64>| {
        out.clear();
        let tf = (t + offset) as f64;
        out.push(1.0);
        out.push(t as f64 / n as f64);
        for k in 1..=harmonics {
            let w = std::f64::consts::TAU * k as f64 * tf / year;
            // At half the year's samples (monthly data's sixth harmonic) the sine is zero at
            // every sample: a column of rounding noise the fit would give any weight.
            if (2 * k) as f64 != year {
                out.push(w.sin());
            }
            out.push(w.cos());
        }
        match (week, day) {
            // Daily data: one coefficient per weekday (the first is the intercept's).
            (Some(7), None) => {
                for d in 1..7 {
                    out.push(if (t + offset) % 7 == d { 1.0 } else { 0.0 });
                }
            }
            _ => {
                for (period, k_max) in [(week, 6), (day, 8)] {
                    if let Some(p) = period {
                        for k in 1..=k_max.min(p / 2) {
                            let w = std::f64::consts::TAU * k as f64 * tf / p as f64;
                            out.push(w.sin());
                            out.push(w.cos());
                        }
                    }
                }
            }
        }
    };
    let mut r = Vec::new();
    row(0, &mut r);
    let p = r.len();
    if n < 3 * p {
        return Err(FitError(format!(
            "harmonic regression needs {} samples",
            3 * p
        )));
    }
    let mut x = DMatrix::<f64>::zeros(n, p);
    for t in 0..n {
        row(t, &mut r);
        for (j, v) in r.iter().enumerate() {
            x[(t, j)] = *v;
        }
    }
    let logs = DVector::from_iterator(n, y.iter().map(|v| v.ln()));
    let xtx = x.tr_mul(&x);
    let xty = x.tr_mul(&logs);
    let beta = match xtx.clone().cholesky() {
        Some(ch) => ch.solve(&xty),
        None => xtx
            .svd(true, true)
            .solve(&xty, 1e-9)
            .map_err(|e| FitError(e.to_string()))?,
    };
    Ok((0..horizon)
        .map(|i| {
            row(n + i, &mut r);
            r.iter()
                .zip(beta.iter())
                .map(|(a, b)| a * b)
                .sum::<f64>()
                .exp()
        })
        .collect())
}

pub(super) fn mstl_ets(y: &[f64], periods: &[usize], horizon: usize) -> Result<Vec<f64>, FitError> {
    use augurs_core::{Fit as _, Predict as _};
    // The trend of an STL decomposition is smooth: level or level + slope, chosen by AIC,
    // is all it needs. Multiplicative errors and damping changed no benchmark forecast (a
    // damped trend alone worsened co2's MASE 0.38 → 0.47) but cost most of the time: augurs
    // takes a log per sample per optimiser step. A year of hourly data took 0.37 s with the
    // whole search, 0.22 s without multiplicative errors, 0.10 s without damping as well
    // (1,000 such series: 80 s → 46 s).
    let trend = augurs_ets::AutoETS::new(1, "AZN")
        .and_then(|ets| ets.damped(false))
        .map_err(|e| FitError(e.to_string()))?
        .into_trend_model();
    let model = augurs_mstl::MSTLModel::new(periods.to_vec(), trend);
    let fitted = model.fit(y).map_err(|e| FitError(e.to_string()))?;
    let forecast = fitted
        .predict(horizon, None)
        .map_err(|e| FitError(e.to_string()))?;
    Ok(forecast.point)
}

/// The last cycle moved by the series' typical change over a cycle: the median of its
/// cycle-over-cycle ratios (positive series) or differences over the last `cycles` cycles.
pub(super) fn seasonal_drift(
    y: &[f64],
    period: usize,
    cycles: usize,
    horizon: usize,
) -> Result<Vec<f64>, FitError> {
    let n = y.len();
    if n < 2 * period {
        return Err(FitError(format!(
            "seasonal drift needs two cycles ({} samples)",
            2 * period
        )));
    }
    let from = n.saturating_sub(cycles * period).max(period);
    let ratio = y.iter().all(|v| *v > 0.0);
    let mut changes: Vec<f64> = (from..n)
        .map(|t| {
            if ratio {
                (y[t] / y[t - period]).ln()
            } else {
                y[t] - y[t - period]
            }
        })
        .collect();
    let change = median(&mut changes);
    Ok((0..horizon)
        .map(|i| {
            let base = y[n - period + i % period];
            let ahead = (i / period + 1) as f64;
            if ratio {
                base * (change * ahead).exp()
            } else {
                base + change * ahead
            }
        })
        .collect())
}
