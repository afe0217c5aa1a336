//! Typed units written in plan files: durations, rates, ranges, percentages and byte sizes.
//! Each parser returns what it expected on failure, so the caller can say it to the user.

use std::time::Duration;

/// `90s`, `2m`, `1h 30m`, `250ms`.
pub fn parse_duration(text: &str) -> Result<Duration, &'static str> {
    const EXPECTED: &str = "a duration such as \"250ms\", \"90s\", \"2m\" or \"1h 30m\"";
    let text = text.trim();
    if text.is_empty() {
        return Err(EXPECTED);
    }
    humantime::parse_duration(text).map_err(|_| EXPECTED)
}

/// A request or arrival rate, in events per second: `1200/s`, `300/m`, `300/min`, `5000/h`.
pub fn parse_rate(text: &str) -> Result<f64, &'static str> {
    const EXPECTED: &str = "a rate such as \"1200/s\", \"300/m\" or \"5000/h\"";
    let (number, unit) = text.trim().split_once('/').ok_or(EXPECTED)?;
    let per_second = match unit.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        _ => return Err(EXPECTED),
    };
    let value = parse_number(number).ok_or(EXPECTED)?;
    if !(value >= 0.0 && value.is_finite()) {
        return Err(EXPECTED);
    }
    Ok(value / per_second)
}

/// A rate that may ramp: `1200/s` (constant) or `0..1200/s` (from 0 to 1200 per second; the
/// unit after the upper bound applies to both ends).
pub fn parse_rate_range(text: &str) -> Result<(f64, f64), &'static str> {
    const EXPECTED: &str = "a rate such as \"1200/s\" or a ramp such as \"0..1200/s\"";
    match text.split_once("..") {
        None => parse_rate(text).map(|r| (r, r)).map_err(|_| EXPECTED),
        Some((from, to)) => {
            let to_rate = parse_rate(to).map_err(|_| EXPECTED)?;
            let unit = to.split_once('/').map(|(_, u)| u).ok_or(EXPECTED)?;
            let from_rate = if from.contains('/') {
                parse_rate(from)
            } else {
                parse_rate(&format!("{from}/{unit}"))
            }
            .map_err(|_| EXPECTED)?;
            Ok((from_rate, to_rate))
        }
    }
}

/// A number of virtual users, constant (`50`) or ramping (`"0..50"`).
pub fn parse_user_range(text: &str) -> Result<(u32, u32), &'static str> {
    const EXPECTED: &str = "a number of users such as 50 or a ramp such as \"0..50\"";
    let parse = |s: &str| {
        s.trim()
            .replace('_', "")
            .parse::<u32>()
            .map_err(|_| EXPECTED)
    };
    match text.split_once("..") {
        None => parse(text).map(|n| (n, n)),
        Some((from, to)) => Ok((parse(from)?, parse(to)?)),
    }
}

/// `0.5%` or a fraction `0.005`.
pub fn parse_fraction(text: &str) -> Result<f64, &'static str> {
    const EXPECTED: &str = "a percentage such as \"0.5%\" or a fraction such as 0.005";
    let text = text.trim();
    let value = match text.strip_suffix('%') {
        Some(pct) => parse_number(pct).ok_or(EXPECTED)? / 100.0,
        None => parse_number(text).ok_or(EXPECTED)?,
    };
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(EXPECTED)
    }
}

/// `512`, `64KB`, `10 MiB`, `1.5GB` (KB = 1000 bytes, KiB = 1024).
pub fn parse_size(text: &str) -> Result<u64, &'static str> {
    const EXPECTED: &str = "a size such as \"512B\", \"64KiB\" or \"10MB\"";
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let multiplier: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0f64.powi(4),
        _ => return Err(EXPECTED),
    };
    let value = parse_number(number).ok_or(EXPECTED)?;
    if value < 0.0 || !value.is_finite() {
        return Err(EXPECTED);
    }
    Ok((value * multiplier).round() as u64)
}

fn parse_number(text: &str) -> Option<f64> {
    text.trim().replace('_', "").parse::<f64>().ok()
}

/// Formats a rate per second for people: `1200/s`, `0.5/s`.
pub fn format_rate(per_second: f64) -> String {
    if (per_second - per_second.round()).abs() < 1e-9 {
        format!("{}/s", per_second.round())
    } else {
        format!("{per_second:.2}/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("1200/s"), Ok(1200.0));
        assert_eq!(parse_rate("300/m"), Ok(5.0));
        assert_eq!(parse_rate("7200/h"), Ok(2.0));
        assert_eq!(parse_rate("1_000/s"), Ok(1000.0));
        assert!(parse_rate("1200").is_err());
        assert!(parse_rate("12OO/s").is_err());
        assert!(parse_rate("-5/s").is_err());
        assert_eq!(parse_rate_range("0..1200/s"), Ok((0.0, 1200.0)));
        assert_eq!(parse_rate_range("60/m..120/s"), Ok((1.0, 120.0)));
        assert_eq!(parse_rate_range("500/s"), Ok((500.0, 500.0)));
        assert!(parse_rate_range("0..fast").is_err());
    }

    #[test]
    fn users_fractions_sizes() {
        assert_eq!(parse_user_range("0..50"), Ok((0, 50)));
        assert_eq!(parse_user_range("25"), Ok((25, 25)));
        assert_eq!(parse_fraction("0.5%"), Ok(0.005));
        assert_eq!(parse_fraction("0.01"), Ok(0.01));
        assert!(parse_fraction("150%").is_err());
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("10 MB"), Ok(10_000_000));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("10 parsecs").is_err());
        assert_eq!(format_rate(1200.0), "1200/s");
    }
}
