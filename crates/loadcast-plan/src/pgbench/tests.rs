//! The importer's parsing and what it writes.

use super::*;

#[test]
fn constant_arithmetic_knows_only_scale() {
    assert_eq!(
        Arithmetic::new("100000 * :scale", 10).value(),
        Ok(1_000_000)
    );
    assert_eq!(Arithmetic::new("(1 + 2) * -3 % 5", 1).value(), Ok(-4));
    assert!(Arithmetic::new(":aid + 1", 1).value().is_err());
}

#[test]
fn variables_become_numbered_parameters_and_casts_stay() {
    let defined = vec!["aid".to_string(), "delta".to_string()];
    let s = variables(
        "UPDATE a SET x = x + :delta WHERE aid = :aid AND ':aid' <> y::text AND z = :delta",
        3,
        &defined,
    )
    .unwrap();
    assert_eq!(
        s.sql,
        "UPDATE a SET x = x + $1 WHERE aid = $2 AND ':aid' <> y::text AND z = $1"
    );
    assert_eq!(s.params, ["delta", "aid"]);
    let e = variables("SELECT :nope", 7, &defined).unwrap_err();
    assert_eq!(e.line, 7);
    assert!(e.cause.contains(":nope"), "{e}");
}

#[test]
fn a_fixed_rate_shares_the_clients_connections_as_pgbench_does() {
    let options = PgbenchOptions {
        name: "x".into(),
        database: "postgres://postgres@127.0.0.1/x".into(),
        scale: 1,
        clients: 8,
        rate: Some(1000.0),
        duration: "10s".into(),
        latency_limit: Some("50ms".into()),
    };
    let text = import("\\set a random(1, 10)\nSELECT :a;", &options).unwrap();
    let plan = crate::parse(&text, std::path::Path::new("imported.toml"))
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        plan.database.as_ref().and_then(|d| d.pool),
        Some(8),
        "{text}"
    );
    assert_eq!(plan.model_name(), "open");
    assert_eq!(
        plan.load.as_ref().and_then(|l| l.latency_limit()),
        Some(std::time::Duration::from_millis(50))
    );
    let closed = import(
        "SELECT 1;",
        &PgbenchOptions {
            rate: None,
            ..options
        },
    )
    .unwrap();
    let plan = crate::parse(&closed, std::path::Path::new("imported.toml")).unwrap();
    assert_eq!(
        plan.database.as_ref().and_then(|d| d.pool),
        None,
        "{closed}"
    );
}

#[test]
fn unsupported_lines_are_refused_with_their_number() {
    let options = PgbenchOptions {
        name: "x".into(),
        database: "postgres://postgres@127.0.0.1/x".into(),
        scale: 1,
        clients: 1,
        rate: None,
        duration: "10s".into(),
        latency_limit: None,
    };
    let e = import("\\set a random(1, 10)\n\\gset\nSELECT 1;", &options).unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    let e = import("BEGIN;\nSELECT 1;\n", &options).unwrap_err();
    assert_eq!(e.line, 1, "{e}");
    let e = import("\\set a random(1, 10)\n\\set b :a + 1\nSELECT 1;", &options).unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    // Found by the fuzzer: pgbench's own range for each parameter.
    let e = import("\\set z random_zipfian(1, 10, 0.5)\nSELECT :z;", &options).unwrap_err();
    assert!(e.line == 1 && e.cause.contains("from 1.001 to 1000"), "{e}");
}
