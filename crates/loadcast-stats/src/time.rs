//! Calendar time without a calendar crate: Unix seconds to and from civil dates in any year
//! (history reaches back before 1970, which `humantime` does not), RFC 3339 text.

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (the inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `2026-11-24T10:00:00Z`.
pub fn format_time(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    let s = unix.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// `2026-11-24`.
pub fn format_date(unix: i64) -> String {
    format_time(unix)[..10].to_string()
}

/// Unix seconds from `2026-11-24`, `2026-11-24 10:00[:00[.123]]`, RFC 3339 with `Z` or an
/// offset, or digits: Unix seconds (with a fraction, as Prometheus writes them), or the
/// milliseconds, microseconds or nanoseconds exports write (13, 16 or 19 digits, the widths
/// they have from 2001 to 2286). Any year, 1958 included.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim().trim_matches('"');
    // Unix seconds, up to the end of year 9999 (as far as a date with a four-digit year goes).
    const LAST: i64 = 253_402_300_799;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits(text) && text.len() != 8 {
        let divisor = match text.len() {
            13 => 1_000,
            16 => 1_000_000,
            19 => 1_000_000_000,
            _ => 1,
        };
        return text
            .parse::<i64>()
            .ok()
            .map(|t| t / divisor)
            .filter(|t| *t <= LAST);
    }
    if let Some((whole, fraction)) = text.split_once('.') {
        if digits(whole) && digits(fraction) && whole.len() <= 12 {
            return whole.parse().ok().filter(|t| *t <= LAST);
        }
    }
    let number = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, rest) = text.split_at(text.find(['T', ' ']).unwrap_or(text.len()));
    if let Some(start) = period_start(date, &number) {
        return rest.trim().is_empty().then_some(start);
    }
    let mut parts = date.splitn(3, '-');
    let (y, m) = (number(parts.next()?)?, number(parts.next()?)?);
    // `1949-01`: a month, dated by its first day.
    let d = parts.next().map_or(Some(1), number)?;
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut seconds = days_from_civil(y, m as u32, d as u32) * 86_400;
    let rest = rest.trim_start_matches(['T', ' ']);
    if rest.is_empty() {
        return Some(seconds);
    }
    // The clock, then an optional zone: Z, +HH:MM or -HH:MM.
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let mut hms = clock.split(':');
    let h = number(hms.next()?)?;
    let min = number(hms.next().unwrap_or("0"))?;
    let sec = hms
        .next()
        .map_or(Some(0), |s| number(s.split('.').next().unwrap_or("0")))?;
    if h > 23 || min > 59 || sec > 60 {
        return None;
    }
    seconds += h * 3600 + min * 60 + sec;
    match zone.chars().next() {
        None | Some('Z' | 'z') => {}
        Some(sign) => {
            let (zh, zm) = zone[1..].split_once(':').unwrap_or((&zone[1..], "0"));
            let offset = number(zh)? * 3600 + number(zm)? * 60;
            seconds += if sign == '+' { -offset } else { offset };
        }
    }
    Some(seconds)
}

/// The first day of a week or quarter written as one: `2026-W05` (ISO week: its Monday),
/// `2026-Q3` or `2026Q3`.
fn period_start(date: &str, number: &dyn Fn(&str) -> Option<i64>) -> Option<i64> {
    let upper = date.to_ascii_uppercase();
    let (year, rest) = upper.split_at(upper.find(['W', 'Q'])?);
    let y = number(year.trim_end_matches('-'))?;
    let n = number(&rest[1..])?;
    if !(1..=9999).contains(&y) {
        return None;
    }
    match rest.as_bytes()[0] {
        b'Q' if (1..=4).contains(&n) => Some(days_from_civil(y, (3 * n - 2) as u32, 1) * 86_400),
        b'W' if (1..=53).contains(&n) => {
            // Week 1 holds January 4th; weeks start on Monday.
            let jan4 = days_from_civil(y, 1, 4);
            let weekday = (jan4 + 3).rem_euclid(7); // 0 = Monday
            let monday = jan4 - weekday + (n - 1) * 7;
            // Week 53 exists only in years whose last week holds Thursday the 31st or so.
            (n < 53 || civil_from_days(monday + 3).0 == y).then_some(monday * 86_400)
        }
        _ => None,
    }
}

