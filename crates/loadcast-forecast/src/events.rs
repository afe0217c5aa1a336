//! One-off events and holidays (`--events events.csv`): samples inside them are replaced, before
//! any model sees them, by the median of the same slot in the seasonal cycles around them, so
//! that Thanksgiving does not teach a model a new weekly shape. Each line of the file is
//! `start[,end][,name]` (dates or times; a date-only end is inclusive), with an optional header.
//! A rate's gross one-off spikes and a volume's one-off jumps (a bulk load or delete) are kept
//! out of the fit too, without being named in a file, each in a note.

use std::path::Path;

use crate::ForecastError;
use crate::history::{History, Series, SeriesKind, parse_time};

/// An event: `[start, end)` in Unix seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub name: String,
    pub start: i64,
    pub end: i64,
}

/// Reads an events file.
pub fn read_events(path: &Path) -> Result<Vec<Event>, ForecastError> {
    let text = std::fs::read_to_string(path).map_err(|e| ForecastError::Io {
        path: path.to_path_buf(),
        cause: e.to_string(),
    })?;
    parse_events(&text, &path.display().to_string())
}

/// Parses the text of an events file; `origin` names it in errors.
pub fn parse_events(text: &str, origin: &str) -> Result<Vec<Event>, ForecastError> {
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.iter().all(|c| c.is_empty()) {
            continue;
        }
        let Some(start) = parse_time(cells[0]) else {
            // A header line names its columns; any other line must start with a time.
            if i == 0 {
                continue;
            }
            return Err(ForecastError::Input {
                origin: origin.to_string(),
                line: Some(i + 1),
                series: None,
                cause: format!("{:?} is not a date or time (start[,end][,name])", cells[0]),
            });
        };
        let date_only = |c: &str| c.len() <= 10;
        let (end, name_at) = match cells.get(1).and_then(|c| parse_time(c).map(|t| (t, c))) {
            Some((t, c)) if date_only(c) => (t + 86_400, 2),
            Some((t, _)) => (t, 2),
            None if date_only(cells[0]) => (start + 86_400, 1),
            None => (start + 1, 1),
        };
        if end <= start {
            return Err(ForecastError::Input {
                origin: origin.to_string(),
                line: Some(i + 1),
                series: None,
                cause: "the event ends before it starts".into(),
            });
        }
        let name = cells.get(name_at..).map_or(String::new(), |c| c.join(","));
        events.push(Event {
            name: if name.is_empty() {
                format!("line {}", i + 1)
            } else {
                name
            },
            start,
            end,
        });
    }
    Ok(events)
}

impl History {
    /// Replaces the samples inside `events` by the median of the same slot in up to four
    /// cycles on either side (of the history's main season; across the event linearly when it
    /// has none); says what it did in the notes.
    pub fn exclude_events(&mut self, events: &[Event]) {
        let n = self.len();
        // Which event (if any) holds each sample, found once.
        let holder: Vec<Option<usize>> = (0..n)
            .map(|i| {
                // An event's dates are the days people lived it: on the history's own clock.
                let t = self.wall_time(i);
                events.iter().position(|e| e.start <= t && t < e.end)
            })
            .collect();
        let inside: Vec<bool> = holder.iter().map(Option::is_some).collect();
        let mut hit: Vec<usize> = holder.iter().flatten().copied().collect();
        hit.sort_unstable();
        hit.dedup();
        let count = inside.iter().filter(|x| **x).count();
        if count == 0 {
            return;
        }
        let period = self.grid.seasons(self.step, n).main();
        for series in &mut self.series {
            series.values = kept_out(&series.values, &inside, period);
        }
        let names: Vec<&str> = hit.iter().map(|&e| events[e].name.as_str()).collect();
        self.notes.push(format!(
            "{} events ({}) cover {count} samples: replaced by the trend of the same slot in the cycles around them before fitting",
            hit.len(),
            names.join(", ")
        ));
    }
}

