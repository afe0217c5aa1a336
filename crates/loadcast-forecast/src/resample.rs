//! A history brought to a coarser step the user names (`--resample 1d:sum`): hourly business
//! traffic as daily totals, a scrape every 15 s as one sample a minute. Buckets are calendar
//! days, ISO weeks (from Monday) or calendar months; a bucket at either end holding less than
//! half the usual number of samples is a partial period and is left out, and said so.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use crate::ForecastError;
use crate::grid::NOMINAL_MONTH;
use crate::history::{History, NamedPoints};

/// How the samples of a bucket become one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// Rates (requests per second): the bucket's mean rate.
    Mean,
    /// Counts (orders per hour): the bucket's total.
    Sum,
    /// The busiest sample: what capacity must meet.
    Max,
    /// The bucket's last value: volumes (rows, bytes).
    Last,
}

impl Aggregate {
    /// The name `--resample` takes.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Mean => "mean",
            Aggregate::Sum => "sum",
            Aggregate::Max => "max",
            Aggregate::Last => "last",
        }
    }
}

/// `1d`, `1d:sum`, `1w:max`, `1month:last`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Resample {
    pub step: Duration,
    /// `None`: the mean for traffic, the last value for data.
    pub how: Option<Aggregate>,
}

impl FromStr for Resample {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (step, how) = text.split_once(':').unwrap_or((text, ""));
        let step = humantime::parse_duration(step.trim())
            .map_err(|e| format!("{step:?} is not a step ({e}): e.g. 1d, 1h, 1w, 1month"))?;
        if step.is_zero() {
            return Err("the step must be longer than zero".into());
        }
        let how = match how.trim() {
            "" => None,
            "mean" | "avg" => Some(Aggregate::Mean),
            "sum" => Some(Aggregate::Sum),
            "max" => Some(Aggregate::Max),
            "last" => Some(Aggregate::Last),
            other => {
                return Err(format!(
                    "{other:?} is not an aggregate: mean, sum, max or last"
                ));
            }
        };
        Ok(Self { step, how })
    }
}

/// humantime's month (30.44 days), which `1month` parses to.
const HUMANTIME_MONTH: u64 = 2_630_016;

impl Resample {
    fn months(&self) -> Option<i64> {
        let s = self.step.as_secs();
        (s % HUMANTIME_MONTH == 0).then_some((s / HUMANTIME_MONTH) as i64)
    }

    /// The start of the bucket `t` falls in.
    fn bucket(&self, t: i64) -> i64 {
        use loadcast_stats::time::{civil_from_days, days_from_civil};
        if let Some(months) = self.months() {
            let (y, m, _) = civil_from_days(t.div_euclid(86_400));
            let index = (y * 12 + i64::from(m) - 1).div_euclid(months) * months;
            return days_from_civil(index.div_euclid(12), (index.rem_euclid(12) + 1) as u32, 1)
                * 86_400;
        }
        let step = self.step.as_secs() as i64;
        // Weeks from Monday (1970-01-05), everything else from midnight UTC.
        let origin = if step % (7 * 86_400) == 0 {
            4 * 86_400
        } else {
            0
        };
        origin + (t - origin).div_euclid(step) * step
    }
}

impl History {
    /// This history on the coarser step `to`, bucketed on its own clock (a day is a local day,
    /// and dated by it).
    pub fn resample(&self, to: Resample, origin: &str) -> Result<History, ForecastError> {
        let from = self.grid.describe(self.step);
        to.check_coarser(self.step.as_secs(), &from)?;
        let series = self
            .series
            .iter()
            .map(|s| {
                let points = (0..s.values.len())
                    .map(|i| (self.wall_time(i), s.values[i]))
                    .collect();
                (s.name.clone(), s.kind, points)
            })
            .collect();
        Ok(bucketed(series, to, origin, &from, self.notes.clone())?.on_clock(self.clock.clone()))
    }
}

