//! Capacity as a function of data volume, fitted on searches at several data scales and
//! extrapolated to the horizon's volume — with an interval, and a warning when the
//! extrapolation crosses the database's cache or the machine's memory, where cliffs come from
//! and no smooth curve fitted below them can see them.
//!
//! Three noisy points cannot choose among four two-parameter forms by their errors alone, so
//! the form with a physical reason is preferred: `1/C = a + b·V` (each request's work grows with
//! the data, a scan) unless the measurements clearly reject it. The other forms that fit about as
//! well are not thrown away: their predictions widen the interval. So does each search's own
//! bracket (capacity lies between the last good and the first bad rate): a fit through two scales
//! has no residuals to learn from, and then the brackets are the only honest uncertainty.

use serde::{Deserialize, Serialize};

/// A measured point: capacity (per second) at a data volume (rows of the driving table).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataPoint {
    pub volume: f64,
    pub capacity: f64,
    /// Size of the database on disk at this volume, when known.
    pub bytes: Option<f64>,
    /// The search's bracket `[last good, first bad]` around the capacity, when known.
    #[serde(default)]
    pub bracket: Option<(f64, f64)>,
}

impl DataPoint {
    pub fn new(volume: f64, capacity: f64) -> Self {
        Self {
            volume,
            capacity,
            bytes: None,
            bracket: None,
        }
    }
}

/// A form that fits the measurements nearly as well as the chosen one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alternative {
    pub form: Form,
    pub a: f64,
    pub b: f64,
    pub relative_error: f64,
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
    #[serde(default)]
    pub points: Vec<DataPoint>,
    /// Every form tried, with its relative error.
    #[serde(default)]
    pub tried: Vec<(Form, f64)>,
    /// Degrees of freedom of the fit (points − 2): 0 means the line passes exactly through
    /// the points and their scatter says nothing about its error.
    #[serde(default)]
    pub dof: usize,
    /// The other forms that fit about as well: they widen the interval.
    #[serde(default)]
    pub alternatives: Vec<Alternative>,
    mean_x: f64,
    sxx: f64,
}

/// A prediction with its 95% interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub capacity: f64,
    pub low: f64,
    /// Infinite (`null` in JSON) when nothing bounds it.
    #[serde(
        with = "loadcast_stats::document::unbounded",
        default = "loadcast_stats::document::unbounded::infinite"
    )]
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

/// The inverse form is kept unless its mean error is above this and well above the best form's.
const CLEAR_REJECTION: f64 = 0.05;

/// One form's least-squares line: intercept, slope, residual SE, mean x, Sxx, and the mean
/// relative error of its predictions.
#[derive(Clone, Copy, Debug)]
struct FormFit {
    a: f64,
    b: f64,
    se: f64,
    mean_x: f64,
    sxx: f64,
    relative_error: f64,
}

/// One form's least-squares line on the points, with its mean relative error.
fn fit_form(form: Form, points: &[DataPoint]) -> Option<FormFit> {
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
    relative_error.is_finite().then_some(FormFit {
        a,
        b,
        se,
        mean_x,
        sxx,
        relative_error,
    })
}

/// Fits every form; keeps the inverse (a scan) unless the points clearly reject it, else the
/// closest; the forms that fit about as well as the kept one stay as alternatives.
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
    let distinct = points
        .iter()
        .any(|p| (p.volume / points[0].volume - 1.0).abs() > 1e-6);
    if !distinct {
        return Err(
            "every scale was measured at the same data volume: there is no slope to fit".into(),
        );
    }
    let fits: Vec<(Form, FormFit)> = [Form::Inverse, Form::Power, Form::Logarithmic, Form::Linear]
        .into_iter()
        .filter_map(|form| Some((form, fit_form(form, &points)?)))
        .collect();
    let best_error = fits
        .iter()
        .map(|(_, f)| f.relative_error)
        .fold(f64::INFINITY, f64::min);
    if !best_error.is_finite() {
        return Err("no form fits these points".into());
    }
    let plausible = |error: f64| error <= CLEAR_REJECTION.max(2.0 * best_error);
    let chosen = fits
        .iter()
        .find(|(form, f)| *form == Form::Inverse && plausible(f.relative_error))
        .or_else(|| {
            fits.iter()
                .min_by(|x, y| x.1.relative_error.total_cmp(&y.1.relative_error))
        })
        .copied()
        .ok_or("no form fits these points")?;
    let (
        form,
        FormFit {
            a,
            b,
            se,
            mean_x,
            sxx,
            relative_error,
        },
    ) = chosen;
    let alternatives = fits
        .iter()
        .filter(|(f, fit)| *f != form && plausible(fit.relative_error))
        .map(|(f, fit)| Alternative {
            form: *f,
            a: fit.a,
            b: fit.b,
            relative_error: fit.relative_error,
        })
        .collect();
    Ok(DataModel {
        form,
        a,
        b,
        residual_se: se,
        relative_error,
        dof: points.len() - 2,
        tried: fits
            .iter()
            .map(|(f, fit)| (*f, fit.relative_error))
            .collect(),
        alternatives,
        points,
        mean_x,
        sxx,
    })
}

