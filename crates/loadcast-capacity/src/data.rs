//! Capacity as a function of data volume, fitted on searches at several data scales and
//! extrapolated to the horizon's volume — with an interval, and a warning when the
//! extrapolation crosses the database's cache or the machine's memory, where cliffs come from
//! and no smooth curve fitted below them can see them.

use serde::{Deserialize, Serialize};

/// A measured point: capacity (per second) at a data volume (rows of the driving table).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataPoint {
    pub volume: f64,
    pub capacity: f64,
    /// Size of the database on disk at this volume, when known.
    pub bytes: Option<f64>,
}

/// The shape of capacity against volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// `1/C = a + b·V`: each request's work grows linearly with the data (a scan).
    Inverse,
    /// `ln C = a + b·ln V`.
    Power,
    /// `C = a + b·ln V`: index depth, logarithmic growth of work.
    Logarithmic,
    /// `C = a + b·V`.
    Linear,
}

impl Form {
    fn transform(self, volume: f64, capacity: f64) -> (f64, f64) {
        match self {
            Form::Inverse => (volume, 1.0 / capacity),
            Form::Power => (volume.ln(), capacity.ln()),
            Form::Logarithmic => (volume.ln(), capacity),
            Form::Linear => (volume, capacity),
        }
    }

    fn x(self, volume: f64) -> f64 {
        match self {
            Form::Inverse | Form::Linear => volume,
            Form::Power | Form::Logarithmic => volume.ln(),
        }
    }

    fn back(self, y: f64) -> f64 {
        match self {
            Form::Inverse => 1.0 / y,
            Form::Power => y.exp(),
            Form::Logarithmic | Form::Linear => y,
        }
    }

    pub fn formula(self) -> &'static str {
        match self {
            Form::Inverse => "1/C = a + b·V",
            Form::Power => "C = e^a · V^b",
            Form::Logarithmic => "C = a + b·ln V",
            Form::Linear => "C = a + b·V",
        }
    }
}

/// Capacity against volume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataModel {
    pub form: Form,
    pub a: f64,
    pub b: f64,
    /// Residual standard error in the transformed space.
    pub residual_se: f64,
    /// Relative error of the fit on the measured points (mean |C − fit| / C).
    pub relative_error: f64,
    pub points: Vec<DataPoint>,
    /// Every form tried, with its relative error.
    pub tried: Vec<(Form, f64)>,
    mean_x: f64,
    sxx: f64,
}

/// A prediction with its 95% interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub capacity: f64,
    pub low: f64,
    pub high: f64,
}

/// Two-sided 97.5% quantiles of Student's t by degrees of freedom (1..=10), then normal.
fn t975(dof: usize) -> f64 {
    const T: [f64; 10] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    ];
    if dof == 0 {
        f64::INFINITY
    } else {
        T.get(dof - 1).copied().unwrap_or(1.96)
    }
}

/// Least squares on (x, y): intercept, slope, residual SE, mean x, Sxx.
fn line(points: &[(f64, f64)]) -> (f64, f64, f64, f64, f64) {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let a = my - b * mx;
    let sse: f64 = points.iter().map(|p| (p.1 - a - b * p.0).powi(2)).sum();
    let se = if points.len() > 2 {
        (sse / (n - 2.0)).sqrt()
    } else {
        0.0
    };
    (a, b, se, mx, sxx)
}

/// Fits every form and keeps the one whose predictions are closest to the measurements.
pub fn fit(points: &[DataPoint]) -> Result<DataModel, String> {
    let points: Vec<DataPoint> = points
        .iter()
        .copied()
        .filter(|p| p.volume > 0.0 && p.capacity > 0.0)
        .collect();
    if points.len() < 2 {
        return Err(format!(
            "capacity against data volume needs at least 2 scales with a capacity; got {}",
            points.len()
        ));
    }
    let mut best: Option<DataModel> = None;
    let mut tried = Vec::new();
    for form in [Form::Inverse, Form::Power, Form::Logarithmic, Form::Linear] {
        let t: Vec<(f64, f64)> = points
            .iter()
            .map(|p| form.transform(p.volume, p.capacity))
            .collect();
        let (a, b, se, mean_x, sxx) = line(&t);
        let relative_error = points
            .iter()
            .map(|p| (form.back(a + b * form.x(p.volume)) / p.capacity - 1.0).abs())
            .sum::<f64>()
            / points.len() as f64;
        if !relative_error.is_finite() {
            continue;
        }
        tried.push((form, relative_error));
        // A simpler physical story wins ties: forms are tried from the most plausible.
        if best
            .as_ref()
            .is_none_or(|m| relative_error < m.relative_error * 0.9)
        {
            best = Some(DataModel {
                form,
                a,
                b,
                residual_se: se,
                relative_error,
                points: points.clone(),
                tried: Vec::new(),
                mean_x,
                sxx,
            });
        }
    }
    let mut model = best.ok_or("no form fits these points")?;
    model.tried = tried;
    Ok(model)
}

