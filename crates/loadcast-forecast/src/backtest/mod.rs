//! Rolling-origin backtests: how each candidate would have done on the last stretches of the
//! history, used three ways — to choose the model per series (lowest MASE, so a fancy model
//! never wins by default), to calibrate the chosen model's prediction intervals (empirical
//! quantiles of its backtest errors by horizon, on these folds and earlier ones: [`calibration`]),
//! and to report accuracy (`--backtest`).

use serde::{Deserialize, Serialize};

use crate::history::SeriesKind;
use crate::model::{Model, Seasons, Shape, candidates};

mod calibration;

pub use calibration::{Band, Calibration, quantile_sorted};
use calibration::{calibrate, calibration_folds, conformal, in_todays_regime};

/// Accuracy over holdouts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    /// Mean absolute error scaled by the in-sample seasonal-naive error of each fold's
    /// training data (naive lag-1 without a season): below 1 beats that baseline. A fold whose
    /// training data that baseline forecast perfectly (a series flat at zero before a launch)
    /// has no scale and is left out of the mean; undefined (`null`) when every fold is.
    #[serde(with = "loadcast_stats::document::undefined")]
    pub mase: f64,
    /// Symmetric mean absolute percentage error, percent.
    #[serde(with = "loadcast_stats::document::undefined")]
    pub smape: f64,
    /// Mean absolute percentage error, percent (undefined at zeros, which are skipped).
    #[serde(with = "loadcast_stats::document::undefined")]
    pub mape: f64,
    /// Share of holdout values inside the 80% and 95% intervals.
    pub cover80: f64,
    pub cover95: f64,
    pub folds: usize,
}

impl Accuracy {
    /// The accuracy over several folds: the mean of each figure, the MASE's over the folds
    /// that define it.
    pub fn mean(folds: &[Accuracy]) -> Accuracy {
        let n = folds.len().max(1) as f64;
        let mean = |f: fn(&Accuracy) -> f64| folds.iter().map(f).sum::<f64>() / n;
        let scaled: Vec<f64> = folds
            .iter()
            .map(|a| a.mase)
            .filter(|m| m.is_finite())
            .collect();
        Accuracy {
            mase: if scaled.is_empty() {
                f64::NAN
            } else {
                scaled.iter().sum::<f64>() / scaled.len() as f64
            },
            smape: mean(|a| a.smape),
            mape: mean(|a| a.mape),
            cover80: mean(|a| a.cover80),
            cover95: mean(|a| a.cover95),
            folds: folds.len(),
        }
    }

    /// The MASE as the reports print it: "0.52", or "n/a" when no fold defined it.
    pub fn mase_text(&self, decimals: usize) -> String {
        if self.mase.is_finite() {
            format!("{:.*}", decimals, self.mase)
        } else {
            "n/a".into()
        }
    }
}

/// The chosen model and the error quantiles its intervals come from.
#[derive(Clone, Debug)]
pub struct Selection {
    pub model: Model,
    /// Every candidate's backtest MASE (`None`: it could not be fitted on some fold).
    pub scores: Vec<(Model, Option<f64>)>,
    pub calibration: Calibration,
    /// The chosen model's accuracy on the selection folds.
    pub accuracy: Accuracy,
    /// What the user should know about the choice (a pin followed or refused).
    pub notes: Vec<String>,
    /// Why the history does not support a forecast, when it does not: no model beat its mean,
    /// or the backtest error is too large for a date.
    pub unsupported: Option<String>,
    /// The sample the series' trend changed at, when the model was chosen on folds after it.
    pub trend_changed: Option<usize>,
}

/// Backtest MASE beyond which no date is read from a forecast.
pub const UNSUPPORTED_MASE: f64 = 2.0;

/// One holdout's `(forecast, actual)` pairs, by horizon step.
type FoldPairs = Vec<(f64, f64)>;

/// A candidate that fitted every fold: its mean and per-fold MASE, and its forecasts.
struct Fitted {
    score: f64,
    per_fold: Vec<f64>,
    model: Model,
    pairs: Vec<FoldPairs>,
}

/// Fold origins for holdouts of `horizon` steps: `n − horizon`, then every `spacing` steps
/// earlier, while the training part keeps `min_train` samples; oldest first, at most `max`.
pub fn origins(
    n: usize,
    horizon: usize,
    spacing: usize,
    min_train: usize,
    max: usize,
) -> Vec<usize> {
    let mut out = Vec::new();
    let mut origin = n.checked_sub(horizon);
    while let Some(o) = origin {
        if o < min_train || out.len() >= max {
            break;
        }
        out.push(o);
        origin = o.checked_sub(spacing.max(1));
    }
    out.reverse();
    out
}

