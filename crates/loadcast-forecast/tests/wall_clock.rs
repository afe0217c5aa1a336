//! Traffic whose day follows a local clock, kept in UTC: modelled on the zone's wall clock
//! (`--tz`), its daily peak stays at the local hour through a clock change, where a model on
//! UTC moves it an hour.

use std::path::PathBuf;
use std::time::Duration;

use loadcast_forecast::clock::WallClock;
use loadcast_forecast::history::{CsvSpec, SeriesKind, SeriesSpec, format_time};
use loadcast_forecast::source::HistorySource;
use loadcast_forecast::{Options, Projection, project};

/// 2026-10-25 01:00 UTC: Berlin's clock goes back from 03:00 CEST to 02:00 CET.
const AUTUMN: i64 = 1_792_890_000;

fn normal(rng: &mut fastrand::Rng) -> f64 {
    let u1 = rng.f64().max(1e-12);
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A shop's requests per second: a lunchtime peak at 12:00 Berlin time, quieter weekends.
fn truth(clock: &WallClock, instant: i64) -> f64 {
    let wall = clock.wall(instant);
    let hour = wall.rem_euclid(86_400) as f64 / 3_600.0;
    let weekday = (wall.div_euclid(86_400) + 3).rem_euclid(7); // 0 = Monday
    let weekend = if weekday >= 5 { 0.7 } else { 1.0 };
    (100.0 + 400.0 * (-(hour - 12.0).powi(2) / (2.0 * 2.0f64.powi(2))).exp()) * weekend
}

struct Csv(PathBuf);

impl Csv {
    fn write(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "loadcast-wall-clock-{}-{name}.csv",
            std::process::id()
        ));
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self(path)
    }

    fn source(&self) -> HistorySource {
        HistorySource::Csv {
            path: self.0.clone(),
            spec: CsvSpec {
                timestamp: None,
                series: vec![SeriesSpec::new("requests", "requests", SeriesKind::Traffic)],
            },
        }
    }
}

