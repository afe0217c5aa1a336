//! Growth against the real PostgreSQL, MariaDB and SQLite: exact counts, no orphan foreign
//! keys, no unique violations, the plan's distributions, incremental growth and the guard.

use loadcast_datagen::{GrowError, GrowOptions, grow};
use loadcast_plan::{ColumnSpec, Generator, RowsTarget, TableSpec};
use loadcast_testkit::db::{Engine, TestDb};

fn schema(engine: Engine) -> String {
    let (serial, bigserial, json, uuid, ts) = match engine {
        Engine::Postgres => (
            "SERIAL PRIMARY KEY",
            "BIGSERIAL PRIMARY KEY",
            "JSONB",
            "UUID",
            "TIMESTAMP",
        ),
        Engine::MariaDb => (
            "INT AUTO_INCREMENT PRIMARY KEY",
            "BIGINT AUTO_INCREMENT PRIMARY KEY",
            "JSON",
            "CHAR(36)",
            "DATETIME(6)",
        ),
        Engine::Sqlite => (
            "INTEGER PRIMARY KEY",
            "INTEGER PRIMARY KEY",
            "JSON",
            "TEXT",
            "TIMESTAMP",
        ),
    };
    format!(
        "CREATE TABLE customers (id {bigserial}, email VARCHAR(120) NOT NULL UNIQUE, name VARCHAR(80) NOT NULL, \
           city VARCHAR(80), tier VARCHAR(12) NOT NULL CHECK (tier IN ('free', 'pro', 'enterprise')));\n\
         CREATE TABLE products (id {serial}, sku VARCHAR(20) NOT NULL UNIQUE, title VARCHAR(200) NOT NULL, \
           price NUMERIC(10,2) NOT NULL CHECK (price > 0), stock INT NOT NULL CHECK (stock >= 0 AND stock <= 10000));\n\
         CREATE TABLE orders (id {bigserial}, customer_id BIGINT NOT NULL REFERENCES customers(id), \
           product_id INT NOT NULL REFERENCES products(id), quantity INT NOT NULL CHECK (quantity BETWEEN 1 AND 20), \
           total NUMERIC(12,2) NOT NULL CHECK (total >= 0), status VARCHAR(12) NOT NULL \
           CHECK (status IN ('new', 'paid', 'shipped', 'returned')), created_at {ts} NOT NULL, meta {json}, \
           ref {uuid} NOT NULL UNIQUE);\n"
    )
}

fn column(name: &str, generator: Generator) -> (String, ColumnSpec) {
    (
        name.to_string(),
        ColumnSpec {
            generator,
            null: 0.0,
        },
    )
}

fn goals(orders: RowsTarget) -> Vec<TableSpec> {
    vec![
        // Children first on purpose: growth must order them.
        TableSpec {
            name: "orders".into(),
            rows: orders,
            columns: vec![
                column(
                    "total",
                    Generator::LogNormal {
                        median: 38.0,
                        sigma: 0.6,
                    },
                ),
                column(
                    "customer_id",
                    Generator::Ref {
                        table: "customers".into(),
                        column: "id".into(),
                        zipf: Some(1.1),
                    },
                ),
                column(
                    "status",
                    Generator::Choice {
                        values: ["new", "paid", "shipped", "returned"]
                            .map(|s| toml::Value::String(s.into()))
                            .to_vec(),
                        weights: vec![1.0, 6.0, 2.0, 1.0],
                    },
                ),
            ],
        },
        TableSpec {
            name: "customers".into(),
            rows: RowsTarget::Absolute(3000),
            columns: vec![],
        },
        TableSpec {
            name: "products".into(),
            rows: RowsTarget::Absolute(200),
            columns: vec![],
        },
    ]
}

fn median_total(db: &TestDb) -> f64 {
    match db.engine {
        Engine::Postgres => db.number("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY total) FROM orders"),
        Engine::MariaDb => db.number("SELECT MEDIAN(total) OVER () FROM orders LIMIT 1"),
        Engine::Sqlite => db.number(
            "SELECT total FROM orders ORDER BY total LIMIT 1 OFFSET (SELECT count(*) / 2 FROM orders)",
        ),
    }
}

