//! The wall clock a history's days follow (`--tz Europe/Berlin`, `[history] tz`).
//!
//! Traffic follows people, and people follow their local clock: a shop used in Berlin peaks at
//! noon CET in winter and at noon CEST in summer, an hour apart in UTC. A history kept in UTC
//! (as Prometheus keeps it) then has a daily cycle that moves an hour twice a year, and every
//! model that learns the day from many cycles learns a blur of two. On the zone's wall clock
//! the cycle stands still: samples are modelled at the wall time they were taken (a timestamp
//! without an offset is read as that clock's), the hour the clock repeats is one sample (the
//! mean of its two), the hour it skips is filled from its neighbours, and every time a
//! forecast writes out is an instant again ([`WallClock::instant`]). A day is a day on any
//! clock: days counted on it (`--resample 1d`) are dated by it, and a history sampled daily
//! or coarser is read as its dates say ([`crate::source::HistorySource::read_prepared`]).
//!
//! Wall times are carried as the Unix seconds they would be if the wall clock were UTC, so
//! the grids, calendars and seasons in [`crate::grid`] work on them unchanged.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::{AmbiguousOffset, TimeZone};

use crate::history::NamedPoints;

/// A time zone of the IANA database, by name.
#[derive(Clone, Debug)]
pub struct WallClock {
    zone: TimeZone,
    name: String,
}

