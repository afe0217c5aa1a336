//! What CI systems read: JUnit XML (each threshold a test case; a failed threshold a failure),
//! a JSON summary, and the per-second timeline as CSV.

use std::fmt::Write as _;

use loadcast_stats::RunResult;

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// JUnit XML: one `<testsuite>` for the run, one `<testcase>` per threshold. A run without
/// thresholds has one case that passes when nothing failed at all.
pub fn junit(result: &RunResult) -> String {
    let m = &result.meta;
    let failed = result.thresholds.iter().filter(|t| !t.passed).count();
    let cases = result.thresholds.len().max(1);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"loadcast\" tests=\"{cases}\" failures=\"{failed}\" errors=\"0\" time=\"{:.3}\">",
        m.elapsed_seconds
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{cases}\" failures=\"{failed}\" errors=\"0\" skipped=\"0\" time=\"{:.3}\" timestamp=\"{}\" hostname=\"localhost\">",
        xml(&m.plan_name),
        m.elapsed_seconds,
        xml(m.started_at.trim_end_matches('Z'))
    );
    let _ = writeln!(out, "    <properties>");
    for (name, value) in [
        ("target", m.target.as_str()),
        ("model", m.model.as_str()),
        ("plan_hash", m.plan_hash.as_str()),
        ("loadcast_version", m.loadcast_version.as_str()),
    ] {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            xml(value)
        );
    }
    let _ = writeln!(out, "    </properties>");
    if result.thresholds.is_empty() {
        let _ = writeln!(
            out,
            "    <testcase classname=\"loadcast.{}\" name=\"run completed\" time=\"{:.3}\"/>",
            xml(&m.plan_name),
            m.elapsed_seconds
        );
    }
    for t in &result.thresholds {
        let name = t.threshold.to_string();
        let _ = write!(
            out,
            "    <testcase classname=\"loadcast.{}\" name=\"{}\" time=\"{:.3}\"",
            xml(&m.plan_name),
            xml(&name),
            m.elapsed_seconds
        );
        if t.passed {
            let _ = writeln!(out, "/>");
        } else {
            let _ = writeln!(out, ">");
            let _ = writeln!(
                out,
                "      <failure message=\"{}\" type=\"threshold\">measured {} where the plan allows {}</failure>",
                xml(&format!("{name}: measured {}", t.format_actual())),
                xml(&t.format_actual()),
                xml(&name)
            );
            let _ = writeln!(out, "    </testcase>");
        }
    }
    let _ = writeln!(out, "  </testsuite>\n</testsuites>");
    out
}

/// A compact JSON summary of a run: totals, per-request figures, thresholds, generator health.
pub fn summary_json(result: &RunResult) -> serde_json::Value {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let stats = |s: &loadcast_stats::RequestStats| {
        serde_json::json!({
            "name": s.name,
            "count": s.count,
            "ok": s.ok,
            "error_rate": s.error_rate(),
            "errors": s.errors.iter().map(|(k, n)| (k.name(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
            "p50_ms": ms(s.latency.quantile(0.5)),
            "p90_ms": ms(s.latency.quantile(0.9)),
            "p99_ms": ms(s.latency.quantile(0.99)),
            "max_ms": ms(s.latency.max()),
            // From the actual send: beside the latency from the intended start, the gap
            // between the two is the coordinated omission a closed loop would have hidden.
            "service": {
                "p50_ms": ms(s.service.quantile(0.5)),
                "p90_ms": ms(s.service.quantile(0.9)),
                "p99_ms": ms(s.service.quantile(0.99)),
                "max_ms": ms(s.service.max()),
            },
        })
    };
    serde_json::json!({
        "plan": result.meta.plan_name,
        "plan_hash": result.meta.plan_hash,
        "target": result.meta.target,
        "started_at": result.meta.started_at,
        "elapsed_seconds": result.meta.elapsed_seconds,
        "status": result.meta.status,
        "throughput": result.throughput(),
        "total": stats(&result.total()),
        "requests": result.requests.iter().map(stats).collect::<Vec<_>>(),
        "thresholds": result.thresholds.iter().map(|t| serde_json::json!({
            "threshold": t.threshold.to_string(), "actual": t.actual, "passed": t.passed,
        })).collect::<Vec<_>>(),
        "passed": result.thresholds.iter().all(|t| t.passed),
        "generator": {
            "scheduled": result.generator.scheduled,
            "started": result.generator.started,
            "late": result.generator.late,
            "dropped": result.generator.dropped,
            "waited_for_capacity": result.generator.waited_for_capacity,
            "feeder_exhausted": result.generator.feeder_exhausted,
            "abandoned": result.generator.abandoned,
            "users": result.generator.users,
            "identities": result.generator.identities,
            "max_in_flight": result.generator.max_in_flight,
            "cpu_seconds": result.generator.cpu_seconds,
            "miss_rate": result.generator.miss_rate(),
        },
    })
}

/// The per-second timeline as CSV, one row per second.
pub fn timeline_csv(result: &RunResult) -> String {
    let mut out =
        String::from("second,sent,completed,errors,late,in_flight,p50_ms,p90_ms,p99_ms,max_ms\n");
    for s in &result.timeline {
        let q = |p: f64| s.latency.quantile(p).as_secs_f64() * 1e3;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{:.3},{:.3},{:.3},{:.3}",
            s.t,
            s.sent,
            s.completed,
            s.error_count(),
            s.late,
            s.in_flight,
            q(0.5),
            q(0.9),
            q(0.99),
            s.latency.max().as_secs_f64() * 1e3
        );
    }
    out
}