/// A duration in words, whole days as days (`60d`, where humantime says `1month 29days 13h…`),
/// else the largest units (`1h 30m`, `90s` as `1m 30s`).
pub fn duration_words(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 86_400 && s % 86_400 == 0 && d.subsec_nanos() == 0 {
        format!("{}d", s / 86_400)
    } else {
        humantime_like(d)
    }
}

/// `1h 30m`, `90s`, `250ms`: the largest units, as humantime writes them below a day.
fn humantime_like(d: std::time::Duration) -> String {
    let total = d.as_secs();
    if total == 0 {
        return format!("{}ms", d.subsec_millis());
    }
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total / 3_600 % 24,
        total / 60 % 60,
        total % 60,
    );
    [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_in_words_keep_days_whole() {
        use std::time::Duration;
        let words = |s: u64| super::duration_words(Duration::from_secs(s));
        assert_eq!(words(60 * 86_400), "60d");
        assert_eq!(words(35 * 86_400), "35d");
        assert_eq!(words(5_400), "1h 30m");
        assert_eq!(words(86_400 + 60), "1d 1m");
        assert_eq!(super::duration_words(Duration::from_millis(250)), "250ms");
    }

    use super::*;

    #[test]
    fn times_parse_and_format_in_any_year() {
        assert_eq!(parse_time("1970-01-01"), Some(0));
        assert_eq!(parse_time("1958-03-29"), Some(-371_174_400));
        assert_eq!(format_date(-371_174_400), "1958-03-29");
        assert_eq!(parse_time("2026-11-24 10:30:00"), Some(1_795_516_200));
        assert_eq!(parse_time("2026-11-24T12:30:00+02:00"), Some(1_795_516_200));
        assert_eq!(parse_time("2026-11-24T10:30:00.250Z"), Some(1_795_516_200));
        assert_eq!(format_time(1_795_516_200), "2026-11-24T10:30:00Z");
        assert_eq!(parse_time("1795516200"), Some(1_795_516_200));
        assert_eq!(parse_time("1795516200.250"), Some(1_795_516_200));
        assert_eq!(parse_time("1795516200250"), Some(1_795_516_200));
        assert_eq!(parse_time("1795516200250000"), Some(1_795_516_200));
        assert_eq!(parse_time("1795516200250000000"), Some(1_795_516_200));
        assert_eq!(parse_time("1795516200.25.1"), None);
        assert_eq!(parse_time("2026-13-01"), None);
        // A year or a Unix time past 9999 is a typo, not a date (found by fuzzing: a history
        // with "1342025-05-02" in it asked for a grid a million years long).
        assert_eq!(parse_time("1342025-05-02"), None);
        assert_eq!(parse_time("99999999999999"), None);
        assert_eq!(parse_time("9999-12-31T23:59:59Z"), Some(253_402_300_799));
        assert_eq!(parse_time("yesterday"), None);
        // Months, quarters and ISO weeks, as monthly and weekly reports write them.
        assert_eq!(parse_time("1949-01"), parse_time("1949-01-01"));
        assert_eq!(parse_time("2026-Q3"), parse_time("2026-07-01"));
        assert_eq!(parse_time("2026q1"), parse_time("2026-01-01"));
        assert_eq!(parse_time("2026-W01"), parse_time("2025-12-29"));
        assert_eq!(parse_time("2020-W53"), parse_time("2020-12-28"));
        assert_eq!(parse_time("2021-W53"), None);
        assert_eq!(parse_time("2026-Q5"), None);
        for day in [-600_000i64, -1, 0, 59, 11_016, 20_416, 2_932_896] {
            assert_eq!(parse_time(&format_time(day * 86_400)), Some(day * 86_400));
        }
    }
}