/// Samples that fit no grid of their own (read "about daily" at whatever hour someone ran the
/// export) on the step `to`: the user named the step, so each sample is counted in the bucket
/// its time falls in, however far it is from the others' time of day.
pub fn resample_points(
    series: Vec<NamedPoints>,
    to: Resample,
    origin: &str,
) -> Result<History, ForecastError> {
    let times = crate::history::distinct_times(&series);
    // The mean spacing, not the median: samples an hour apart one day and a day and a half
    // the next are still daily.
    let span = times.last().zip(times.first()).map_or(0, |(b, a)| b - a);
    let average = (span / times.len().saturating_sub(1).max(1) as i64 / 60 * 60).max(1) as u64;
    let from = format!(
        "irregular samples (on average {} apart)",
        humantime::format_duration(Duration::from_secs(average))
    );
    // Samples about as far apart as the step are what it snaps; only a step clearly finer
    // than their spacing would invent samples.
    to.check_coarser(average * 9 / 10, &from)?;
    bucketed(series, to, origin, &from, Vec::new())
}

impl Resample {
    /// Resampling to a step no coarser than the samples' own would invent samples.
    fn check_coarser(&self, own_seconds: u64, own: &str) -> Result<(), ForecastError> {
        let nominal = self
            .months()
            .map_or(self.step.as_secs() as i64, |m| m * NOMINAL_MONTH);
        if (nominal as u64) <= own_seconds {
            return Err(ForecastError::Options(format!(
                "--resample {}: not coarser than the history's own step ({own})",
                humantime::format_duration(self.step),
            )));
        }
        Ok(())
    }
}

