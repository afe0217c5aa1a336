//! SQL steps against the real PostgreSQL: every virtual user's own parameters reach the
//! database, transactions commit and roll back as written, a deadlock, a unique violation and a
//! killed connection are counted by kind while the run goes on, and the user reconnects.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use loadcast_engine::{Cancel, RunOptions, run};
use loadcast_plan::{Plan, load};
use loadcast_stats::{ErrorKind, RunResult, SqlError};
use loadcast_testkit::db::{Engine, TestDb};

/// Runs take turns: two load tests at once on two cores measure each other.
static SERIAL: Mutex<()> = Mutex::new(());

fn plan(name: &str, db: &TestDb, body: &str, files: &[(&str, &str)]) -> Plan {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("loadcast-sql-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let path = dir.join("plan.toml");
    let text = format!("[database]\nurl = \"{}\"\n\n{body}", db.url);
    std::fs::write(&path, text).unwrap();
    load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// `plan` rewritten with its SQL steps sharing a pool of `size` connections.
fn pooled(plan: &Plan, size: u32) -> Plan {
    let text = std::fs::read_to_string(&plan.path).unwrap().replacen(
        "[database]\n",
        &format!("[database]\nconnections = \"pool\"\npool_size = {size}\n"),
        1,
    );
    std::fs::write(&plan.path, text).unwrap();
    load(&plan.path).unwrap_or_else(|e| panic!("{e}"))
}

fn go(plan: &Plan) -> RunResult {
    run(plan, &RunOptions::default(), &Cancel::new(), &mut ())
        .unwrap_or_else(|e| panic!("the run did not start: {e}"))
}

fn errors(result: &RunResult, name: &str, kind: ErrorKind) -> u64 {
    result
        .request(name)
        .unwrap_or_else(|| panic!("no result line {name:?}"))
        .errors
        .get(&kind)
        .copied()
        .unwrap_or(0)
}

#[test]
fn each_user_sends_its_own_row_and_the_database_sees_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let db = TestDb::create(
        Engine::Postgres,
        "CREATE TABLE seen (customer int NOT NULL, vu int NOT NULL, email text NOT NULL);",
    );
    let csv = "id,email\n".to_string()
        + &(1..=5)
            .map(|i| format!("{},c{}@example.com\n", 100 + i, i))
            .collect::<String>();
    let plan = plan(
        "users",
        &db,
        r#"
[feeders.customer]
csv = "customers.csv"
strategy = "unique"

[load]
model = "closed"
users = 5
duration = "1s"

[[scenario]]
name = "visit"

[[scenario.step]]
name = "record visit"
sql = "INSERT INTO seen (customer, vu, email) VALUES ($1, $2, $3)"
params = ["{{customer.id}}", "{{vu}}", "{{customer.email}}"]
check = { rows = 1 }

[[scenario.step]]
name = "read back"
sql = "SELECT email FROM seen WHERE customer = $1 LIMIT 1"
params = ["{{customer.id}}"]
capture = { email = "row:0.email" }
check = { values = { "0.email" = "{{customer.email}}" } }

[[scenario.step]]
think = "20ms"
"#,
        &[("customers.csv", &csv)],
    );
    let result = go(&plan);
    let total = result.total();
    assert!(
        total.count > 20 && total.error_count() == 0,
        "expected many statements and no errors: {} statements, errors {:?}",
        total.count,
        total.errors
    );
    // Five users, five customers, each user always its own.
    let pairs = db.scalar("SELECT count(DISTINCT (customer, vu)) FROM seen");
    let customers = db.scalar("SELECT count(DISTINCT customer) FROM seen");
    let mismatched = db.scalar(
        "SELECT count(*) FROM seen WHERE email <> 'c' || (customer - 100) || '@example.com'",
    );
    assert_eq!(
        (pairs.as_str(), customers.as_str(), mismatched.as_str()),
        ("5", "5", "0"),
        "each virtual user must send its own customer row"
    );
    assert_eq!(
        result.generator.connections_opened, 5,
        "each user opens its connection once and keeps it"
    );
    let rows: u64 = db.scalar("SELECT count(*) FROM seen").parse().unwrap();
    let recorded = result.request("record visit").map_or(0, |r| r.ok);
    assert_eq!(rows, recorded, "every insert counted ok is in the table");
}

#[test]
fn a_transaction_commits_whole_or_rolls_back_and_violations_are_counted_by_kind() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let db = TestDb::create(
        Engine::Postgres,
        "CREATE TABLE account (id int PRIMARY KEY, balance int NOT NULL);
         INSERT INTO account VALUES (1, 0), (2, 0);
         CREATE TABLE once (id int PRIMARY KEY);",
    );
    let plan = plan(
        "txn",
        &db,
        r#"
[load]
model = "closed"
users = 2
duration = "1s"

[[scenario]]
name = "commits"

[[scenario.step]]
name = "deposit"
transaction = [
  { name = "credit 1", sql = "UPDATE account SET balance = balance + 1 WHERE id = 1" },
  { name = "credit 2", sql = "UPDATE account SET balance = balance + 1 WHERE id = 2" },
]

[[scenario]]
name = "rolls back"

[[scenario.step]]
name = "doomed"
transaction = [
  { name = "debit 1", sql = "UPDATE account SET balance = balance - 1000 WHERE id = 1" },
  { name = "insert twice", sql = "INSERT INTO once VALUES (1) ON CONFLICT DO NOTHING" },
  { name = "duplicate", sql = "INSERT INTO once VALUES (1)" },
]

[[scenario.step]]
think = "5ms"
"#,
        &[],
    );
    let result = go(&plan);
    let deposits = result.request("deposit").map_or(0, |r| r.ok);
    let doomed = result.request("doomed").map_or(0, |r| r.count);
    let unique = errors(&result, "doomed", ErrorKind::Sql(SqlError::UniqueViolation));
    assert!(
        deposits > 10 && doomed > 10 && unique == doomed,
        "expected commits and rollbacks, every rollback a unique violation: {deposits} deposits, {doomed} doomed, {unique} unique violations"
    );
    assert_eq!(
        errors(
            &result,
            "duplicate",
            ErrorKind::Sql(SqlError::UniqueViolation)
        ),
        doomed,
        "the failing statement carries the error on its own line"
    );
    // Only whole deposits stayed; no debit of a rolled-back transaction did.
    let balances = db.scalar("SELECT string_agg(balance::text, ',' ORDER BY id) FROM account");
    assert_eq!(balances, format!("{deposits},{deposits}"));
    // The transaction is counted once in the totals, not again with its statements.
    assert_eq!(result.total().count, deposits + doomed);
}

