//! A target whose speed follows the size of a real table: `workers` requests at once, each
//! holding a worker for `base + per_krow × (rows / 1000)^exponent`, where `rows` is the live
//! row count of a SQLite table (polled every 200 ms) — grow the table with `loadcast grow` and
//! the server slows down. For bench/capacity.sh.
//!
//!   capacity_server DB.sqlite TABLE WORKERS BASE_MS PER_KROW_MS EXPONENT

use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, table, workers, base, per_krow, exponent] = args.as_slice() else {
        eprintln!("usage: capacity_server DB TABLE WORKERS BASE_MS PER_KROW_MS EXPONENT");
        std::process::exit(2);
    };
    let workers: usize = number(workers, "WORKERS");
    let base = Duration::from_secs_f64(number::<f64>(base, "BASE_MS") / 1e3);
    let per_krow: f64 = number(per_krow, "PER_KROW_MS");
    let exponent: f64 = number(exponent, "EXPONENT");
    // The knob counts "effective rows": per_krow ms for each (thousand rows)^exponent.
    let server =
        loadcast_testkit::CapacityServer::start(workers, base, Duration::from_micros(1), 0);
    println!("{}", server.url());
    let conn = rusqlite::Connection::open(db).unwrap_or_else(|e| {
        eprintln!("capacity_server: {db}: {e}");
        std::process::exit(1);
    });
    loop {
        let rows: f64 = conn
            .query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
                r.get::<_, i64>(0)
            })
            .map_or(0.0, |n| n as f64);
        let extra_ms = per_krow * (rows / 1000.0).powf(exponent);
        server.set_rows((extra_ms * 1000.0) as u64);
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn number<T: std::str::FromStr>(text: &str, name: &str) -> T {
    text.parse().unwrap_or_else(|_| {
        eprintln!("capacity_server: {name} {text:?} is not a number");
        std::process::exit(2);
    })
}