impl DataModel {
    /// Capacity at `volume`, with a 95% prediction interval (wide when extrapolating): the
    /// residual interval when the fit has degrees of freedom, widened to the predictions of the
    /// alternative forms and of the fits through the ends of each search's bracket.
    pub fn predict(&self, volume: f64) -> Prediction {
        let x = self.form.x(volume);
        let y = self.a + self.b * x;
        let capacity = self.form.back(y).max(0.0);
        // Every capacity the evidence allows at this volume; the interval spans them.
        let mut candidates = vec![capacity];
        let mut unbounded = false;
        let mut floor_zero = false;
        if self.dof > 0 {
            let n = self.points.len() as f64;
            let leverage = if self.sxx > 0.0 {
                1.0 + 1.0 / n + (x - self.mean_x).powi(2) / self.sxx
            } else {
                1.0
            };
            // The residual error of a few points may be near 0: keep a floor of the measured
            // relative error so a near-exact fit of three points is not called certain.
            let floor = match self.form {
                Form::Power => self.relative_error,
                Form::Inverse | Form::Logarithmic | Form::Linear => self.relative_error * y.abs(),
            };
            let half = t975(self.dof) * self.residual_se.max(floor) * leverage.sqrt();
            for c in [self.form.back(y - half), self.form.back(y + half)] {
                if c.is_finite() && c > 0.0 {
                    candidates.push(c);
                } else if self.form == Form::Inverse || !c.is_finite() {
                    // 1/C ≤ 0: no upper bound.
                    unbounded = true;
                } else {
                    // C ≤ 0: the interval reaches down to nothing.
                    floor_zero = true;
                }
            }
        }
        for alt in &self.alternatives {
            candidates.push(alt.form.back(alt.a + alt.b * alt.form.x(volume)));
        }
        candidates.extend(self.bracket_predictions(volume));
        candidates.retain(|c| c.is_finite() && *c > 0.0);
        let mut low = candidates.iter().copied().fold(capacity, f64::min);
        let mut high = candidates.iter().copied().fold(capacity, f64::max);
        if unbounded {
            high = f64::INFINITY;
        }
        if floor_zero {
            low = 0.0;
        }
        if self.dof == 0 && self.points.iter().all(|p| p.bracket.is_none()) {
            // Two exact points and nothing else: nothing says how wrong the line is.
            low = 0.0;
            high = f64::INFINITY;
        }
        Prediction {
            capacity,
            low: low.max(0.0),
            high,
        }
    }

    /// The chosen form fitted through every combination of the brackets' ends (at most 2⁸).
    fn bracket_predictions(&self, volume: f64) -> Vec<f64> {
        let ends: Vec<(f64, f64)> = self
            .points
            .iter()
            .map(|p| p.bracket.unwrap_or((p.capacity, p.capacity)))
            .collect();
        if ends.len() > 8 || ends.iter().all(|(lo, hi)| lo == hi) {
            return Vec::new();
        }
        (0..1u32 << ends.len())
            .filter_map(|mask| {
                let moved: Vec<DataPoint> = self
                    .points
                    .iter()
                    .zip(&ends)
                    .enumerate()
                    .map(|(i, (p, (lo, hi)))| DataPoint {
                        capacity: if mask & (1 << i) == 0 { *lo } else { *hi },
                        ..*p
                    })
                    .filter(|p| p.capacity > 0.0)
                    .collect();
                if moved.len() < 2 {
                    return None;
                }
                let f = fit_form(self.form, &moved)?;
                Some(self.form.back(f.a + f.b * self.form.x(volume)))
            })
            .collect()
    }

    /// How the fit should be described: its mean error, or that it has no degrees of freedom.
    pub fn quality(&self) -> String {
        if self.dof == 0 {
            format!(
                "through {} scales exactly: no degrees of freedom to judge the fit (its interval comes from the searches' brackets; measure a third scale)",
                self.points.len()
            )
        } else {
            format!(
                "mean error {:.1}% on {} scales",
                self.relative_error * 100.0,
                self.points.len()
            )
        }
    }

