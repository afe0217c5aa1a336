//! The calendar a history is sampled on, and so the one its projection steps on:
//!
//! * a **fixed** step: seconds, minutes, hours, days, ISO weeks;
//! * **calendar months**: monthly, quarterly, half-yearly and yearly samples on the first (or
//!   the same day) or the last day of the month. A month is not a fixed number of seconds, so
//!   sample `i` is found by month arithmetic, and a monthly forecast's peak is a month;
//! * **the slots of the week that hold samples**: business hours only, weekdays only. Those gaps
//!   are by design, not missing data: the series is modelled on the slots it has, its day and
//!   week counted in those slots.
//!
//! Samples a little off their grid ("about daily") are snapped to it, and said so. Samples
//! further off (an export run at a different hour each day) are refused with the way out:
//! `--resample` counts each in the step its time falls in ([`crate::resample`]).

use std::collections::BTreeMap;
use std::time::Duration;

use time::{Date, Month};

use crate::history::format_time;
use crate::model::Seasons;

/// A twelfth of a Julian year: the nominal length of a month, so that twelve monthly samples
/// make a year exactly and seasons count whole.
pub const NOMINAL_MONTH: i64 = 2_629_800;

const WEEK: i64 = 7 * 86_400;
/// 1970-01-05, a Monday: week slots count from Monday 00:00 UTC.
const FIRST_MONDAY: i64 = 4 * 86_400;

/// Where in the month monthly samples fall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonthAnchor {
    /// The same day every month (1–28).
    Day(u8),
    /// The month's last day.
    End,
}

/// How sample `i` of a history maps to a time.
#[derive(Clone, Debug, PartialEq)]
pub enum Grid {
    /// `start + i × step`.
    Fixed,
    /// Every `every` calendar months from the first sample's month, on `anchor`, at the first
    /// sample's time of day.
    Months { every: u32, anchor: MonthAnchor },
    /// Only these offsets into the week (seconds from Monday 00:00 UTC, ascending) hold samples;
    /// sample 0 is at slot `first`.
    WeekSlots { slots: Vec<i64>, first: usize },
}

fn month_index(t: i64) -> i64 {
    let (y, m, _) = loadcast_stats::time::civil_from_days(t.div_euclid(86_400));
    y * 12 + i64::from(m) - 1
}

fn days_in_month(year: i64, month: u32) -> u8 {
    Month::try_from(month as u8)
        .ok()
        .map_or(30, |m| time::util::days_in_month(m, year as i32))
}

/// The time `month` (an index from year 0) on `anchor` at `clock` seconds into the day.
fn month_time(month: i64, anchor: MonthAnchor, clock: i64) -> i64 {
    let (year, m) = (month.div_euclid(12), (month.rem_euclid(12) + 1) as u32);
    let day = match anchor {
        MonthAnchor::Day(d) => d,
        MonthAnchor::End => days_in_month(year, m),
    };
    let days = Month::try_from(m as u8)
        .ok()
        .and_then(|mm| Date::from_calendar_date(year as i32, mm, day).ok())
        .map_or(0, |date| i64::from(date.to_julian_day()) - 2_440_588);
    days * 86_400 + clock
}

impl Grid {
    /// Unix seconds of sample `i` of a history starting at `start` with (nominal) `step`.
    pub fn time_of(&self, start: i64, step: Duration, i: usize) -> i64 {
        match self {
            Grid::Fixed => start + (i as f64 * step.as_secs_f64()).round() as i64,
            Grid::Months { every, anchor } => month_time(
                month_index(start) + i as i64 * i64::from(*every),
                *anchor,
                start.rem_euclid(86_400),
            ),
            Grid::WeekSlots { slots, first } => {
                let k = slots.len().max(1);
                let g = first + i;
                let week0 = FIRST_MONDAY + (start - FIRST_MONDAY).div_euclid(WEEK) * WEEK;
                week0 + (g / k) as i64 * WEEK + slots[g % k]
            }
        }
    }

    /// How many samples cover `span`, the way a person counts it: six months of monthly data
    /// is six samples, not seven for a month that is a little longer than nominal.
    pub fn steps_in(&self, step: Duration, span: Duration) -> usize {
        let exact = match self {
            Grid::WeekSlots { slots, .. } => span.as_secs_f64() / WEEK as f64 * slots.len() as f64,
            _ => span.as_secs_f64() / step.as_secs_f64(),
        };
        // A hundredth of a step is the calendar's unevenness, not another sample.
        (exact - 0.01).ceil().max(0.0) as usize
    }

