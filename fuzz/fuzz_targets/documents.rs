//! The readers of every document loadcast writes: a run result, a projection and a capacity
//! study are read or refused with a located error, never a panic; what reads, writes back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadcast_stats::Document;

fn round_trip<D: Document>(text: &str) {
    if let Ok(document) = D::from_json(text, "fuzz.json") {
        let _ = D::from_json(&document.to_json(), "again.json");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    round_trip::<loadcast_stats::RunResult>(text);
    round_trip::<loadcast_forecast::Projection>(text);
    round_trip::<loadcast_capacity::CapacityStudy>(text);
});
