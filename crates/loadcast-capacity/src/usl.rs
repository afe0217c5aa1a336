//! The Universal Scalability Law: throughput at concurrency N is
//! `X(N) = λN / (1 + σ(N − 1) + κN(N − 1))` — λ the single-user rate, σ contention, κ
//! coherency (crosstalk). Fitted by Levenberg–Marquardt (rmpfit, the CMPFIT algorithm) with
//! σ, κ ≥ 0, giving parameter errors and R²; a poor fit is reported as such, never dressed up.

use rmpfit::{MPError, MPFitter, MPPar, MPResult};
use serde::{Deserialize, Serialize};

/// A fitted USL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UslFit {
    pub lambda: f64,
    pub sigma: f64,
    pub kappa: f64,
    /// One-standard-error uncertainties of λ, σ, κ.
    pub lambda_error: f64,
    pub sigma_error: f64,
    pub kappa_error: f64,
    pub r_squared: f64,
    /// Concurrency at which throughput peaks (`√((1 − σ)/κ)`; none when κ = 0).
    pub peak_concurrency: Option<f64>,
    /// Throughput at the peak (or the limit λ/σ when κ = 0).
    pub peak_throughput: f64,
    /// R² below 0.9 or fewer points than parameters + 1: do not trust the predictions.
    pub poor: bool,
}

impl UslFit {
    pub fn throughput(&self, n: f64) -> f64 {
        usl(self.lambda, self.sigma, self.kappa, n)
    }
}

fn usl(lambda: f64, sigma: f64, kappa: f64, n: f64) -> f64 {
    lambda * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))
}

struct Points<'a> {
    n: &'a [f64],
    x: &'a [f64],
    bounds: [MPPar; 3],
}

impl MPFitter for Points<'_> {
    fn eval(&mut self, params: &[f64], deviates: &mut [f64]) -> MPResult<()> {
        for ((d, n), x) in deviates.iter_mut().zip(self.n).zip(self.x) {
            // Relative residuals: every concurrency level counts alike.
            *d = (x - usl(params[0], params[1], params[2], *n)) / x.max(1e-12);
        }
        Ok(())
    }

    fn number_of_points(&self) -> usize {
        self.n.len()
    }

    fn parameters(&self) -> Option<&[MPPar]> {
        Some(&self.bounds)
    }
}