    /// "monthly on the 1st", "quarterly on the last day", "1 hour, only Mon–Fri 09:00–16:00".
    pub fn describe(&self, step: Duration) -> String {
        let on = |anchor: &MonthAnchor| match anchor {
            MonthAnchor::Day(1) => "on the 1st".to_string(),
            MonthAnchor::Day(d) => format!("on day {d}"),
            MonthAnchor::End => "on the last day".to_string(),
        };
        match self {
            Grid::Fixed => step_words(step.as_secs()),
            Grid::Months { every: 1, anchor } => format!("monthly {}", on(anchor)),
            Grid::Months { every: 3, anchor } => format!("quarterly {}", on(anchor)),
            Grid::Months { every: 12, anchor } => format!("yearly {}", on(anchor)),
            Grid::Months { every, anchor } => format!("every {every} months {}", on(anchor)),
            Grid::WeekSlots { slots, .. } => format!(
                "{}, only {} ({} slots a week)",
                step_words(step.as_secs()),
                week_pattern(slots),
                slots.len()
            ),
        }
    }

    /// The seasonal cycles `len` samples on this grid support.
    pub fn seasons(&self, step: Duration, len: usize) -> Seasons {
        match self {
            Grid::WeekSlots { slots, .. } => {
                let k = slots.len();
                // A day is a cycle when every day that has samples has as many.
                let mut per_day: BTreeMap<i64, usize> = BTreeMap::new();
                for s in slots {
                    *per_day.entry(s / 86_400).or_default() += 1;
                }
                let counts: Vec<usize> = per_day.values().copied().collect();
                let day = counts
                    .first()
                    .copied()
                    .filter(|m| *m >= 2 && counts.iter().all(|c| c == m) && len >= 3 * m);
                let year = k as f64 * 365.25 / 7.0;
                Seasons {
                    day,
                    week: (k >= 2 && len >= 3 * k).then_some(k),
                    year: (len as f64 >= 1.5 * year).then_some(year),
                }
            }
            _ => Seasons::detect(step.as_secs_f64(), len),
        }
    }
}

/// A fixed step in words: "1 day", "30 minutes", "7 days".
pub fn step_words(seconds: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match seconds {
        s if s % 86_400 == 0 => plural(s / 86_400, "day"),
        s if s % 3_600 == 0 => plural(s / 3_600, "hour"),
        s if s % 60 == 0 => plural(s / 60, "minute"),
        s => plural(s, "second"),
    }
}

/// "Mon–Fri 09:00–17:00".
fn week_pattern(slots: &[i64]) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let days: Vec<i64> = {
        let mut d: Vec<i64> = slots.iter().map(|s| s / 86_400).collect();
        d.dedup();
        d
    };
    let clock = |s: i64| format!("{:02}:{:02}", s % 86_400 / 3600, s % 3600 / 60);
    let first_day = days.first().copied().unwrap_or(0);
    let hours: Vec<&i64> = slots.iter().filter(|s| *s / 86_400 == first_day).collect();
    let day_names = match (days.first(), days.last()) {
        (Some(a), Some(b)) if days.len() as i64 == b - a + 1 && a != b => {
            format!("{}–{}", DAYS[*a as usize % 7], DAYS[*b as usize % 7])
        }
        _ => days
            .iter()
            .map(|d| DAYS[*d as usize % 7])
            .collect::<Vec<_>>()
            .join(","),
    };
    match (hours.first(), hours.last()) {
        (Some(a), Some(b)) if hours.len() > 1 => {
            format!("{day_names} {}–{}", clock(**a), clock(**b))
        }
        _ => day_names,
    }
}

/// Where a history's samples go: the grid, its first time and (nominal) step, and each
/// sample's index on it.
#[derive(Debug)]
pub struct Placement {
    pub grid: Grid,
    pub start: i64,
    pub step: i64,
    pub len: usize,
    /// Index of each distinct time, in the order given.
    pub index: BTreeMap<i64, usize>,
    pub notes: Vec<String>,
}