/// The error scale of MASE: the in-sample seasonal-naive (or naive) mean absolute error, from
/// the first non-zero sample on: a service launched inside the history was zero before it
/// existed, and those zeros, forecast perfectly by any naive model, would shrink the scale
/// until every error looked huge (MASE 7 for a clean linear ramp).
pub fn mase_scale(train: &[f64], season: Option<usize>) -> f64 {
    let began = train.iter().position(|v| *v != 0.0).unwrap_or(0);
    let train = &train[began..];
    let lag = season.filter(|p| *p < train.len()).unwrap_or(1);
    if train.len() <= lag {
        return f64::NAN;
    }
    let sum: f64 = train[lag..]
        .iter()
        .zip(train)
        .map(|(a, b)| (a - b).abs())
        .sum();
    sum / (train.len() - lag) as f64
}

/// Samples of training the backtest keeps before its first origin.
pub fn min_train(seasons: &Seasons, len: usize) -> usize {
    let cycle = seasons.main().unwrap_or(1);
    let year = seasons.year.map_or(0, |y| (1.2 * y) as usize);
    (4 * cycle).max(year).max(12).min(len * 2 / 3)
}

/// Where a series' trend broke inside the history, and where today's regime begins for a
/// fold: far enough after the break that the fold has seen it. A data volume's break
/// ([`crate::model::break_in_trend`]: a table that stopped growing when a retention job began,
/// or grew four times faster after a launch) must be in the fold's training data for the line
/// since the last change to find it (eight samples on, and out of its last tenth); a rate's
/// ([`crate::regime::bend`]: flat for months, growing since a launch) two cycles of its season
/// on, for the seasonal models to see the new trend.
fn todays_regime(y: &[f64], kind: SeriesKind, seasons: &Seasons) -> Option<(usize, usize)> {
    match kind {
        SeriesKind::Data => crate::model::break_in_trend(y)
            .map(|change| (change, (change + 8).max(change * 10 / 9 + 2))),
        SeriesKind::Traffic => {
            let cycle = seasons.main().unwrap_or(1);
            crate::regime::bend(y, seasons).map(|change| (change, change + (2 * cycle).max(8)))
        }
    }
}

/// The holdout, spacing and origins of folds that all train on today's regime (from `start`),
/// holding out less than the horizon when it must: two folds at least. Every model trained
/// before a change errs by it, and which errs least there is luck: a table growing 2,000 rows
/// a day, then 9,000 after a launch, was forecast by an exponential trend that erred least
/// across the launch, 6.45M rows where the new rate leads to 4.47M. `None` when today's regime
/// is too short for two folds of eight.
fn folds_in_regime(n: usize, held: usize, start: usize) -> Option<(usize, usize, Vec<usize>)> {
    let room = n.checked_sub(start)?;
    // Two folds: origins n − held and n − held − held/2, both from `start`.
    let held = held.min(room * 2 / 3);
    if held < 8 {
        return None;
    }
    let spacing = (held / 2).max(1);
    let folds = origins(n, held, spacing, start, 12);
    (folds.len() >= 2).then_some((held, spacing, folds))
}