impl Drop for Csv {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn forecast(csv: &Csv, clock: Option<&WallClock>, horizon: Duration) -> Projection {
    let history = csv
        .source()
        .read_prepared(None, clock)
        .unwrap_or_else(|e| panic!("{e}"));
    let options = Options {
        path_points: 100_000,
        ..Options::horizon(horizon)
    };
    project(&history, &options).unwrap_or_else(|e| panic!("{e}"))
}

/// Each whole projected day's busiest instant, as the hour Berlin's clock showed.
fn local_peak_hours(p: &Projection, clock: &WallClock) -> Vec<(String, i64)> {
    let mut days: Vec<(i64, usize, i64, f64)> = Vec::new(); // (local day, samples, instant, value)
    for point in &p.series[0].path {
        let day = clock.wall(point.t).div_euclid(86_400);
        match days.last_mut() {
            Some(last) if last.0 == day => {
                last.1 += 1;
                if point.band.point > last.3 {
                    (last.2, last.3) = (point.t, point.band.point);
                }
            }
            _ => days.push((day, 1, point.t, point.band.point)),
        }
    }
    days.into_iter()
        .filter(|(_, samples, _, _)| *samples >= 23)
        .map(|(_, _, t, _)| (format_time(t), clock.wall(t).rem_euclid(86_400) / 3_600))
        .collect()
}

#[test]
fn a_daily_peak_on_berlin_time_stays_at_noon_through_the_clock_change() {
    let berlin = WallClock::new("Europe/Berlin").unwrap();
    let mut rng = fastrand::Rng::with_seed(11);
    // Sixteen weeks of hourly samples in UTC, ending a week before the clocks go back.
    let end = AUTUMN - 7 * 86_400 - 3_600;
    let start = end - 16 * 7 * 86_400;
    let mut text = String::from("time,requests\n");
    for t in (start..=end).step_by(3_600) {
        let v = truth(&berlin, t) + 5.0 * normal(&mut rng);
        text.push_str(&format!("{},{v:.2}\n", format_time(t)));
    }
    let csv = Csv::write("noon", &text);
    let horizon = Duration::from_secs(14 * 86_400);
    let local = forecast(&csv, Some(&berlin), horizon);
    let utc = forecast(&csv, None, horizon);
    assert!(
        local.grid.contains("Europe/Berlin's wall clock"),
        "{}",
        local.grid
    );
    assert!(
        local.notes.iter().any(|n| n.contains(
            "modelled on Europe/Berlin's wall clock (the clock did not change in the history)"
        )),
        "{:?}",
        local.notes
    );
    // On the wall clock every projected day peaks at noon, before the change and after it.
    let hours = local_peak_hours(&local, &berlin);
    assert!(hours.len() >= 13, "{hours:?}");
    assert!(hours.iter().all(|(_, h)| *h == 12), "{hours:?}");
    // On UTC the peak stays at 10:00 UTC: 11:00 in Berlin after the change.
    let utc_hours = local_peak_hours(&utc, &berlin);
    assert!(
        utc_hours.iter().any(|(_, h)| *h == 11),
        "the UTC model was expected to miss the change: {utc_hours:?}"
    );
    // The instants written out are instants: the week after the change, noon is 11:00 UTC.
    let after = local.series[0]
        .path
        .iter()
        .filter(|p| p.t > AUTUMN + 86_400)
        .max_by(|a, b| a.band.point.total_cmp(&b.band.point))
        .map(|p| format_time(p.t))
        .unwrap_or_default();
    assert!(after.ends_with("T11:00:00Z"), "{after}");
    // And the forecast after the change is closer to what the shop will do.
    let error_after = |p: &Projection| {
        let after: Vec<f64> = p.series[0]
            .path
            .iter()
            .filter(|q| q.t > AUTUMN)
            .map(|q| (q.band.point - truth(&berlin, q.t)).abs())
            .collect();
        after.iter().sum::<f64>() / after.len().max(1) as f64
    };
    let (on_wall, on_utc) = (error_after(&local), error_after(&utc));
    assert!(
        on_wall < 0.6 * on_utc,
        "mean absolute error after the change: {on_wall:.1} on the wall clock, {on_utc:.1} on UTC"
    );
}

#[test]
fn local_timestamps_repeat_in_the_hour_the_clock_goes_back_and_are_read_as_one_sample() {
    let berlin = WallClock::new("Europe/Berlin").unwrap();
    // Hourly local timestamps without an offset, as a spreadsheet export writes them, over
    // six weeks around the change: 02:00 on 2026-10-25 appears twice.
    let mut text = String::from("time,requests\n");
    let first = AUTUMN - 21 * 86_400;
    for t in (first..first + 42 * 86_400).step_by(3_600) {
        let wall = berlin.wall(t);
        let v = truth(&berlin, t);
        text.push_str(&format!(
            "{},{v:.2}\n",
            &format_time(wall)[..19].replace('T', " ")
        ));
    }
    let csv = Csv::write("repeats", &text);
    // On UTC the repeated hour is a repeated timestamp: an error naming the line.
    let e = csv
        .source()
        .read()
        .expect_err("a repeated timestamp on UTC")
        .to_string();
    assert!(
        e.contains("timestamp 2026-10-25 02:00:00 repeats the one on line"),
        "{e}"
    );
    let history = csv
        .source()
        .read_prepared(None, Some(&berlin))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        history.len(),
        42 * 24 - 1,
        "one wall hour fewer than instants"
    );
    assert!(
        history
            .notes
            .iter()
            .any(|n| n.contains("the clock changed 1 time in the history")),
        "{:?}",
        history.notes
    );
    // The wall clock's 02:00 on the day of the change names its first instant, 00:00 UTC.
    let i = (0..history.len())
        .find(|&i| format_time(history.wall_time(i)) == "2026-10-25T02:00:00Z")
        .expect("the repeated hour is a sample");
    assert_eq!(format_time(history.time_of(i)), "2026-10-25T00:00:00Z");
    assert_eq!(format_time(history.time_of(i + 1)), "2026-10-25T02:00:00Z");
    // A third 02:00 is not the clock's doing.
    let tripled = text.replacen(
        "2026-10-25 02:00:00,",
        "2026-10-25 02:00:00,1\n2026-10-25 02:00:00,",
        1,
    );
    let csv = Csv::write("tripled", &tripled);
    let e = csv
        .source()
        .read_prepared(None, Some(&berlin))
        .expect_err("three 02:00s")
        .to_string();
    assert!(e.contains("repeats the one on line"), "{e}");
}

