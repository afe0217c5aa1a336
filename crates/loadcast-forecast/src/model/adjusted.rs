//! Models of the seasonally adjusted series: the classical multiplicative decomposition
//! (seasonal indices from ratios to a centred moving average), and the level-and-trend models
//! that run on what it leaves — the Theta family and exponential smoothing — reseasonalised
//! after. This is how the M3/M4 benchmarks and statsforecast's AutoTheta treat a short season
//! (monthly, quarterly, weekly): the season is estimated once, the trend is smoothed.

use super::FitError;

/// Multiplicative seasonal indices by absolute slot (`position % period`, as the profiles
/// index them), from ratios to a centred moving average; `None` when the series is not
/// positive, too short, or its autocorrelation at the period is not significant (90%), so
/// that noise is not taken for a season.
pub(super) fn seasonal_indices(y: &[f64], period: usize) -> Option<Vec<f64>> {
    let n = y.len();
    if period < 2 || n < 2 * period + 1 || y.iter().any(|v| *v <= 0.0) {
        return None;
    }
    let mean = y.iter().sum::<f64>() / n as f64;
    let var: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let acf = |lag: usize| {
        y[lag..]
            .iter()
            .zip(y)
            .map(|(a, b)| (a - mean) * (b - mean))
            .sum::<f64>()
            / var
    };
    let sum_sq: f64 = (1..period).map(|k| acf(k).powi(2)).sum();
    if acf(period) <= 1.645 * ((1.0 + 2.0 * sum_sq) / n as f64).sqrt() {
        return None;
    }
    // A centred moving average over one period (2×m for even m).
    let half = period / 2;
    let mut sums = vec![0.0; period];
    let mut counts = vec![0usize; period];
    for t in half..n - half {
        let ma = if period % 2 == 0 {
            let inner: f64 = y[t + 1 - half..t + half].iter().sum();
            (inner + 0.5 * (y[t - half] + y[t + half])) / period as f64
        } else {
            y[t - half..=t + half].iter().sum::<f64>() / period as f64
        };
        sums[t % period] += y[t] / ma;
        counts[t % period] += 1;
    }
    if counts.contains(&0) {
        return None;
    }
    let mut index: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(s, c)| s / *c as f64)
        .collect();
    let norm = index.iter().sum::<f64>() / period as f64;
    for v in &mut index {
        *v /= norm;
    }
    Some(index)
}

/// `y` divided by its seasonal indices when it has a significant season, and those indices.
fn adjust(y: &[f64], period: usize) -> (Vec<f64>, Option<Vec<f64>>) {
    let index = seasonal_indices(y, period);
    let adjusted = match &index {
        Some(s) => y
            .iter()
            .enumerate()
            .map(|(t, v)| v / s[t % period])
            .collect(),
        None => y.to_vec(),
    };
    (adjusted, index)
}

/// `forecast` of the adjusted series after `n` samples, times the indices again.
fn reseasonalise(forecast: Vec<f64>, index: Option<&[f64]>, n: usize) -> Vec<f64> {
    match index {
        Some(s) => forecast
            .into_iter()
            .enumerate()
            .map(|(h, v)| v * s[(n + h) % s.len()])
            .collect(),
        None => forecast,
    }
}

/// Exponential smoothing (augurs' AutoETS: additive or multiplicative error; no, additive or
/// damped trend; chosen by AICc) on the seasonally adjusted series. augurs fits no seasonal
/// ETS, hence the decomposition.
pub(super) fn ets(y: &[f64], period: usize, horizon: usize) -> Result<Vec<f64>, FitError> {
    use augurs_core::{Fit as _, Predict as _};
    if y.len() < 8 {
        return Err(FitError("exponential smoothing needs 8 samples".into()));
    }
    let (adjusted, index) = adjust(y, period);
    let fitted = augurs_ets::AutoETS::non_seasonal()
        .fit(&adjusted)
        .map_err(|e| FitError(e.to_string()))?;
    let forecast = fitted
        .predict(horizon, None)
        .map_err(|e| FitError(e.to_string()))?;
    Ok(reseasonalise(forecast.point, index.as_deref(), y.len()))
}

/// Longest adjusted series on which θ is optimised and the dynamic variants are tried: past it
/// (months of half-hours) the standard method alone, whose cost is one pass per weight.
const OPTIMISE_UP_TO: usize = 2_000;

