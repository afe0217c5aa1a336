//! `plan import-pgbench`: any script is imported or refused with its line, never a panic; and
//! what it imports, `plan check` accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadcast_plan::pgbench::{PgbenchOptions, import};

fuzz_target!(|data: &[u8]| {
    let Ok(script) = std::str::from_utf8(data) else {
        return;
    };
    let options = PgbenchOptions {
        name: "fuzz".into(),
        database: "postgres://postgres@127.0.0.1:5432/fuzz".into(),
        scale: 3,
        clients: 2,
        rate: None,
        duration: "10s".into(),
        latency_limit: None,
    };
    if let Ok(text) = import(script, &options) {
        if let Err(e) = loadcast_plan::parse(&text, std::path::Path::new("imported.toml")) {
            panic!("the import of\n{script}\nwrote a plan that does not check:\n{text}\n{e}");
        }
    }
});
