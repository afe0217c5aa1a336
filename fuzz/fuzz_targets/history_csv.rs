//! The history CSV reader, on UTC and on a wall clock with summer time, and a forecast of
//! whatever it accepts (short histories only, so a case stays fast).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use loadcast_forecast::clock::WallClock;
use loadcast_forecast::history::{
    CsvSpec, History, SeriesKind, SeriesSpec, parse_csv, parse_csv_points,
};

fn forecast(history: &History, text: &str) {
    if text.lines().count() < 200 {
        let options = loadcast_forecast::Options::horizon(std::time::Duration::from_secs(86_400));
        let _ = loadcast_forecast::project(history, &options);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let spec = CsvSpec {
        timestamp: None,
        series: vec![
            SeriesSpec::new("requests", "requests", SeriesKind::Traffic),
            SeriesSpec::new("rows", "rows", SeriesKind::Data),
        ],
    };
    if let Ok(history) = parse_csv(text, "fuzz.csv", &spec) {
        forecast(&history, text);
    }
    // The steps `forecast --tz America/New_York` takes (HistorySource::read_prepared).
    static CLOCK: OnceLock<Option<WallClock>> = OnceLock::new();
    let Some(clock) = CLOCK.get_or_init(|| WallClock::new("America/New_York").ok()) else {
        return;
    };
    if let Ok(points) = parse_csv_points(text, "fuzz.csv", &spec, Some(clock)) {
        let (settled, _note) = clock.settle(points.series);
        if let Ok(history) = History::from_points("fuzz.csv", None, settled) {
            forecast(&history.on_clock(Some(clock.clone())), text);
        }
    }
});
