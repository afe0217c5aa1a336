//! The plan as a document for reviewers outside the team (`loadcast plan render`): what is
//! tested, against which target and data volume, the history and forecast it rests on, the
//! SLOs, the schedule, the risks and lint warnings, the open assumptions, and a sign-off table.
//! Written to be read and signed early, not on the day of the test.

use std::fmt::Write as _;

use loadcast_capacity::CapacityStudy;
use loadcast_forecast::Projection;
use loadcast_forecast::history::SeriesKind;
use loadcast_plan::{Body, Load, Plan, RowsTarget, Step, ThinkTime, redact_url, units};
use loadcast_stats::time::format_date;

use crate::si;

/// A duration as people say it: days for a horizon, the exact form for a step.
fn d(duration: std::time::Duration) -> String {
    const DAY: u64 = 86_400;
    let secs = duration.as_secs();
    if secs >= 2 * DAY {
        format!("{} days", (secs + DAY / 2) / DAY)
    } else {
        humantime::format_duration(duration).to_string()
    }
}

fn load_text(load: &Load) -> String {
    match load {
        Load::Open(o) => {
            let stages: Vec<String> = o
                .stages
                .iter()
                .map(|s| {
                    format!(
                        "{} → {} over {}",
                        units::format_rate(s.from),
                        units::format_rate(s.to),
                        d(s.over)
                    )
                })
                .collect();
            format!(
                "open model (arrivals on a schedule, whatever the target does): {}; at most {} iterations in flight",
                stages.join(", then "),
                o.max_in_flight
            )
        }
        Load::Closed(c) => {
            let stages: Vec<String> = c
                .stages
                .iter()
                .map(|s| format!("{} → {} users over {}", s.from, s.to, d(s.over)))
                .collect();
            format!(
                "closed model (looping virtual users): {}",
                stages.join(", then ")
            )
        }
    }
}

