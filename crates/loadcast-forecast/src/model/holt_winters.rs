//! Holt-Winters exponential smoothing: a level, a damped additive trend and a season
//! (multiplicative when every value is positive: a season whose swing grows with the level, as
//! monthly production and sales do), its smoothing weights chosen on a coarse grid by the
//! one-step-ahead squared error over the training window. The short-season counterpart of
//! statsforecast's AutoETS.

use super::FitError;

const ALPHA: [f64; 7] = [0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9];
const BETA: [f64; 4] = [0.0, 0.01, 0.05, 0.15];
const GAMMA: [f64; 4] = [0.01, 0.05, 0.15, 0.3];
const PHI: [f64; 4] = [0.9, 0.95, 0.98, 1.0];

/// At most this many cycles are smoothed: older ones have decayed away and only cost time.
const MAX_CYCLES: usize = 20;

#[derive(Clone, Copy)]
struct Weights {
    alpha: f64,
    beta: f64,
    gamma: f64,
    phi: f64,
}

/// The state after smoothing `y`, and the one-step squared error on the way.
fn smooth(y: &[f64], period: usize, w: Weights, multiplicative: bool) -> (f64, f64, Vec<f64>, f64) {
    let first = y[..period].iter().sum::<f64>() / period as f64;
    let second = y[period..2 * period].iter().sum::<f64>() / period as f64;
    let mut level = first;
    let mut trend = (second - first) / period as f64;
    let mut season: Vec<f64> = y[..period]
        .iter()
        .map(|v| if multiplicative { v / first } else { v - first })
        .collect();
    let mut sse = 0.0;
    for (t, &value) in y.iter().enumerate().skip(period) {
        let s = season[t % period];
        let base = level + w.phi * trend;
        let fitted = if multiplicative { base * s } else { base + s };
        sse += (value - fitted).powi(2);
        let previous = level;
        level =
            w.alpha * if multiplicative { value / s } else { value - s } + (1.0 - w.alpha) * base;
        trend = w.beta * (level - previous) + (1.0 - w.beta) * w.phi * trend;
        season[t % period] = w.gamma
            * if multiplicative {
                value / level
            } else {
                value - level
            }
            + (1.0 - w.gamma) * s;
    }
    (level, trend, season, sse)
}

pub(super) fn holt_winters(y: &[f64], period: usize, horizon: usize) -> Result<Vec<f64>, FitError> {
    if period < 2 || y.len() < 3 * period {
        return Err(FitError(format!(
            "Holt-Winters needs three cycles of {period}, has {}",
            y.len()
        )));
    }
    // Whole cycles, so that the season's phase stays put.
    let keep = (y.len() / period).min(MAX_CYCLES) * period;
    let start = y.len() - keep;
    let y = &y[start..];
    let multiplicative = y.iter().all(|v| *v > 0.0);
    let mut best: Option<(f64, Weights)> = None;
    for alpha in ALPHA {
        for beta in BETA {
            for gamma in GAMMA {
                for phi in PHI {
                    let w = Weights {
                        alpha,
                        beta,
                        gamma,
                        phi,
                    };
                    let (.., sse) = smooth(y, period, w, multiplicative);
                    if sse.is_finite() && best.is_none_or(|(b, _)| sse < b) {
                        best = Some((sse, w));
                    }
                }
            }
        }
    }
    let (_, w) = best.ok_or_else(|| FitError("Holt-Winters found no finite fit".into()))?;
    let (level, trend, season, _) = smooth(y, period, w, multiplicative);
    let n = y.len() + start;
    let mut damped = 0.0;
    let mut power = 1.0;
    Ok((1..=horizon)
        .map(|h| {
            power *= w.phi;
            damped += power;
            let base = level + damped * trend;
            let s = season[(n + h - 1 - start) % period];
            if multiplicative { base * s } else { base + s }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_growing_multiplicative_season_is_followed() {
        // Level 100 growing 1% a month, a ±30% yearly swing that grows with it.
        let value = |t: usize| {
            100.0
                * 1.01f64.powi(t as i32)
                * (1.0 + 0.3 * (t as f64 / 12.0 * std::f64::consts::TAU).sin())
        };
        let y: Vec<f64> = (0..120).map(value).collect();
        let f = holt_winters(&y, 12, 12).unwrap();
        for (h, got) in f.iter().enumerate() {
            let truth = value(120 + h);
            assert!(
                (got / truth - 1.0).abs() < 0.05,
                "month {h}: {got:.1} vs {truth:.1}"
            );
        }
    }

    #[test]
    fn too_short_a_history_is_an_error() {
        assert!(holt_winters(&[1.0; 20], 12, 3).is_err());
    }
}