/// Places sorted, distinct `times` on a grid: `step` when given, else calendar months when
/// they fall on one, else the most common spacing (snapping samples at most an eighth of a step
/// off, and modelling on the week's slots when whole slots are always empty).
pub fn place(times: &[i64], step: Option<i64>) -> Result<Placement, String> {
    let (Some(&start), Some(&end)) = (times.first(), times.last()) else {
        return Err("no samples".into());
    };
    if step.is_none() {
        if let Some(p) = months(times) {
            return Ok(p);
        }
    }
    let step = match step {
        Some(s) => s,
        None => {
            infer_step(times).ok_or("cannot tell the sampling step from fewer than 3 samples")?
        }
    };
    if step <= 0 {
        return Err("the sampling step must be at least one second".into());
    }
    let span = (end - start) / step + 1;
    let fixed = fixed(times, start, step)?;
    let missing = span as usize - times.len().min(span as usize);
    if missing * 5 > span as usize {
        if let Some(p) = week_slots(times, step) {
            return Ok(p);
        }
    }
    // A grid mostly empty is a timestamp out of place (a year with too many digits, a sample
    // from another decade), not a history: say where, before allocating it.
    if span > 5 * times.len() as i64 + 5 {
        let (a, b) = times
            .windows(2)
            .map(|w| (w[0], w[1]))
            .max_by_key(|(a, b)| b - a)
            .unwrap_or((start, end));
        return Err(format!(
            "{} samples would span {span} steps of {step} s: the timestamps jump from {} to {} (a timestamp out of place?)",
            times.len(),
            format_time(a),
            format_time(b)
        ));
    }
    Ok(fixed)
}

/// Steps people sample on: an "about daily" history is daily.
const USUAL_STEPS: [i64; 16] = [
    1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
];

/// The most common spacing between consecutive samples, rounded to a usual step when it is
/// within a tenth of one (or to whole days, or to weeks); else the mean spacing so rounded
/// (samples taken at a different hour each day are 21 hours apart one day and 30 the next,
/// and daily all the same); else the most common spacing as it is.
fn infer_step(times: &[i64]) -> Option<i64> {
    if times.len() < 3 {
        return None;
    }
    let mut diffs: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    diffs.sort_unstable();
    let median = diffs[diffs.len() / 2];
    let mean = (times[times.len() - 1] - times[0]) / diffs.len() as i64;
    let usual = |spacing: i64| {
        let near = |usual: i64| (spacing - usual).abs() * 10 <= usual;
        let days = (spacing as f64 / 86_400.0).round() as i64 * 86_400;
        USUAL_STEPS
            .into_iter()
            .find(|s| near(*s))
            .or((days > 0 && near(days)).then_some(days))
    };
    Some(usual(median).or(usual(mean)).unwrap_or(median))
}

fn fixed(times: &[i64], first: i64, step: i64) -> Result<Placement, String> {
    let tolerance = step / 8;
    // The grid's phase: the median offset of the samples from the first one's, so that one
    // early first sample does not shift the whole grid; then midnight (or the whole step)
    // when that is within the tolerance, as a person would read the dates.
    let mut phases: Vec<i64> = times
        .iter()
        .map(|t| (t - first + step / 2).rem_euclid(step) - step / 2)
        .collect();
    phases.sort_unstable();
    let start = first + phases[phases.len() / 2];
    let unit = if step <= 86_400 && 86_400 % step == 0 {
        step
    } else {
        86_400
    };
    let round = start.div_euclid(unit) * unit
        + if start.rem_euclid(unit) * 2 >= unit {
            unit
        } else {
            0
        };
    let start = if (round - start).abs() <= tolerance {
        round
    } else {
        start
    };
    // Samples before the grid's first step (an early first sample) belong to step 0.
    let start = start - (start - first).max(0).div_euclid(step) * step;
    let mut index = BTreeMap::new();
    let mut taken: BTreeMap<usize, i64> = BTreeMap::new();
    let (mut snapped, mut worst) = (0usize, 0i64);
    for &t in times {
        let offset = t - start;
        let k = (offset as f64 / step as f64).round() as i64;
        let off = offset - k * step;
        if off.abs() > tolerance {
            return Err(format!(
                "a sample at {} is not on the {step}-second grid that starts at {} ({} s off; samples up to {tolerance} s off are snapped); `--resample {}` counts each sample in the step its time falls in",
                format_time(t),
                format_time(start),
                off.abs(),
                humantime::format_duration(Duration::from_secs(step as u64))
            ));
        }
        if off != 0 {
            snapped += 1;
            worst = worst.max(off.abs());
        }
        if let Some(other) = taken.insert(k as usize, t) {
            return Err(format!(
                "the samples at {} and {} fall on the same {step}-second step",
                format_time(other),
                format_time(t)
            ));
        }
        index.insert(t, k as usize);
    }
    let len = taken.keys().next_back().map_or(0, |k| k + 1);
    let mut notes = Vec::new();
    if snapped > 0 {
        notes.push(format!(
            "{snapped} samples were off the {} grid (by up to {}) and were snapped to it",
            step_words(step as u64),
            humantime::format_duration(Duration::from_secs(worst as u64))
        ));
    }
    Ok(Placement {
        grid: Grid::Fixed,
        start,
        step,
        len,
        index,
        notes,
    })
}

