//! The plan parser and validator: any text is a plan or a list of located diagnostics; a valid
//! plan also lints and describes itself without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match loadcast_plan::parse(text, std::path::Path::new("/nonexistent/fuzz.toml")) {
        Ok(plan) => {
            let _ = plan.lints();
            let _ = plan.describe();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
