//! One-off events and holidays (`--events events.csv`): samples inside them are replaced, before
//! any model sees them, by the median of the same slot in the seasonal cycles around them, so
//! that Thanksgiving does not teach a model a new weekly shape. Each line of the file is
//! `start[,end][,name]` (dates or times; a date-only end is inclusive), with an optional header.

use std::path::Path;

use crate::ForecastError;
use crate::history::{History, parse_time};

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
                let t = self.time_of(i);
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
            let original = series.values.clone();
            for i in (0..n).filter(|i| inside[*i]) {
                series.values[i] = match period {
                    Some(p) => {
                        let mut same_slot: Vec<f64> = (1..=4)
                            .flat_map(|k| [i.checked_sub(k * p), Some(i + k * p)])
                            .flatten()
                            .filter(|j| *j < n && !inside[*j])
                            .map(|j| original[j])
                            .collect();
                        if same_slot.is_empty() {
                            original[i]
                        } else {
                            same_slot.sort_by(f64::total_cmp);
                            same_slot[same_slot.len() / 2]
                        }
                    }
                    None => {
                        let before = (0..i).rev().find(|j| !inside[*j]);
                        let after = (i + 1..n).find(|j| !inside[*j]);
                        match (before, after) {
                            (Some(a), Some(b)) => {
                                let w = (i - a) as f64 / (b - a) as f64;
                                original[a] + (original[b] - original[a]) * w
                            }
                            (Some(a), None) => original[a],
                            (None, Some(b)) => original[b],
                            (None, None) => original[i],
                        }
                    }
                };
            }
        }
        let names: Vec<&str> = hit.iter().map(|&e| events[e].name.as_str()).collect();
        self.notes.push(format!(
            "{} events ({}) cover {count} samples: replaced by the same slot's median in the cycles around them before fitting",
            hit.len(),
            names.join(", ")
        ));
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
}
