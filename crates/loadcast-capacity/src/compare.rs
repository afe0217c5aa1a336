//! Two capacity studies side by side (`loadcast compare` on two study ids): the capacity at each
//! data scale both measured, judged by the searches' own resolution, and the runway's date and
//! headroom moving with it.
//!
//! A search brackets the limit between the highest rate that held and the lowest that broke; a
//! capacity only moved when the brackets do not overlap (B held a rate A broke at, or broke at a
//! rate A held). Anything inside the brackets is the search's resolution, not the service's
//! change, however large the two figures' ratio looks. A scale searched several times
//! (`--repeat`) is judged by the span of all its searches: every one of B's held a rate every
//! one of A's broke at, or the reverse.

use serde::Serialize;

use crate::study::{CapacityStudy, ScaleResult};

/// How one scale's capacity moved from A to B.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// B held a rate A broke at.
    Higher,
    /// B broke at a rate A held.
    Lower,
    /// The brackets overlap: within the searches' resolution.
    Within,
    /// A search was stopped or generator-limited: its figure is a lower bound, nothing to judge.
    Unjudged,
}

/// One data scale measured by both studies.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScaleChange {
    pub scale: String,
    pub volume_a: Option<f64>,
    pub volume_b: Option<f64>,
    /// Each study's capacity at this scale ([`ScaleResult::capacity`]).
    pub capacity_a: f64,
    pub capacity_b: f64,
    /// `[held, broke]` of each study's searches at this scale (`broke` = `held` when no break
    /// was found; several searches: the lowest held and the highest broke).
    pub a: (f64, f64),
    pub b: (f64, f64),
    /// `capacity_b / capacity_a − 1`.
    pub change: f64,
    pub verdict: Verdict,
}

impl ScaleChange {
    /// Lower beyond the searches' resolution, and by more than `limit` (a fraction).
    pub fn regressed(&self, limit: f64) -> bool {
        self.verdict == Verdict::Lower && -self.change > limit
    }
}

/// The runway's date and headroom now, in each study: the data-aware view's when both
/// studies' capacity followed the data, else the traffic-only view's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunwayChange {
    pub data_aware: bool,
    pub runs_out_a: Option<i64>,
    pub runs_out_b: Option<i64>,
    pub headroom_now_a: f64,
    pub headroom_now_b: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StudyComparison {
    pub scales: Vec<ScaleChange>,
    /// Scales only one study measured.
    pub unmatched: Vec<String>,
    /// Both studies drew a runway.
    pub runway: Option<RunwayChange>,
    /// What differs between the studies beside the service (plan, target, the horizon's
    /// volume): their changes may be that, not the service's.
    pub differences: Vec<String>,
    /// A scale compared was searched once in either study: its bracket is one search's
    /// resolution, and how far a repeat of it lands (the run-to-run spread) is unknown.
    pub single_searches: bool,
}

impl StudyComparison {
    /// Every scale whose capacity fell by more than `limit` beyond the searches' resolution, in
    /// words: `horizon 706k rows: capacity -35.2%`.
    pub fn regressions(&self, limit: f64) -> Vec<String> {
        self.scales
            .iter()
            .filter(|s| s.regressed(limit))
            .map(|s| format!("{}: capacity {:+.1}%", s.scale, s.change * 100.0))
            .collect()
    }
}

fn judge(a: &ScaleResult, b: &ScaleResult) -> Verdict {
    if a.lower_bound() || b.lower_bound() {
        return Verdict::Unjudged;
    }
    let ((held_a, broke_a), (held_b, broke_b)) = (a.interval(), b.interval());
    let broke = |s: &ScaleResult| s.breaking_point.broke_at.is_some();
    if broke(a) && held_b >= broke_a {
        Verdict::Higher
    } else if broke(b) && broke_b <= held_a {
        Verdict::Lower
    } else {
        Verdict::Within
    }
}

