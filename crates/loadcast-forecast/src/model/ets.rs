//! Seasonal exponential smoothing in its state-space form (ETS; Hyndman, Koehler, Ord &
//! Snyder): a level, no, an additive or a damped trend, and a season, with additive errors
//! and season (A,·,A), multiplicative ones (M,·,M), or additive ones on the logarithm (growth
//! that compounds, a season that scales with it) when the series is positive. Smoothing
//! weights and initial states are fitted by likelihood (Nelder–Mead), and the form with the
//! lowest AICc is kept — what R's `ets` and statsforecast's AutoETS do. augurs fits only
//! non-seasonal ETS (it serves the trends of MSTL and the seasonally adjusted models); the
//! short seasons of monthly, quarterly and weekly data need the season inside the model, where
//! it can drift.

use super::FitError;

/// Seasons up to this long have every initial seasonal state fitted; up to [`MAX_PERIOD`] the
/// initial season is the classical decomposition's (R's `ets` refuses seasons past 24).
const FIT_SEASON_UP_TO: usize = 12;
pub(super) const MAX_PERIOD: usize = 24;
/// Cycles fitted: older ones have decayed away and only cost time.
const MAX_CYCLES: usize = 30;
const MAX_EVALUATIONS: usize = 3_000;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Trend {
    None,
    Additive,
    Damped,
}

#[derive(Clone, Copy, Debug)]
struct Form {
    multiplicative: bool,
    trend: Trend,
}

/// A fitted form: its criterion, its parameters (in the optimiser's unbounded space) and the
/// initial season it kept fixed, for seasons too long to fit every state.
struct Fitted {
    aicc: f64,
    form: Form,
    /// Fitted to the logarithm of the series.
    log: bool,
    params: Vec<f64>,
    fixed_season: Option<Vec<f64>>,
}

