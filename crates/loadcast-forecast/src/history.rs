//! History: time series sampled on a regular step, each declared as traffic or data.
//!
//! Reading is strict where a silent guess would mislead a capacity plan: duplicated timestamps,
//! cells that are not numbers and spacing that is not a multiple of the step are errors naming
//! the file, line and series. Short gaps (a missed scrape, an empty cell) are filled by linear
//! interpolation and reported, never hidden.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ForecastError;
use crate::grid::Grid;
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
    /// Unix seconds of the first sample.
    pub start: i64,
    /// The step; for calendar months their nominal length ([`crate::grid::NOMINAL_MONTH`]).
    pub step: Duration,
    /// How sample `i` maps to a time.
    pub grid: Grid,
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

    /// Unix seconds of sample `i` (past the end too: the projection's times).
    pub fn time_of(&self, i: usize) -> i64 {
        self.grid.time_of(self.start, self.step, i)
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
            series: out,
            notes,
        })
    }
}

/// Series that start on different days (a table created after the others, a metric added
/// later) are read from the day the last of them starts: they share one grid, and the samples
/// before that day exist for some series only. The note says what was set aside.
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

/// Which CSV columns to read, and as what.
#[derive(Clone, Debug, Default)]
pub struct CsvSpec {
    /// The timestamp column; the first column when `None`.
    pub timestamp: Option<String>,
    pub series: Vec<SeriesSpec>,
}

/// Reads a CSV history: a timestamp column and one column per declared series.
pub fn read_csv(path: &Path, spec: &CsvSpec) -> Result<History, ForecastError> {
    let origin = path.display().to_string();
    History::from_points(&origin, None, read_csv_points(path, spec)?)
}

/// A CSV history's samples, series by series, before they are placed on a grid.
pub fn read_csv_points(path: &Path, spec: &CsvSpec) -> Result<Vec<NamedPoints>, ForecastError> {
    let text = std::fs::read_to_string(path).map_err(|e| ForecastError::Io {
        path: path.to_path_buf(),
        cause: e.to_string(),
    })?;
    parse_csv_points(&text, &path.display().to_string(), spec)
}

/// Parses CSV text; `origin` names it in errors.
pub fn parse_csv(text: &str, origin: &str, spec: &CsvSpec) -> Result<History, ForecastError> {
    History::from_points(origin, None, parse_csv_points(text, origin, spec)?)
}

/// Parses CSV text into its samples, series by series, sorted by time.
pub fn parse_csv_points(
    text: &str,
    origin: &str,
    spec: &CsvSpec,
) -> Result<Vec<NamedPoints>, ForecastError> {
    let input_error =
        |line: Option<usize>, series: Option<&str>, cause: String| ForecastError::Input {
            origin: origin.to_string(),
            line,
            series: series.map(str::to_string),
            cause,
        };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(header) = text.lines().find(|l| !l.trim().is_empty()) else {
        return Err(input_error(None, None, "the file is empty".into()));
    };
    // Commas, else tabs or semicolons (spreadsheets in locales with a decimal comma), as the
    // header shows.
    let delimiter = [b',', b'\t', b';']
        .into_iter()
        .find(|d| header.as_bytes().contains(d))
        .unwrap_or(b',');
    // Quoted cells ("1,234,567", a name with a comma in it) are the csv crate's business:
    // split by hand, they shifted every column after them.
    let mut records = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
        .into_records()
        .filter(|r| r.as_ref().map_or(true, |r| r.iter().any(|c| !c.is_empty())));
    let line_of = |r: &csv::StringRecord| r.position().map(|p| p.line() as usize);
    let unreadable = |e: csv::Error| {
        let line = e.position().map(|p| p.line() as usize);
        input_error(line, None, format!("not a readable CSV line: {e}"))
    };
    let header = match records.next() {
        Some(r) => r.map_err(unreadable)?,
        None => return Err(input_error(None, None, "the file is empty".into())),
    };
    let columns: Vec<&str> = header.iter().collect();
    let ts_col = match &spec.timestamp {
        None => 0,
        Some(name) => columns.iter().position(|c| c == name).ok_or_else(|| {
            input_error(
                Some(1),
                None,
                format!(
                    "no timestamp column {name:?}; columns: {}",
                    columns.join(", ")
                ),
            )
        })?,
    };
    if spec.series.is_empty() {
        return Err(input_error(
            None,
            None,
            format!(
                "no series declared; declare columns as traffic or data (columns: {})",
                columns[1..].join(", ")
            ),
        ));
    }
    let mut wanted = Vec::new();
    for SeriesSpec {
        name,
        source: column,
        kind,
        ..
    } in &spec.series
    {
        let index = columns.iter().position(|c| c == column).ok_or_else(|| {
            input_error(
                Some(1),
                Some(name),
                format!("no column {column:?}; columns: {}", columns.join(", ")),
            )
        })?;
        wanted.push((name.clone(), *kind, index, Vec::new()));
    }
    let mut seen: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    for record in records {
        let record = record.map_err(unreadable)?;
        let line_no = line_of(&record).unwrap_or(0);
        let cells: Vec<&str> = record.iter().collect();
        let stamp = cells.get(ts_col).copied().unwrap_or("");
        let t = parse_time(stamp).ok_or_else(|| {
            input_error(
                Some(line_no),
                None,
                format!("{stamp:?} is not a timestamp (expected 2026-11-24, 2026-11-24 10:00:00, RFC 3339, or Unix seconds or milliseconds)"),
            )
        })?;
        if let Some(first) = seen.insert(t, line_no) {
            return Err(input_error(
                Some(line_no),
                None,
                format!("timestamp {stamp} repeats the one on line {first}"),
            ));
        }
        for (name, _, index, points) in &mut wanted {
            let cell = cells.get(*index).copied().unwrap_or("");
            if cell.is_empty() || cell.eq_ignore_ascii_case("nan") {
                continue; // a gap: filled and reported later
            }
            let value: f64 = number(cell, delimiter).ok_or_else(|| {
                input_error(
                    Some(line_no),
                    Some(name),
                    format!("{cell:?} is not a number"),
                )
            })?;
            if !value.is_finite() {
                return Err(input_error(
                    Some(line_no),
                    Some(name),
                    format!("{cell:?} is not a finite number"),
                ));
            }
            points.push((t, value));
        }
    }
    Ok(wanted
        .into_iter()
        .map(|(name, kind, _, mut points)| {
            points.sort_by_key(|p| p.0);
            (name, kind, points)
        })
        .collect())
}

/// A cell's number: plain (`1234.5`, `1_234`), with thousands separators in a comma-separated
/// file (`"1,234,567"`, quoted), or with a decimal comma in a tab- or semicolon-separated one
/// (`1234,5`).
fn number(cell: &str, delimiter: u8) -> Option<f64> {
    let plain = cell.replace('_', "");
    if let Ok(v) = plain.parse() {
        return Some(v);
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = plain.strip_prefix('-').unwrap_or(&plain);
    if delimiter == b',' {
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
        let groups: Vec<&str> = whole.split(',').collect();
        let grouped = groups.len() > 1
            && (1..=3).contains(&groups[0].len())
            && groups[1..].iter().all(|g| g.len() == 3)
            && groups.iter().all(|g| digits(g))
            && digits(fraction);
        return grouped
            .then(|| plain.replace(',', "").parse().ok())
            .flatten();
    }
    match unsigned.split_once(',') {
        Some((whole, fraction)) if digits(whole) && digits(fraction) => {
            plain.replace(',', ".").parse().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
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