/// The review document in Markdown.
pub fn review_markdown(
    plan: &Plan,
    projection: Option<&Projection>,
    capacity: Option<&CapacityStudy>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Load-test plan: {} — for review\n", plan.name);
    let _ = writeln!(
        out,
        "Plan file `{}` (SHA-256 `{}`). Every figure of a run made from it carries this hash.\n",
        plan.path.display(),
        &plan.hash[..16]
    );

    let _ = writeln!(out, "## 1. What is tested\n");
    let _ = writeln!(
        out,
        "Target: `{}` (every request goes to this origin).\n",
        plan.target.url()
    );
    let total: u32 = plan.scenarios.iter().map(|s| s.weight).sum();
    for s in &plan.scenarios {
        let _ = writeln!(
            out,
            "**{}** — {:.0}% of iterations{}:\n",
            s.name,
            100.0 * f64::from(s.weight) / f64::from(total.max(1)),
            if s.load.is_some() {
                ", with a load of its own"
            } else {
                ""
            }
        );
        for step in &s.steps {
            let line = match step {
                Step::Request(r) => {
                    let mut extras = Vec::new();
                    if !matches!(r.body, Body::Empty) {
                        extras.push("a body".to_string());
                    }
                    if !r.captures.is_empty() {
                        extras.push(format!("captures {}", r.captures.len()));
                    }
                    if !r.checks.is_empty() {
                        extras.push("checks the answer".to_string());
                    }
                    format!(
                        "`{} {}`{}",
                        r.method,
                        r.shown_url,
                        if extras.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", extras.join(", "))
                        }
                    )
                }
                Step::Sql(statement) => format!("SQL `{}`", one_line(&statement.sql)),
                Step::Transaction(txn) => format!(
                    "a transaction ({}{}): {}",
                    txn.name,
                    match txn.retries {
                        0 => String::new(),
                        n => format!(", retried up to {n} times on a conflict"),
                    },
                    txn.statements
                        .iter()
                        .map(|s| format!("`{}`", one_line(&s.sql)))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                Step::Set(values) => format!("sets {} values for the steps after", values.len()),
                Step::Think(ThinkTime::Fixed(t)) => format!("think {}", d(*t)),
                Step::Think(ThinkTime::Uniform(a, b)) => format!("think {} to {}", d(*a), d(*b)),
                Step::Think(ThinkTime::Exponential(m)) => {
                    format!("think, exponential with mean {}", d(*m))
                }
            };
            let _ = writeln!(out, "1. {line}");
        }
        let _ = writeln!(out);
    }
    if plan.feeders.is_empty() {
        let _ = writeln!(
            out,
            "Users: no per-user data — every virtual user sends the same requests.\n"
        );
    } else {
        for f in &plan.feeders {
            let _ = writeln!(
                out,
                "Users: feeder `{}` from `{}` — {} rows ({}), strategy {}.\n",
                f.name,
                f.path.display(),
                f.data.rows(),
                f.data.columns().join(", "),
                f.strategy.name()
            );
        }
    }

    let _ = writeln!(out, "## 2. Target and data volume\n");
    match &plan.database {
        Some(db) => {
            let _ = writeln!(
                out,
                "Test database: `{}`{}.\n",
                redact_url(&db.url),
                if db.require_marker {
                    " (must carry the `loadcast_target` marker)"
                } else {
                    ""
                }
            );
            let _ = writeln!(
                out,
                "| table | grown to | projected at the horizon |\n|---|---|---|"
            );
            for t in &db.tables {
                let projected = match (&t.rows, projection) {
                    (RowsTarget::Horizon { series }, Some(p)) => p
                        .series(series.as_deref().unwrap_or(&t.name))
                        .map_or("no such series".to_string(), |s| {
                            format!("{} rows", si(s.at_horizon.point))
                        }),
                    _ => "—".into(),
                };
                let _ = writeln!(out, "| {} | {} | {projected} |", t.name, t.rows);
            }
            let _ = writeln!(out);
        }
        None => {
            let _ = writeln!(
                out,
                "**No test database is declared**: the test runs against whatever data the target has today. Data growth is not tested.\n"
            );
        }
    }

    let _ = writeln!(out, "## 3. History and forecast\n");
    if let Some(h) = &plan.history {
        let _ = writeln!(
            out,
            "History: `{}` — traffic {}; data {}.\n",
            h.csv.display(),
            if h.traffic.is_empty() {
                "none".into()
            } else {
                h.traffic.join(", ")
            },
            if h.data.is_empty() {
                "none".into()
            } else {
                h.data
                    .iter()
                    .map(|(n, c)| format!("{n} ({c})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    if let Some(hz) = &plan.horizon {
        let _ = writeln!(
            out,
            "Horizon: {} ahead; traffic at {}, data at {}.\n",
            d(hz.until),
            hz.traffic,
            hz.data
        );
    }
    match projection {
        Some(p) => {
            let _ = writeln!(
                out,
                "Forecast from history {} → {}, to {}:\n",
                p.history_start.get(..10).unwrap_or(""),
                format_date(p.as_of_unix),
                format_date(p.horizon_end_unix)
            );
            let _ = writeln!(
                out,
                "| series | kind | today | at the horizon (80%) | peak (95% high), date | growth | model (backtest MASE) |\n|---|---|---|---|---|---|---|"
            );
            for s in &p.series {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} ({}–{}) | {} ({}), {} | {} | {} ({}) |",
                    s.name,
                    s.kind.name(),
                    si(s.today()),
                    si(s.at_horizon.point),
                    si(s.at_horizon.lo80),
                    si(s.at_horizon.hi80),
                    si(s.peak.point),
                    si(s.peak.hi95),
                    format_date(s.peak_at_unix),
                    s.growth_percent(),
                    s.model,
                    s.backtest.mase_text(2)
                );
            }
            let _ = writeln!(out, "\n{}.\n", p.today_legend());
            for n in &p.notes {
                let _ = writeln!(out, "- note: {n}");
            }
        }
        None => {
            let _ = writeln!(
                out,
                "No forecast is attached (`loadcast forecast`, then `loadcast plan render --projection`): the plan rests on today's traffic and data.\n"
            );
        }
    }

    let _ = writeln!(out, "## 4. Service-level objectives\n");
    if plan.thresholds.is_empty() {
        let _ = writeln!(
            out,
            "None — every run passes, and a capacity search cannot tell \"broken\" from \"fine\".\n"
        );
    } else {
        for t in &plan.thresholds {
            let _ = writeln!(out, "- {t}");
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "## 5. Schedule\n");
    if let Some(l) = &plan.load {
        let _ = writeln!(
            out,
            "- Load test: {} ({} in all).",
            load_text(l),
            d(plan.duration())
        );
    }
    for s in plan.scenarios.iter().filter(|s| s.load.is_some()) {
        if let Some(l) = &s.load {
            let _ = writeln!(out, "- Scenario {}: {}.", s.name, load_text(l));
        }
    }
    if let Some(c) = &plan.capacity {
        let _ = writeln!(
            out,
            "- Capacity search: from {}, ×{} per step, {} per step; data scales {}.",
            c.from.map_or("50/s".into(), units::format_rate),
            c.factor.unwrap_or(1.5),
            c.hold.map_or("10s".into(), d),
            if c.data_scales.is_empty() {
                "today's only".into()
            } else {
                let scales: Vec<String> = c.data_scales.iter().map(|s| s.to_string()).collect();
                format!("1x (today's), {}", scales.join(", "))
            }
        );
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "## 6. Risks and warnings\n");
    let mut risks: Vec<String> = plan
        .lints()
        .iter()
        .map(|l| format!("{} ({})", l.message, l.code))
        .collect();
    if plan.database.is_none() {
        risks.push("Data growth is not part of this plan: capacity measured on today's data overstates the headroom at the horizon.".into());
    }
    if let Some(c) = capacity {
        risks.extend(c.warnings.iter().cloned());
        risks.extend(c.runway.as_ref().and_then(runway_risk));
    }
    if risks.is_empty() {
        let _ = writeln!(out, "None found.\n");
    } else {
        for r in &risks {
            let _ = writeln!(out, "- {r}");
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "## 7. Open assumptions\n");
    for a in [
        "The test environment's hardware and configuration match production's, or the difference is understood.",
        "The traffic forecast is in the same unit as the plan's arrival rate (iterations per second).",
        "The scenario mix (weights) matches production's, and stays so at the seasonal peak.",
        "Rows grown by loadcast behave like production's (sizes, skew, indexes) for the queries under test.",
    ] {
        let _ = writeln!(out, "- [ ] {a}");
    }
    let _ = writeln!(out, "\n## 8. Sign-off\n");
    let _ = writeln!(out, "| role | name | date | decision |\n|---|---|---|---|");
    for role in ["owner", "SRE / operations", "database", "product"] {
        let _ = writeln!(out, "| {role} | | | |");
    }
    out
}

/// The review document as a self-contained HTML page; with a projection, the traffic
/// forecast's chart closes the history-and-forecast section.
pub fn review_html(markdown: &str, title: &str, projection: Option<&Projection>) -> String {
    let mut body = String::new();
    let parser = pulldown_cmark::Parser::new_ext(
        markdown,
        pulldown_cmark::Options::ENABLE_TABLES | pulldown_cmark::Options::ENABLE_TASKLISTS,
    );
    pulldown_cmark::html::push_html(&mut body, parser);
    let traffic = projection.and_then(|p| p.series.iter().find(|s| s.kind == SeriesKind::Traffic));
    if let Some(at) = body.find("<h2>4.") {
        let mut chart = String::new();
        if let Some(t) = traffic {
            crate::html::figure(
                &mut chart,
                "forecast-fan",
                crate::charts::forecast_fan(t, None, None),
                "The traffic forecast the plan rests on, with its 80% and 95% bands.",
            );
        }
        body.insert_str(at, &chart);
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
         body {{ font-family: sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}\
         table {{ border-collapse: collapse; }} th, td {{ border: 1px solid #ccc; padding: .3rem .6rem; }}\
         code {{ background: #f4f4f4; padding: 0 .2rem; }}</style></head><body>{body}</body></html>\n",
        crate::escape(title)
    )
}

fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The last study's runway as a risk: already short, or when the headroom runs out, with
/// growing data beside traffic alone, or on today's data with why there is no data-aware view.
fn runway_risk(r: &loadcast_capacity::runway::Runway) -> Option<String> {
    if crate::capacity::short_now(r.traffic_only.headroom_now) {
        return Some(format!(
            "The last capacity study found today's traffic already above the capacity (headroom now {:.2}×).",
            r.traffic_only.headroom_now
        ));
    }
    let alone = r.traffic_only.runs_out;
    match (r.data_view().and_then(|v| v.runs_out), &r.not_data_aware) {
        (Some(t), _) => Some(format!(
            "The last capacity study says the headroom runs out on {} with growing data{}.",
            format_date(t),
            alone.map_or(" (traffic alone: not within the horizon)".to_string(), |t| {
                format!(" (traffic alone: {})", format_date(t))
            })
        )),
        (None, Some(why)) => alone.map(|t| {
            format!(
                "The last capacity study says the headroom runs out on {} on today's data, and has no data-aware view ({why}).",
                format_date(t)
            )
        }),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use loadcast_capacity::runway::{Runway, RunwayView};

    use super::*;

    #[test]
    fn the_runway_risk_names_the_view_it_comes_from() {
        let now = 1_796_428_800; // 2026-12-05
        let runway = |data_aware, traffic_only| Runway {
            now,
            horizon: now + 180 * 86_400,
            data_aware,
            traffic_only,
            days_earlier: None,
            not_data_aware: None,
        };
        let growing = runway(
            RunwayView::certain(1.4, Some(now + 40 * 86_400)),
            RunwayView::certain(1.4, None),
        );
        assert_eq!(
            runway_risk(&growing).as_deref(),
            Some(
                "The last capacity study says the headroom runs out on 2027-01-14 with growing data (traffic alone: not within the horizon)."
            )
        );
        let today_only = runway(
            RunwayView::certain(1.4, Some(now + 80 * 86_400)),
            RunwayView::certain(1.4, Some(now + 80 * 86_400)),
        )
        .without_data("one data scale".into());
        let risk = runway_risk(&today_only).unwrap_or_default();
        assert!(
            risk.contains("runs out on 2027-02-23 on today's data")
                && risk.contains("no data-aware view (one data scale)")
                && !risk.contains("growing data"),
            "{risk}"
        );
        let calm = runway(
            RunwayView::certain(2.0, None),
            RunwayView::certain(2.0, None),
        )
        .without_data("x".into());
        assert_eq!(runway_risk(&calm), None);
        let short = runway(
            RunwayView::certain(0.7, Some(now)),
            RunwayView::certain(0.7, Some(now)),
        );
        assert!(
            runway_risk(&short).is_some_and(|r| r.contains("already above the capacity")),
            "{:?}",
            runway_risk(&short)
        );
    }
}
