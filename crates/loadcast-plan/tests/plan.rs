//! The plan file's public behaviour: valid plans become typed plans, and every kind of mistake
//! names the line, column, key, value and what was expected.

use std::path::Path;
use std::time::Duration;

use loadcast_plan::{Body, HttpVersion, Load, Step, ThinkTime, parse};
use loadcast_stats::Metric;

const GOOD: &str = r#"
name = "checkout"
target = "http://127.0.0.1:8080/api"

[http]
version = "1.1"
timeout = "2s"
headers = { "user-agent" = "loadcast-test" }

[slo]
p99 = "300ms"
errors = "0.5%"
"checkout".p99 = "800ms"

[[scenario]]
name = "browse-and-buy"
weight = 80

[[scenario.step]]
get = "/products?page=2"

[[scenario.step]]
think = "1s..4s"

[[scenario.step]]
name = "checkout"
post = "/orders"
json = { product = 7 }

[[scenario]]
name = "history"
weight = 20

[[scenario.step]]
method = "get"
url = "http://127.0.0.1:8080/me/orders"

[load]
model = "open"
stages = [ { rate = "0..1200/s", over = "30s" }, { rate = "1200/s", over = "2m" } ]
max_in_flight = 500
"#;

fn err(text: &str) -> String {
    parse(text, Path::new("plan.toml")).unwrap_err().to_string()
}

#[test]
fn a_good_plan_becomes_typed() {
    let plan = parse(GOOD, Path::new("plan.toml")).unwrap();
    assert_eq!(plan.name, "checkout");
    assert_eq!(plan.target.port, 8080);
    assert_eq!(plan.target.base_path, "/api");
    assert_eq!(plan.http.version, HttpVersion::Http1);
    assert_eq!(plan.http.timeout, Duration::from_secs(2));
    assert_eq!(plan.scenarios.len(), 2);
    let Step::Request(first) = &plan.scenarios[0].steps[0] else {
        panic!()
    };
    assert_eq!(first.path.as_static().unwrap(), "/api/products?page=2");
    assert_eq!(first.name, "GET /products?page=2");
    assert!(matches!(
        plan.scenarios[0].steps[1],
        Step::Think(ThinkTime::Uniform(a, b)) if a == Duration::from_secs(1) && b == Duration::from_secs(4)
    ));
    let Step::Request(checkout) = &plan.scenarios[0].steps[2] else {
        panic!()
    };
    assert_eq!(
        checkout.body,
        Body::Bytes {
            content: br#"{"product":7}"#.to_vec(),
            content_type: Some("application/json")
        }
    );
    let Step::Request(history) = &plan.scenarios[1].steps[0] else {
        panic!()
    };
    assert_eq!(history.path.as_static().unwrap(), "/me/orders");
    let Some(Load::Open(open)) = &plan.load else {
        panic!()
    };
    assert_eq!(open.stages[0].from, 0.0);
    assert_eq!(open.stages[0].to, 1200.0);
    assert_eq!(open.max_in_flight, 500);
    assert_eq!(open.expected_arrivals(), 600.0 * 30.0 + 1200.0 * 120.0);
    assert_eq!(plan.thresholds.len(), 3);
    assert!(
        plan.thresholds
            .iter()
            .any(|t| t.scope.as_deref() == Some("checkout")
                && t.metric == Metric::Latency { quantile: 0.99 }
                && (t.limit - 0.8).abs() < 1e-9)
    );
    assert!(
        plan.thresholds
            .iter()
            .any(|t| t.metric == Metric::ErrorRate && (t.limit - 0.005).abs() < 1e-12)
    );
    assert_eq!(plan.hash.len(), 64);
    let description = plan.describe();
    assert!(
        description.contains("0/s → 1200/s over 30s"),
        "{description}"
    );
}

#[test]
fn capacity_searches_repeat_a_bounded_whole_number_of_times() {
    let with = |repeat: &str| format!("{GOOD}\n[capacity]\nrepeat = {repeat}\n");
    let plan = parse(&with("3"), Path::new("plan.toml")).unwrap();
    let description = plan.describe();
    assert!(
        description.contains("3 searches per scale, their median"),
        "{description}"
    );
    assert_eq!(plan.capacity.and_then(|c| c.repeat), Some(3));
    for bad in ["0", "30", "-1"] {
        let text = with(bad);
        let e = err(&text);
        let line = text.lines().position(|l| l.starts_with("repeat")).unwrap() + 1;
        assert!(
            e.starts_with(&format!(
                "plan.toml:{line}:10: `capacity.repeat`: {bad} is not a number of searches"
            )),
            "{e}"
        );
    }
}

#[test]
fn a_bad_rate_names_line_column_key_value_and_expectation() {
    let text = GOOD.replace(
        r#"{ rate = "1200/s", over = "2m" }"#,
        r#"{ rate = "12OO/s", over = "2m" }"#,
    );
    let e = err(&text);
    let line = text.lines().position(|l| l.contains("12OO")).unwrap() + 1;
    let col = text.lines().nth(line - 1).unwrap().find("\"12OO").unwrap() + 1;
    assert!(e.starts_with(&format!("plan.toml:{line}:{col}: `load.stages[1].rate`: \"12OO/s\" is not valid; expected a rate")), "{e}");
    assert!(e.contains("^^^^^^^^"), "{e}");
}