/// Chooses a model for `y` by rolling backtests with holdouts of up to `horizon` steps (for a
/// data volume whose trend broke inside the history, folds after the break:
/// [`folds_in_regime`]), and calibrates its intervals from the same folds and up to as many
/// earlier ones.
pub fn select(
    y: &[f64],
    kind: SeriesKind,
    seasons: &Seasons,
    horizon: usize,
    pin: Option<Shape>,
) -> Result<Selection, String> {
    let n = y.len();
    let min_train = min_train(seasons, n);
    // Hold out as much of the horizon as the history allows while keeping training data.
    let held = horizon.min(n.saturating_sub(min_train)).max(1);
    let spacing = (held / 2).max(1);
    let regime = todays_regime(y, kind, seasons);
    let in_regime =
        regime.and_then(|(change, start)| Some((change, folds_in_regime(n, held, start)?)));
    let trend_changed = in_regime.as_ref().map(|(change, _)| *change);
    let (held, spacing, folds) = match in_regime {
        Some((_, in_regime)) => in_regime,
        None => (held, spacing, origins(n, held, spacing, min_train, 12)),
    };
    if folds.is_empty() {
        return Err(format!(
            "{n} samples leave nothing to hold out after {min_train} for training"
        ));
    }
    let season = seasons.main();
    let mut scores = Vec::new();
    let mut fitted: Vec<Fitted> = Vec::new();
    for model in candidates(kind, seasons, folds[0]) {
        let mut fold_pairs = Vec::with_capacity(folds.len());
        let mut ok = true;
        for &o in &folds {
            match fold_pairs_of(&model, y, o, held) {
                Some(pairs) => fold_pairs.push(pairs),
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            scores.push((model, None));
            continue;
        }
        let per_fold = fold_mases(&fold_pairs, &folds, y, season);
        let score = per_fold.iter().sum::<f64>() / per_fold.len().max(1) as f64;
        scores.push((model.clone(), Some(score)));
        fitted.push(Fitted {
            score,
            per_fold,
            model,
            pairs: fold_pairs,
        });
    }
    fitted.sort_by(|a, b| a.score.total_cmp(&b.score));
    let level = fitted
        .iter()
        .find(|c| matches!(c.model, Model::Level { .. }))
        .map(|c| c.score);
    let mut notes = Vec::new();
    if let Some(shape) = pin {
        let best = fitted.first().map(|c| (c.score, c.model.to_string()));
        match (
            fitted.iter().position(|c| c.model.shape() == Some(shape)),
            best,
        ) {
            (Some(i), Some((best_score, best))) if fitted[i].score <= 1.5 * best_score => {
                let pinned = fitted.swap_remove(i);
                notes.push(format!(
                    "pinned to the {} shape: {} (backtest MASE {:.2}; the best model, {best}, {best_score:.2})",
                    shape.name(),
                    pinned.model,
                    pinned.score
                ));
                fitted = vec![pinned];
            }
            (Some(i), Some((best_score, best))) => {
                let ratio = fitted[i].score / best_score;
                let worse = if ratio < 100.0 {
                    format!("{ratio:.1}× worse")
                } else {
                    "far worse".to_string()
                };
                notes.push(format!(
                    "the pinned {} shape backtests {worse} than {best} (MASE {:.2} vs {best_score:.2}): the pin is refused",
                    shape.name(),
                    fitted[i].score
                ));
            }
            (None, _) => notes.push(format!(
                "the pinned {} shape could not be fitted to this history: the pin is refused",
                shape.name()
            )),
            _ => {}
        }
    }
    // A rate whose best model is no better than its own mean has shown nothing to project:
    // the forecast is then that mean alone (no runner-up joins it), so the note and the
    // figures printed beside it describe the same model.
    let nothing_shown = match (kind, level, fitted.first()) {
        (SeriesKind::Traffic, Some(level), Some(best)) if best.score > 0.9 * level => {
            let other = fitted
                .iter()
                .find(|c| !matches!(c.model, Model::Level { .. }))
                .map_or(String::new(), |c| {
                    format!(": the best other model, {}, backtests at MASE {:.2} against the mean's {level:.2}", c.model, c.score)
                });
            if let Some(i) = fitted
                .iter()
                .position(|c| matches!(c.model, Model::Level { .. }))
            {
                let mean = fitted.remove(i);
                fitted.insert(0, mean);
            }
            Some(format!(
                "the history shows no trend or season its backtest could confirm (no model beat its mean by 10%{other}); the forecast is that mean and its spread, and no date should be read from it"
            ))
        }
        _ => None,
    };
    let ranked: Vec<(f64, &[f64])> = fitted
        .iter()
        .map(|c| (c.score, c.per_fold.as_slice()))
        .collect();
    let joining = match nothing_shown {
        Some(_) => None,
        None => partner(&ranked),
    };
    let mut ranked = fitted.into_iter();
    let Some(best) = ranked.next() else {
        return Err("no model could be fitted".into());
    };
    let (model, pairs) = match joining.and_then(|i| ranked.nth(i)) {
        Some(second) => {
            let pairs = best
                .pairs
                .iter()
                .zip(&second.pairs)
                .map(|(a, b)| {
                    a.iter()
                        .zip(b)
                        .map(|((fa, actual), (fb, _))| ((fa + fb) / 2.0, *actual))
                        .collect()
                })
                .collect();
            (
                Model::Mean(Box::new(best.model), Box::new(second.model)),
                pairs,
            )
        }
        None => (best.model, best.pairs),
    };
    let calibrated_on = in_todays_regime(
        calibration_folds(&model, y, &folds, held, spacing, min_train, pairs.clone()),
        regime.map(|(_, start)| start),
    );
    let calibration = conformal(calibrate(&calibrated_on, held), &calibrated_on, held);
    let accuracy = score_folds(&pairs, &folds, y, season, &calibration, kind);
    let unsupported = nothing_shown.or_else(|| {
        (accuracy.mase > UNSUPPORTED_MASE).then(|| {
            format!(
                "the history does not support a forecast at this horizon: backtest MASE {:.1} (above {UNSUPPORTED_MASE})",
                accuracy.mase
            )
        })
    });
    Ok(Selection {
        model,
        scores,
        calibration,
        accuracy,
        notes,
        unsupported,
        trend_changed,
    })
}

/// `model`'s `(forecast, actual)` pairs on the fold from origin `o`, holding out up to `held`
/// samples; `None` when it cannot be fitted there or forecasts a non-finite value.
fn fold_pairs_of(model: &Model, y: &[f64], o: usize, held: usize) -> Option<FoldPairs> {
    let h = held.min(y.len() - o);
    let forecast = model.forecast(&y[..o], h).ok()?;
    forecast.iter().all(|v| v.is_finite()).then(|| {
        forecast
            .into_iter()
            .zip(y[o..o + h].iter().copied())
            .collect()
    })
}

/// Each fold's MASE.
fn fold_mases(
    folds: &[Vec<(f64, f64)>],
    origins: &[usize],
    y: &[f64],
    season: Option<usize>,
) -> Vec<f64> {
    folds
        .iter()
        .zip(origins)
        .map(|(pairs, &o)| {
            let scale = mase_scale(&y[..o], season);
            let mae = pairs.iter().map(|(f, a)| (f - a).abs()).sum::<f64>() / pairs.len() as f64;
            if scale > 0.0 { mae / scale } else { mae }
        })
        .collect()
}

/// Which of the candidates after the winner (ranked by mean MASE, each with its per-fold MASE)
/// joins it as a mean: the best of those within 20% of the winner that it did not beat clearly,
/// fold by fold (a paired t statistic of their MASE differences under 1). A model the winner
/// beats on nearly every fold is worse; one it beats on some folds and loses to on others is
/// another draw of the same noise, and the mean of the two is steadier than either. Without
/// the 20%, one fold the winner got badly wrong hid a runner-up five times worse on the rest
/// (the demo's orders: MASE 0.20 alone, 1.16 as such a mean).
fn partner(ranked: &[(f64, &[f64])]) -> Option<usize> {
    let (best_score, best_folds) = ranked.first()?;
    ranked
        .iter()
        .skip(1)
        .position(|(score, folds)| *score <= 1.2 * best_score && worse_by(best_folds, folds) < 1.0)
}

/// How clearly `other` backtests worse than `best`, fold by fold: the paired t statistic of
/// their MASE differences (infinite when it is worse on every fold by the same amount).
fn worse_by(best: &[f64], other: &[f64]) -> f64 {
    let d: Vec<f64> = other.iter().zip(best).map(|(o, b)| o - b).collect();
    let k = d.len() as f64;
    if k < 2.0 {
        return 0.0;
    }
    let mean = d.iter().sum::<f64>() / k;
    let sd = (d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt();
    if sd > 0.0 {
        mean / (sd / k.sqrt())
    } else if mean > 0.0 {
        f64::INFINITY
    } else {
        0.0
    }
}

fn score_folds(
    folds: &[Vec<(f64, f64)>],
    origins: &[usize],
    y: &[f64],
    season: Option<usize>,
    calibration: &Calibration,
    kind: SeriesKind,
) -> Accuracy {
    let each: Vec<Accuracy> = folds
        .iter()
        .zip(origins)
        .map(|(pairs, &o)| score(pairs, &y[..o], season, |h, f| calibration.band(f, h, kind)))
        .collect();
    Accuracy::mean(&each)
}

/// Accuracy of one holdout: `(forecast, actual)` pairs, the training data before it (for the
/// MASE scale), and the band each forecast carried.
pub fn score(
    pairs: &[(f64, f64)],
    train: &[f64],
    season: Option<usize>,
    band: impl Fn(usize, f64) -> Band,
) -> Accuracy {
    let n = pairs.len().max(1) as f64;
    let scale = mase_scale(train, season);
    let mut acc = Accuracy {
        folds: 1,
        ..Accuracy::default()
    };
    let mut mape_n = 0usize;
    for (h, &(f, a)) in pairs.iter().enumerate() {
        let e = (a - f).abs();
        acc.mase += e;
        let denominator = a.abs() + f.abs();
        if denominator > 0.0 {
            acc.smape += 2.0 * e / denominator;
        }
        if a != 0.0 {
            acc.mape += e / a.abs();
            mape_n += 1;
        }
        let b = band(h, f);
        acc.cover80 += f64::from(u8::from(b.lo80 <= a && a <= b.hi80));
        acc.cover95 += f64::from(u8::from(b.lo95 <= a && a <= b.hi95));
    }
    acc.mase = if scale > 0.0 {
        acc.mase / n / scale
    } else if acc.mase == 0.0 {
        // A series the seasonal naive forecast perfectly, forecast perfectly.
        0.0
    } else {
        f64::NAN
    };
    acc.smape *= 100.0 / n;
    acc.mape = if mape_n > 0 {
        acc.mape * 100.0 / mape_n as f64
    } else {
        f64::NAN
    };
    acc.cover80 /= n;
    acc.cover95 /= n;
    acc
}

#[cfg(test)]
mod tests {
    use super::calibration::tests::heavy_tailed;
    use super::*;

    #[test]
    fn only_a_runner_up_the_winner_did_not_clearly_beat_joins_it() {
        let mean = |f: &[f64]| f.iter().sum::<f64>() / f.len() as f64;
        let rank = |candidates: &[Vec<f64>]| -> Vec<(f64, Vec<f64>)> {
            candidates.iter().map(|f| (mean(f), f.clone())).collect()
        };
        let partner = |ranked: &[(f64, Vec<f64>)]| {
            let refs: Vec<(f64, &[f64])> = ranked.iter().map(|(s, f)| (*s, f.as_slice())).collect();
            partner(&refs)
        };
        // Alike: the winner is better on some folds, worse on others.
        let alike = rank(&[vec![1.0, 1.2, 0.8, 1.0], vec![1.1, 1.0, 1.0, 1.05]]);
        assert_eq!(partner(&alike), Some(0));
        // Worse by a tenth on every fold: a worse model, not noise.
        let worse = rank(&[vec![1.0, 1.2, 0.8, 1.0], vec![1.1, 1.32, 0.88, 1.1]]);
        assert_eq!(partner(&worse), None);
        // Five times worse on three folds, far better on the one the winner got wrong: within
        // the paired test's noise, but not within 20%; the third, close on every fold, joins.
        let hidden = rank(&[
            vec![0.2, 0.2, 0.2, 2.0],
            vec![1.0, 1.0, 1.0, 0.5],
            vec![0.3, 0.1, 0.25, 2.05],
        ]);
        assert_eq!(partner(&hidden[..2]), None);
        let mut ranked = hidden;
        ranked.swap(1, 2);
        assert_eq!(partner(&ranked), Some(0));
    }

    #[test]
    fn intervals_are_calibrated_on_more_of_the_history_than_the_selection_uses() {
        // 400 samples with no season: swings of ±30 for the first 300, calm ±1 since. The
        // twelve selection folds (holdouts of 12 every 6, from sample 322 on) see only the calm
        // stretch; a band drawn from them alone would promise ±1 to a series that has swung by
        // ±30, as recently as 100 samples ago.
        let noise = heavy_tailed(400, 17);
        let y: Vec<f64> = noise
            .iter()
            .enumerate()
            .map(|(i, e)| 1000.0 + if i < 300 { 10.0 } else { 0.3 } * e)
            .collect();
        let seasons = Seasons {
            day: None,
            week: None,
            year: None,
        };
        let width = |y: &[f64]| -> Result<f64, String> {
            let selection = select(y, SeriesKind::Traffic, &seasons, 12, None)?;
            let band = selection.calibration.band(1000.0, 0, SeriesKind::Traffic);
            Ok(band.hi80 - band.lo80)
        };
        let (whole, calm) = match (width(&y), width(&y[300..])) {
            (Ok(whole), Ok(calm)) => (whole, calm),
            other => panic!("both histories select a model: {other:?}"),
        };
        assert!(
            whole > 2.0 * calm,
            "the swings before the selection folds widen the 80% band: {whole:.2} with them, {calm:.2} on the calm stretch alone"
        );
    }
}