#[test]
fn days_are_counted_on_the_clock_and_dated_by_it() {
    let berlin = WallClock::new("Europe/Berlin").unwrap();
    // Three weeks of hourly samples (UTC) around the autumn change, each worth the day of the
    // month it was in Berlin: a day counted on Berlin's clock has that figure as its mean.
    let mut text = String::from("time,requests\n");
    for t in (AUTUMN - 10 * 86_400..AUTUMN + 11 * 86_400).step_by(3_600) {
        let day = format_time(berlin.wall(t))[8..10]
            .parse::<u32>()
            .unwrap_or(0);
        text.push_str(&format!("{},{day}\n", format_time(t)));
    }
    let csv = Csv::write("days", &text);
    let to = "1d".parse().unwrap_or_else(|e| panic!("{e}"));
    let daily = csv
        .source()
        .read_prepared(Some(to), Some(&berlin))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(daily.clock, None, "days are dated, not kept on the clock");
    for i in 0..daily.len() {
        let date = format_time(daily.time_of(i));
        let day: f64 = date[8..10].parse().unwrap_or(0.0);
        let mean = daily.series[0].values[i];
        // The first and last buckets may hold part of a day; each whole one is its own day.
        if i > 0 && i + 1 < daily.len() {
            assert_eq!(mean, day, "{date}: {mean}");
            assert!(date.ends_with("T00:00:00Z"), "{date}");
        }
    }

    // A history sampled daily is read as its dates say, whatever the clock: New York's would
    // move each midnight UTC to the evening before.
    let new_york = WallClock::new("America/New_York").unwrap();
    let mut text = String::from("time,requests\n");
    for d in 0..120 {
        let t = AUTUMN - 60 * 86_400 - 3_600 + d * 86_400; // midnight UTC
        text.push_str(&format!("{},{}\n", format_time(t), 1000 + d));
    }
    let csv = Csv::write("daily", &text);
    let plain = csv.source().read().unwrap_or_else(|e| panic!("{e}"));
    let local = csv
        .source()
        .read_prepared(None, Some(&new_york))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (local.time_of(0), local.end(), &local.series),
        (plain.time_of(0), plain.end(), &plain.series)
    );
    assert!(
        local.notes.iter().any(|n| n
            == "--tz America/New_York: not applied, as the history's step is 1 day: a wall clock matters within a day"),
        "{:?}",
        local.notes
    );
}

#[test]
fn business_hours_kept_in_utc_are_told_of_the_clock_and_kept_whole_on_it() {
    let berlin = WallClock::new("Europe/Berlin").unwrap();
    // Weekdays 09:00–17:00 in Berlin, written in UTC, from February to May: the office's
    // hours are 08:00–16:00 UTC in winter and 07:00–15:00 in summer.
    let mut text = String::from("time,requests\n");
    let first = AUTUMN - 266 * 86_400 - 3_600; // 2026-02-01T00:00:00Z
    for t in (first..first + 120 * 86_400).step_by(3_600) {
        let wall = berlin.wall(t);
        let (hour, weekday) = (
            wall.rem_euclid(86_400) / 3_600,
            (wall.div_euclid(86_400) + 3).rem_euclid(7),
        );
        if weekday < 5 && (9..17).contains(&hour) {
            text.push_str(&format!("{},{}\n", format_time(t), 200 + 10 * hour));
        }
    }
    let csv = Csv::write("office", &text);
    let utc = csv.source().read().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        utc.notes.iter().any(|n| n.contains(
            "samples outside that pattern were left out, each an hour off it: if the day follows a local clock that changed, `--tz ZONE` models them on that clock"
        )),
        "{:?}",
        utc.notes
    );
    let local = csv
        .source()
        .read_prepared(None, Some(&berlin))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        local.describe_grid(),
        "1 hour, only Mon–Fri 09:00–16:00 (40 slots a week) on Europe/Berlin's wall clock"
    );
    assert!(
        !local
            .notes
            .iter()
            .any(|n| n.contains("left out") || n.contains("filled")),
        "{:?}",
        local.notes
    );
    // Every sample is kept, each at its own instant.
    assert_eq!(local.len(), text.lines().count() - 1);
    assert_eq!(format_time(local.time_of(0)), "2026-02-02T08:00:00Z");
}

#[test]
fn samples_hours_apart_that_follow_utc_are_refused_on_the_clock_with_the_way_out() {
    let berlin = WallClock::new("Europe/Berlin").unwrap();
    // Every three hours on UTC's grid, across the spring change: on Berlin's clock they move
    // from 01:00, 04:00, … to 02:00, 05:00, ….
    let first = AUTUMN - 240 * 86_400 - 3_600; // 2026-02-27T00:00:00Z
    let mut text = String::from("time,requests\n");
    for t in (first..first + 60 * 86_400).step_by(3 * 3_600) {
        text.push_str(&format!("{},{}\n", format_time(t), 100 + (t / 3_600) % 8));
    }
    let csv = Csv::write("three-hourly", &text);
    let e = csv
        .source()
        .read_prepared(None, Some(&berlin))
        .expect_err("off the wall clock's grid after the change")
        .to_string();
    assert!(
        e.contains("`--resample 3h`")
            && e.ends_with("(the times are on Europe/Berlin's wall clock)"),
        "{e}"
    );
    let to = "3h".parse().unwrap_or_else(|e| panic!("{e}"));
    let history = csv
        .source()
        .read_prepared(Some(to), Some(&berlin))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(history.len(), 60 * 8, "{:?}", history.notes);
}