fn grows_exactly_with_the_plans_values(engine: Engine) {
    let db = TestDb::create(engine, &schema(engine));
    db.mark();
    let report = grow(
        &db.url,
        &goals(RowsTarget::Absolute(30_000)),
        &GrowOptions {
            batch_rows: 7_000,
            ..GrowOptions::default()
        },
        &mut (),
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
    let order: Vec<&str> = report.tables.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(order, ["customers", "products", "orders"], "parents first");
    assert!(report.size_bytes > 0);
    assert_eq!(db.number("SELECT count(*) FROM customers"), 3000.0);
    assert_eq!(db.number("SELECT count(*) FROM products"), 200.0);
    assert_eq!(db.number("SELECT count(*) FROM orders"), 30_000.0);
    // No orphans, no duplicates.
    assert_eq!(
        db.number("SELECT count(*) FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL"),
        0.0
    );
    assert_eq!(
        db.number("SELECT count(*) FROM orders o LEFT JOIN products p ON p.id = o.product_id WHERE p.id IS NULL"),
        0.0
    );
    assert_eq!(
        db.number("SELECT count(DISTINCT email) FROM customers"),
        3000.0
    );
    assert_eq!(
        db.number("SELECT count(DISTINCT ref) FROM orders"),
        30_000.0
    );
    assert_eq!(db.number("SELECT count(DISTINCT sku) FROM products"), 200.0);
    // Check constraints were read, not just enforced: every tier is one of the three.
    assert_eq!(db.number("SELECT count(DISTINCT tier) FROM customers"), 3.0);
    assert!(db.number("SELECT min(quantity) FROM orders") >= 1.0);
    assert!(db.number("SELECT max(stock) FROM products") <= 10_000.0);
    // Distributions: the median of a lognormal is its median; weights are shares.
    let median = median_total(&db);
    assert!(
        (median / 38.0 - 1.0).abs() < 0.06,
        "{engine:?}: median total {median}"
    );
    let paid = db.number("SELECT count(*) FROM orders WHERE status = 'paid'") / 30_000.0;
    assert!((paid - 0.6).abs() < 0.02, "{engine:?}: paid share {paid}");
    // Zipf(1.1) over 3,000 customers: the top 1% place about half of the orders (uniform: 1%).
    let top = db.number(
        "SELECT sum(c) FROM (SELECT count(*) AS c FROM orders GROUP BY customer_id ORDER BY c DESC LIMIT 30) t",
    ) / 30_000.0;
    assert!(
        (0.35..0.75).contains(&top),
        "{engine:?}: top 1% of customers hold {top}"
    );
    // Realistic values, not placeholders.
    let email = db.scalar("SELECT email FROM customers ORDER BY id LIMIT 1");
    assert!(email.contains('@') && email.contains('.'), "{email}");

    // Incremental: double the orders; the first 30,000 stay as they were.
    let before = db.number("SELECT sum(total) FROM orders");
    let report = grow(
        &db.url,
        &goals(RowsTarget::Multiple(2.0)),
        &GrowOptions::default(),
        &mut (),
        &Default::default(),
    )
    .unwrap();
    let orders = report.tables.iter().find(|t| t.table == "orders").unwrap();
    assert_eq!((orders.before, orders.after), (30_000, 60_000));
    assert_eq!(db.number("SELECT count(*) FROM orders"), 60_000.0);
    assert_eq!(
        db.number("SELECT count(*) FROM customers"),
        3000.0,
        "already at target"
    );
    let first_half =
        db.number("SELECT sum(total) FROM (SELECT total FROM orders ORDER BY id LIMIT 30000) t");
    assert!(
        (first_half - before).abs() < 0.01,
        "existing rows unchanged"
    );
    assert_eq!(
        db.number("SELECT count(DISTINCT ref) FROM orders"),
        60_000.0
    );
    if engine == Engine::Postgres {
        // ANALYZE ran: the planner's estimate is the new size.
        let estimate = db.number("SELECT reltuples FROM pg_class WHERE relname = 'orders'");
        assert!(
            (estimate / 60_000.0 - 1.0).abs() < 0.05,
            "reltuples {estimate}"
        );
    }
    if engine == Engine::Sqlite {
        assert!(db.number("SELECT count(*) FROM sqlite_stat1") > 0.0);
    }
}

#[test]
fn postgres_grows_exactly_with_the_plans_values() {
    grows_exactly_with_the_plans_values(Engine::Postgres);
}

#[test]
fn mariadb_grows_exactly_with_the_plans_values() {
    grows_exactly_with_the_plans_values(Engine::MariaDb);
}

#[test]
fn sqlite_grows_exactly_with_the_plans_values() {
    grows_exactly_with_the_plans_values(Engine::Sqlite);
}

#[test]
fn an_unmarked_database_is_refused() {
    for engine in [Engine::Postgres, Engine::MariaDb, Engine::Sqlite] {
        let db = TestDb::create(engine, &schema(engine));
        let err = grow(
            &db.url,
            &goals(RowsTarget::Absolute(10)),
            &GrowOptions::default(),
            &mut (),
            &Default::default(),
        )
        .unwrap_err();
        assert!(
            matches!(err, GrowError::Refused { .. }),
            "{engine:?}: {err}"
        );
        assert!(
            err.to_string().contains("has no loadcast_target table"),
            "{engine:?}: {err}"
        );
        assert_eq!(db.number("SELECT count(*) FROM customers"), 0.0);
        // Naming another database does not help; naming this one does.
        let wrong = GrowOptions {
            allow_database: Some("production".into()),
            ..GrowOptions::default()
        };
        let err = grow(
            &db.url,
            &goals(RowsTarget::Absolute(10)),
            &wrong,
            &mut (),
            &Default::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("names \"production\", not this database"),
            "{err}"
        );
        let right = GrowOptions {
            allow_database: Some(db.name.clone()),
            ..GrowOptions::default()
        };
        grow(
            &db.url,
            &goals(RowsTarget::Absolute(10)),
            &right,
            &mut (),
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
        assert_eq!(db.number("SELECT count(*) FROM orders"), 10.0);
    }
}

/// Growing `goals` fails, with a message `expected` accepts.
fn refused(db: &TestDb, goals: &[TableSpec], expected: impl Fn(&str) -> bool) {
    let err = grow(
        &db.url,
        goals,
        &GrowOptions::default(),
        &mut (),
        &Default::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(expected(&err), "{err}");
}

#[test]
fn mistakes_in_the_plan_name_the_table_and_column() {
    let db = TestDb::create(Engine::Sqlite, &schema(Engine::Sqlite));
    db.mark();
    let mut bad = goals(RowsTarget::Absolute(10));
    bad[0].columns.push(column("totl", Generator::Json));
    refused(&db, &bad, |e| {
        e.starts_with("table orders: no column \"totl\"")
    });
    let horizon = vec![TableSpec {
        name: "customers".into(),
        rows: RowsTarget::Horizon { series: None },
        columns: vec![],
    }];
    // No forecast at all: said so, with how to give one (not an empty list of series).
    refused(&db, &horizon, |e| {
        e.contains("there is no forecast with data series") && e.contains("--data customers=")
    });
    let missing = vec![TableSpec {
        name: "invoices".into(),
        rows: RowsTarget::Absolute(1),
        columns: vec![],
    }];
    refused(&db, &missing, |e| e.contains("has no table \"invoices\""));
}

/// Cancels the growth once a table has passed `at` rows: an interrupted run.
struct InterruptAt {
    at: u64,
    cancel: loadcast_stats::Cancel,
}

impl loadcast_datagen::GrowObserver for InterruptAt {
    fn progress(&mut self, _table: &str, rows: u64, _target: u64, _bytes: u64) {
        if rows >= self.at {
            self.cancel.cancel();
        }
    }
}

/// `2x` means twice the table before loadcast first grew it: interrupted at 1.3× and run again,
/// it ends at exactly 2× the original, not 2× the partly grown table. A count below what the
/// table holds is refused by name, never a silent success.
fn a_resumed_relative_growth_ends_at_the_first_runs_target(engine: Engine) {
    let db = TestDb::create(engine, &schema(engine));
    db.mark();
    let options = GrowOptions {
        batch_rows: 1_000,
        ..GrowOptions::default()
    };
    grow(
        &db.url,
        &goals(RowsTarget::Absolute(10_000)),
        &options,
        &mut (),
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
    let cancel = loadcast_stats::Cancel::new();
    let mut interrupt = InterruptAt {
        at: 13_000,
        cancel: cancel.clone(),
    };
    let first = grow(
        &db.url,
        &goals(RowsTarget::Multiple(2.0)),
        &options,
        &mut interrupt,
        &cancel,
    );
    assert!(
        matches!(first, Err(GrowError::Interrupted(_))),
        "{engine:?}: {first:?}"
    );
    let partial = db.number("SELECT count(*) FROM orders") as u64;
    assert!((13_000..20_000).contains(&partial), "{engine:?}: {partial}");
    assert_eq!(
        loadcast_datagen::baseline(&db.url, "orders").unwrap(),
        Some(10_000),
        "{engine:?}"
    );
    let report = grow(
        &db.url,
        &goals(RowsTarget::Multiple(2.0)),
        &options,
        &mut (),
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
    let orders = report.tables.iter().find(|t| t.table == "orders").unwrap();
    eprintln!(
        "{engine:?}: interrupted at {partial}, resumed {} → {}",
        orders.before, orders.after
    );
    assert_eq!(orders.target, 20_000, "{engine:?}");
    assert_eq!(
        db.number("SELECT count(*) FROM orders") as u64,
        20_000,
        "{engine:?}"
    );
    let err = grow(
        &db.url,
        &goals(RowsTarget::Absolute(100)),
        &options,
        &mut (),
        &Default::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("has 20000 rows, more than the 100 asked for")
            && err.contains("never deletes"),
        "{engine:?}: {err}"
    );
}

#[test]
fn postgres_resumes_a_relative_growth_at_the_first_runs_target() {
    a_resumed_relative_growth_ends_at_the_first_runs_target(Engine::Postgres);
}

#[test]
fn sqlite_resumes_a_relative_growth_at_the_first_runs_target() {
    a_resumed_relative_growth_ends_at_the_first_runs_target(Engine::Sqlite);
}

/// Enum columns take their labels: MariaDB's `enum('new','paid','shipped')` and a PostgreSQL
/// `CREATE TYPE … AS ENUM` are read from the catalogue and generated from, not filled with text
/// the database truncates or refuses.
#[test]
fn enum_columns_are_grown_with_their_labels() {
    for (engine, schema) in [
        (
            Engine::MariaDb,
            "CREATE TABLE shipments (id INT AUTO_INCREMENT PRIMARY KEY, \
             status ENUM('new','paid','shipped') NOT NULL);",
        ),
        (
            Engine::Postgres,
            "CREATE TYPE ship_state AS ENUM ('new', 'paid', 'shipped'); \
             CREATE TABLE shipments (id SERIAL PRIMARY KEY, status ship_state NOT NULL);",
        ),
    ] {
        let db = TestDb::create(engine, schema);
        db.mark();
        let goals = [TableSpec {
            name: "shipments".into(),
            rows: RowsTarget::Absolute(3_000),
            columns: vec![],
        }];
        grow(
            &db.url,
            &goals,
            &GrowOptions::default(),
            &mut (),
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
        assert_eq!(
            db.number("SELECT count(*) FROM shipments"),
            3_000.0,
            "{engine:?}"
        );
        let distinct = db.number("SELECT count(DISTINCT status) FROM shipments");
        assert_eq!(distinct, 3.0, "{engine:?}: every label is used");
    }
}

/// Ends every other session of the database once growth has passed `at` rows: what a failover
/// or an administrator's `pg_terminate_backend` does to a long growth.
struct TerminateAt<'a> {
    at: u64,
    db: &'a TestDb,
    done: bool,
}

impl loadcast_datagen::GrowObserver for TerminateAt<'_> {
    fn progress(&mut self, _table: &str, rows: u64, _target: u64, _bytes: u64) {
        if rows >= self.at && !self.done {
            self.done = true;
            self.db.number(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            );
        }
    }
}

/// The connection dropped in the middle of a growth (the server ended the session): a clear
/// error, not a panic; the committed batches stay, and the same growth run again ends at
/// exactly the target with no row twice.
#[test]
fn a_dropped_database_connection_is_an_error_and_a_rerun_completes_exactly() {
    let db = TestDb::create(Engine::Postgres, &schema(Engine::Postgres));
    db.mark();
    let options = GrowOptions {
        batch_rows: 2_000,
        ..GrowOptions::default()
    };
    let target = RowsTarget::Absolute(60_000);
    let mut terminate = TerminateAt {
        at: 10_000,
        db: &db,
        done: false,
    };
    let first = grow(
        &db.url,
        &goals(target.clone()),
        &options,
        &mut terminate,
        &Default::default(),
    );
    let err = match first {
        Ok(report) => panic!("the growth survived its connection being ended: {report:?}"),
        Err(e) => e.to_string(),
    };
    eprintln!("dropped connection: {err}");
    assert!(
        terminate.done,
        "the growth ended before the connection was dropped"
    );
    assert!(
        err.contains("terminat") || err.contains("connection") || err.contains("closed"),
        "{err}"
    );
    let partial = db.number("SELECT count(*) FROM orders") as u64;
    assert!(partial < 60_000, "{partial}");
    grow(
        &db.url,
        &goals(target),
        &options,
        &mut (),
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("the rerun failed: {e}"));
    assert_eq!(db.number("SELECT count(*) FROM orders"), 60_000.0);
    assert_eq!(
        db.number("SELECT count(DISTINCT ref) FROM orders"),
        60_000.0,
        "no row twice"
    );
}
