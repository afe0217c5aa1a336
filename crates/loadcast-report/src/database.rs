//! The database's own view in words: one sentence per finding, the same in the terminal and
//! the HTML report (the findings themselves come from `loadcast_capacity::database`).

use loadcast_capacity::database::{DatabaseFindings, KneeView};
use loadcast_stats::DatabaseView;
use loadcast_stats::database::{StatementTime, short_query};

use crate::si;

/// Characters of a statement shown in a sentence.
const QUERY_WIDTH: usize = 72;

fn quoted(query: &str) -> String {
    format!("`{}`", short_query(query, QUERY_WIDTH))
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

fn bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{:.0} kB", n as f64 / 1e3)
    }
}

fn statement(s: &StatementTime) -> String {
    format!(
        "{} took {} of database time (mean {:.2} ms over {} calls)",
        quoted(&s.query),
        percent(s.share),
        s.mean_ms,
        si(s.calls as f64)
    )
}

fn knee_sentence(k: &KneeView) -> String {
    let mut parts = Vec::new();
    if let Some(top) = &k.top {
        let mut part = format!("the top statement {}", statement(top));
        if let Some(plan) = &k.top_plan {
            part.push_str(&format!(", planned as {}", plan.summary()));
        }
        parts.push(part);
    }
    if let Some(w) = &k.wait {
        parts.push(format!(
            "wait class {} ({} of active sessions; {:.1} active on average)",
            w.class,
            percent(w.share),
            k.active_sessions
        ));
    }
    if let Some(hit) = k.cache_hit_ratio {
        parts.push(format!("cache hit ratio {:.1}%", hit * 100.0));
    }
    if k.temp_bytes > 0 {
        parts.push(format!(
            "{} written to temporary files (sorts or hashes spilling to disk)",
            bytes(k.temp_bytes)
        ));
    }
    if let Some(cores) = k.server_cores {
        parts.push(format!("the server used {cores:.2} cores"));
    }
    let at = if k.broke {
        format!("where it broke ({}/s)", si(k.rate))
    } else {
        format!("at the highest rate it held ({}/s)", si(k.rate))
    };
    let mut sentence = format!("at {}, {at}: ", k.scale);
    if parts.is_empty() {
        sentence.push_str("the database reported nothing");
    } else {
        sentence.push_str(&parts.join("; "));
    }
    sentence
}

/// Every finding of a study as a sentence: each scale's knee, then plan changes and scans.
pub fn findings_sentences(f: &DatabaseFindings) -> Vec<String> {
    let mut out: Vec<String> = f.knees.iter().map(knee_sentence).collect();
    for c in &f.changes {
        let mut s = format!(
            "PLAN CHANGE: from {} to {} the statement {} switched from {} to {}",
            c.from_scale,
            c.to_scale,
            quoted(&c.query),
            c.from,
            c.to
        );
        if !c.new_seq_scans.is_empty() {
            s.push_str(&format!(
                ": it now reads {} by sequential scan, its work growing with the table",
                c.new_seq_scans.join(", ")
            ));
        }
        out.push(s);
    }
    // What could not be measured, once, not at every scale.
    let mut notes: Vec<&String> = Vec::new();
    for note in f.knees.iter().flat_map(|k| &k.notes) {
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    out.extend(notes.into_iter().map(|n| format!("note: {n}")));
    for scan in &f.steady_scans {
        out.push(format!(
            "SEQUENTIAL SCAN: {} reads {} by sequential scan at every scale measured ({}): no index serves it, so its work grows with the data",
            quoted(&scan.query),
            scan.relations.join(", "),
            scan.scales
        ));
    }
    out
}

/// A run's database view in a few lines for the terminal summary.
pub fn run_lines(v: &DatabaseView) -> Vec<String> {
    let mut lines = Vec::new();
    if !v.server.is_empty() {
        lines.push(format!(
            "database: {}, watched for {:.0} s",
            v.server, v.seconds
        ));
    }
    for s in v.statements.iter().take(3) {
        lines.push(format!("  {}", statement(s)));
    }
    if !v.waits.is_empty() {
        let waits: Vec<String> = v
            .waits
            .iter()
            .take(4)
            .map(|w| format!("{} {:.1} ({})", w.class, w.sessions, percent(w.share)))
            .collect();
        lines.push(format!(
            "  active sessions by wait class: {}",
            waits.join(", ")
        ));
    }
    let mut facts = Vec::new();
    if let Some(hit) = v.cache_hit_ratio {
        facts.push(format!("cache hit ratio {:.1}%", hit * 100.0));
    }
    if !v.server.is_empty() {
        // MySQL counts temporary files and disk tables but not their bytes.
        facts.push(if v.temp_bytes > 0 {
            format!("{} temporary files ({})", v.temp_files, bytes(v.temp_bytes))
        } else {
            format!("{} temporary files", v.temp_files)
        });
    }
    if let (Some(cpu), true) = (v.server_cpu_seconds, v.seconds > 0.0) {
        facts.push(format!("server CPU {:.2} cores", cpu / v.seconds));
    }
    if let Some(t) = v.tables.first() {
        let scans = match (t.seq_scans, t.index_scans) {
            (Some(seq), Some(index)) => format!(
                "; {} sequential and {} index scans",
                si(seq as f64),
                si(index as f64)
            ),
            _ => String::new(),
        };
        facts.push(format!(
            "largest table {} ({} rows, {} + {} of indexes{scans})",
            t.name,
            si(t.rows),
            bytes(t.table_bytes),
            bytes(t.index_bytes),
        ));
    }
    if !facts.is_empty() {
        lines.push(format!("  {}", facts.join("; ")));
    }
    for note in &v.notes {
        lines.push(format!("  note: {note}"));
    }
    lines
}
