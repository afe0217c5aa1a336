//! History: time series sampled on a regular step, each declared as traffic or data.
//!
//! Reading is strict where a silent guess would mislead a capacity plan: duplicated timestamps,
//! cells that are not numbers and spacing that is not a multiple of the step are errors naming
//! the file, line and series. Short gaps (a missed scrape, an empty cell) are filled by linear
//! interpolation and reported, never hidden.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ForecastError;
use crate::clock::WallClock;
use crate::grid::Grid;

mod csv_file;
pub use csv_file::{CsvPoints, CsvSpec, parse_csv, parse_csv_points, read_csv, read_csv_points};
pub use loadcast_stats::time::{format_date, format_time, now, parse_time};

/// What a series measures, which decides how it is modelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    /// A rate (requests per second, orders per hour): seasonal, can fall.
    Traffic,
    /// A volume (rows or bytes of a table, a database's size): cumulative, mostly monotone,
    /// never negative.
    Data,
}

impl SeriesKind {
    pub fn name(self) -> &'static str {
        match self {
            SeriesKind::Traffic => "traffic",
            SeriesKind::Data => "data",
        }
    }
}

/// One series: values on the history's regular time grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub kind: SeriesKind,
    pub values: Vec<f64>,
}

/// A series' name, kind and `(unix seconds, value)` points, before they are put on a grid.
pub type NamedPoints = (String, SeriesKind, Vec<(i64, f64)>);

/// Series that share a regular time grid: `start + i × step`.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    /// Unix seconds of the first sample; on the wall clock when there is one.
    pub start: i64,
    /// The step; for calendar months their nominal length ([`crate::grid::NOMINAL_MONTH`]).
    pub step: Duration,
    /// How sample `i` maps to a time.
    pub grid: Grid,
    /// The local clock the grid is kept on ([`crate::clock`]); `None`: UTC.
    pub clock: Option<WallClock>,
    pub series: Vec<Series>,
    /// What was repaired on the way in (filled gaps), for the user to see.
    pub notes: Vec<String>,
}