#[test]
fn a_deadlock_is_counted_and_retried_and_the_run_goes_on() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let db = TestDb::create(
        Engine::Postgres,
        "CREATE TABLE pair (id int PRIMARY KEY, v int NOT NULL);
         INSERT INTO pair VALUES (1, 0), (2, 0);",
    );
    // Find deadlocks in 20 ms rather than the default second.
    db.scalar(&format!(
        "ALTER DATABASE {} SET deadlock_timeout = '20ms'",
        db.name
    ));
    let scenario = |name: &str, first: u32, second: u32, retries: u32| {
        format!(
            r#"
[[scenario]]
name = "{name}"

[[scenario.step]]
name = "{name}"
retries = {retries}
transaction = [
  {{ name = "{name} first", sql = "UPDATE pair SET v = v + 1 WHERE id = {first}" }},
  {{ name = "{name} wait", sql = "SELECT pg_sleep(0.03)" }},
  {{ name = "{name} second", sql = "UPDATE pair SET v = v + 1 WHERE id = {second}" }},
]
"#
        )
    };
    let load = "[load]\nmodel = \"closed\"\nusers = 4\nduration = \"2s\"\n";
    let plan_once = plan(
        "deadlock",
        &db,
        &format!(
            "{load}{}{}",
            scenario("forward", 1, 2, 0),
            scenario("backward", 2, 1, 0)
        ),
        &[],
    );
    let result = go(&plan_once);
    let deadlock = ErrorKind::Sql(SqlError::Deadlock);
    let deadlocks = errors(&result, "forward", deadlock) + errors(&result, "backward", deadlock);
    let ok = result.request("forward").map_or(0, |r| r.ok)
        + result.request("backward").map_or(0, |r| r.ok);
    assert!(
        deadlocks >= 1 && ok >= 5,
        "opposite lock orders must deadlock now and then without stopping the run: {deadlocks} deadlocks, {ok} transactions ok, errors {:?}",
        result.total().errors
    );
    // Every committed transaction added 1 to both rows.
    let v = db.scalar("SELECT string_agg(v::text, ',' ORDER BY id) FROM pair");
    assert_eq!(v, format!("{ok},{ok}"));

    let plan_retried = plan(
        "deadlock-retried",
        &db,
        &format!(
            "{load}{}{}",
            scenario("forward", 1, 2, 10),
            scenario("backward", 2, 1, 10)
        ),
        &[],
    );
    let result = go(&plan_retried);
    let retries = result.generator.retries;
    let left = errors(&result, "forward", deadlock) + errors(&result, "backward", deadlock);
    let ok_retried = result.request("forward").map_or(0, |r| r.ok)
        + result.request("backward").map_or(0, |r| r.ok);
    // Retries are immediate, as pgbench's --max-tries: a victim can meet the same lock order
    // again, and now and then one spends all its retries and fails, as it would in pgbench.
    // What retries must show is that victims recover: retries beyond those spent by the
    // transactions that failed anyway, and a failure rate a fraction of the run without them.
    let failed_share = |failed: u64, ok: u64| failed as f64 / (failed + ok).max(1) as f64;
    let (without, with) = (failed_share(deadlocks, ok), failed_share(left, ok_retried));
    assert!(
        retries > 10 * left && with * 4.0 <= without,
        "with retries a deadlock victim runs again and commits: {retries} retries, {left} transactions still failed of {}, {:.1}% failed against {:.1}% without retries",
        left + ok_retried,
        with * 100.0,
        without * 100.0
    );
    // Every committed transaction of both runs added 1 to both rows; no retried one twice.
    let v = db.scalar("SELECT string_agg(v::text, ',' ORDER BY id) FROM pair");
    let committed = ok + ok_retried;
    assert_eq!(v, format!("{committed},{committed}"));
}