/// A series' gross one-offs, to keep out of its fit as if they were events the user had
/// named: samples more than [`OUTLIER_SDS`] robust standard deviations from what the
/// samples around them say. One spike in a holdout swamps every candidate's backtest error
/// alike, so the backtest can no longer tell a season from the mean; left in the training
/// data, it bends every fit. Only rare samples qualify (at most 1% of the history), and never
/// those of the last cycle, where a jump may be the new level rather than a one-off. Returns,
/// for each one-off, its index and the value the samples around it say.
///
/// With a season, what the samples around say is the robust line (Theil–Sen) through the same
/// slot's samples up to four cycles either side, with at least one on each side and four in
/// all: their median would lag a growing series, and a quarterly series growing 15% a year
/// (JohnsonJohnson) had an ordinary quarter taken for a one-off. A positive rate is read in
/// logs, where a spike is a ratio and a series twenty times larger today than at its start
/// has noise of one size throughout.
fn one_offs(values: &[f64], period: Option<usize>, alike: bool) -> Vec<(usize, f64)> {
    let n = values.len();
    let log = !alike && values.iter().all(|v| *v > 0.0);
    let read: Vec<f64> = if log {
        values.iter().map(|v| v.ln()).collect()
    } else {
        values.to_vec()
    };
    // Without a season, the median of the three samples either side: a median, so that a
    // spike does not make its neighbours look like spikes too.
    let expected: Vec<Option<f64>> = (0..n)
        .map(|i| match period {
            Some(p) => slot_line(&same_slot(&read, i, p, |_| true)),
            None => {
                let near: Vec<f64> = (i.saturating_sub(3)..(i + 4).min(n))
                    .filter(|j| *j != i)
                    .map(|j| read[j])
                    .collect();
                median(near)
            }
        })
        .collect();
    let residuals: Vec<f64> = read
        .iter()
        .zip(&expected)
        .filter_map(|(v, e)| e.map(|e| v - e))
        .collect();
    let spread = robust_sd(&residuals, alike);
    if spread.is_nan() || spread <= 0.0 {
        return Vec::new();
    }
    let recent = period.unwrap_or(3).min(n);
    let found: Vec<(usize, f64)> = (0..n - recent)
        .filter_map(|i| {
            let e = expected[i]?;
            ((read[i] - e).abs() > OUTLIER_SDS * spread).then(|| (i, if log { e.exp() } else { e }))
        })
        .collect();
    if found.len() > (n / 100).max(1) {
        return Vec::new();
    }
    found
}

/// Sample `i`'s slot in up to four cycles either side, over the `usable` samples: `(cycles
/// from i, value)`.
fn same_slot(
    values: &[f64],
    i: usize,
    period: usize,
    usable: impl Fn(usize) -> bool,
) -> Vec<(f64, f64)> {
    let n = values.len();
    (-4i64..=4)
        .filter(|k| *k != 0)
        .filter_map(|k| {
            let j = usize::try_from(i as i64 + k * period as i64).ok()?;
            (j < n && usable(j)).then(|| (k as f64, values[j]))
        })
        .collect()
}

/// The Theil–Sen line through a slot's `points` ([`same_slot`]), at the sample they surround;
/// `None` without one on each side and four in all (too few for one spike among them not to
/// move the line).
fn slot_line(points: &[(f64, f64)]) -> Option<f64> {
    let before = points.iter().filter(|(k, _)| *k < 0.0).count();
    if before == 0 || before == points.len() || points.len() < 4 {
        return None;
    }
    let slopes: Vec<f64> = points
        .iter()
        .enumerate()
        .flat_map(|(a, (ka, va))| {
            points[a + 1..]
                .iter()
                .map(move |(kb, vb)| (vb - va) / (kb - ka))
        })
        .collect();
    let slope = median(slopes)?;
    median(points.iter().map(|(k, v)| v - slope * k).collect())
}

/// A series' values with its gross one-offs kept out of the fit, and the note that names them.
/// A rate's one-offs are its spikes ([`one_offs`]). A volume's are its jumps: a step (the
/// change from one sample to the next) that is a one-off among the steps and five typical
/// steps or more, a bulk load or delete; the history before it is read as if it had not
/// happened, so today's volume stands and the growth around the jump is one line.
pub fn without_one_offs(history: &History, series: &Series) -> (Vec<f64>, Option<String>) {
    let y = &series.values;
    let n = y.len();
    let calendar = history.grid.seasons(history.step, n).main();
    match series.kind {
        SeriesKind::Traffic => {
            let found = one_offs(y, calendar, false);
            let mut values = y.clone();
            for &(i, expected) in &found {
                values[i] = expected;
            }
            let note = one_off_note(
                history,
                y,
                &found,
                "sample",
                "far outside its usual range",
                "the samples around it say",
            );
            (values, note)
        }
        SeriesKind::Data => {
            let steps: Vec<f64> = std::iter::once(0.0)
                .chain(y.windows(2).map(|w| w[1] - w[0]))
                .collect();
            let typical = median(steps.iter().skip(1).map(|s| s.abs()).collect()).unwrap_or(0.0);
            let found: Vec<(usize, f64)> = one_offs(&steps, calendar, true)
                .into_iter()
                .filter(|(i, _)| *i > 0 && steps[*i].abs() > 5.0 * typical)
                .collect();
            if found.is_empty() {
                return (y.clone(), None);
            }
            let mut kept = steps.clone();
            for &(i, usual) in &found {
                kept[i] = usual;
            }
            let mut values = y.clone();
            for i in (0..n - 1).rev() {
                values[i] = values[i + 1] - kept[i + 1];
            }
            let note = one_off_note(
                history,
                &steps,
                &found,
                "step",
                "far outside its usual growth (a bulk load or delete)",
                "the steps around it add",
            );
            (
                values,
                note.map(|n| n + "; the history before it is read as if it had not happened"),
            )
        }
    }
}

