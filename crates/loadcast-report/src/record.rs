//! What the run store keeps of each document: its kind, names, times, status and the one-line
//! headline `loadcast runs` lists. One place, so that a run's verdict in `runs` is the verdict
//! its report shows.

use loadcast_capacity::CapacityStudy;
use loadcast_forecast::Projection;
use loadcast_stats::time::{format_time, now};
use loadcast_stats::{Document, DocumentError, RunResult, RunStatus};
use loadcast_store::{Kind, NewRecord, Record};

use crate::Input;

/// A run result's record.
pub fn run_record(result: &RunResult) -> NewRecord {
    NewRecord {
        kind: Kind::Run,
        plan_name: result.meta.plan_name.clone(),
        plan_hash: result.meta.plan_hash.clone(),
        started_at: result.meta.started_at.clone(),
        ended_at: format_time(now()),
        status: status(result.meta.status == RunStatus::Interrupted),
        headline: crate::run_headline(result),
        body: result.to_json(),
    }
}

/// A capacity study's record; `interrupted` when it ended before its last scale.
pub fn study_record(study: &CapacityStudy, interrupted: bool) -> NewRecord {
    NewRecord {
        kind: Kind::Capacity,
        plan_name: study.plan_name.clone(),
        plan_hash: study.plan_hash.clone(),
        started_at: study.started_at.clone(),
        ended_at: format_time(now()),
        status: status(interrupted),
        headline: crate::capacity_headline(study),
        body: study.to_json(),
    }
}

/// A projection's record, listed under `source` (the plan's name, or the history it read).
pub fn forecast_record(projection: &Projection, source: &str) -> NewRecord {
    let at = format_time(now());
    NewRecord {
        kind: Kind::Forecast,
        plan_name: source.to_string(),
        plan_hash: String::new(),
        started_at: at.clone(),
        ended_at: at,
        status: status(false),
        headline: projection.growth_summary(),
        body: projection.to_json(),
    }
}

/// A watch cycle's record.
pub fn watch_record(cycle: &loadcast_capacity::watch::WatchCycle) -> NewRecord {
    NewRecord {
        kind: Kind::Watch,
        plan_name: cycle.plan_name.clone(),
        plan_hash: cycle.plan_hash.clone(),
        started_at: cycle.at.clone(),
        ended_at: format_time(now()),
        status: status(false),
        headline: crate::watch_headline(cycle),
        body: cycle.to_json(),
    }
}

fn status(interrupted: bool) -> String {
    if interrupted {
        "interrupted"
    } else {
        "complete"
    }
    .to_string()
}

/// `loadcast runs`: one line per record, newest first.
pub fn runs_table(records: &[Record]) -> String {
    let mut out = format!(
        "{:>5}  {:<9} {:<21} {:<24} {:<12} headline\n",
        "id", "kind", "started", "plan", "status"
    );
    for r in records {
        out += &format!(
            "{:>5}  {:<9} {:<21} {:<24} {:<12} {}\n",
            format!("#{}", r.id),
            r.kind.name(),
            r.started_at,
            r.plan_name,
            r.status,
            r.headline
        );
    }
    out
}

/// `loadcast runs ID`: the record's provenance, then the summary of what it holds.
pub fn record_detail(r: &Record) -> Result<String, DocumentError> {
    let summary = match Input::parse(&r.body, &format!("run #{}", r.id))? {
        Input::Run(run) => crate::terminal_summary(&run),
        Input::Capacity(s) => crate::capacity_summary(&s),
        Input::Forecast(p) => crate::forecast_summary(&p),
        Input::Watch(c) => crate::watch_summary(&c),
    };
    Ok(format!(
        "#{} {} of {} (plan hash {})\nstarted {}, ended {}, {}\nloadcast {} on {}\n{}\n\n{summary}",
        r.id,
        r.kind,
        r.plan_name,
        &r.plan_hash[..r.plan_hash.len().min(12)],
        r.started_at,
        r.ended_at,
        r.status,
        r.loadcast_version,
        r.machine,
        r.headline
    ))
}
