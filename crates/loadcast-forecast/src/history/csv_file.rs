//! Histories read from CSV: a timestamp column and one column per declared series, in the
//! formats spreadsheets and exports write (quoted cells, thousands separators, decimal commas,
//! tabs or semicolons), with errors that name the line, and read on a local clock when told of
//! one ([`crate::clock`]).

use std::path::Path;

use super::{History, NamedPoints, SeriesSpec, parse_time};
use crate::ForecastError;
use crate::clock::WallClock;

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
    read_csv_points(path, spec, None)?.placed(&origin)
}

/// A CSV history's samples, series by series, before they are placed on a grid; on `clock`'s
/// wall time when there is one.
pub fn read_csv_points(
    path: &Path,
    spec: &CsvSpec,
    clock: Option<&WallClock>,
) -> Result<CsvPoints, ForecastError> {
    let text = std::fs::read_to_string(path).map_err(|e| ForecastError::Io {
        path: path.to_path_buf(),
        cause: e.to_string(),
    })?;
    parse_csv_points(&text, &path.display().to_string(), spec, clock)
}

/// Parses CSV text; `origin` names it in errors.
pub fn parse_csv(text: &str, origin: &str, spec: &CsvSpec) -> Result<History, ForecastError> {
    parse_csv_points(text, origin, spec, None)?.placed(origin)
}

/// A CSV's samples before they are placed on a grid, and what the file said about its clock.
#[derive(Clone, Debug)]
pub struct CsvPoints {
    pub series: Vec<NamedPoints>,
    /// Timestamps whose UTC offset changes within the file (`+01:00` in winter, `+02:00` in
    /// summer) were written on a local clock the forecast was not told of: how to tell it.
    pub clock_hint: Option<String>,
}

impl CsvPoints {
    /// Placed on the grid they fall on ([`History::from_points`]), with the hint in the notes.
    pub fn placed(self, origin: &str) -> Result<History, ForecastError> {
        let mut history = History::from_points(origin, None, self.series)?;
        history.notes.extend(self.clock_hint);
        Ok(history)
    }
}

/// A timestamp's UTC offset as written (`+02:00`), when it has one other than `Z`.
fn written_offset(stamp: &str) -> Option<&str> {
    let stamp = stamp.trim().trim_matches('"');
    let time = &stamp[stamp.find(['T', ' '])?..];
    time.rfind(['+', '-']).map(|at| &time[at..])
}

/// Whether a timestamp names an instant (Unix seconds, `Z`, an offset) rather than a time on
/// some clock (`2026-11-24 10:00`).
fn names_an_instant(stamp: &str) -> bool {
    let stamp = stamp.trim().trim_matches('"');
    stamp.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || stamp.ends_with(['Z', 'z'])
        || written_offset(stamp).is_some()
}

/// Parses CSV text into its samples, series by series, sorted by time. With a `clock`, each
/// sample is at its wall time: a timestamp without an offset is one already, and may repeat
/// once in the hour the clock goes back.
pub fn parse_csv_points(
    text: &str,
    origin: &str,
    spec: &CsvSpec,
    clock: Option<&WallClock>,
) -> Result<CsvPoints, ForecastError> {
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
    // Wall times seen twice: allowed once each, in the hour the clock repeats.
    let mut twice = std::collections::HashSet::new();
    let mut offsets = std::collections::BTreeSet::new();
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
        let t = match clock {
            Some(clock) if names_an_instant(stamp) => clock.wall(t),
            Some(_) => t,
            None => {
                if offsets.len() < 2 {
                    offsets.extend(written_offset(stamp).map(str::to_string));
                }
                t
            }
        };
        if let Some(first) = seen.insert(t, line_no) {
            let repeated_hour = clock.is_some_and(|c| c.repeats(t)) && !twice.contains(&t);
            if !repeated_hour {
                // Local times repeat once a year, in the hour the clocks go back.
                let time_of_day = stamp.trim().contains(['T', ' ']);
                let hint = if clock.is_none() && time_of_day && !names_an_instant(stamp) {
                    " (if these are local times and the clocks went back then, `--tz ZONE` reads them on that zone's clock)"
                } else {
                    ""
                };
                return Err(input_error(
                    Some(line_no),
                    None,
                    format!("timestamp {stamp} repeats the one on line {first}{hint}"),
                ));
            }
            twice.insert(t);
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
    let series = wanted
        .into_iter()
        .map(|(name, kind, _, mut points)| {
            points.sort_by_key(|p| p.0);
            (name, kind, points)
        })
        .collect();
    // Two offsets in one file: a local clock that changed (summer time), which the day's
    // cycle follows and UTC does not.
    let clock_hint = (offsets.len() >= 2).then(|| {
        let offsets: Vec<&str> = offsets.iter().map(String::as_str).collect();
        format!(
            "the timestamps carry the UTC offsets {}: written on a local clock that changed; if the traffic's day follows it, `--tz ZONE` (or [history] tz) models it on that clock",
            offsets.join(" and ")
        )
    });
    Ok(CsvPoints { series, clock_hint })
}

/// A cell's number: plain (`1234.5`, `1_234`), with thousands separators in a comma-separated
/// file (`"1,234,567"`, quoted), or with a decimal comma in a tab- or semicolon-separated one
/// (`1234,5`).
pub(super) fn number(cell: &str, delimiter: u8) -> Option<f64> {
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