    /// Capacity fell faster than the data grew: `1/C = a + b·V` with `a < 0`, the per-request
    /// work more than proportional to the rows. A scan's cost grows with the rows; more than
    /// that is a step between the scales (the working set outgrew a cache), and a fit carries
    /// that step's pace on past them. Only when the searches' brackets agree: the largest
    /// scale's upper end still fell further than the rows grew from the smallest's lower end
    /// (within the brackets, a fit's intercept is the searches' resolution). `(smallest,
    /// largest)` measured points when it did.
    pub fn superlinear(&self) -> Option<(DataPoint, DataPoint)> {
        if self.form != Form::Inverse || self.a >= 0.0 {
            return None;
        }
        let by_volume = |x: &&DataPoint, y: &&DataPoint| x.volume.total_cmp(&y.volume);
        let first = self.points.iter().min_by(by_volume)?;
        let last = self.points.iter().max_by(by_volume)?;
        let low = first.bracket.map_or(first.capacity, |(held, _)| held);
        let high = last.bracket.map_or(last.capacity, |(_, broke)| broke);
        (high / low < first.volume / last.volume).then_some((*first, *last))
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
        DataPoint::new(volume, capacity)
    }

    #[test]
    fn capacity_falling_faster_than_the_data_grows_is_told_apart_from_a_scan() {
        // Twice the rows: a scan with a fixed cost keeps more than half its capacity.
        let scan = fit(&[point(1e5, 200.0), point(2e5, 110.0)]).unwrap();
        assert_eq!(scan.form, Form::Inverse);
        assert!(scan.superlinear().is_none(), "a = {}", scan.a);
        // 200/s → 80/s: less than half, a negative intercept; named by its two ends.
        let step = fit(&[point(2e5, 80.0), point(1e5, 200.0)]).unwrap();
        assert_eq!(step.form, Form::Inverse);
        let (first, last) = step.superlinear().expect("a < 0");
        assert_eq!((first.volume, last.volume), (1e5, 2e5), "a = {}", step.a);
        // 200/s → 90/s, but the larger scale broke only at 105/s: within the brackets, a
        // scan's half is not ruled out.
        let bracketed = |volume: f64, held: f64, broke: f64| DataPoint {
            bracket: Some((held, broke)),
            ..point(volume, held)
        };
        let close = fit(&[bracketed(1e5, 200.0, 210.0), bracketed(2e5, 90.0, 105.0)]).unwrap();
        assert!(close.a < 0.0, "a = {}", close.a);
        assert!(close.superlinear().is_none());
        let clear = fit(&[bracketed(1e5, 200.0, 210.0), bracketed(2e5, 80.0, 88.0)]).unwrap();
        assert!(clear.superlinear().is_some());
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
    fn a_scan_measured_with_noise_keeps_its_form_and_the_others_widen_the_interval() {
        // The truth is a scan (1/C linear in V); the measurements are off by up to ±4%, enough
        // for the power law to fit three of them more closely.
        let c = |v: f64| 1.0 / (0.002 + 0.002 * v / 1e6);
        let noisy = [(1e6, 1.03), (2e6, 0.97), (4e6, 1.02)];
        let points: Vec<DataPoint> = noisy.iter().map(|&(v, k)| point(v, c(v) * k)).collect();
        let m = fit(&points).unwrap();
        assert_eq!(m.form, Form::Inverse, "{:?}", m.tried);
        let p = m.predict(8e6);
        assert!(
            (p.capacity / c(8e6) - 1.0).abs() < 0.1,
            "{p:?} vs {}",
            c(8e6)
        );
        assert!(p.low < p.capacity && p.capacity < p.high, "{p:?}");
    }

    #[test]
    fn a_fit_through_two_scales_says_so_and_takes_its_interval_from_the_brackets() {
        let exact = fit(&[point(1e6, 500.0), point(2e6, 250.0)]).unwrap();
        assert_eq!(exact.dof, 0);
        assert!(exact.quality().contains("no degrees of freedom"));
        let p = exact.predict(4e6);
        assert_eq!(
            (p.low, p.high),
            (0.0, f64::INFINITY),
            "nothing bounds it: {p:?}"
        );
        let bracketed = fit(&[
            DataPoint {
                bracket: Some((500.0, 550.0)),
                ..point(1e6, 500.0)
            },
            DataPoint {
                bracket: Some((250.0, 275.0)),
                ..point(2e6, 250.0)
            },
        ])
        .unwrap();
        let p = bracketed.predict(4e6);
        assert!(
            p.high.is_finite() && p.high > p.capacity && p.low <= p.capacity,
            "{p:?}"
        );
    }

    #[test]
    fn scales_at_one_volume_are_refused() {
        let e = fit(&[point(1e6, 500.0), point(1e6, 480.0), point(1e6, 490.0)]).unwrap_err();
        assert!(e.contains("same data volume"), "{e}");
    }

    #[test]
    fn cliffs_between_the_measured_and_the_horizon_are_flagged() {
        let points = vec![
            DataPoint {
                bytes: Some(100e6),
                ..DataPoint::new(1e6, 500.0)
            },
            DataPoint {
                bytes: Some(200e6),
                ..DataPoint::new(2e6, 400.0)
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