/// What was kept out of a series' fit as one-offs, for its notes.
fn one_off_note(
    history: &History,
    values: &[f64],
    found: &[(usize, f64)],
    what: &str,
    how: &str,
    around_says: &str,
) -> Option<String> {
    let figure = loadcast_stats::figure::si;
    let named: Vec<String> = found
        .iter()
        .take(3)
        .map(|&(i, expected)| {
            format!(
                "{} {}, where {around_says} about {}",
                history.describe_time(i),
                figure(values[i]),
                figure(expected)
            )
        })
        .collect();
    let count = found.len();
    (count > 0).then(|| {
        format!(
            "{count} {what}{} {how} kept out of the fit as a one-off, like an event (--events names your own): {}{}",
            if count == 1 { "" } else { "s" },
            named.join("; "),
            if count > 3 { "; …" } else { "" }
        )
    })
}

/// How many robust standard deviations from what its slot's samples around it say a sample
/// must be to count as a one-off: far beyond a season's noise, where a load test against
/// production, a broken scrape or a day the service all but stopped lands (Christmas Day in the
/// taxi rides of bench/forecast: 379k where the same weekday holds 745k).
pub const OUTLIER_SDS: f64 = 10.0;

/// `values` with the samples marked `inside` replaced by what the samples outside say of them
/// ([`around`]).
fn kept_out(values: &[f64], inside: &[bool], period: Option<usize>) -> Vec<f64> {
    (0..values.len())
        .map(|i| {
            if inside[i] {
                around(values, i, period, |j| !inside[j])
            } else {
                values[i]
            }
        })
        .collect()
}

/// What the `usable` samples around sample `i` say it would be: the line through the same slot
/// in up to four cycles either side ([`slot_line`], so that a growing series is not
/// filled in at an old level), else those samples' median; without a season, the line between
/// the nearest ones.
fn around(values: &[f64], i: usize, period: Option<usize>, usable: impl Fn(usize) -> bool) -> f64 {
    let n = values.len();
    match period {
        Some(p) => {
            let points = same_slot(values, i, p, &usable);
            slot_line(&points)
                .or_else(|| median(points.iter().map(|(_, v)| *v).collect()))
                .unwrap_or(values[i])
        }
        None => {
            let before = (0..i).rev().find(|j| usable(*j));
            let after = (i + 1..n).find(|j| usable(*j));
            match (before, after) {
                (Some(a), Some(b)) => {
                    let w = (i - a) as f64 / (b - a) as f64;
                    values[a] + (values[b] - values[a]) * w
                }
                (Some(a), None) => values[a],
                (None, Some(b)) => values[b],
                (None, None) => values[i],
            }
        }
    }
}

/// The median, the mean of the middle two of an even count; `None` for none.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let m = values.len() / 2;
    match values.len() {
        0 => None,
        len if len % 2 == 1 => Some(values[m]),
        _ => Some((values[m - 1] + values[m]) / 2.0),
    }
}