fn logistic(u: f64) -> f64 {
    1.0 / (1.0 + (-u).exp())
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// The model's states and weights from the optimiser's unbounded parameters: α in (0, 1),
/// β in (0, α), γ in (0, 1 − α), φ in (0.8, 0.98), then the initial level, trend and the
/// free seasonal states (the last one makes the season sum to zero, or average one).
struct State {
    alpha: f64,
    beta: f64,
    gamma: f64,
    phi: f64,
    level: f64,
    trend: f64,
    season: Vec<f64>,
}

impl Form {
    fn decode(&self, p: &[f64], period: usize, fixed_season: Option<&[f64]>) -> State {
        let alpha = 0.0001 + 0.9998 * logistic(p[0]);
        let mut i = 1;
        let (beta, phi) = match self.trend {
            Trend::None => (0.0, 0.0),
            Trend::Additive => {
                i += 1;
                (alpha * logistic(p[1]), 1.0)
            }
            Trend::Damped => {
                i += 2;
                (alpha * logistic(p[1]), 0.8 + 0.18 * logistic(p[2]))
            }
        };
        let gamma = (1.0 - alpha) * logistic(p[i]);
        i += 1;
        let level = p[i];
        i += 1;
        let trend = if self.trend == Trend::None {
            0.0
        } else {
            i += 1;
            p[i - 1]
        };
        let season = match fixed_season {
            Some(s) => s.to_vec(),
            None => {
                let free = &p[i..i + period - 1];
                if self.multiplicative {
                    let mut s: Vec<f64> = free.iter().map(|v| v.exp()).collect();
                    let sum: f64 = s.iter().sum();
                    // The last state keeps the mean at one; a season that cannot is refused.
                    s.push(period as f64 - sum);
                    s
                } else {
                    let mut s = free.to_vec();
                    s.push(-free.iter().sum::<f64>());
                    s
                }
            }
        };
        State {
            alpha,
            beta,
            gamma,
            phi,
            level,
            trend,
            season,
        }
    }

    fn encode(&self, start: &State, fixed_season: bool) -> Vec<f64> {
        let clamp = |p: f64| p.clamp(0.001, 0.999);
        let mut p = vec![logit(clamp((start.alpha - 0.0001) / 0.9998))];
        match self.trend {
            Trend::None => {}
            Trend::Additive => p.push(logit(clamp(start.beta / start.alpha))),
            Trend::Damped => {
                p.push(logit(clamp(start.beta / start.alpha)));
                p.push(logit(clamp((start.phi - 0.8) / 0.18)));
            }
        }
        p.push(logit(clamp(start.gamma / (1.0 - start.alpha))));
        p.push(start.level);
        if self.trend != Trend::None {
            p.push(start.trend);
        }
        if !fixed_season {
            let free = &start.season[..start.season.len() - 1];
            if self.multiplicative {
                p.extend(free.iter().map(|s| s.max(1e-3).ln()));
            } else {
                p.extend(free.iter().copied());
            }
        }
        p
    }

    /// Runs the recursions over `y`: the criterion's sum (−2 log-likelihood up to a constant),
    /// or infinity where the states leave their domain; then `horizon` forecasts.
    fn run(&self, s: &mut State, y: &[f64], horizon: usize) -> (f64, Vec<f64>) {
        let m = s.season.len();
        if self.multiplicative && s.season.iter().any(|v| *v <= 0.0) {
            return (f64::INFINITY, Vec::new());
        }
        let damp = |s: &State| match self.trend {
            Trend::None => 0.0,
            Trend::Additive => s.trend,
            Trend::Damped => s.phi * s.trend,
        };
        let (mut sse, mut log_sum) = (0.0, 0.0);
        for (t, &value) in y.iter().enumerate() {
            let base = s.level + damp(s);
            let season = s.season[t % m];
            if self.multiplicative {
                let fitted = base * season;
                if base <= 0.0 || !fitted.is_finite() {
                    return (f64::INFINITY, Vec::new());
                }
                let e = (value - fitted) / fitted;
                sse += e * e;
                log_sum += fitted.ln();
                s.trend = damp(s) + s.beta * base * e;
                s.level = base * (1.0 + s.alpha * e);
                s.season[t % m] = season * (1.0 + s.gamma * e);
            } else {
                let e = value - base - season;
                sse += e * e;
                s.trend = damp(s) + s.beta * e;
                s.level = base + s.alpha * e;
                s.season[t % m] = season + s.gamma * e;
            }
        }
        let n = y.len() as f64;
        let criterion = n * (sse / n).ln() + 2.0 * log_sum;
        let mut out = Vec::with_capacity(horizon);
        let mut damped = 0.0;
        let mut power = 1.0;
        for h in 0..horizon {
            damped += match self.trend {
                Trend::None => 0.0,
                Trend::Additive => 1.0,
                Trend::Damped => {
                    power *= s.phi;
                    power
                }
            };
            let base = s.level + damped * s.trend;
            let season = s.season[(y.len() + h) % m];
            out.push(if self.multiplicative {
                base * season
            } else {
                base + season
            });
        }
        (criterion, out)
    }
}

/// The point forecast of the ETS form with the lowest AICc.
pub(super) fn seasonal_ets(y: &[f64], period: usize, horizon: usize) -> Result<Vec<f64>, FitError> {
    if !(2..=MAX_PERIOD).contains(&period) || y.len() < 3 * period {
        return Err(FitError(format!(
            "seasonal ETS needs a season of 2 to {MAX_PERIOD} and three cycles, has {period} and {}",
            y.len()
        )));
    }
    // Whole cycles, so that the season's phase stays put; scaled to about one, so that the
    // states and weights are of one size for the optimiser.
    let keep = (y.len() / period).min(MAX_CYCLES) * period;
    let start = y.len() - keep;
    let scale = y[start..start + period]
        .iter()
        .map(|v| v.abs())
        .sum::<f64>()
        / period as f64;
    let scale = if scale > 0.0 { scale } else { 1.0 };
    let z: Vec<f64> = y[start..].iter().map(|v| v / scale).collect();
    let positive = z.iter().all(|v| *v > 0.0);
    let fit_season = period <= FIT_SEASON_UP_TO;
    // The additive forms in logs (growth by a rate, a season that scales with the level) on a
    // positive series: their Gaussian likelihood of ln z is that of z once the Jacobian
    // (Σ ln z) is counted, so one AICc ranks them with the forms on z itself.
    let logs: Option<Vec<f64>> = positive.then(|| z.iter().map(|v| v.ln()).collect());
    let jacobian = logs.as_ref().map_or(0.0, |w| 2.0 * w.iter().sum::<f64>());
    let mut best: Option<Fitted> = None;
    for (multiplicative, log) in [(false, false), (true, false), (false, true)] {
        let data = match (&logs, log) {
            (Some(w), true) => w,
            (None, true) => continue,
            _ if multiplicative && !positive => continue,
            _ => &z,
        };
        let initial = initial_states(data, period, multiplicative);
        for trend in [Trend::None, Trend::Additive, Trend::Damped] {
            let form = Form {
                multiplicative,
                trend,
            };
            let fixed = (!fit_season).then_some(initial.season.as_slice());
            let objective = |p: &[f64]| {
                let mut s = form.decode(p, period, fixed);
                form.run(&mut s, data, 0).0
            };
            let start_point = form.encode(&initial, !fit_season);
            let (params, value) = nelder_mead(&objective, start_point, MAX_EVALUATIONS);
            if !value.is_finite() {
                continue;
            }
            let k = params.len() as f64 + 1.0;
            let n = z.len() as f64;
            let value = if log { value + jacobian } else { value };
            let aicc = value + 2.0 * k + 2.0 * k * (k + 1.0) / (n - k - 1.0).max(1.0);
            if best.as_ref().is_none_or(|b| aicc < b.aicc) {
                best = Some(Fitted {
                    aicc,
                    form,
                    log,
                    params,
                    fixed_season: fixed.map(<[f64]>::to_vec),
                });
            }
        }
    }
    let fitted = best.ok_or_else(|| FitError("no seasonal ETS form could be fitted".into()))?;
    let mut state = fitted
        .form
        .decode(&fitted.params, period, fitted.fixed_season.as_deref());
    let data = match (&logs, fitted.log) {
        (Some(w), true) => w,
        _ => &z,
    };
    let (_, forecast) = fitted.form.run(&mut state, data, horizon);
    let forecast = forecast
        .into_iter()
        .map(|v| if fitted.log { v.exp() } else { v });
    // Seasonal slots count from the window's start, in the fit and the forecast alike.
    Ok(forecast.map(|v| v * scale).collect())
}

/// Starting states: the season from the classical decomposition of the first cycles (their
/// first cycle's ratios when no season is significant there), the level and trend from the
/// first two cycles' means, middling weights.
fn initial_states(z: &[f64], period: usize, multiplicative: bool) -> State {
    let first = z[..period].iter().sum::<f64>() / period as f64;
    let second = z[period..2 * period].iter().sum::<f64>() / period as f64;
    let head = &z[..(4 * period).min(z.len())];
    let season = match super::adjusted::seasonal_indices(head, period) {
        Some(index) => index
            .iter()
            .map(|s| {
                if multiplicative {
                    *s
                } else {
                    (s - 1.0) * first
                }
            })
            .collect(),
        None => z[..period]
            .iter()
            .map(|v| if multiplicative { v / first } else { v - first })
            .collect(),
    };
    let trend = (second - first) / period as f64;
    State {
        alpha: 0.2,
        beta: 0.02,
        gamma: 0.05,
        phi: 0.95,
        // The level before the first sample: the first cycle's mean, half a cycle back.
        level: first - trend * (period as f64 / 2.0),
        trend,
        season,
    }
}

/// Minimises `f` from `start` by the Nelder–Mead simplex (reflection 1, expansion 2,
/// contraction ½, shrink ½), within `budget` evaluations; the best point and its value.
fn nelder_mead(f: &dyn Fn(&[f64]) -> f64, start: Vec<f64>, budget: usize) -> (Vec<f64>, f64) {
    let dims = start.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(dims + 1);
    let value = f(&start);
    simplex.push((start.clone(), value));
    for i in 0..dims {
        let mut p = start.clone();
        p[i] += if p[i].abs() > 0.05 {
            0.1 * p[i].abs()
        } else {
            0.05
        }
        .max(0.05);
        let v = f(&p);
        simplex.push((p, v));
    }
    let mut evaluations = dims + 1;
    let point = |centroid: &[f64], towards: &[f64], t: f64| -> Vec<f64> {
        centroid
            .iter()
            .zip(towards)
            .map(|(c, w)| c + t * (w - c))
            .collect()
    };
    while evaluations < budget {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (best, worst) = (simplex[0].1, simplex[dims].1);
        if best.is_finite() && (worst - best).abs() <= 1e-8 * (1.0 + best.abs()) {
            break;
        }
        let mut centroid = vec![0.0; dims];
        for (p, _) in &simplex[..dims] {
            for (c, v) in centroid.iter_mut().zip(p) {
                *c += v / dims as f64;
            }
        }
        let worst_point = simplex[dims].0.clone();
        let reflected = point(&centroid, &worst_point, -1.0);
        let fr = f(&reflected);
        evaluations += 1;
        if fr < simplex[0].1 {
            let expanded = point(&centroid, &worst_point, -2.0);
            let fe = f(&expanded);
            evaluations += 1;
            simplex[dims] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < simplex[dims - 1].1 {
            simplex[dims] = (reflected, fr);
        } else {
            let contracted = if fr < worst {
                point(&centroid, &reflected, 0.5)
            } else {
                point(&centroid, &worst_point, 0.5)
            };
            let fc = f(&contracted);
            evaluations += 1;
            if fc < fr.min(worst) {
                simplex[dims] = (contracted, fc);
            } else {
                let anchor = simplex[0].0.clone();
                for (p, v) in simplex.iter_mut().skip(1) {
                    *p = point(&anchor, p, 0.5);
                    *v = f(p);
                }
                evaluations += dims;
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex.swap_remove(0)
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
        let f = seasonal_ets(&y, 12, 12).unwrap();
        for (h, got) in f.iter().enumerate() {
            let truth = value(120 + h);
            assert!(
                (got / truth - 1.0).abs() < 0.05,
                "month {h}: {got:.1} vs {truth:.1}"
            );
        }
    }

    #[test]
    fn compounding_growth_is_followed_in_logs() {
        // Quarterly, growing 4% a quarter with a ±25% season and ±2% noise (JohnsonJohnson's
        // shape): a linear trend, on the series or its level, falls behind the compounding by
        // about 5% three years out; the form in logs follows it.
        let season = [1.0, 1.25, 0.9, 0.75];
        let truth = |t: usize| 100.0 * 1.04f64.powi(t as i32) * season[t % 4];
        let noise = |t: usize| 1.0 + 0.02 * (((t * 7919) % 17) as f64 / 8.0 - 1.0);
        let y: Vec<f64> = (0..60).map(|t| truth(t) * noise(t)).collect();
        let f = seasonal_ets(&y, 4, 12).unwrap();
        let worst = f
            .iter()
            .enumerate()
            .map(|(h, got)| (got / truth(60 + h) - 1.0).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 0.03,
            "worst relative error over three years {:.1}%: {f:.0?}",
            100.0 * worst
        );
    }

    #[test]
    fn a_season_that_changed_shape_is_followed() {
        // Quarterly: the peak moves from the first quarter to the third halfway through.
        let value = |t: usize| {
            let peak = if t < 40 { 0 } else { 2 };
            200.0 + if t % 4 == peak { 60.0 } else { 0.0 } + ((t * 7919) % 13) as f64
        };
        let y: Vec<f64> = (0..80).map(value).collect();
        let f = seasonal_ets(&y, 4, 4).unwrap();
        let peak = (0..4).max_by(|a, b| f[*a].total_cmp(&f[*b])).unwrap();
        assert_eq!((80 + peak) % 4, 2, "forecast {f:.1?}");
    }

    #[test]
    fn nelder_mead_finds_a_valley() {
        let rosen = |p: &[f64]| (1.0 - p[0]).powi(2) + 100.0 * (p[1] - p[0] * p[0]).powi(2);
        let (p, v) = nelder_mead(&rosen, vec![-1.0, 1.0], 5_000);
        assert!(v < 1e-6 && (p[0] - 1.0).abs() < 1e-2, "{p:?} {v}");
    }

    #[test]
    fn too_short_or_too_long_a_season_is_an_error() {
        assert!(seasonal_ets(&[1.0; 20], 12, 3).is_err());
        assert!(seasonal_ets(&[1.0; 400], 52, 3).is_err());
    }
}