#[test]
fn syntax_errors_have_line_and_column() {
    let e = err("target = \"http://127.0.0.1\"\n[load\nmodel = 'open'\n");
    assert!(e.starts_with("plan.toml:2:"), "{e}");
}

#[test]
fn unknown_keys_are_refused_with_their_path() {
    let text = GOOD.replace("max_in_flight = 500", "max_inflight = 500");
    let e = err(&text);
    let line = text
        .lines()
        .position(|l| l.contains("max_inflight"))
        .unwrap()
        + 1;
    assert!(e.starts_with(&format!("plan.toml:{line}:1: `load")), "{e}");
    assert!(e.contains("unknown field `max_inflight`"), "{e}");
}

#[test]
fn an_unknown_key_hides_no_other_problem() {
    // Two typos in different tables and a bad duration elsewhere: all three, in file order,
    // and what the typo leaves behind (a step with nothing in it), but nothing that follows
    // from that (the threshold on a later step's request stays unjudged).
    let text = GOOD
        .replace("max_in_flight = 500", "max_inflight = 500")
        .replace("think = \"1s..4s\"", "thinks = \"1s..4s\"")
        .replace("timeout = \"2s\"", "timeout = \"2 parsecs\"");
    let e = err(&text);
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let lines: Vec<&str> = e.lines().filter(|l| l.starts_with("plan.toml:")).collect();
    assert_eq!(lines.len(), 4, "{e}");
    assert!(
        lines[0].starts_with(&format!("plan.toml:{}:", line_of("2 parsecs")))
            && lines[0].contains("`http.timeout`"),
        "{e}"
    );
    assert!(
        lines[1].contains("`scenario[0].step[1]`: a step needs exactly one request"),
        "{e}"
    );
    assert!(
        lines[2].starts_with(&format!("plan.toml:{}:1:", line_of("thinks")))
            && lines[2].contains("unknown field `thinks`, expected one of"),
        "{e}"
    );
    assert!(
        lines[3].starts_with(&format!("plan.toml:{}:1:", line_of("max_inflight")))
            && lines[3].contains("unknown field `max_inflight`"),
        "{e}"
    );
}