/// 1.4826 × the median absolute deviation: the standard deviation of normal noise, unmoved by
/// the spikes it is used to find. When most values are exactly alike (a table that grows by
/// the same count every day) that is zero; with `alike`, 1.2533 × the mean absolute
/// deviation, the same for normal noise, stands in. (Not for a rate: one that is mostly zero
/// has its rare busy samples as its signal, not as one-offs.)
fn robust_sd(values: &[f64], alike: bool) -> f64 {
    let Some(centre) = median(values.to_vec()) else {
        return f64::NAN;
    };
    let deviations: Vec<f64> = values.iter().map(|v| (v - centre).abs()).collect();
    let mean = deviations.iter().sum::<f64>() / deviations.len() as f64;
    let mad = 1.4826 * median(deviations).unwrap_or(f64::NAN);
    if mad > 0.0 || !alike {
        mad
    } else {
        1.2533 * mean
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::SeriesKind;

    #[test]
    fn a_holiday_is_replaced_by_its_weekday_and_a_bad_line_is_named() {
        // Eight weeks of daily values with a weekly shape; Thursday of week 6 is a holiday.
        let shape = [100.0, 120.0, 130.0, 125.0, 110.0, 60.0, 50.0];
        let points = (0..56)
            .map(|d| {
                (
                    d * 86_400,
                    if d == 38 { 10.0 } else { shape[d as usize % 7] },
                )
            })
            .collect();
        let mut h =
            History::from_points("t", None, vec![("v".into(), SeriesKind::Traffic, points)])
                .unwrap();
        let day = |d: i64| crate::history::format_date(d * 86_400);
        let events =
            parse_events(&format!("date,name\n{},Thanksgiving\n", day(38)), "e.csv").unwrap();
        assert_eq!(events[0].end - events[0].start, 86_400);
        h.exclude_events(&events);
        assert_eq!(h.series[0].values[38], shape[38 % 7]);
        assert!(
            h.notes
                .last()
                .unwrap()
                .contains("1 events (Thanksgiving) cover 1 samples")
        );
        let e = parse_events("date\n2026-01-01\nsoon,New Year\n", "e.csv").unwrap_err();
        assert_eq!(
            e.to_string(),
            "e.csv:3: \"soon\" is not a date or time (start[,end][,name])"
        );
        let range = parse_events("2026-12-24,2026-12-26,Christmas", "e.csv").unwrap();
        assert_eq!(range[0].end - range[0].start, 3 * 86_400);
    }

    #[test]
    fn only_gross_rare_spikes_before_the_last_cycle_are_one_offs() {
        let shape = [100.0, 120.0, 130.0, 125.0, 110.0, 60.0, 50.0];
        let mut rng = 7u64;
        let mut noise = || {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((rng >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 6.0
        };
        let base: Vec<f64> = (0..400).map(|d| shape[d % 7] + noise()).collect();
        let with = |changes: &[(usize, f64)]| {
            let mut v = base.clone();
            for &(i, x) in changes {
                v[i] = x;
            }
            v
        };
        // A load test against production: 5,000 on a day that holds about 110.
        let found = one_offs(&with(&[(390, 5000.0)]), Some(7), false);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 390);
        assert!((found[0].1 - shape[390 % 7]).abs() < 6.0, "{found:?}");
        // A day a few noise deviations off is the season's business, not a one-off.
        assert_eq!(
            one_offs(&with(&[(200, shape[200 % 7] - 10.0)]), Some(7), false),
            []
        );
        // Without a season, the spike alone: not its neighbours as well.
        let found = one_offs(&with(&[(390, 5000.0)]), None, false);
        assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), [390]);
        // A jump in the last cycle may be the new level.
        assert_eq!(one_offs(&with(&[(396, 5000.0)]), Some(7), false), []);
        // More than 1% of the history is not a one-off.
        let many: Vec<(usize, f64)> = (0..6).map(|k| (50 + 40 * k, 5000.0)).collect();
        assert_eq!(one_offs(&with(&many), Some(7), false), []);
    }

    #[test]
    fn a_quarter_of_steady_compounding_growth_is_not_a_one_off() {
        // Twenty-one years of quarters growing 15% a year with a ±20% season and ±3% noise:
        // twenty times larger at the end than at the start, like JohnsonJohnson. The same
        // quarter's median over the cycles around lags the growth by years near the end.
        let season = [1.0, 1.2, 1.1, 0.8];
        let value = |t: usize| {
            let noise = 1.0 + 0.03 * (((t * 7919) % 11) as f64 / 5.0 - 1.0);
            0.6 * 1.15f64.powf(t as f64 / 4.0) * season[t % 4] * noise
        };
        let y: Vec<f64> = (0..84).map(value).collect();
        assert_eq!(one_offs(&y, Some(4), false), []);
        // A quarter at three times its level, two years before the end, still is one, and
        // what the quarters around it say is that quarter's level.
        let mut spiked = y.clone();
        spiked[76] *= 3.0;
        let found = one_offs(&spiked, Some(4), false);
        assert_eq!(
            found.iter().map(|f| f.0).collect::<Vec<_>>(),
            [76],
            "{found:?}"
        );
        assert!(
            (found[0].1 / y[76] - 1.0).abs() < 0.08,
            "{found:?} vs {:.2}",
            y[76]
        );
    }
}
