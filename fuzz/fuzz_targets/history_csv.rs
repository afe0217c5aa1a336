//! The history CSV reader, and a forecast of whatever it accepts (short histories only, so a
//! case stays fast).
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadcast_forecast::history::{CsvSpec, SeriesKind, SeriesSpec, parse_csv};

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
        if text.lines().count() < 200 {
            let options =
                loadcast_forecast::Options::horizon(std::time::Duration::from_secs(86_400));
            let _ = loadcast_forecast::project(&history, &options);
        }
    }
});
