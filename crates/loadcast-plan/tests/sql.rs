//! SQL steps in a plan: what a valid one becomes, and the located error each mistake gets.

use std::path::Path;

use loadcast_plan::{CaptureSource, Column, Step, parse};

const DATABASE: &str = "[database]\nurl = \"postgres://app:s3cret@127.0.0.1:5432/shop\"\n";
const LOAD: &str = "[load]\nmodel = \"closed\"\nusers = 2\nduration = \"5s\"\n";

fn plan(text: &str) -> Result<loadcast_plan::Plan, String> {
    parse(text, Path::new("sql.toml")).map_err(|e| e.to_string())
}

fn err(text: &str) -> String {
    match plan(text) {
        Ok(_) => panic!("the plan should have been refused:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn a_plan_of_sql_steps_needs_no_target_and_names_the_database_without_its_password() {
    let p = plan(&format!(
        r#"{DATABASE}{LOAD}
[[scenario]]
name = "orders"

[[scenario.step]]
set = {{ customer = "{{{{rand(1, 1000)}}}}" }}

[[scenario.step]]
sql = "SELECT id, total FROM orders WHERE customer_id = $1 LIMIT 1"
params = ["{{{{customer}}}}"]
capture = {{ order = "row:0.id", total = "row:0.1" }}
check = {{ rows = ">=1", values = {{ "0.id" = "{{{{order}}}}" }} }}

[[scenario.step]]
name = "pay"
retries = 3
transaction = [
  {{ sql = "UPDATE orders SET paid = true WHERE id = $1", params = ["{{{{order}}}}"], check = {{ rows = 1 }} }},
  {{ sql = "INSERT INTO payments (order_id, amount) VALUES ($1, $2)", params = ["{{{{order}}}}", 42] }},
]
"#
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.target.url(), "postgres://127.0.0.1:5432/shop");
    let steps = &p.scenarios[0].steps;
    let Step::Sql(select) = &steps[1] else {
        panic!("step 1 is SQL: {:?}", steps[1]);
    };
    assert_eq!(select.params.len(), 1);
    assert_eq!(select.checks.rows, Some((1, None)));
    assert!(matches!(
        &select.captures[1].source,
        CaptureSource::Row {
            row: 0,
            column: Column::Index(1)
        }
    ));
    let Step::Transaction(pay) = &steps[2] else {
        panic!("step 2 is a transaction: {:?}", steps[2]);
    };
    assert_eq!(
        (pay.name.as_str(), pay.retries, pay.statements.len()),
        ("pay", 3, 2)
    );
    assert_eq!(
        steps[2].result_names(),
        [
            "pay",
            "UPDATE orders SET paid = true WHERE id = $1",
            "INSERT INTO payments (order_id, amount) VALUES ($1, $2)"
        ]
    );
    assert!(!p.describe().contains("s3cret"), "{}", p.describe());
}

#[test]
fn each_mistake_in_a_sql_step_gets_a_located_error() {
    let scenario = |step: &str| {
        format!("{DATABASE}{LOAD}\n[[scenario]]\nname = \"s\"\n\n[[scenario.step]]\n{step}\n")
    };
    let cases: &[(&str, &str)] = &[
        (
            "sql = \"SELECT $1, $2\"\nparams = [1]",
            "uses $2 but params has 1 value",
        ),
        (
            "sql = \"SELECT 1\"\nget = \"/\"",
            "either a SQL statement, an HTTP request",
        ),
        (
            "sql = \"SELECT 1\"\ncapture = { x = \"json:/x\" }",
            "is not a capture from a result row",
        ),
        (
            "sql = \"SELECT 1\"\ncheck = { status = 200 }",
            "status, body and json checks are for HTTP",
        ),
        (
            "sql = \"SELECT 1\"\ncheck = { rows = \"3..1\" }",
            "is not a row count",
        ),
        (
            "sql = \"SELECT 1\"\nretries = 2",
            "retries belong to a transaction",
        ),
        (
            "transaction = [ { sql = \"SELECT 1\" } ]\nretries = 1000",
            "is not a number of retries",
        ),
        ("transaction = []", "the transaction has no statements"),
        (
            "set = { a = \"{{rand(1, 9)}}\", b = \"{{a}}\" }",
            "cannot read another value of the same set step",
        ),
        ("sql = \"  \"", "the statement is empty"),
        (
            "sql = \"SELECT 1 AS vu\"\ncapture = { vu = \"row:0.vu\" }",
            "is a template's own name",
        ),
    ];
    for (step, expected) in cases {
        let e = err(&scenario(step));
        assert!(
            e.contains(expected) && e.contains("sql.toml:"),
            "for {step:?} expected {expected:?} with a location, got:\n{e}"
        );
    }
}

#[test]
fn sql_steps_need_a_database_and_http_steps_a_target() {
    let e = err(&format!(
        "{LOAD}\n[[scenario]]\nname = \"s\"\n\n[[scenario.step]]\nsql = \"SELECT 1\"\n"
    ));
    assert!(e.contains("SQL steps but no [database]"), "{e}");
    let e = err(&format!(
        "{DATABASE}{LOAD}\n[[scenario]]\nname = \"s\"\n\n[[scenario.step]]\nsql = \"SELECT 1\"\n\n[[scenario.step]]\nget = \"/\"\n"
    ));
    assert!(e.contains("the plan has no target"), "{e}");
    let e = err(&format!(
        "[database]\nurl = \"sqlite://x.db\"\n{LOAD}\n[[scenario]]\nname = \"s\"\n\n[[scenario.step]]\nsql = \"SELECT 1\"\n"
    ));
    assert!(e.contains("PostgreSQL or MySQL/MariaDB"), "{e}");
}

#[test]
fn a_mysql_statement_has_one_param_for_each_question_mark() {
    let mysql = "[database]\nurl = \"mysql://root@127.0.0.1:3306/shop\"\n";
    let step = |sql: &str, params: &str| {
        format!(
            "{mysql}{LOAD}[[scenario]]\n[[scenario.step]]\nsql = \"{sql}\"\nparams = {params}\n"
        )
    };
    assert!(plan(&step("SELECT * FROM t WHERE a = ? AND b = '?'", "[1]")).is_ok());
    let e = err(&step("SELECT * FROM t WHERE a = ? AND b = ?", "[1]"));
    assert!(
        e.contains("sql.toml:9:")
            && e.contains("the statement has 2 `?` placeholders but params has 1 value"),
        "{e}"
    );
    // `$1` is not a MySQL placeholder: the statement asks for none, the plan gives one.
    let e = err(&step("SELECT * FROM t WHERE a = $1", "[1]"));
    assert!(
        e.contains("has 0 `?` placeholders but params has 1 value"),
        "{e}"
    );
}

#[test]
fn a_scenario_may_send_its_statements_to_a_database_of_its_own() {
    // Placeholders follow the scenario's database: `?` on MySQL beside `$1` on PostgreSQL.
    let text = format!(
        r#"{DATABASE}{LOAD}
[[scenario]]
name = "orders"
[[scenario.step]]
sql = "SELECT 1 FROM orders WHERE id = $1"
params = ["1"]

[[scenario]]
name = "sessions"
database = "mysql://app:hidden@127.0.0.1:3306/sessions"
[[scenario.step]]
sql = "SELECT 1 FROM sessions WHERE id = ?"
params = ["1"]
"#
    );
    let p = plan(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.sql_databases(),
        [
            "postgres://app:s3cret@127.0.0.1:5432/shop",
            "mysql://app:hidden@127.0.0.1:3306/sessions"
        ]
    );
    assert_eq!(
        p.scenario_database(1),
        Some("mysql://app:hidden@127.0.0.1:3306/sessions")
    );
    assert_eq!(
        p.sql_statements(),
        ["SELECT 1 FROM orders WHERE id = $1"],
        "what is explained against [database] is only what goes there"
    );
    let shown = format!("{}\n{:?}", p.describe(), p.scenarios[1]);
    assert!(
        shown.contains("SQL to mysql://app:***@127.0.0.1:3306/sessions")
            && !shown.contains("hidden"),
        "{shown}"
    );

    // No [database] is needed when every SQL scenario names its own; results name it.
    let own_only = format!(
        "{LOAD}[[scenario]]\ndatabase = \"postgres://u@127.0.0.1:5433/other\"\n[[scenario.step]]\nsql = \"SELECT 1\"\n"
    );
    let p = plan(&own_only).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.target.url(), "postgres://127.0.0.1:5433/other");

    let e = err(&format!(
        "{LOAD}[[scenario]]\ndatabase = \"redis://127.0.0.1\"\n[[scenario.step]]\nsql = \"SELECT 1\"\n"
    ));
    assert!(
        e.contains("sql.toml:6:") && e.contains("is not a database URL SQL steps can use"),
        "{e}"
    );
    let e = err(&format!(
        "{LOAD}target = \"http://127.0.0.1:8080\"\n[[scenario]]\ndatabase = \"postgres://u@127.0.0.1/x\"\n[[scenario.step]]\nget = \"/\"\n"
    ));
    assert!(e.contains("names a database but has no SQL step"), "{e}");
    // The wrong placeholder style for the scenario's database is caught as for [database].
    let e = err(&format!(
        "{DATABASE}{LOAD}[[scenario]]\ndatabase = \"mysql://root@127.0.0.1/x\"\n[[scenario.step]]\nsql = \"SELECT $1\"\nparams = [\"1\"]\n"
    ));
    assert!(e.contains("has 0 `?` placeholders"), "{e}");
}