/// Compares study `b` with the baseline `a`, scale by scale (matched by name: `1x`, `horizon`).
pub fn compare(a: &CapacityStudy, b: &CapacityStudy) -> StudyComparison {
    let mut scales = Vec::new();
    let mut unmatched = Vec::new();
    let mut differences = Vec::new();
    let mut single_searches = false;
    if a.plan_hash != b.plan_hash {
        let short = |h: &str| h.get(..12).unwrap_or(h).to_string();
        differences.push(format!(
            "plan {} vs {}",
            short(&a.plan_hash),
            short(&b.plan_hash)
        ));
    }
    if a.target != b.target {
        differences.push(format!("target {} vs {}", a.target, b.target));
    }
    for sa in &a.scales {
        let Some(sb) = b.scales.iter().find(|s| s.scale == sa.scale) else {
            unmatched.push(sa.scale.clone());
            continue;
        };
        if let (Some(va), Some(vb)) = (sa.volume, sb.volume) {
            if (vb / va - 1.0).abs() > 0.01 {
                differences.push(format!(
                    "the {} scale's table held {va:.0} rows vs {vb:.0}",
                    sa.scale
                ));
            }
        }
        single_searches |= sa.searches.is_empty() || sb.searches.is_empty();
        scales.push(ScaleChange {
            scale: sa.scale.clone(),
            volume_a: sa.volume,
            volume_b: sb.volume,
            capacity_a: sa.capacity(),
            capacity_b: sb.capacity(),
            a: sa.interval(),
            b: sb.interval(),
            change: if sa.capacity() > 0.0 {
                sb.capacity() / sa.capacity() - 1.0
            } else {
                f64::NAN
            },
            verdict: judge(sa, sb),
        });
    }
    unmatched.extend(
        b.scales
            .iter()
            .filter(|s| !a.scales.iter().any(|x| x.scale == s.scale))
            .map(|s| s.scale.clone()),
    );
    // Data-aware when both studies' capacity followed the data; else what both measured
    // alike, the traffic-only view.
    let runway = match (&a.runway, &b.runway) {
        (Some(ra), Some(rb)) => {
            let (data_aware, (va, vb)) = match (ra.data_view(), rb.data_view()) {
                (Some(va), Some(vb)) => (true, (va, vb)),
                _ => (false, (&ra.traffic_only, &rb.traffic_only)),
            };
            Some(RunwayChange {
                data_aware,
                runs_out_a: va.runs_out,
                runs_out_b: vb.runs_out,
                headroom_now_a: va.headroom_now,
                headroom_now_b: vb.headroom_now,
            })
        }
        _ => None,
    };
    StudyComparison {
        scales,
        unmatched,
        runway,
        differences,
        single_searches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::BreakingPoint;
    use crate::study::ScaleResult;

    fn point(held: f64, broke: Option<f64>) -> BreakingPoint {
        BreakingPoint {
            max_rate: held,
            broke_at: broke,
            first_broken: None,
            generator_limited: false,
            steps: Vec::new(),
            steps_after_break: 0,
            interrupted: false,
        }
    }

    fn study(scales: &[(&str, f64, BreakingPoint)]) -> CapacityStudy {
        let mut s = CapacityStudy::new("p", "h", "http://127.0.0.1:1", "now");
        s.scales = scales
            .iter()
            .map(|(name, volume, bp)| ScaleResult {
                scale: (*name).into(),
                volume: Some(*volume),
                bytes: None,
                breaking_point: bp.clone(),
                searches: Vec::new(),
                plans: Vec::new(),
            })
            .collect();
        s
    }

    #[test]
    fn a_capacity_moved_only_when_the_brackets_do_not_overlap() {
        let a = study(&[
            ("1x", 1e5, point(200.0, Some(230.0))),
            ("horizon", 3e5, point(80.0, Some(90.0))),
            ("2x", 2e5, point(120.0, Some(140.0))),
        ]);
        let b = study(&[
            // Held a rate A broke at: higher.
            ("1x", 1e5, point(230.0, Some(260.0))),
            // Broke at a rate A held, 20% down.
            ("horizon", 3e5, point(64.0, Some(80.0))),
            // 10% apart, brackets overlapping: the search's resolution.
            ("2x", 2e5, point(132.0, Some(150.0))),
        ]);
        let c = compare(&a, &b);
        let verdicts: Vec<(&str, Verdict)> = c
            .scales
            .iter()
            .map(|s| (s.scale.as_str(), s.verdict))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("1x", Verdict::Higher),
                ("horizon", Verdict::Lower),
                ("2x", Verdict::Within)
            ]
        );
        assert_eq!(c.regressions(0.10), ["horizon: capacity -20.0%"]);
        assert!(c.regressions(0.25).is_empty());
        assert!(c.differences.is_empty(), "{:?}", c.differences);
        assert!(
            c.single_searches,
            "one search per scale: the spread is unknown"
        );
    }

    #[test]
    fn a_stopped_search_or_another_horizon_is_not_read_as_the_services_change() {
        let mut stopped = point(50.0, None);
        stopped.interrupted = true;
        let a = study(&[
            ("1x", 1e5, point(200.0, Some(230.0))),
            ("horizon", 3e5, point(80.0, Some(90.0))),
        ]);
        let b = study(&[
            ("1x", 1e5, stopped),
            ("horizon", 6e5, point(40.0, Some(45.0))),
        ]);
        let c = compare(&a, &b);
        assert_eq!(c.scales[0].verdict, Verdict::Unjudged);
        assert!(
            c.regressions(0.10)
                .contains(&"horizon: capacity -50.0%".to_string())
        );
        assert_eq!(
            c.differences,
            ["the horizon scale's table held 300000 rows vs 600000"]
        );
    }
}
