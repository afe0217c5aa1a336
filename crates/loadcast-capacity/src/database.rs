//! Why capacity ends where it does, in the database's own terms: at the knee of each scale's
//! search, the statement that took the most database time, the wait class the active sessions
//! were in and the cache hit ratio; across scales, the statements whose plan changed (an index
//! scan turned into a sequential scan) and those read by a sequential scan at every scale.
//!
//! Computed here once from a study's scales, so the terminal and the HTML report say the same.

use loadcast_stats::database::{StatementPlan, StatementTime, WaitShare};

use crate::study::{CapacityStudy, ScaleResult};

/// The database at the knee of one scale's search.
#[derive(Clone, Debug, PartialEq)]
pub struct KneeView {
    pub scale: String,
    /// The rate of the step the view was taken at.
    pub rate: f64,
    /// That step broke the SLO (else it is the highest rate that held).
    pub broke: bool,
    pub top: Option<StatementTime>,
    /// The top statement's plan at this scale.
    pub top_plan: Option<StatementPlan>,
    pub wait: Option<WaitShare>,
    /// Sessions active on average, all classes.
    pub active_sessions: f64,
    pub cache_hit_ratio: Option<f64>,
    pub temp_bytes: u64,
    /// The server's CPU use in cores, when it runs on this machine.
    pub server_cores: Option<f64>,
    pub notes: Vec<String>,
}

/// A statement planned differently at a larger scale.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanChange {
    pub query: String,
    pub from_scale: String,
    pub to_scale: String,
    pub from: String,
    pub to: String,
    /// Relations the new plan reads by sequential scan that the old one did not.
    pub new_seq_scans: Vec<String>,
}

/// A statement read by sequential scan at every scale measured: its work grows with the data.
#[derive(Clone, Debug, PartialEq)]
pub struct SteadyScan {
    pub query: String,
    pub relations: Vec<String>,
    /// The scales it was explained at.
    pub scales: usize,
}

/// Everything the study can say about the database.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DatabaseFindings {
    pub knees: Vec<KneeView>,
    pub changes: Vec<PlanChange>,
    pub steady_scans: Vec<SteadyScan>,
}

impl DatabaseFindings {
    pub fn is_empty(&self) -> bool {
        self.knees.is_empty() && self.changes.is_empty() && self.steady_scans.is_empty()
    }
}

fn same_query(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

fn plan_of<'a>(scale: &'a ScaleResult, query: &str) -> Option<&'a StatementPlan> {
    scale
        .plans
        .iter()
        .find(|p| p.error.is_none() && same_query(&p.query, query))
}

fn knee_view(scale: &ScaleResult) -> Option<KneeView> {
    let step = scale.knee()?;
    let view = step.database.as_ref()?;
    let top = view.top_statement().cloned();
    let top_plan = top.as_ref().and_then(|t| plan_of(scale, &t.query)).cloned();
    Some(KneeView {
        scale: scale.scale.clone(),
        rate: step.rate,
        broke: !step.passed,
        top,
        top_plan,
        wait: view.dominant_wait().cloned(),
        active_sessions: view.waits.iter().map(|w| w.sessions).sum(),
        cache_hit_ratio: view.cache_hit_ratio,
        temp_bytes: view.temp_bytes,
        server_cores: view
            .server_cpu_seconds
            .filter(|_| view.seconds > 0.0)
            .map(|cpu| cpu / view.seconds),
        notes: view.notes.clone(),
    })
}