impl History {
    pub fn len(&self) -> usize {
        self.series.first().map_or(0, |s| s.values.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Unix seconds of sample `i` (past the end too: the projection's times), an instant
    /// whatever clock the history is kept on.
    pub fn time_of(&self, i: usize) -> i64 {
        let wall = self.wall_time(i);
        self.clock
            .as_ref()
            .map_or(wall, |clock| clock.instant(wall))
    }

    /// Sample `i`'s time on the history's own clock: what its days, weeks and events are
    /// counted in.
    pub fn wall_time(&self, i: usize) -> i64 {
        self.grid.time_of(self.start, self.step, i)
    }

    /// When sample `i` was, as notes name it: its date for a daily or coarser history (its
    /// samples are days), else its time.
    pub fn describe_time(&self, i: usize) -> String {
        let t = self.time_of(i);
        if self.step.as_secs() >= 86_400 {
            format_date(t)
        } else {
            format_time(t)
        }
    }

    /// The history's step on its calendar and clock, in words ("1h on Europe/Berlin's wall
    /// clock").
    pub fn describe_grid(&self) -> String {
        let grid = self.grid.describe(self.step);
        match &self.clock {
            Some(clock) => format!("{grid} on {}'s wall clock", clock.name()),
            None => grid,
        }
    }

    /// The history placed ([`History::from_points`]) from points read on `clock`: a sub-daily
    /// history keeps it, so that its times are written out as instants; one of days or longer
    /// is dated by that clock's calendar (a local day's midnight is the evening before in UTC,
    /// east of Greenwich), the clock only how its days were counted.
    pub fn on_clock(mut self, clock: Option<WallClock>) -> Self {
        self.clock = clock.filter(|_| self.step.as_secs() < 86_400);
        self
    }

    /// Samples in `span` on this history's grid.
    pub fn steps_in(&self, span: Duration) -> usize {
        self.grid.steps_in(self.step, span)
    }

    /// Unix seconds of the last sample.
    pub fn end(&self) -> i64 {
        self.time_of(self.len().saturating_sub(1))
    }

    /// Builds a history from `(unix seconds, value)` points per series, placed on one grid
    /// ([`crate::grid::place`]): `step` when given, else the calendar or spacing they fall on;
    /// `origin` names where the points came from in errors.
    pub fn from_points(
        origin: &str,
        step: Option<Duration>,
        series: Vec<NamedPoints>,
    ) -> Result<Self, ForecastError> {
        let (series, started_late) = start_together(series);
        let all_times = distinct_times(&series);
        if step.is_none() && all_times.len() < 3 {
            return Err(ForecastError::TooShort {
                series: series.first().map_or_else(String::new, |s| s.0.clone()),
                points: all_times.len(),
                needed: 3,
                why: format!("{origin}: cannot tell the sampling step from fewer than 3 samples"),
            });
        }
        let placement =
            crate::grid::place(&all_times, step.map(|s| s.as_secs() as i64)).map_err(|cause| {
                ForecastError::Input {
                    origin: origin.to_string(),
                    line: None,
                    series: None,
                    cause,
                }
            })?;
        let len = placement.len;
        let mut notes = placement.notes.clone();
        notes.extend(started_late);
        let mut out = Vec::new();
        for (name, kind, points) in series {
            let mut values = vec![f64::NAN; len];
            for (t, v) in points {
                if let Some(&i) = placement.index.get(&t) {
                    values[i] = v;
                }
            }
            let filled = fill_gaps(&mut values);
            if filled.missing > 0 {
                if filled.missing * 5 > len || filled.leading_or_trailing {
                    return Err(ForecastError::Input {
                        origin: origin.to_string(),
                        line: None,
                        series: Some(name),
                        cause: format!(
                            "{} of {len} samples are missing{}: too many to fill in",
                            filled.missing,
                            if filled.leading_or_trailing {
                                " (at the start or end of the history)"
                            } else {
                                ""
                            }
                        ),
                    });
                }
                let plural =
                    |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
                let longest = filled.longest as i64 * placement.step;
                // A month is not 30 days: a monthly history's gap is counted in its months.
                let longest = if let crate::grid::Grid::Months { every, .. } = placement.grid {
                    plural(filled.longest as i64 * i64::from(every), "month")
                } else if longest >= 86_400 {
                    plural(longest / 86_400, "day")
                } else {
                    humantime::format_duration(Duration::from_secs(longest as u64)).to_string()
                };
                let missing = filled.missing;
                let samples = if missing == 1 { "sample" } else { "samples" };
                notes.push(format!(
                    "{name}: {missing} missing {samples} filled by linear interpolation (longest gap {longest})",
                ));
            }
            out.push(Series { name, kind, values });
        }
        Ok(Self {
            start: placement.start,
            step: Duration::from_secs(placement.step as u64),
            grid: placement.grid,
            clock: None,
            series: out,
            notes,
        })
    }
}

/// Every time any series has a sample at, once, in order.
pub(crate) fn distinct_times(series: &[NamedPoints]) -> Vec<i64> {
    let mut times: Vec<i64> = series
        .iter()
        .flat_map(|(_, _, points)| points.iter().map(|(t, _)| *t))
        .collect();
    times.sort_unstable();
    times.dedup();
    times
}

/// Series that start on different days (a table created after the others, a metric added
/// later) are read from the day the last of them starts: they share one grid, and the samples
/// before that day exist for some series only. The note says what was set aside.
fn start_together(mut series: Vec<NamedPoints>) -> (Vec<NamedPoints>, Option<String>) {
    let first = |points: &[(i64, f64)]| points.iter().map(|(t, _)| *t).min();
    let starts: Vec<Option<i64>> = series.iter().map(|(_, _, p)| first(p)).collect();
    let (Some(earliest), Some(latest)) = (
        starts.iter().flatten().min().copied(),
        starts.iter().flatten().max().copied(),
    ) else {
        return (series, None);
    };
    if earliest == latest {
        return (series, None);
    }
    let late: Vec<&str> = series
        .iter()
        .zip(&starts)
        .filter(|(_, s)| **s == Some(latest))
        .map(|((name, _, _), _)| name.as_str())
        .collect();
    let mut set_aside = Vec::new();
    let late = late.join(", ");
    for (name, _, points) in &mut series {
        let before = points.len();
        points.retain(|(t, _)| *t >= latest);
        if points.len() < before {
            set_aside.push(format!("{} of {name}", before - points.len()));
        }
    }
    let note = format!(
        "{late} starts on {}, after the others: every series is read from that day (earlier samples set aside: {}; forecast a series alone to use all of its history)",
        format_date(latest),
        set_aside.join(", ")
    );
    (series, Some(note))
}

struct Filled {
    missing: usize,
    longest: usize,
    leading_or_trailing: bool,
}

/// Linear interpolation over NaN runs inside the series.
fn fill_gaps(values: &mut [f64]) -> Filled {
    let mut filled = Filled {
        missing: 0,
        longest: 0,
        leading_or_trailing: false,
    };
    let n = values.len();
    let mut i = 0;
    while i < n {
        if !values[i].is_nan() {
            i += 1;
            continue;
        }
        let run_start = i;
        while i < n && values[i].is_nan() {
            i += 1;
        }
        let run = i - run_start;
        filled.missing += run;
        filled.longest = filled.longest.max(run);
        if run_start == 0 || i == n {
            filled.leading_or_trailing = true;
            continue;
        }
        let (a, b) = (values[run_start - 1], values[i]);
        for k in 0..run {
            values[run_start + k] = a + (b - a) * (k + 1) as f64 / (run + 1) as f64;
        }
    }
    filled
}

/// A declared series: its name, where it comes from (a CSV column, or a PromQL query), and
/// whether it is traffic or data volume. Written `name=source`, or just `source` (then the
/// name is the source).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesSpec {
    pub name: String,
    pub source: String,
    pub kind: SeriesKind,
    /// A growth shape the user pinned (`orders=orders_rows:linear`).
    pub shape: Option<crate::model::Shape>,
}

impl SeriesSpec {
    pub fn new(name: impl Into<String>, source: impl Into<String>, kind: SeriesKind) -> Self {
        Self {
            name: name.into(),
            source: source.into(),
            kind,
            shape: None,
        }
    }

    /// `name=source` or `source`, of the given kind, with an optional `:shape` at the end
    /// (only a known shape is one: a PromQL recording rule has colons of its own).
    pub fn parse(text: &str, kind: SeriesKind) -> Result<Self, String> {
        let (text, shape) = match text.rsplit_once(':') {
            Some((rest, shape)) if crate::model::Shape::ALL.iter().any(|(n, _)| *n == shape) => {
                if kind == SeriesKind::Traffic {
                    return Err(format!(
                        "{shape:?}: a growth shape is pinned on a data series (--data NAME=COLUMN:{shape})"
                    ));
                }
                (rest, shape.parse().ok())
            }
            _ => (text, None),
        };
        let (name, source) = match text.split_once('=') {
            Some((name, source)) => (name.trim(), source.trim()),
            None => (text.trim(), text.trim()),
        };
        if name.is_empty() || source.is_empty() {
            return Err(format!(
                "{text:?} is not a series: a column (`requests`) or `name=column` (`orders=orders_rows`)"
            ));
        }
        Ok(Self {
            shape,
            ..Self::new(name, source, kind)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::csv_file::number;
    use super::*;

    #[test]
    fn quoted_cells_and_the_numbers_spreadsheets_write_are_read() {
        // A quoted name with a comma in it shifted every column after it, and "1,000,000" was
        // read as 1.
        let csv = "\"date\",\"name, full\",\"requests\",\"orders_rows\"\n\"2026-01-01\",\"a, b\",10,\"1,000,000\"\n\"2026-01-02\",\"a, b\",12,\"1,005,000.5\"\n\"2026-01-03\",\"a, b\",13,\"1,010,000\"\n";
        let h = parse_csv(csv, "q.csv", &spec()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.series[0].values, [10.0, 12.0, 13.0]);
        assert_eq!(h.series[1].values, [1_000_000.0, 1_005_000.5, 1_010_000.0]);
        assert_eq!(number("1234,5", b';'), Some(1234.5));
        assert_eq!(number("-1,234", b','), Some(-1234.0));
        assert_eq!(number("1,5", b','), None);
        assert_eq!(number("12,34,567", b','), None);
        let err = parse_csv(
            "date,requests,orders_rows\n2026-01-01,1,\"1,5\"\n",
            "q.csv",
            &spec(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "q.csv:2: series orders: \"1,5\" is not a number");
    }

    fn spec() -> CsvSpec {
        CsvSpec {
            timestamp: None,
            series: vec![
                SeriesSpec::new("rps", "requests", SeriesKind::Traffic),
                SeriesSpec::new("orders", "orders_rows", SeriesKind::Data),
            ],
        }
    }

    #[test]
    fn reads_a_daily_history_and_fills_a_short_gap() {
        let csv = "date,requests,orders_rows\n2026-01-01,10,100\n2026-01-02,12,110\n2026-01-03,,120\n2026-01-04,14,130\n2026-01-05,15,140\n";
        let h = parse_csv(csv, "h.csv", &spec()).unwrap();
        assert_eq!(h.step, Duration::from_secs(86_400));
        assert_eq!(h.series[0].values, [10.0, 12.0, 13.0, 14.0, 15.0]);
        assert_eq!(h.series[1].kind, SeriesKind::Data);
        assert_eq!(format_date(h.end()), "2026-01-05");
        assert_eq!(
            h.notes[0],
            "rps: 1 missing sample filled by linear interpolation (longest gap 1 day)"
        );
    }

    #[test]
    fn a_missing_month_is_a_month_not_thirty_days() {
        let mut csv = String::from("month,requests,orders_rows\n");
        for m in (1..=12).filter(|m| *m != 6) {
            csv.push_str(&format!("2025-{m:02}-01,{},{}\n", 10 * m, 100 * m));
        }
        let h = parse_csv(&csv, "m.csv", &spec()).unwrap();
        assert_eq!(h.series[0].values[5], 60.0);
        assert_eq!(
            h.notes[0],
            "rps: 1 missing sample filled by linear interpolation (longest gap 1 month)"
        );
    }

    #[test]
    fn bad_input_names_the_line_and_series() {
        let err = |csv: &str| parse_csv(csv, "h.csv", &spec()).unwrap_err().to_string();
        assert_eq!(
            err("date,requests,orders_rows\n2026-01-01,10,100\n2026-01-02,ten,110\n"),
            "h.csv:3: series rps: \"ten\" is not a number"
        );
        assert_eq!(
            err("date,requests,orders_rows\n2026-01-01,10,100\n2026-01-01,11,110\n"),
            "h.csv:3: timestamp 2026-01-01 repeats the one on line 2"
        );
        assert!(err("date,requests\n2026-01-01,1\n").contains("no column \"orders_rows\""));
        assert!(
            err("date,requests,orders_rows\n2026-01-01,1,1\n2026-01-02,1,1\n2026-01-03 06:00:00,1,1\n2026-01-04,1,1\n")
                .contains("is not on the 86400-second grid")
        );
        assert!(
            err("date,requests,orders_rows\n2026-01-01,1,1\n2026-01-02,,1\n2026-01-03,,1\n2026-01-04,1,1\n")
                .contains("2 of 4 samples are missing")
        );
    }

    #[test]
    fn tab_and_semicolon_separated_histories_are_read() {
        for d in ["\t", ";"] {
            let csv = format!(
                "date{d}requests{d}orders_rows\n2026-01-01{d}10{d}100\n2026-01-02{d}12{d}110\n2026-01-03{d}13{d}120\n"
            );
            let h = parse_csv(&csv, "h.tsv", &spec()).unwrap_or_else(|e| panic!("{d:?}: {e}"));
            assert_eq!(h.series[0].values, [10.0, 12.0, 13.0]);
            assert_eq!(h.series[1].values, [100.0, 110.0, 120.0]);
        }
    }

    #[test]
    fn a_series_that_starts_later_sets_the_start_of_every_series_with_a_note() {
        // Orders were first counted in March: both series are read from March on, monthly.
        let csv = "date,requests,orders_rows\n2026-01-01,10,\n2026-02-01,11,\n2026-03-01,12,100\n2026-04-01,13,110\n2026-05-01,14,120\n";
        let h = parse_csv(csv, "h.csv", &spec()).unwrap();
        assert_eq!(format_date(h.start), "2026-03-01");
        assert_eq!(h.series[0].values, [12.0, 13.0, 14.0]);
        assert_eq!(h.series[1].values, [100.0, 110.0, 120.0]);
        assert_eq!(
            h.notes,
            [
                "orders starts on 2026-03-01, after the others: every series is read from that day (earlier samples set aside: 2 of rps; forecast a series alone to use all of its history)"
            ]
        );
        // A series that stops early still cannot be filled in: its "now" would be a guess.
        let csv = "date,requests,orders_rows\n2026-01-01,10,1\n2026-02-01,11,2\n2026-03-01,12,3\n2026-04-01,13,\n2026-05-01,14,\n";
        let err = parse_csv(csv, "h.csv", &spec()).unwrap_err().to_string();
        assert!(err.contains("at the start or end of the history"), "{err}");
    }
}