#[test]
fn a_killed_connection_is_counted_and_the_user_reconnects() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let db = TestDb::create(Engine::Postgres, "CREATE TABLE t (id int);");
    let plan = plan(
        "killed",
        &db,
        r#"
[load]
model = "closed"
users = 2
duration = "3s"

[[scenario]]
name = "slow"

[[scenario.step]]
name = "sleep"
sql = "SELECT pg_sleep(0.02)"
"#,
        &[],
    );
    let name = db.name.clone();
    let killer = std::thread::spawn(move || {
        // Twice, a second apart, while the run goes on.
        let mut killed = 0;
        for _ in 0..2 {
            std::thread::sleep(Duration::from_millis(900));
            let out = std::process::Command::new("psql")
                .args(["-h", "127.0.0.1", "-U", "postgres", "-tAc"])
                .arg(format!(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE datname = '{name}' AND application_name = 'loadcast'"
                ))
                .output()
                .expect("psql runs");
            killed += String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse::<u32>()
                .unwrap_or(0);
        }
        killed
    });
    let result = go(&plan);
    let killed = killer.join().unwrap_or(0);
    let lost = errors(&result, "sleep", ErrorKind::Sql(SqlError::ConnectionLost));
    let ok = result.request("sleep").map_or(0, |r| r.ok);
    assert!(
        killed >= 2 && lost >= 1 && lost <= u64::from(killed),
        "each killed backend is at most one lost statement: {killed} backends killed, {lost} lost"
    );
    assert!(
        result.generator.connections_opened > 2 && ok > 50,
        "the users reconnect and go on: {} connections opened, {ok} statements ok",
        result.generator.connections_opened
    );
}