/// Each series' points aggregated by bucket of `to`, placed on that step's grid; `from`
/// describes the samples' own step in the note.
fn bucketed(
    series: Vec<NamedPoints>,
    to: Resample,
    origin: &str,
    from: &str,
    mut notes: Vec<String>,
) -> Result<History, ForecastError> {
    let mut aggregated: Vec<NamedPoints> = Vec::new();
    let mut resampled = Vec::new();
    for (name, kind, points) in series {
        let how = to.how.unwrap_or(match kind {
            crate::history::SeriesKind::Traffic => Aggregate::Mean,
            crate::history::SeriesKind::Data => Aggregate::Last,
        });
        let mut buckets: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
        for (t, v) in points {
            buckets.entry(to.bucket(t)).or_default().push(v);
        }
        let mut sizes: Vec<usize> = buckets.values().map(Vec::len).collect();
        sizes.sort_unstable();
        let usual = sizes.get(sizes.len() / 2).copied().unwrap_or(0);
        let partial =
            |b: Option<(&i64, &Vec<f64>)>| b.filter(|(_, v)| v.len() * 2 < usual).map(|(t, _)| *t);
        let ends = [
            partial(buckets.iter().next()),
            partial(buckets.iter().next_back()),
        ];
        for t in ends.into_iter().flatten() {
            buckets.remove(&t);
            notes.push(format!(
                "{name}: the bucket of {} holds part of a period only and was left out",
                loadcast_stats::time::format_date(t)
            ));
        }
        let points = buckets
            .into_iter()
            .map(|(t, v)| {
                let value = match how {
                    Aggregate::Mean => v.iter().sum::<f64>() / v.len() as f64,
                    Aggregate::Sum => v.iter().sum(),
                    Aggregate::Max => v.iter().copied().fold(f64::MIN, f64::max),
                    Aggregate::Last => v[v.len() - 1],
                };
                (t, value)
            })
            .collect();
        resampled.push((name.clone(), how, usual));
        aggregated.push((name, kind, points));
    }
    // Months are placed by the calendar; fixed steps on their own grid.
    let step = to.months().is_none().then_some(to.step);
    let mut out = History::from_points(origin, step, aggregated)?;
    for (name, how, usual) in resampled {
        notes.push(format!(
            "{name}: resampled from {from} to {} by {} (about {usual} sample{} a bucket)",
            out.grid.describe(out.step),
            how.name(),
            if usual == 1 { "" } else { "s" }
        ));
    }
    notes.append(&mut out.notes);
    out.notes = notes;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{CsvSpec, SeriesKind, SeriesSpec, parse_csv};

    #[test]
    fn hourly_business_traffic_becomes_daily_totals_on_weekdays() {
        let mut csv = String::from("time,orders\n");
        // Four weeks of weekdays, 09:00–16:00, 10 orders an hour (Mondays 20).
        for day in 0..28i64 {
            if day % 7 >= 5 {
                continue;
            }
            for hour in 9..17 {
                let t = loadcast_stats::time::parse_time("2026-11-02").unwrap()
                    + day * 86_400
                    + hour * 3600;
                let v = if day % 7 == 0 { 20 } else { 10 };
                csv.push_str(&format!("{t},{v}\n"));
            }
        }
        let spec = CsvSpec {
            timestamp: None,
            series: vec![SeriesSpec::new("orders", "orders", SeriesKind::Traffic)],
        };
        let hourly = parse_csv(&csv, "h.csv", &spec).unwrap();
        let daily = hourly.resample("1d:sum".parse().unwrap(), "h.csv").unwrap();
        // Weekdays only, still: a grid of five slots a week.
        assert_eq!(daily.len(), 20, "{:?}", daily.notes);
        assert_eq!(
            &daily.series[0].values[..5],
            [160.0, 80.0, 80.0, 80.0, 80.0]
        );
        assert!(
            daily
                .notes
                .iter()
                .any(|n| n.starts_with("orders: resampled from 1 hour, only ")
                    && n.contains(" to 1 day, only ")
                    && n.ends_with(" by sum (about 8 samples a bucket)")),
            "{:?}",
            daily.notes
        );
        let e = hourly.resample("1m".parse().unwrap(), "h.csv").unwrap_err();
        assert!(e.to_string().contains("not coarser"), "{e}");
        assert!("1d:median".parse::<Resample>().is_err());
    }

    #[test]
    fn samples_at_a_different_hour_each_day_are_counted_by_the_day_they_fall_in() {
        // An export run once a day at whatever hour: 02:00 one day, 21:00 the next. No grid
        // of their own holds them, and a daily step the user names does.
        let hours = [2, 21, 9, 23, 0, 14, 5];
        let mut csv = String::from("time,orders\n");
        let day0 = loadcast_stats::time::parse_time("2026-11-02").unwrap();
        for day in 0..60i64 {
            let t = day0 + day * 86_400 + hours[day as usize % hours.len()] * 3600;
            csv.push_str(&format!("{t},{}\n", 100 + day));
        }
        let spec = CsvSpec {
            timestamp: None,
            series: vec![SeriesSpec::new("orders", "orders", SeriesKind::Traffic)],
        };
        let e = parse_csv(&csv, "export.csv", &spec)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`--resample 1day` counts each sample"), "{e}");
        let points = crate::history::parse_csv_points(&csv, "export.csv", &spec, None)
            .unwrap()
            .series;
        let daily = resample_points(points.clone(), "1d".parse().unwrap(), "export.csv").unwrap();
        assert_eq!(daily.len(), 60, "{:?}", daily.notes);
        assert_eq!(daily.start, day0, "buckets start at midnight");
        let expected: Vec<f64> = (0..60).map(|d| 100.0 + d as f64).collect();
        assert_eq!(daily.series[0].values, expected, "each day its own sample");
        assert!(
            daily.notes.iter().any(|n| n
                == "orders: resampled from irregular samples (on average 1day 21m apart) to 1 day by mean (about 1 sample a bucket)"),
            "{:?}",
            daily.notes
        );
        let e = resample_points(points, "1h".parse().unwrap(), "export.csv").unwrap_err();
        assert!(e.to_string().contains("not coarser"), "{e}");
    }
}
