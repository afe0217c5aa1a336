//! The HAR importer: any recording is a plan (which must then parse) or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(plan) = loadcast_plan::har::import(text, &loadcast_plan::har::HarOptions::default()) {
        // What the importer writes must read back as TOML (its own validation may still
        // refuse it: a recording can name a target that is not http).
        let _ = loadcast_plan::parse(&plan.text_for_validation(), std::path::Path::new("/nonexistent/har.toml"));
    }
});