/// What the study's database views say, scale by scale and across scales.
pub fn findings(study: &CapacityStudy) -> DatabaseFindings {
    let knees = study.scales.iter().filter_map(knee_view).collect();
    let mut changes = Vec::new();
    for pair in study.scales.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        for new in after.plans.iter().filter(|p| p.error.is_none()) {
            let Some(old) = plan_of(before, &new.query) else {
                continue;
            };
            if old.nodes != new.nodes {
                changes.push(PlanChange {
                    query: new.query.clone(),
                    from_scale: before.scale.clone(),
                    to_scale: after.scale.clone(),
                    from: old.summary(),
                    to: new.summary(),
                    new_seq_scans: new
                        .seq_scans
                        .iter()
                        .filter(|r| !old.seq_scans.contains(r))
                        .cloned()
                        .collect(),
                });
            }
        }
    }
    let mut steady_scans = Vec::new();
    if let Some(first) = study.scales.first() {
        for plan in first.plans.iter().filter(|p| !p.seq_scans.is_empty()) {
            let everywhere: Vec<&StatementPlan> = study
                .scales
                .iter()
                .filter_map(|s| plan_of(s, &plan.query))
                .collect();
            if everywhere.len() == study.scales.len()
                && everywhere.iter().all(|p| p.seq_scans == plan.seq_scans)
            {
                steady_scans.push(SteadyScan {
                    query: plan.query.clone(),
                    relations: plan.seq_scans.clone(),
                    scales: everywhere.len(),
                });
            }
        }
    }
    DatabaseFindings {
        knees,
        changes,
        steady_scans,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{BreakingPoint, Step};
    use loadcast_stats::DatabaseView;

    fn plan(query: &str, nodes: &[&str]) -> StatementPlan {
        StatementPlan {
            query: query.into(),
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            seq_scans: nodes
                .iter()
                .filter_map(|n| n.strip_prefix("Seq Scan on "))
                .map(str::to_string)
                .collect(),
            error: None,
        }
    }

    fn scale(label: &str, plans: Vec<StatementPlan>, broke: f64) -> ScaleResult {
        let view = DatabaseView {
            statements: vec![StatementTime {
                query: "SELECT * FROM orders WHERE customer_id = $1".into(),
                calls: 100,
                total_ms: 710.0,
                mean_ms: 7.1,
                share: 0.71,
                temp_blocks: 0,
            }],
            waits: vec![WaitShare {
                class: "IO".into(),
                sessions: 3.0,
                share: 0.8,
            }],
            seconds: 10.0,
            ..DatabaseView::default()
        };
        let step = |rate: f64, passed: bool| Step {
            database: Some(view.clone()),
            ..Step::measured(rate, 1.0, 2.0, passed)
        };
        let mut bp = BreakingPoint::interrupted(vec![step(broke / 2.0, true), step(broke, false)]);
        bp.broke_at = Some(broke);
        bp.interrupted = false;
        ScaleResult {
            scale: label.into(),
            volume: None,
            bytes: None,
            breaking_point: bp,
            searches: Vec::new(),
            plans,
        }
    }

    #[test]
    fn a_plan_that_turns_into_a_sequential_scan_is_found_and_the_knee_is_the_broken_step() {
        let q = "SELECT * FROM orders WHERE customer_id = $1";
        let mut study = CapacityStudy::new("p", "h", "t", "now");
        study.scales = vec![
            scale(
                "1x",
                vec![plan(q, &["Index Scan using o_c on orders"])],
                400.0,
            ),
            scale("4x", vec![plan(q, &["Seq Scan on orders"])], 100.0),
        ];
        let f = findings(&study);
        assert_eq!(f.knees.len(), 2);
        assert_eq!(f.knees[1].rate, 100.0);
        assert_eq!(f.knees[1].wait.as_ref().unwrap().class, "IO");
        assert_eq!(f.knees[1].top_plan.as_ref().unwrap().seq_scans, ["orders"]);
        assert_eq!(f.changes.len(), 1);
        assert_eq!(f.changes[0].new_seq_scans, ["orders"]);
        assert!(f.steady_scans.is_empty());
    }

    #[test]
    fn a_sequential_scan_at_every_scale_is_a_steady_scan_not_a_change() {
        let q = "SELECT * FROM orders WHERE customer_id = $1";
        let mut study = CapacityStudy::new("p", "h", "t", "now");
        study.scales = vec![
            scale("1x", vec![plan(q, &["Seq Scan on orders"])], 400.0),
            scale("4x", vec![plan(q, &["Seq Scan on orders"])], 100.0),
        ];
        let f = findings(&study);
        assert!(f.changes.is_empty());
        assert_eq!(f.steady_scans.len(), 1);
        assert_eq!(f.steady_scans[0].relations, ["orders"]);
    }
}