impl DataModel {
    /// Capacity at `volume`, with a 95% prediction interval (wide when extrapolating).
    pub fn predict(&self, volume: f64) -> Prediction {
        let x = self.form.x(volume);
        let y = self.a + self.b * x;
        let n = self.points.len() as f64;
        let leverage = if self.sxx > 0.0 {
            1.0 + 1.0 / n + (x - self.mean_x).powi(2) / self.sxx
        } else {
            1.0
        };
        // With as few points as scales, the residual error may be 0: keep a floor of the
        // measured relative error so an exact fit of three points is not called certain.
        let floor = match self.form {
            Form::Inverse => self.relative_error * y.abs(),
            Form::Power => self.relative_error,
            Form::Logarithmic | Form::Linear => self.relative_error * y.abs(),
        };
        let half = t975(self.points.len().saturating_sub(2))
            * self.residual_se.max(floor)
            * leverage.sqrt();
        let (a, b) = (self.form.back(y - half), self.form.back(y + half));
        let capacity = self.form.back(y).max(0.0);
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        Prediction {
            capacity,
            low: low.max(0.0),
            high: if high.is_finite() && high > 0.0 {
                high
            } else {
                f64::INFINITY
            },
        }
    }

    /// The largest measured volume.
    pub fn measured_up_to(&self) -> f64 {
        self.points.iter().map(|p| p.volume).fold(0.0, f64::max)
    }
}

/// What an extrapolation crosses that the fit cannot see.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cliff {
    /// `database cache` or `machine memory`.
    pub what: String,
    pub limit_bytes: f64,
    /// The size reached at the largest measured scale, and the size at the horizon.
    pub measured_bytes: f64,
    pub horizon_bytes: f64,
}

/// Flags the limits (`(name, bytes)`) that lie between the largest measured size and the
/// horizon's size.
pub fn cliffs(model: &DataModel, horizon_volume: f64, limits: &[(&str, f64)]) -> Vec<Cliff> {
    let measured: Vec<&DataPoint> = model.points.iter().filter(|p| p.bytes.is_some()).collect();
    let Some(largest) = measured.iter().max_by(|a, b| a.volume.total_cmp(&b.volume)) else {
        return Vec::new();
    };
    let measured_bytes = largest.bytes.unwrap_or(0.0);
    // Size grows with volume: bytes per row from the largest measurement.
    let horizon_bytes = measured_bytes * horizon_volume / largest.volume;
    limits
        .iter()
        .filter(|(_, limit)| *limit > measured_bytes && *limit <= horizon_bytes)
        .map(|(what, limit)| Cliff {
            what: (*what).to_string(),
            limit_bytes: *limit,
            measured_bytes,
            horizon_bytes,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(volume: f64, capacity: f64) -> DataPoint {
        DataPoint {
            volume,
            capacity,
            bytes: None,
        }
    }

    #[test]
    fn a_scan_is_recognised_and_extrapolated() {
        // Service time 2 ms + 1 µs per thousand rows, 4 workers.
        let c = |v: f64| 4.0 / (0.002 + 1e-6 * v / 1000.0);
        let points: Vec<DataPoint> = [1e6, 2e6, 4e6].iter().map(|v| point(*v, c(*v))).collect();
        let m = fit(&points).unwrap();
        assert_eq!(m.form, Form::Inverse);
        let p = m.predict(8e6);
        assert!((p.capacity / c(8e6) - 1.0).abs() < 0.01);
        assert!(p.low <= p.capacity && p.capacity <= p.high);
    }

    #[test]
    fn cliffs_between_the_measured_and_the_horizon_are_flagged() {
        let points = vec![
            DataPoint {
                volume: 1e6,
                capacity: 500.0,
                bytes: Some(100e6),
            },
            DataPoint {
                volume: 2e6,
                capacity: 400.0,
                bytes: Some(200e6),
            },
        ];
        let m = fit(&points).unwrap();
        let c = cliffs(
            &m,
            8e6,
            &[
                ("database cache", 128e6),
                ("database cache", 512e6),
                ("machine memory", 24e9),
            ],
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].limit_bytes, 512e6);
        assert_eq!(c[0].horizon_bytes, 800e6);
    }
}
