//! A plan that drives two databases at once (a scenario with a database of its own beside the
//! plan's `[database]`), and the database's own view read from MariaDB: statement digests from
//! `performance_schema` on a server the test starts, buffer pool hit ratio, tables and the
//! server's CPU, and its plans by `EXPLAIN`.

use std::path::PathBuf;

use loadcast_engine::{Cancel, RunOptions, explain, run};
use loadcast_plan::{Plan, load};
use loadcast_stats::RunResult;
use loadcast_testkit::db::{Engine, MariaServer, TestDb};

fn plan_file(name: &str, text: &str) -> Plan {
    let dir: PathBuf =
        std::env::temp_dir().join(format!("loadcast-dbs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("plan.toml");
    std::fs::write(&path, text).unwrap();
    load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A closed-model plan on the database at `url`: `users` for `duration`, then `scenario`.
fn closed_plan(name: &str, url: &str, users: u32, duration: &str, scenario: &str) -> Plan {
    plan_file(
        name,
        &format!(
            "[database]\nurl = \"{url}\"\n\n[load]\nmodel = \"closed\"\nusers = {users}\nduration = \"{duration}\"\n\n{scenario}"
        ),
    )
}

fn go(plan: &Plan) -> RunResult {
    run(plan, &RunOptions::default(), &Cancel::new(), &mut ())
        .unwrap_or_else(|e| panic!("the run did not start: {e}"))
}

#[test]
fn a_scenario_with_its_own_database_sends_its_statements_there() {
    let pg = TestDb::create(
        Engine::Postgres,
        "CREATE TABLE seen (vu INT NOT NULL, iteration INT NOT NULL);",
    );
    let my = TestDb::create(
        Engine::MariaDb,
        "CREATE TABLE seen (vu INT NOT NULL, iteration INT NOT NULL) ENGINE=InnoDB;",
    );
    let plan = plan_file(
        "two",
        &format!(
            r#"
[database]
url = "{pg}"
connections = "pool"
pool_size = 2

[load]
model = "closed"
users = 4
duration = "2s"

[[scenario]]
name = "to postgres"

[[scenario.step]]
name = "pg insert"
sql = "INSERT INTO seen (vu, iteration) VALUES ($1, $2)"
params = ["{{{{vu}}}}", "{{{{iteration}}}}"]

[[scenario.step]]
think = "5ms"

[[scenario]]
name = "to mariadb"
database = "{my}"

[[scenario.step]]
name = "my insert"
sql = "INSERT INTO seen (vu, iteration) VALUES (?, ?)"
params = ["{{{{vu}}}}", "{{{{iteration}}}}"]

[[scenario.step]]
name = "my count"
sql = "SELECT COUNT(*) FROM seen WHERE vu = ?"
params = ["{{{{vu}}}}"]
check = {{ rows = 1 }}

[[scenario.step]]
think = "5ms"
"#,
            pg = pg.url,
            my = my.url
        ),
    );
    assert_eq!(plan.sql_databases(), [pg.url.as_str(), my.url.as_str()]);
    let result = go(&plan);
    let ok = |name: &str| result.request(name).map_or(0, |r| r.ok);
    let (pg_sent, my_sent, my_read) = (ok("pg insert"), ok("my insert"), ok("my count"));
    let pg_rows = pg.number("SELECT count(*) FROM seen") as u64;
    let my_rows = my.number("SELECT COUNT(*) FROM seen") as u64;
    assert!(
        pg_sent > 20 && my_sent > 20 && my_read == my_sent,
        "both scenarios ran, each on its own database: {pg_sent} PostgreSQL inserts, {my_sent} MariaDB inserts, {my_read} MariaDB reads; errors {:?}",
        result.total().errors
    );
    assert_eq!(
        (pg_rows, my_rows),
        (pg_sent, my_sent),
        "every insert reached the database its scenario names, and only that one"
    );
    let notes = result
        .database
        .as_ref()
        .map(|d| d.notes.clone())
        .unwrap_or_default();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("is not observed") && n.contains(&my.name)),
        "the view says which database it did not read: {notes:?}"
    );
}

#[test]
fn mariadb_shows_its_statements_cache_tables_and_plans() {
    let server = MariaServer::start(&[
        "performance_schema=ON",
        "performance-schema-consumer-events-statements-current=ON",
    ]);
    let rows: String = (1..=3000)
        .map(|i| format!("({}, {})", i % 300, i))
        .collect::<Vec<_>>()
        .join(", ");
    let db = server.database(&format!(
        "CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, customer_id INT NOT NULL, total INT NOT NULL) ENGINE=InnoDB;
         INSERT INTO orders (customer_id, total) VALUES {rows};
         ANALYZE TABLE orders;"
    ));
    let plan = closed_plan(
        "view",
        &db.url,
        4,
        "3s",
        r#"
[[scenario]]
[[scenario.step]]
name = "by customer"
sql = "SELECT count(*), sum(total) FROM orders WHERE customer_id = ?"
params = ["{{rand(0, 299)}}"]
"#,
    );
    let result = go(&plan);
    let calls = result.request("by customer").map_or(0, |r| r.ok);
    let view = result
        .database
        .clone()
        .unwrap_or_else(|| panic!("a MariaDB run carries the database's view"));
    let top = view.statements.first();
    assert!(
        view.server.starts_with("MariaDB ") && view.statements_source == "performance_schema",
        "the view names the server and reads performance_schema: {view:?}"
    );
    assert!(
        top.is_some_and(|s| s.query.contains("orders")
            && s.query.contains("customer_id")
            && s.calls.abs_diff(calls) <= calls / 30 + 5
            && s.share > 0.9),
        "the top statement is the plan's, with about the calls loadcast made ({calls}): {:?}",
        view.statements
    );
    let orders = view.tables.iter().find(|t| t.name == "orders");
    assert!(
        orders.is_some_and(|t| t.rows > 1500.0 && t.table_bytes > 0),
        "the table and its size: {:?}",
        view.tables
    );
    assert!(
        view.cache_hit_ratio.is_some_and(|h| h > 0.5)
            && view.server_cpu_seconds.is_some_and(|c| c > 0.0)
            && !view.waits.is_empty(),
        "buffer pool hit ratio, the server's CPU and the sessions' wait classes: hit {:?}, cpu {:?}, waits {:?}, notes {:?}",
        view.cache_hit_ratio,
        view.server_cpu_seconds,
        view.waits,
        view.notes
    );

    let statements = vec![plan.sql_statements()[0].to_string()];
    let scan = explain(&plan, &statements);
    assert!(
        scan.first()
            .is_some_and(|p| p.seq_scans == ["orders"] && p.error.is_none()),
        "without an index the statement reads orders in full: {scan:?}"
    );
    db.scalar("CREATE INDEX orders_customer ON orders (customer_id)");
    let indexed = explain(&plan, &statements);
    assert!(
        indexed.first().is_some_and(|p| p.seq_scans.is_empty()
            && p.nodes
                .iter()
                .any(|n| n.contains("using orders_customer on orders"))),
        "with the index the plan uses it: {indexed:?}"
    );
}

#[test]
fn without_performance_schema_mariadb_says_so_and_still_reads_the_rest() {
    let db = TestDb::create(
        Engine::MariaDb,
        "CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO t VALUES (1), (2);",
    );
    let plan = closed_plan(
        "plain",
        &db.url,
        1,
        "1s",
        "[[scenario]]\n[[scenario.step]]\nsql = \"SELECT id FROM t WHERE id = ?\"\nparams = [\"1\"]\n",
    );
    let view = go(&plan).database.unwrap_or_default();
    let performance_schema_on = db.scalar("SELECT @@performance_schema") == "1";
    if performance_schema_on {
        assert_eq!(view.statements_source, "performance_schema", "{view:?}");
    } else {
        assert!(
            view.notes
                .iter()
                .any(|n| n.contains("performance_schema=ON")),
            "the note says how to get statement times: {:?}",
            view.notes
        );
    }
    assert!(
        view.tables.iter().any(|t| t.name == "t") && view.cache_hit_ratio.is_some(),
        "tables and the hit ratio come without performance_schema: {view:?}"
    );
}