#[test]
fn on_mariadb_rows_reach_the_database_transactions_roll_back_and_kills_are_counted() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let db = TestDb::create(
        Engine::MariaDb,
        "CREATE TABLE seen (customer INT NOT NULL, vu INT NOT NULL) ENGINE=InnoDB;
         CREATE TABLE account (id INT PRIMARY KEY, balance INT NOT NULL) ENGINE=InnoDB;
         INSERT INTO account VALUES (1, 0);
         CREATE TABLE once (id INT PRIMARY KEY) ENGINE=InnoDB;",
    );
    let csv = "id\n".to_string()
        + &(1..=3)
            .map(|i| format!("{}\n", 200 + i))
            .collect::<String>();
    let plan = plan(
        "mariadb",
        &db,
        r#"
[feeders.customer]
csv = "customers.csv"
strategy = "unique"

[load]
model = "closed"
users = 3
duration = "3s"

[[scenario]]
name = "mixed"

[[scenario.step]]
name = "record visit"
sql = "INSERT INTO seen (customer, vu) VALUES (?, ?)"
params = ["{{customer.id}}", "{{vu}}"]
check = { rows = 1 }

[[scenario.step]]
name = "read back"
sql = "SELECT customer, vu FROM seen WHERE customer = ? LIMIT 1"
params = ["{{customer.id}}"]
capture = { who = "row:0.vu" }
check = { values = { "0.customer" = "{{customer.id}}", "0.vu" = "{{vu}}" } }

[[scenario.step]]
name = "doomed"
transaction = [
  { name = "debit", sql = "UPDATE account SET balance = balance - 1000 WHERE id = 1" },
  { name = "insert once", sql = "INSERT IGNORE INTO once VALUES (1)" },
  { name = "duplicate", sql = "INSERT INTO once VALUES (1)" },
]

[[scenario.step]]
think = "10ms"
"#,
        &[("customers.csv", &csv)],
    );
    let name = db.name.clone();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1200));
        let ids = std::process::Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-u", "root", "-N", "-e"])
            .arg(format!(
                "SELECT id FROM information_schema.processlist WHERE db = '{name}'"
            ))
            .output()
            .expect("mariadb runs");
        let ids: Vec<String> = String::from_utf8_lossy(&ids.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        for id in &ids {
            let _ = std::process::Command::new("mariadb")
                .args(["-h", "127.0.0.1", "-u", "root", "-e"])
                .arg(format!("KILL CONNECTION {id}"))
                .output();
        }
        ids.len()
    });
    let result = go(&plan);
    let killed = killer.join().unwrap_or(0);
    let visits = result.request("record visit").map_or(0, |r| r.ok);
    let read_back = result.request("read back").map_or(0, |r| r.ok);
    let doomed = result.request("doomed").map_or(0, |r| r.count);
    let unique = errors(&result, "doomed", ErrorKind::Sql(SqlError::UniqueViolation));
    let lost: u64 = result
        .requests
        .iter()
        .filter(|r| r.within.is_none())
        .map(|r| {
            r.errors
                .get(&ErrorKind::Sql(SqlError::ConnectionLost))
                .copied()
                .unwrap_or(0)
        })
        .sum();
    assert!(
        visits > 20 && read_back > 20 && doomed > 20,
        "every step ran many times: {visits} visits, {read_back} read back, {doomed} doomed; errors {:?}",
        result.total().errors
    );
    assert!(
        unique + lost >= doomed && unique > 0,
        "every doomed transaction failed on the duplicate (or on a killed connection): {doomed} doomed, {unique} unique violations, {lost} lost"
    );
    assert!(
        killed >= 1 && lost >= 1 && result.generator.connections_opened > 3,
        "the killed connections are counted and the users reconnect: {killed} killed, {lost} lost, {} connections opened",
        result.generator.connections_opened
    );
    let pairs = db.scalar("SELECT COUNT(DISTINCT customer, vu) FROM seen");
    let balance = db.scalar("SELECT balance FROM account WHERE id = 1");
    assert_eq!(
        (pairs.as_str(), balance.as_str()),
        ("3", "0"),
        "each user its own customer, and no debit of a rolled-back transaction stayed"
    );
}