/// Fits the USL to `(concurrency, throughput)` points.
pub fn fit(points: &[(f64, f64)]) -> Result<UslFit, String> {
    let points: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(n, x)| *n >= 1.0 && *x > 0.0 && x.is_finite())
        .collect();
    if points.len() < 3 {
        return Err(format!(
            "the USL has three parameters and needs at least 3 concurrency levels with throughput; got {}",
            points.len()
        ));
    }
    let n: Vec<f64> = points.iter().map(|p| p.0).collect();
    let x: Vec<f64> = points.iter().map(|p| p.1).collect();
    // λ starts at the best per-user throughput seen at the lowest concurrency.
    let lambda0 = points
        .iter()
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(1.0, |(n, x)| x / n);
    // Start from the linearized USL: N·λ/X − 1 = σ(N − 1) + κN(N − 1), least squares in σ, κ.
    // A poor start lets the optimizer peg the tiny κ at its bound and stay there.
    let (mut s11, mut s12, mut s22, mut b1, mut b2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (n, x) in &points {
        let y = n * lambda0 / x - 1.0;
        let (u, v) = (n - 1.0, n * (n - 1.0));
        s11 += u * u;
        s12 += u * v;
        s22 += v * v;
        b1 += u * y;
        b2 += v * y;
    }
    let det = s11 * s22 - s12 * s12;
    let (sigma0, kappa0) = if det.abs() > 1e-12 {
        ((b1 * s22 - b2 * s12) / det, (s11 * b2 - s12 * b1) / det)
    } else {
        (0.05, 0.0)
    };
    let mut params = [lambda0, sigma0.clamp(1e-6, 0.99), kappa0.max(1e-9)];
    let bounds = [
        MPPar {
            limited_low: true,
            limit_low: 0.0,
            ..MPPar::default()
        },
        MPPar {
            limited_low: true,
            limit_low: 0.0,
            limited_up: true,
            limit_up: 1.0,
            ..MPPar::default()
        },
        MPPar {
            limited_low: true,
            limit_low: 0.0,
            ..MPPar::default()
        },
    ];
    let mut data = Points {
        n: &n,
        x: &x,
        bounds,
    };
    let status = data.mpfit(&mut params).map_err(|e| {
        let why = match e {
            MPError::Nan => "the model produced non-finite values",
            MPError::DoF => "too few points for three parameters",
            MPError::InitBounds | MPError::Bounds => "the starting values break the bounds",
            _ => "invalid input",
        };
        format!("the USL fit failed: {why}")
    })?;
    let [lambda, sigma, kappa] = params;
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let total: f64 = x.iter().map(|v| (v - mean).powi(2)).sum();
    let residual: f64 = n
        .iter()
        .zip(&x)
        .map(|(n, x)| (x - usl(lambda, sigma, kappa, *n)).powi(2))
        .sum();
    let r_squared = if total > 0.0 {
        1.0 - residual / total
    } else {
        0.0
    };
    // rmpfit's errors assume unit measurement errors; scale them by the residual spread.
    let dof = (x.len() as f64 - 3.0).max(1.0);
    let scale = (status.best_norm / dof).sqrt();
    let error = |i: usize| status.xerror.get(i).copied().unwrap_or(f64::NAN) * scale;
    let peak_concurrency = (kappa > 1e-12).then(|| ((1.0 - sigma) / kappa).sqrt());
    let peak_throughput = match peak_concurrency {
        Some(p) => usl(lambda, sigma, kappa, p),
        None if sigma > 1e-12 => lambda / sigma,
        None => f64::INFINITY,
    };
    Ok(UslFit {
        lambda,
        sigma,
        kappa,
        lambda_error: error(0),
        sigma_error: error(1),
        kappa_error: error(2),
        r_squared,
        peak_concurrency,
        peak_throughput,
        poor: r_squared < 0.9 || x.len() < 4,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic(lambda: f64, sigma: f64, kappa: f64, noise: f64, seed: u64) -> Vec<(f64, f64)> {
        let mut rng = fastrand::Rng::with_seed(seed);
        [
            1.0, 2.0, 4.0, 8.0, 16.0, 24.0, 32.0, 48.0, 64.0, 96.0, 128.0,
        ]
        .iter()
        .map(|&n| {
            let x = usl(lambda, sigma, kappa, n) * (1.0 + noise * (rng.f64() * 2.0 - 1.0));
            (n, x)
        })
        .collect()
    }

    #[test]
    fn recovers_known_sigma_and_kappa_within_ten_percent() {
        for (seed, (sigma, kappa)) in [(0.02, 0.0005), (0.05, 0.0001), (0.1, 0.002)]
            .iter()
            .enumerate()
        {
            let f = fit(&synthetic(100.0, *sigma, *kappa, 0.01, seed as u64)).unwrap();
            assert!(
                (f.sigma / sigma - 1.0).abs() < 0.10,
                "σ {} vs {sigma}",
                f.sigma
            );
            assert!(
                (f.kappa / kappa - 1.0).abs() < 0.10,
                "κ {} vs {kappa}",
                f.kappa
            );
            assert!((f.lambda / 100.0 - 1.0).abs() < 0.05, "λ {}", f.lambda);
            assert!(f.r_squared > 0.99 && !f.poor);
            assert!(f.sigma_error > 0.0 && f.kappa_error > 0.0);
            let peak = ((1.0 - sigma) / kappa).sqrt();
            assert!((f.peak_concurrency.unwrap() / peak - 1.0).abs() < 0.10);
        }
    }

    #[test]
    fn a_poor_fit_says_so() {
        // Throughput that jumps around: no scalability curve explains it.
        let points = [
            (1.0, 100.0),
            (2.0, 40.0),
            (4.0, 390.0),
            (8.0, 60.0),
            (16.0, 500.0),
        ];
        let f = fit(&points).unwrap();
        assert!(f.poor, "R² {}", f.r_squared);
        assert!(fit(&[(1.0, 10.0), (2.0, 19.0)]).is_err());
    }
}