/// Calendar months: every sample on one day of the month (or its last day) at one time of
/// day, 28 days or more apart, and a whole number of months from the first.
fn months(times: &[i64]) -> Option<Placement> {
    if times.len() < 3 {
        return None;
    }
    let clock = times[0].rem_euclid(86_400);
    let civil: Vec<(i64, u32, u32)> = times
        .iter()
        .map(|t| loadcast_stats::time::civil_from_days(t.div_euclid(86_400)))
        .collect();
    if times.iter().any(|t| t.rem_euclid(86_400) != clock)
        || times.windows(2).any(|w| w[1] - w[0] < 28 * 86_400)
    {
        return None;
    }
    let anchor = if civil
        .iter()
        .all(|(y, m, d)| *d == u32::from(days_in_month(*y, *m)))
    {
        MonthAnchor::End
    } else if civil.iter().all(|(_, _, d)| *d == civil[0].2) && civil[0].2 <= 28 {
        MonthAnchor::Day(civil[0].2 as u8)
    } else {
        return None;
    };
    let first = month_index(times[0]);
    let offsets: Vec<i64> = times.iter().map(|t| month_index(*t) - first).collect();
    let every = offsets.windows(2).map(|w| w[1] - w[0]).fold(0, gcd).max(1);
    if ![1, 2, 3, 4, 6, 12].contains(&every) {
        return None;
    }
    let index = times
        .iter()
        .zip(&offsets)
        .map(|(t, o)| (*t, (o / every) as usize))
        .collect();
    Some(Placement {
        grid: Grid::Months {
            every: every as u32,
            anchor,
        },
        start: times[0],
        step: every * NOMINAL_MONTH,
        len: (offsets.last().copied().unwrap_or(0) / every) as usize + 1,
        index,
        notes: Vec::new(),
    })
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a.abs() } else { gcd(b, a % b) }
}