/// The Theta method on the seasonally adjusted series, in the state-space form of Hyndman &
/// Billah and Fiorucci et al. (simple exponential smoothing plus a share `1 − 1/θ` of the
/// linear trend): the standard method (θ = 2, the whole window's least-squares slope), the
/// optimised one (θ fitted) and their dynamic forms (the slope updated sample by sample, so a
/// trend that flattened counts less), the lowest one-step squared error winning, as in
/// statsforecast's AutoTheta.
pub(super) fn theta(y: &[f64], period: usize, horizon: usize) -> Result<Vec<f64>, FitError> {
    if y.len() < 4 {
        return Err(FitError("the Theta method needs 4 samples".into()));
    }
    let (adjusted, index) = adjust(y, period);
    let full = adjusted.len() <= OPTIMISE_UP_TO;
    let thetas: &[f64] = if full {
        &[1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0]
    } else {
        &[2.0]
    };
    let mut best: Option<(f64, ThetaModel)> = None;
    for dynamic in [false, true].into_iter().take(1 + usize::from(full)) {
        for &theta in thetas {
            let mut consider = |alpha: f64| {
                let model = ThetaModel {
                    alpha,
                    theta,
                    dynamic,
                };
                let mse = model.run(&adjusted, 0).0;
                if mse.is_finite() && best.as_ref().is_none_or(|(b, _)| mse < *b) {
                    best = Some((mse, model));
                }
            };
            for k in 2..=19 {
                consider(k as f64 * 0.05);
            }
            consider(0.99);
        }
    }
    let mut best = best.ok_or_else(|| FitError("the Theta method found no fit".into()))?;
    let coarse = best.1;
    // The weight to the nearest 0.01 around the grid's best.
    for step in -4..=4 {
        let alpha = (coarse.alpha + f64::from(step) * 0.0125).clamp(0.1, 0.99);
        let model = ThetaModel { alpha, ..coarse };
        let mse = model.run(&adjusted, 0).0;
        if mse < best.0 {
            best = (mse, model);
        }
    }
    let forecast = best.1.run(&adjusted, horizon).1;
    Ok(reseasonalise(forecast, index.as_deref(), y.len()))
}

#[derive(Clone, Copy, Debug)]
struct ThetaModel {
    alpha: f64,
    theta: f64,
    dynamic: bool,
}

impl ThetaModel {
    /// The one-step mean squared error over `y`, and the `horizon` forecasts after it.
    fn run(&self, y: &[f64], horizon: usize) -> (f64, Vec<f64>) {
        let n = y.len();
        let alpha = self.alpha;
        let share = 1.0 - 1.0 / self.theta;
        // Least squares over t = 1..n (the standard method's fixed line).
        let (mut a, mut b) = if self.dynamic {
            (y[0], 0.0)
        } else {
            let nf = n as f64;
            let mean = y.iter().sum::<f64>() / nf;
            let mean_ty = y
                .iter()
                .enumerate()
                .map(|(i, v)| (i + 1) as f64 * v)
                .sum::<f64>()
                / nf;
            let b = 6.0 * (2.0 * mean_ty - (1.0 + nf) * mean) / (nf * nf - 1.0);
            (mean - (nf + 1.0) * b / 2.0, b)
        };
        let mut level = y[0];
        let mut mean = y[0];
        let mut decay = 1.0 - alpha;
        let mut sse = 0.0;
        let mut out = Vec::with_capacity(horizon);
        for t in 2..=n + horizon {
            // decay = (1 − α)^(t − 1) here.
            let tf = t as f64;
            let mu = level + share * (a * decay + b * (1.0 - decay * (1.0 - alpha)) / alpha);
            let value = if t <= n {
                let v = y[t - 1];
                sse += (v - mu).powi(2);
                v
            } else {
                out.push(mu);
                mu
            };
            level = alpha * value + (1.0 - alpha) * level;
            let previous_mean = mean;
            mean = ((tf - 1.0) * mean + value) / tf;
            if self.dynamic {
                b = ((tf - 2.0) * b + 6.0 * (value - previous_mean) / tf) / (tf + 1.0);
                a = mean - b * (tf + 1.0) / 2.0;
            }
            decay *= 1.0 - alpha;
        }
        (sse / (n - 1).max(1) as f64, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theta_follows_a_seasonal_trend() {
        // A ±20% monthly season on a line growing 1 a month from 100.
        let value = |t: usize| {
            (100.0 + t as f64) * (1.0 + 0.2 * (t as f64 / 12.0 * std::f64::consts::TAU).sin())
        };
        let y: Vec<f64> = (0..96).map(value).collect();
        let f = theta(&y, 12, 12).unwrap();
        for (h, got) in f.iter().enumerate() {
            let truth = value(96 + h);
            assert!(
                (got / truth - 1.0).abs() < 0.03,
                "month {h}: {got:.1} vs {truth:.1}"
            );
        }
    }

    #[test]
    fn an_optimised_theta_follows_more_of_a_steady_trend_than_the_standard_one() {
        // A line with a little noise: the standard method (θ = 2) projects half its slope.
        let y: Vec<f64> = (0..60)
            .map(|t| 100.0 + 2.0 * t as f64 + if t % 2 == 0 { 0.5 } else { -0.5 })
            .collect();
        let truth = 100.0 + 2.0 * 71.0;
        let chosen = theta(&y, 1, 12).unwrap()[11];
        let standard = ThetaModel {
            alpha: 0.5,
            theta: 2.0,
            dynamic: false,
        }
        .run(&y, 12)
        .1[11];
        assert!(
            (chosen - truth).abs() < 6.0 && (chosen - truth).abs() < (standard - truth).abs(),
            "chosen {chosen:.1}, standard {standard:.1}, truth {truth}"
        );
    }

    #[test]
    fn ets_forecasts_a_line_and_a_season() {
        let value = |t: usize| (50.0 + 0.5 * t as f64) * if t % 4 == 0 { 1.3 } else { 0.9 };
        let y: Vec<f64> = (0..60).map(value).collect();
        let f = ets(&y, 4, 8).unwrap();
        for (h, got) in f.iter().enumerate() {
            let truth = value(60 + h);
            assert!(
                (got / truth - 1.0).abs() < 0.03,
                "{h}: {got:.2} vs {truth:.2}"
            );
        }
    }
}
