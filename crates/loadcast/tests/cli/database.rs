//! The database's own view: a capacity study on a SQL plan says why capacity falls with the
//! data, in the server's terms (top statement, wait class, plans), on a PostgreSQL of the
//! test's own with `pg_stat_statements` preloaded.

use super::*;
use loadcast_testkit::db::PgServer;

const QUERY: &str = "SELECT count(*), sum(total) FROM orders WHERE customer_id = $1";

/// A SQL-only plan reading orders of one customer, grown from 30,000 rows to 4x between the
/// searches.
fn orders_plan(dir: &Path, url: &str) -> PathBuf {
    let path = dir.join("orders.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"orders\"\n[slo]\np99 = \"50ms\"\nerrors = \"1%\"\n\
             [database]\nurl = \"{url}\"\nconnections = \"pool\"\npool_size = 8\n\
             [[scenario]]\n[[scenario.step]]\nname = \"orders of a customer\"\n\
             sql = \"{QUERY}\"\nparams = [\"{{{{rand(1, 1000)}}}}\"]\n\
             [load]\nmodel = \"open\"\nrate = \"50/s\"\nduration = \"1s\"\n\
             [capacity]\ntable = \"orders\"\ndata_scales = [\"4x\"]\nfrom = \"50/s\"\nfactor = 2.0\nhold = \"2s\"\nwarmup = \"0s\"\n"
        ),
    )
    .unwrap();
    path
}

/// The study's stdout, its JSON, and the HTML report as Chromium rendered it.
fn study(server: &PgServer, name: &str, index: bool) -> (String, serde_json::Value, String) {
    let db = server.database(&format!(
        "CREATE TABLE loadcast_target (marked_at TEXT, note TEXT);\n\
         INSERT INTO loadcast_target VALUES (now()::text, 'test');\n\
         CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id integer NOT NULL, total numeric NOT NULL);\n\
         INSERT INTO orders (customer_id, total) SELECT 1 + (i * 7919) % 1000, i % 100 FROM generate_series(1, 30000) i;\n\
         {}ANALYZE orders;\n",
        if index {
            "CREATE INDEX orders_customer ON orders (customer_id);\n"
        } else {
            ""
        }
    ));
    let dir = workdir(name);
    let plan = orders_plan(&dir, &db.url);
    // A plain run carries the same view: its terminal summary and its HTML report.
    let out = run_in(
        &dir,
        &[
            "--no-store",
            "run",
            plan.to_str().unwrap(),
            "--progress",
            "off",
            "-o",
            "run.json",
        ],
    );
    let summary = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{summary}\n{}",
        text(&out.stderr)
    );
    assert_has(&summary, "database: PostgreSQL");
    assert_has(&summary, &format!("`{QUERY}` took 100% of database time"));
    assert_has(&summary, "largest table orders (30.0k rows");
    let out = run_in(
        &dir,
        &["--no-store", "report", "run.json", "--html", "run.html"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(dir.join("run.html")).unwrap();
    assert!(page.contains("<h3>The database</h3>") && page.contains("took 100% of database time"));
    let out = run_in(
        &dir,
        &[
            "--no-store",
            "capacity",
            plan.to_str().unwrap(),
            "--max-steps",
            "6",
            "--quiet",
            "-o",
            "study.json",
        ],
    );
    let stdout = text(&out.stdout);
    eprintln!("{name}:\n{stdout}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("study.json")).unwrap()).unwrap();
    let out = run_in(
        &dir,
        &[
            "--no-store",
            "report",
            "study.json",
            "--html",
            "report.html",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (dom, _) =
        loadcast_testkit::chromium::dump_dom(&dir.join("report.html"), &dir.join("profile"));
    (stdout, json, dom)
}

fn capacities(json: &serde_json::Value) -> Vec<(String, f64)> {
    json["scales"]
        .as_array()
        .unwrap_or_else(|| panic!("no scales in {json}"))
        .iter()
        .map(|s| {
            (
                s["scale"].as_str().unwrap_or("?").to_string(),
                s["breaking_point"]["max_rate"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

fn plans_at(json: &serde_json::Value) -> Vec<String> {
    json["scales"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            s["plans"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["query"] == QUERY)
                .map_or_else(|| format!("no plan in {s}"), |p| p["nodes"].to_string())
        })
        .collect()
}

#[test]
fn a_study_names_the_top_statement_and_its_sequential_scan_and_an_index_takes_it_away() {
    let _alone = measuring_alone();
    let server = PgServer::start(&["shared_preload_libraries=pg_stat_statements"]);

    let (stdout, json, dom) = with_a_generator_that_kept_up(
        |attempt| study(&server, &format!("db-view-scan-{attempt}"), false),
        |(_, json, _)| json.clone(),
    );
    let measured = capacities(&json);
    assert_eq!(measured.len(), 2, "{measured:?}\n{stdout}");
    assert!(
        measured[1].1 < measured[0].1,
        "capacity does not fall with the data: {measured:?}\n{stdout}"
    );
    let top = format!("the top statement `{QUERY}` took");
    assert_has(&stdout, &top);
    assert_has(&stdout, "wait class ");
    let scan = format!(
        "SEQUENTIAL SCAN: `{QUERY}` reads orders by sequential scan at every scale measured (2)"
    );
    assert_has(&stdout, &scan);
    assert!(!stdout.contains("PLAN CHANGE"), "{stdout}");
    for plans in plans_at(&json) {
        assert!(plans.contains("Seq Scan on orders"), "{plans}");
    }
    // The report says the same as the terminal.
    assert!(
        dom.contains(&top) && dom.contains(&scan),
        "the HTML report Chromium rendered lacks the database's findings"
    );

    let (stdout, json, dom) = with_a_generator_that_kept_up(
        |attempt| study(&server, &format!("db-view-index-{attempt}"), true),
        |(_, json, _)| json.clone(),
    );
    assert_has(&stdout, &top);
    assert!(
        !stdout.contains("SEQUENTIAL SCAN") && !stdout.contains("PLAN CHANGE"),
        "{stdout}"
    );
    for plans in plans_at(&json) {
        assert!(
            plans.contains("using orders_customer") && !plans.contains("Seq Scan"),
            "{plans}"
        );
    }
    assert!(dom.contains(&top) && !dom.contains("SEQUENTIAL SCAN"));
}