impl PartialEq for WallClock {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl WallClock {
    /// The zone named `name` (`Europe/Berlin`, `America/New_York`, `UTC`).
    pub fn new(name: &str) -> Result<Self, String> {
        let zone = TimeZone::get(name).map_err(|e| {
            format!(
                "{name:?} is not a time zone of the IANA database (such as Europe/Berlin, America/New_York or UTC): {e}"
            )
        })?;
        Ok(Self {
            zone,
            name: name.to_string(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The wall time the clock showed at `instant` (both in Unix seconds).
    pub fn wall(&self, instant: i64) -> i64 {
        Timestamp::from_second(instant).map_or(instant, |t| {
            instant + i64::from(self.zone.to_offset(t).seconds())
        })
    }

    /// The instant a wall time names. In the hour the clock repeats, the first of the two; in
    /// the hour it skips, the instant an unchanged clock would have shown it (02:30 on the
    /// night clocks go forward is 03:30 of the new time), as RFC 5545 and Temporal do.
    pub fn instant(&self, wall: i64) -> i64 {
        Timestamp::from_second(wall)
            .ok()
            .map(|t| TimeZone::UTC.to_datetime(t))
            .and_then(|civil| self.zone.to_ambiguous_timestamp(civil).compatible().ok())
            .map_or(wall, |t| t.as_second())
    }

    /// Whether the clock shows `wall` twice (in the hour it goes back).
    pub fn repeats(&self, wall: i64) -> bool {
        Timestamp::from_second(wall).is_ok_and(|t| {
            let civil = TimeZone::UTC.to_datetime(t);
            matches!(
                self.zone.to_ambiguous_timestamp(civil).offset(),
                AmbiguousOffset::Fold { .. }
            )
        })
    }

    /// How many times the clock changed between two wall times.
    pub fn changes_between(&self, first_wall: i64, last_wall: i64) -> usize {
        let (Ok(first), last) = (
            Timestamp::from_second(self.instant(first_wall)),
            self.instant(last_wall),
        ) else {
            return 0;
        };
        self.zone
            .following(first)
            .take_while(|t| t.timestamp().as_second() <= last)
            .count()
    }

    /// Samples at instants (Prometheus' timestamps) moved to the wall clock.
    pub fn from_instants(&self, series: Vec<NamedPoints>) -> Vec<NamedPoints> {
        series
            .into_iter()
            .map(|(name, kind, points)| {
                let points = points.into_iter().map(|(t, v)| (self.wall(t), v)).collect();
                (name, kind, points)
            })
            .collect()
    }

    /// Samples on the wall clock, sorted by time, with what the clock did to them undone: the
    /// two samples of a repeated hour made one, their mean (a rate is a rate in either; a count
    /// per step is a count per step), and the hour it skipped filled from its neighbours at the
    /// samples' own spacing; and the note that says so.
    pub fn settle(&self, series: Vec<NamedPoints>) -> (Vec<NamedPoints>, String) {
        let (mut repeated, mut skipped) = (0usize, 0usize);
        let settled: Vec<NamedPoints> = series
            .into_iter()
            .map(|(name, kind, points)| {
                let mut at: BTreeMap<i64, (f64, u32)> = BTreeMap::new();
                for (t, v) in points {
                    let slot = at.entry(t).or_insert((0.0, 0));
                    *slot = (slot.0 + v, slot.1 + 1);
                }
                // Series share their times: the count is of one series' samples.
                repeated = repeated.max(at.values().filter(|(_, count)| *count > 1).count());
                let points: Vec<(i64, f64)> = at
                    .into_iter()
                    .map(|(t, (sum, count))| (t, sum / f64::from(count)))
                    .collect();
                let before = points.len();
                let points = self.fill_skipped(points);
                skipped = skipped.max(points.len() - before);
                (name, kind, points)
            })
            .collect();
        let times = crate::history::distinct_times(&settled);
        let changes = match (times.first(), times.last()) {
            (Some(&first), Some(&last)) => self.changes_between(first, last),
            _ => 0,
        };
        let mut undone = Vec::new();
        if repeated > 0 {
            undone.push(match repeated {
                1 => "1 sample in the hour it repeats, the mean of its two".to_string(),
                n => format!("{n} samples in the hour it repeats, each the mean of its two"),
            });
        }
        if skipped > 0 {
            undone.push(match skipped {
                1 => "1 sample in the hour it skips, filled from its neighbours".to_string(),
                n => format!("{n} samples in the hour it skips, filled from their neighbours"),
            });
        }
        let note = match changes {
            0 => format!(
                "modelled on {}'s wall clock (the clock did not change in the history)",
                self.name
            ),
            n => format!(
                "modelled on {}'s wall clock, as its people keep the day: the clock changed {} in the history{}",
                self.name,
                if n == 1 {
                    "1 time".to_string()
                } else {
                    format!("{n} times")
                },
                if undone.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", undone.join("; "))
                }
            ),
        };
        (settled, note)
    }

    /// Samples at most an hour apart whose wall times are further apart than their instants
    /// straddle the hour the clock skipped: the wall times between them, at the samples' own
    /// spacing, are filled by linear interpolation, so the wall clock's grid has no hole there.
    /// Samples further apart (daily ones, taken at 01:00 one day and 02:00 the next) are left
    /// to the grid to snap.
    fn fill_skipped(&self, points: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
        // Each wall time's instant once: every one is the end of one pair and the start of the next.
        let instants: Vec<i64> = points.iter().map(|(w, _)| self.instant(*w)).collect();
        let mut out = Vec::with_capacity(points.len());
        for (pair, at) in points.windows(2).zip(instants.windows(2)) {
            let ((w1, v1), (w2, v2)) = (pair[0], pair[1]);
            out.push((w1, v1));
            let spacing = at[1] - at[0];
            if spacing <= 0 || spacing > 3_600 || w2 - w1 <= spacing {
                continue;
            }
            let mut w = w1 + spacing;
            while w < w2 {
                let share = (w - w1) as f64 / (w2 - w1) as f64;
                out.push((w, v1 + (v2 - v1) * share));
                w += spacing;
            }
        }
        out.extend(points.last().copied());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::SeriesKind;

    /// 2026-03-29 01:00 UTC: Berlin's clock goes from 02:00 CET to 03:00 CEST.
    const SPRING: i64 = 1_774_746_000;
    /// 2026-10-25 01:00 UTC: Berlin's clock goes from 03:00 CEST back to 02:00 CET.
    const AUTUMN: i64 = 1_792_890_000;

    fn berlin() -> WallClock {
        WallClock::new("Europe/Berlin").unwrap()
    }

    #[test]
    fn wall_times_follow_the_zone_through_both_changes() {
        let clock = berlin();
        assert_eq!(
            clock.wall(SPRING - 3_600),
            SPRING - 3_600 + 3_600,
            "01:00 CET"
        );
        assert_eq!(clock.wall(SPRING), SPRING + 7_200, "03:00 CEST");
        assert_eq!(clock.wall(AUTUMN - 1), AUTUMN - 1 + 7_200, "02:59:59 CEST");
        assert_eq!(clock.wall(AUTUMN), AUTUMN + 3_600, "02:00 CET again");
        // Every instant outside the changes comes back from its wall time.
        for t in [
            SPRING - 7_200,
            SPRING + 3_600,
            AUTUMN - 7_200,
            AUTUMN + 7_200,
        ] {
            assert_eq!(clock.instant(clock.wall(t)), t);
        }
        // The repeated 02:30 is the first of the two; the skipped 02:30 is 03:30 CEST.
        let repeated = AUTUMN + 3_600 + 1_800;
        assert!(clock.repeats(repeated));
        assert_eq!(clock.instant(repeated), AUTUMN - 1_800);
        let skipped = SPRING + 3_600 + 1_800;
        assert!(!clock.repeats(skipped));
        assert_eq!(clock.instant(skipped), SPRING + 1_800);
        assert_eq!(clock.changes_between(SPRING - 86_400, AUTUMN + 86_400), 2);
        assert_eq!(clock.changes_between(SPRING + 86_400, AUTUMN - 86_400), 0);
    }

    #[test]
    fn the_hour_the_clock_repeats_is_one_sample_and_the_hour_it_skips_is_filled() {
        let clock = berlin();
        // Hourly samples across the autumn change, each worth its UTC hour.
        let points: Vec<(i64, f64)> = (-3..4)
            .map(|h| (AUTUMN + h * 3_600, f64::from(h as i32)))
            .collect();
        let series = vec![("requests".to_string(), SeriesKind::Traffic, points)];
        let (merged, note) = clock.settle(clock.from_instants(series));
        let walls: Vec<(i64, f64)> = merged[0].2.clone();
        assert_eq!(walls.len(), 6, "seven instants, six wall hours: {walls:?}");
        let repeated = AUTUMN + 3_600;
        // 02:00 CEST (h = −1) and 02:00 CET (h = 0) are one 02:00: their mean.
        assert_eq!(
            walls.iter().find(|(t, _)| *t == repeated),
            Some(&(repeated, -0.5))
        );
        assert!(
            note.contains("changed 1 time in the history (1 sample in the hour it repeats, the mean of its two)"),
            "{note}"
        );
        // Across the spring change, five-minute samples leave no hole in the wall clock.
        let points: Vec<(i64, f64)> = (-24..24).map(|k| (SPRING + k * 300, 1.0)).collect();
        let series = vec![("requests".to_string(), SeriesKind::Traffic, points)];
        let (settled, note) = clock.settle(clock.from_instants(series));
        let walls: Vec<i64> = settled[0].2.iter().map(|(t, _)| *t).collect();
        assert_eq!(walls.len(), 48 + 12, "an hour of twelve samples filled");
        assert!(walls.windows(2).all(|w| w[1] - w[0] == 300), "{walls:?}");
        assert!(
            note.contains("(12 samples in the hour it skips, filled from their neighbours)"),
            "{note}"
        );
        let err = WallClock::new("Europe/Berln").unwrap_err();
        assert!(err.contains("\"Europe/Berln\" is not a time zone"), "{err}");
    }
}