#[test]
fn a_pool_caps_the_connections_and_users_wait_for_one() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let db = TestDb::create(Engine::Postgres, "CREATE TABLE t (id int);");
    let dir_plan = plan(
        "pool",
        &db,
        r#"
[load]
model = "closed"
users = 6
duration = "2s"

[[scenario]]
name = "slow"

[[scenario.step]]
name = "sleep"
sql = "SELECT pg_sleep(0.05)"
"#,
        &[],
    );
    // The same plan with a pool of two connections.
    let pooled = pooled(&dir_plan, 2);
    assert_eq!(pooled.database.as_ref().and_then(|d| d.pool), Some(2));
    let result = go(&pooled);
    let sleep = result.request("sleep").expect("a result line");
    // Two connections, each at most 20 statements a second, over about 2 s.
    assert!(
        result.generator.connections_opened == 2 && sleep.ok >= 20 && sleep.count <= 100,
        "six users share two connections: {} opened, {} statements ({} ok)",
        result.generator.connections_opened,
        sleep.count,
        sleep.ok
    );
    // Waiting for a connection is part of the latency a user sees.
    let p50 = sleep.latency.quantile(0.5);
    assert!(
        p50 >= Duration::from_millis(100),
        "six users behind two connections wait about three statements: p50 {p50:?}"
    );
}

/// pgbench `-c 1 -R 50 -L 30ms` against 40 ms statements: an arrival that gets the one pooled
/// connection only after the limit is skipped and counted, never sent; the database sees
/// exactly the statements that ran.
#[test]
fn a_latency_limit_skips_arrivals_that_wait_for_a_connection_beyond_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let db = TestDb::create(Engine::Postgres, "CREATE TABLE ran (at timestamptz);");
    let limited = plan(
        "latency-limit",
        &db,
        r#"
[load]
model = "open"
rate = "50/s"
duration = "2s"
latency_limit = "30ms"

[[scenario]]
name = "slow"

[[scenario.step]]
name = "sleep"
sql = "INSERT INTO ran SELECT now() FROM pg_sleep(0.04)"
"#,
        &[],
    );
    let limited = pooled(&limited, 1);
    let options = RunOptions {
        workers: Some(1),
        ..RunOptions::default()
    };
    let result = run(&limited, &options, &Cancel::new(), &mut ())
        .unwrap_or_else(|e| panic!("the run did not start: {e}"));
    let g = &result.generator;
    let sleep = result.request("sleep").expect("a result line");
    eprintln!("{g:?}\n{} statements", sleep.count);
    assert_eq!(g.started + g.skipped + g.dropped, g.scheduled, "{g:?}");
    assert!(
        (25..=75).contains(&g.skipped),
        "about every other arrival finds the connection busy beyond 30 ms: {g:?}"
    );
    assert_eq!(sleep.count, g.started, "{g:?}");
    assert_eq!(
        g.over_latency_limit, g.started,
        "40 ms statements end beyond 30 ms: {g:?}"
    );
    assert_eq!(
        db.number("SELECT count(*) FROM ran"),
        sleep.ok as f64,
        "the database ran exactly the statements that were not skipped"
    );
}