#[test]
fn wrong_types_name_the_key() {
    let text = GOOD.replace("weight = 80", "weight = \"lots\"");
    let e = err(&text);
    assert!(
        e.contains("`scenario[0].weight`") || e.contains("`scenario.0.weight`"),
        "{e}"
    );
    assert!(e.contains("invalid type"), "{e}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = GOOD
        .replace("timeout = \"2s\"", "timeout = \"soon\"")
        .replace("p99 = \"300ms\"", "p99 = \"fast\"");
    let e = parse(&text, Path::new("plan.toml")).unwrap_err();
    let keys: Vec<_> = e.diagnostics().iter().map(|d| d.key.as_str()).collect();
    assert_eq!(keys, ["http.timeout", "slo.p99"]);
}

#[test]
fn requests_to_other_hosts_are_refused() {
    let text = GOOD.replace(
        "http://127.0.0.1:8080/me/orders",
        "http://10.1.2.3/me/orders",
    );
    let e = err(&text);
    assert!(
        e.contains("is not on the target http://127.0.0.1:8080/api"),
        "{e}"
    );
}

#[test]
fn scoped_slo_must_name_a_request() {
    let e = err(&GOOD.replace("\"checkout\".p99", "\"chekout\".p99"));
    assert!(e.contains("no request is named \"chekout\""), "{e}");
}

#[test]
fn closed_model_with_pacing() {
    let text = GOOD.replace(
        "model = \"open\"\nstages = [ { rate = \"0..1200/s\", over = \"30s\" }, { rate = \"1200/s\", over = \"2m\" } ]\nmax_in_flight = 500",
        "model = \"closed\"\nusers = 50\nduration = \"10s\"\npacing = \"1s\"",
    );
    let plan = parse(&text, Path::new("plan.toml")).unwrap();
    let Some(Load::Closed(closed)) = &plan.load else {
        panic!()
    };
    assert_eq!(closed.peak_users(), 50);
    assert_eq!(closed.pacing, Some(Duration::from_secs(1)));
    assert_eq!(plan.duration(), Duration::from_secs(10));
}

#[test]
fn mixing_models_is_refused() {
    let text = GOOD.replace("max_in_flight = 500", "max_in_flight = 500\nusers = 10");
    assert!(err(&text).contains("`users` belongs to the closed model"));
}

#[test]
fn env_variables_are_expanded_and_missing_ones_are_errors() {
    let text = GOOD.replace("loadcast-test", "${env:LOADCAST_TEST_SURELY_UNSET}");
    let e = err(&text);
    assert!(
        e.contains("environment variable LOADCAST_TEST_SURELY_UNSET is not set"),
        "{e}"
    );
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let e = loadcast_plan::load(Path::new("/nonexistent/plan.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/nonexistent/plan.toml: cannot read plan"),
        "{e}"
    );
}

#[test]
fn templates_and_feeders_are_checked_with_line_and_column() {
    let dir = std::env::temp_dir().join(format!("loadcast-plan-feeders-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("users.jsonl"),
        "{\"email\":\"a@x.io\",\"token\":\"t1\"}\n{\"email\":\"b@x.io\",\"token\":\"t2\"}\n",
    )
    .unwrap();
    let path = dir.join("p.toml");
    let text = r#"target = "http://127.0.0.1:8080"
[feeders.user]
jsonl = "users.jsonl"
strategy = "circular"
[[scenario]]
[[scenario.step]]
get = "/u/{{user.emial}}"
[[scenario.step]]
get = "/x"
headers = { authorization = "Bearer {{tokn}}" }
[[scenario.step]]
think = "exp(2s)"
[load]
model = "closed"
users = 10
duration = "1m"
"#;
    let err = loadcast_plan::parse(text, &path).unwrap_err().to_string();
    assert!(
        err.contains(":7:7: `scenario[0].step[0].url`: `{{user.emial}}`: feeder \"user\" has no column \"emial\"; columns: email, token"),
        "{err}"
    );
    assert!(
        err.contains(":10:29: `scenario[0].step[1].headers.authorization`: `{{tokn}}`: \"tokn\" is not captured by any step"),
        "{err}"
    );
    let fixed = text
        .replace("user.emial", "user.email")
        .replace("{{tokn}}", "{{user.token}}");
    let plan = loadcast_plan::parse(&fixed, &path).unwrap();
    assert_eq!(plan.feeders[0].data.rows(), 2);
    assert!(matches!(
        plan.scenarios[0].steps[2],
        loadcast_plan::Step::Think(loadcast_plan::ThinkTime::Exponential(_))
    ));
    // A circular feeder with fewer rows than users is allowed, and linted.
    assert!(plan.lints().iter().any(|l| l.code == "few-users"));

    let missing = fixed.replace("users.jsonl", "nope.csv");
    let err = loadcast_plan::parse(&missing, &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains(":3:9: `feeders.user.jsonl`"), "{err}");
    assert!(err.contains("nope.csv: No such file"), "{err}");
}

/// A generator written wrongly says what it expects: a timestamp spread nested inside itself
/// names the form it takes.
#[test]
fn a_misshapen_column_generator_says_what_is_expected() {
    let text = "target = \"http://127.0.0.1:8080\"\n[[scenario]]\n[[scenario.step]]\nget = \"/\"\n\
                [load]\nmodel = \"open\"\nrate = \"1/s\"\nduration = \"1s\"\n\
                [database]\nurl = \"sqlite://x.db\"\n[database.tables.orders]\nrows = 10\n\
                columns.placed_at = { spread = { shape = \"growth\" } }\n";
    let e = err(text);
    assert!(
        e.contains("database.tables.orders.columns.placed_at")
            && e.contains("spread = \"365d\", shape = \"growth\""),
        "{e}"
    );
}

#[test]
fn a_watch_section_becomes_typed_with_defaults_and_bad_values_are_named() {
    let text = format!(
        "{GOOD}\n[watch]\nprometheus = \"http://127.0.0.1:9090/\"\ntraffic = 'sum(rate(http_requests_total[5m]))'\ndata = 'pg_stat_user_tables_n_live_tup{{relname=\"orders\"}}'\n"
    );
    let plan = parse(&text, Path::new("plan.toml")).unwrap();
    let w = plan.watch.expect("a [watch]");
    assert_eq!(w.prometheus, "http://127.0.0.1:9090");
    assert_eq!(
        (w.since, w.step, w.interval),
        (
            Duration::from_secs(28 * 86_400),
            Duration::from_secs(3_600),
            Duration::from_secs(3_600)
        )
    );
    assert_eq!(w.latency_tolerance, 1.5);
    assert!(w.latency_p99.is_none());
    assert!(plan_describe(&text).contains("watch     http://127.0.0.1:9090 every 1h"));

    let bad = format!(
        "{GOOD}\n[watch]\nprometheus = \"127.0.0.1:9090\"\ntraffic = ''\nstep = \"1h\"\nsince = \"2h\"\nlatency_tolerance = 0.5\n"
    );
    let e = err(&bad);
    let line = |key: &str| bad.lines().position(|l| l.starts_with(key)).unwrap() + 1;
    for (key, message) in [
        ("prometheus", "is not an HTTP URL"),
        ("traffic", "an empty query"),
        ("since", "too short to forecast"),
        ("latency_tolerance", "would call the study stale"),
    ] {
        assert!(
            e.contains(&format!("plan.toml:{}:", line(key))) && e.contains(message),
            "{key}: {message:?} not reported at line {}:\n{e}",
            line(key)
        );
    }
}

fn plan_describe(text: &str) -> String {
    parse(text, Path::new("plan.toml")).unwrap().describe()
}
