//! Histories on the calendars people keep them on — monthly, quarterly, ISO weeks, business
//! hours only, "about daily" — read from CSV, modelled and projected on that same calendar.

use std::time::Duration;

use loadcast_forecast::history::{CsvSpec, SeriesKind, SeriesSpec, format_date, parse_csv};
use loadcast_forecast::{Options, Projection, project};
use loadcast_stats::time::{civil_from_days, format_time, parse_time};

const MONTH: u64 = 2_630_016;

fn normal(rng: &mut fastrand::Rng) -> f64 {
    let u1 = rng.f64().max(1e-12);
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn forecast(csv: &str, horizon: Duration) -> Projection {
    let spec = CsvSpec {
        timestamp: None,
        series: vec![SeriesSpec::new("v", "v", SeriesKind::Traffic)],
    };
    let history = parse_csv(csv, "calendar.csv", &spec).unwrap_or_else(|e| panic!("{e}"));
    project(
        &history,
        &Options {
            path_points: 100_000,
            ..Options::horizon(horizon)
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn month_of(t: i64) -> (i64, u32) {
    let (y, m, _) = civil_from_days(t.div_euclid(86_400));
    (y, m)
}

/// 3% a year of growth and a yearly season peaking in July, with 1% noise.
fn monthly_truth(i: usize) -> f64 {
    let month = (i % 12) as f64; // 0 = January
    1000.0
        * 1.03f64.powf(i as f64 / 12.0)
        * (1.0 + 0.25 * (std::f64::consts::TAU * (month - 6.0) / 12.0).cos())
}

#[test]
fn a_monthly_history_peaks_in_the_right_month_at_the_right_level() {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut csv = String::from("month,v\n");
    // Eight years, January 2017 to December 2024, written as `2017-01`.
    for i in 0..96 {
        let v = monthly_truth(i) * (1.0 + 0.01 * normal(&mut rng));
        csv.push_str(&format!("{}-{:02},{v:.2}\n", 2017 + i / 12, i % 12 + 1));
    }
    let p = forecast(&csv, Duration::from_secs(12 * MONTH));
    let s = &p.series[0];
    assert!(p.grid.starts_with("monthly"), "{}", p.grid);
    // Twelve samples, each on the first of a month.
    assert_eq!(s.path.len(), 12, "{:?}", s.path);
    for (h, point) in s.path.iter().enumerate() {
        assert_eq!(format_date(point.t), format!("2025-{:02}-01", h + 1));
    }
    assert_eq!(format_date(p.horizon_end_unix), "2025-12-01");
    assert_eq!(month_of(s.peak_at_unix), (2025, 7), "peak on {}", s.peak_at);
    assert_eq!(s.seasons, ["yearly (12.0 samples)"]);
    // "Today" is the peak of the last year, as the legend says.
    let last_year = csv
        .lines()
        .rev()
        .take(12)
        .filter_map(|l| l.split(',').nth(1)?.parse().ok());
    assert_eq!(s.current_peak, last_year.fold(f64::MIN, f64::max));
    assert_eq!(
        p.today_legend(),
        "today: the highest value over the last cycle; growth is the forecast peak against it"
    );
    // A projection file written before seasons were listed says the same.
    let mut older = p.clone();
    older.series[0].seasons.clear();
    assert_eq!(older.today_legend(), p.today_legend());
    let truth = monthly_truth(96 + 6);
    assert!(
        (s.peak.point / truth - 1.0).abs() < 0.05,
        "peak {:.0} vs truth {truth:.0} ({})",
        s.peak.point,
        s.model
    );
}

#[test]
fn a_monthly_history_that_does_not_repeat_each_year_is_given_no_yearly_season() {
    // Ten years of a slow eleven-year cycle (like sunspots) with noise: a month says nothing
    // about the same month a year later, so no model should be forced through a yearly season.
    let mut rng = fastrand::Rng::with_seed(11);
    let mut csv = String::from("month,v\n");
    for i in 0..120 {
        let cycle = 50.0 * (std::f64::consts::TAU * i as f64 / 132.0).sin();
        let v = 200.0 + cycle + 5.0 * normal(&mut rng);
        csv.push_str(&format!("{}-{:02},{v:.2}\n", 2015 + i / 12, i % 12 + 1));
    }
    let p = forecast(&csv, Duration::from_secs(12 * MONTH));
    let s = &p.series[0];
    assert!(p.grid.starts_with("monthly"), "{}", p.grid);
    assert!(s.seasons.is_empty(), "seasons {:?}", s.seasons);
    assert!(!s.model.contains("season"), "model {}", s.model);
    // Without a cycle, "today" is the last value, and the legend says so.
    assert_eq!(s.current_peak, s.last);
    assert_eq!(
        p.today_legend(),
        "today: the last value; growth is the forecast peak against it"
    );
}

#[test]
fn a_quarterly_history_on_quarter_ends_projects_quarter_ends() {
    let mut csv = String::from("quarter,v\n");
    // Q4 is the busy quarter; ten years of quarter ends.
    let season = [0.9, 0.95, 1.0, 1.25];
    let truth = |i: usize| 500.0 * (1.0 + 0.02 * i as f64) * season[i % 4];
    for i in 0..40 {
        let (y, q) = (2015 + i / 4, i % 4);
        let end = ["03-31", "06-30", "09-30", "12-31"][q];
        csv.push_str(&format!("{y}-{end},{:.2}\n", truth(i)));
    }
    let p = forecast(&csv, Duration::from_secs(8 * 3 * MONTH));
    let s = &p.series[0];
    assert!(
        p.grid.starts_with("quarterly on the last day"),
        "{}",
        p.grid
    );
    let dates: Vec<String> = s.path.iter().map(|x| format_date(x.t)).collect();
    assert_eq!(
        dates,
        [
            "2025-03-31",
            "2025-06-30",
            "2025-09-30",
            "2025-12-31",
            "2026-03-31",
            "2026-06-30",
            "2026-09-30",
            "2026-12-31"
        ]
    );
    assert_eq!(format_date(s.peak_at_unix), "2026-12-31", "{}", s.model);
    assert!(
        (s.peak.point / truth(47) - 1.0).abs() < 0.05,
        "{}",
        s.peak.point
    );
}

#[test]
fn iso_weeks_step_from_monday_to_monday() {
    let mut csv = String::from("week,v\n");
    let mut rng = fastrand::Rng::with_seed(3);
    // 2022-W01 … 2024-W52: three years of weekly values with a yearly season.
    let mut weeks = Vec::new();
    for year in 2022..=2024 {
        for w in 1..=52 {
            weeks.push(format!("{year}-W{w:02}"));
        }
    }
    for (i, w) in weeks.iter().enumerate() {
        let v = 100.0
            + 30.0 * (std::f64::consts::TAU * i as f64 / 52.18).sin()
            + 2.0 * normal(&mut rng);
        csv.push_str(&format!("{w},{v:.2}\n"));
    }
    let p = forecast(&csv, Duration::from_secs(8 * 7 * 86_400));
    let s = &p.series[0];
    assert_eq!(s.path.len(), 8);
    for point in &s.path {
        // 1970-01-01 was a Thursday: Mondays are 4 days later, modulo 7.
        assert_eq!(
            (point.t / 86_400 - 4).rem_euclid(7),
            0,
            "{}",
            format_time(point.t)
        );
    }
    assert_eq!(format_date(s.path[0].t), "2024-12-30", "2025-W01's Monday");
}

#[test]
fn business_hours_only_are_projected_into_business_hours() {
    // Eight weeks of weekday hours 09:00–16:00; a midday peak, Mondays busiest.
    let shape = [0.6, 0.8, 1.0, 1.2, 1.1, 1.0, 0.9, 0.7];
    let truth = |day: i64, hour: i64| {
        let weekday = if day % 7 == 0 { 1.3 } else { 1.0 };
        200.0 * shape[(hour - 9) as usize] * weekday
    };
    let monday = parse_time("2026-09-07").unwrap();
    let mut rng = fastrand::Rng::with_seed(11);
    let mut csv = String::from("time,v\n");
    for day in 0..56 {
        if day % 7 >= 5 {
            continue;
        }
        for hour in 9..17 {
            let v = truth(day, hour) * (1.0 + 0.02 * normal(&mut rng));
            csv.push_str(&format!(
                "{},{v:.2}\n",
                format_time(monday + day * 86_400 + hour * 3600)
            ));
        }
    }
    let p = forecast(&csv, Duration::from_secs(7 * 86_400));
    let s = &p.series[0];
    assert!(p.grid.contains("only Mon–Fri 09:00–16:00"), "{}", p.grid);
    assert!(
        p.notes.iter().any(|n| n.contains("gaps are by design")),
        "{:?}",
        p.notes
    );
    // A week ahead is that week's 40 business hours, and nothing at night or on the weekend.
    assert_eq!(s.path.len(), 40);
    for point in &s.path {
        let day = (point.t - monday).div_euclid(86_400);
        let hour = (point.t - monday).rem_euclid(86_400) / 3600;
        assert!(
            day % 7 < 5 && (9..17).contains(&hour),
            "{}",
            format_time(point.t)
        );
        let expected = truth(day, hour);
        assert!(
            (point.band.point / expected - 1.0).abs() < 0.08,
            "{}: {:.1} vs {expected:.1} ({})",
            format_time(point.t),
            point.band.point,
            s.model
        );
    }
}

#[test]
fn samples_about_a_day_apart_are_snapped_with_a_note() {
    let mut rng = fastrand::Rng::with_seed(5);
    let mut csv = String::from("time,v\n");
    let start = parse_time("2026-01-01").unwrap();
    for d in 0..120 {
        // Taken some time between 22:30 and 01:30.
        let jitter = rng.i64(-5400..5400);
        csv.push_str(&format!(
            "{},{}\n",
            format_time(start + d * 86_400 + jitter),
            100 + d
        ));
    }
    let p = forecast(&csv, Duration::from_secs(14 * 86_400));
    assert!(
        p.notes.iter().any(|n| n.contains("were snapped to it")),
        "{:?}",
        p.notes
    );
    assert!(p.grid.starts_with("1 day"), "{}", p.grid);
    assert_eq!(format_date(p.horizon_end_unix), "2026-05-14");
}

#[test]
fn a_half_hourly_series_with_a_daily_and_a_weekly_cycle_finds_both_and_tracks_the_truth() {
    // Eight weeks of half-hours: a daily shape, quieter weekends, slow growth, noise sd 4.
    let sd = 4.0;
    let truth = |i: usize| {
        let day = (i / 48) % 7;
        let hour = (i % 48) as f64 / 2.0;
        let daily = 1.0 + 0.6 * (std::f64::consts::TAU * (hour - 14.0) / 24.0).cos();
        let weekly = if day >= 5 { 0.6 } else { 1.0 };
        100.0 * daily * weekly * (1.0 + 0.0001 * i as f64)
    };
    let mut rng = fastrand::Rng::with_seed(21);
    let start = parse_time("2026-09-07").unwrap(); // a Monday
    let mut csv = String::from("time,v\n");
    let n = 8 * 336;
    for i in 0..n {
        let v = truth(i) + sd * normal(&mut rng);
        csv.push_str(&format!("{},{v:.3}\n", start + 1800 * i as i64));
    }
    let p = forecast(&csv, Duration::from_secs(7 * 86_400));
    let s = &p.series[0];
    assert_eq!(
        s.seasons,
        ["daily (48 samples)", "weekly (336 samples)"],
        "{}",
        s.model
    );
    let mean_abs_error = s
        .path
        .iter()
        .enumerate()
        .map(|(h, point)| (point.band.point - truth(n + h)).abs())
        .sum::<f64>()
        / s.path.len() as f64;
    assert!(
        mean_abs_error < sd,
        "mean error {mean_abs_error:.2} against noise sd {sd} ({})",
        s.model
    );
}