/// The week's slots that hold samples, when whole slots are empty week after week (nights,
/// weekends) and the others are filled in most weeks.
fn week_slots(times: &[i64], step: i64) -> Option<Placement> {
    if step >= WEEK || WEEK % step != 0 {
        return None;
    }
    let slot_of = |t: i64| (t - FIRST_MONDAY).rem_euclid(WEEK);
    let week_of = |t: i64| (t - FIRST_MONDAY).div_euclid(WEEK);
    let weeks = (week_of(times[times.len() - 1]) - week_of(times[0]) + 1) as usize;
    if weeks < 3 {
        return None;
    }
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    for &t in times {
        if slot_of(t) % step != slot_of(times[0]) % step {
            return None;
        }
        *seen.entry(slot_of(t)).or_default() += 1;
    }
    // A slot seen in fewer than half the weeks is a stray sample, not part of the pattern.
    let slots: Vec<i64> = seen
        .iter()
        .filter(|(_, n)| **n * 2 >= weeks)
        .map(|(s, _)| *s)
        .collect();
    let possible = (WEEK / step) as usize;
    if slots.len() < 2
        || slots.len() * 10 > possible * 9
        || slots.len() * weeks * 4 < times.len() * 3
    {
        return None;
    }
    let k = slots.len();
    let position = |t: i64| slots.binary_search(&slot_of(t)).ok();
    let g = |t: i64| position(t).map(|p| week_of(t) * k as i64 + p as i64);
    let g0 = g(times[0])?;
    let mut index = BTreeMap::new();
    let (mut strays, mut an_hour_off) = (0usize, 0usize);
    for &t in times {
        match g(t) {
            Some(gt) => {
                index.insert(t, (gt - g0) as usize);
            }
            None => {
                strays += 1;
                if position(t - 3_600).is_some() || position(t + 3_600).is_some() {
                    an_hour_off += 1;
                }
            }
        }
    }
    let len = index.values().max().map_or(0, |m| m + 1);
    let first = position(times[0])?;
    let grid = Grid::WeekSlots { slots, first };
    let mut notes = vec![format!(
        "samples every {}: the gaps are by design, and the series is modelled on those slots",
        grid.describe(Duration::from_secs(step as u64))
    )];
    if strays > 0 {
        // Business hours kept in UTC move an hour when the local clock changes.
        let why = if an_hour_off == strays {
            ", each an hour off it: if the day follows a local clock that changed, `--tz ZONE` models them on that clock"
        } else {
            ""
        };
        notes.push(format!(
            "{strays} samples outside that pattern were left out{why}"
        ));
    }
    Some(Placement {
        grid,
        start: times[0],
        step,
        len,
        index,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadcast_stats::time::{format_date, parse_time};

    fn t(text: &str) -> i64 {
        parse_time(text).unwrap()
    }

    #[test]
    fn months_step_by_the_calendar() {
        let times: Vec<i64> = ["1949-01-01", "1949-02-01", "1949-03-01", "1949-05-01"]
            .map(t)
            .to_vec();
        let p = place(&times, None).unwrap();
        assert_eq!(
            p.grid,
            Grid::Months {
                every: 1,
                anchor: MonthAnchor::Day(1)
            }
        );
        assert_eq!(p.len, 5, "April is missing, not a different step");
        let step = Duration::from_secs(p.step as u64);
        assert_eq!(format_date(p.grid.time_of(p.start, step, 13)), "1950-02-01");
        // Six months ahead are six samples.
        assert_eq!(p.grid.steps_in(step, Duration::from_secs(6 * 2_630_016)), 6);
        let ends: Vec<i64> = ["2023-03-31", "2023-06-30", "2023-09-30", "2023-12-31"]
            .map(t)
            .to_vec();
        let p = place(&ends, None).unwrap();
        assert_eq!(
            p.grid,
            Grid::Months {
                every: 3,
                anchor: MonthAnchor::End
            }
        );
        let step = Duration::from_secs(p.step as u64);
        assert_eq!(format_date(p.grid.time_of(p.start, step, 4)), "2024-03-31");
        assert_eq!(p.grid.seasons(step, 12).year, Some(4.0));
    }

    #[test]
    fn business_hours_are_a_grid_of_their_own() {
        // Weekdays 09:00–16:00, hourly, for four weeks from Monday 2026-11-02.
        let mut times = Vec::new();
        for day in 0..28 {
            if day % 7 >= 5 {
                continue;
            }
            for hour in 9..17 {
                times.push(t("2026-11-02") + day * 86_400 + hour * 3600);
            }
        }
        let p = place(&times, None).unwrap();
        let Grid::WeekSlots { slots, first } = &p.grid else {
            panic!("{:?}", p.grid)
        };
        assert_eq!((slots.len(), *first, p.len), (40, 0, 160));
        let step = Duration::from_secs(3600);
        let s = p.grid.seasons(step, p.len);
        assert_eq!((s.day, s.week), (Some(8), Some(40)));
        // Friday 16:00 is followed by Monday 09:00.
        assert_eq!(
            format_time(p.grid.time_of(p.start, step, 40)),
            "2026-11-09T09:00:00Z"
        );
        assert!(p.notes[0].contains("Mon–Fri 09:00–16:00"), "{:?}", p.notes);
    }

    #[test]
    fn samples_about_a_day_apart_are_snapped_and_said_so() {
        let times = [
            t("2026-01-01T00:00:00Z"),
            t("2026-01-02T00:40:00Z"),
            t("2026-01-02T23:50:00Z"),
            t("2026-01-04T00:00:00Z"),
        ];
        let p = place(&times, None).unwrap();
        assert_eq!(p.grid, Grid::Fixed);
        assert_eq!(p.index.values().copied().collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert!(
            p.notes[0].contains("2 samples were off the 1 day grid"),
            "{:?}",
            p.notes
        );
    }
}
