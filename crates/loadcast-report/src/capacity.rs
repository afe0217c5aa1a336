//! A capacity study in the terminal: the curve at each scale, the fits, and the two runways
//! side by side.

use std::fmt::Write as _;

use loadcast_capacity::runway::RunwayView;
use loadcast_capacity::{BreakingPoint, CapacityStudy, ScaleResult, Step};
use loadcast_stats::time::format_date;

use crate::si;

pub(crate) fn when(t: Option<i64>) -> String {
    t.map_or("not within the horizon".into(), format_date)
}

/// Today's traffic is already above the capacity: the runway has no date ahead to give. The
/// forecast's first step would be its "date", and that is the history's next step, which may
/// lie days before today.
pub(crate) fn short_now(headroom_now: f64) -> bool {
    headroom_now < 1.0
}

/// When the headroom runs out, in words: a date, "not within the horizon", or "now" when
/// today's traffic is already above the capacity ([`short_now`]).
pub(crate) fn runs_out_when(headroom_now: f64, runs_out: Option<i64>) -> String {
    if short_now(headroom_now) {
        "now: today's traffic is already above the capacity".into()
    } else {
        when(runs_out)
    }
}

/// The runway's 80% range of dates ("2026-12-27 – beyond the horizon"), or its chance of
/// running out within the horizon; `None` when it runs out now.
pub(crate) fn runs_out_range(v: &RunwayView) -> Option<String> {
    Some(match (v.runs_out_p10, v.runs_out_p90) {
        _ if short_now(v.headroom_now) => return None,
        (Some(a), Some(b)) => format!("80%: {} – {}", format_date(a), format_date(b)),
        (Some(a), None) => format!("80%: {} – beyond the horizon", format_date(a)),
        _ => format!(
            "{:.0}% chance within the horizon",
            v.chance_within_horizon * 100.0
        ),
    })
}

fn view_line(name: &str, v: &RunwayView) -> String {
    let interval = runs_out_range(v).map_or(String::new(), |r| format!(" ({r})"));
    format!(
        "{name:<14} headroom now {:>5.2}×, at the peak {:>5.2}×, at the horizon {:>5.2}×; runs out {}{interval}",
        v.headroom_now,
        v.headroom_at_peak,
        v.headroom_at_horizon,
        runs_out_when(v.headroom_now, v.runs_out),
    )
}

/// **The** capacity figure, written the same way in the terminal, the HTML and the run store:
/// the highest rate measured to hold every SLO, with the bracket the true limit lies in, and
/// the span of the searches when the scale was searched more than once.
pub fn capacity_figure(scale: &ScaleResult) -> String {
    let figure = search_figure(&scale.breaking_point);
    match scale.searches.as_slice() {
        [] | [_] => figure,
        searches => {
            let (low, high) = searches
                .iter()
                .map(|s| s.held)
                .fold((f64::MAX, 0.0_f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
            let held = if si(low) == si(high) {
                format!("each held {}/s", si(low))
            } else {
                format!("they held {}–{}/s", si(low), si(high))
            };
            let n = searches.len();
            // Which search stands, in the words of ScaleResult::of_searches' rule.
            let stands = match scale.complete_searches().count() {
                k if k == n => format!("the median of {n} searches"),
                0 => format!("the highest of {n} searches, each a lower bound"),
                1 => format!("the one of {n} searches whose generator kept up"),
                k => format!("the median of the {k} of {n} searches whose generator kept up"),
            };
            format!("{figure}, {stands} ({held})")
        }
    }
}

/// One search's figure: what it held and where it broke.
fn search_figure(b: &BreakingPoint) -> String {
    let figure = format!("{}/s", si(b.capacity()));
    if b.interrupted {
        return format!("{figure} (held so far; interrupted before a break)");
    }
    match b.broke_at {
        // The lowest rate tried broke already: no figure "held".
        Some(bad) if b.capacity() <= 0.0 => {
            format!(
                "{figure} (nothing held; broke at {}/s, the lowest rate tried)",
                si(bad)
            )
        }
        Some(bad) => format!("{figure} (held; broke at {}/s)", si(bad)),
        // The generator fell behind at the first rate: no step says anything of the target.
        None if b.capacity() <= 0.0 => format!("{figure} (no step measured validly)"),
        None => format!("{figure} (held; no break found)"),
    }
}

/// The run store's one-line headline of a study.
pub fn capacity_headline(s: &CapacityStudy) -> String {
    s.today().map_or("no capacity measured".to_string(), |b| {
        format!("capacity {} at today's data", capacity_figure(b))
    })
}

/// The header of the step table, in the words of an open-model search: arrivals (iterations, a
/// user's journey, started per second) and the requests they made that completed per second.
pub const STEP_HEADER: &str = "   arrivals/s   requests/s       p50       p99  errors  verdict";

/// One search step, as the terminal shows it (live and in the summary).
pub fn step_line(st: &Step) -> String {
    format!(
        "{:>11.1} {:>12.1} {:>7.1}ms {:>7.1}ms {:>6.2}%  {}{}{}",
        st.rate,
        st.throughput,
        st.p50_ms,
        st.p99_ms,
        st.error_rate * 100.0,
        if !st.valid {
            format!(
                "INVALID (generator: {})",
                st.note.as_deref().unwrap_or("it missed its schedule")
            )
        } else if st.passed {
            "pass".to_string()
        } else {
            "FAIL".to_string()
        },
        if st.phase == "geometric" {
            String::new()
        } else {
            format!(" [{}]", st.phase)
        },
        match (st.recovery_seconds, st.unrecovered) {
            (Some(s), false) => format!(" (after {s:.0} s of recovery)"),
            (Some(s), true) => format!(" (NOT recovered after {s:.0} s)"),
            _ => String::new(),
        }
    )
}

/// The study as the terminal shows it.
pub fn capacity_summary(s: &CapacityStudy) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "capacity of {} ({})", s.target, s.plan_name);
    for scale in &s.scales {
        let b = &scale.breaking_point;
        let _ = writeln!(
            out,
            "\n{}{}: capacity {}{}",
            scale.scale,
            scale
                .volume
                .map_or(String::new(), |v| format!(", {} rows", si(v))),
            capacity_figure(scale),
            if b.generator_limited {
                " — GENERATOR-LIMITED: a lower bound, not the target's capacity"
            } else {
                ""
            }
        );
        if let Some(first) = &b.first_broken {
            let _ = writeln!(out, "  what broke at the upper end: {first}");
        }
        if !scale.searches.is_empty() {
            for (i, search) in scale.searches.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "  search {} of {}: held {}/s{}{}",
                    i + 1,
                    scale.searches.len(),
                    si(search.held),
                    search
                        .broke_at
                        .map_or(String::new(), |r| format!(", broke at {}/s", si(r))),
                    if search.lower_bound {
                        " (a lower bound)"
                    } else {
                        ""
                    }
                );
            }
            let _ = writeln!(out, "  the steps of the search that stands:");
        }
        let _ = writeln!(out, "{STEP_HEADER}");
        for st in &b.steps {
            let _ = writeln!(out, "{}", step_line(st));
        }
    }
    let database = crate::database::findings_sentences(&loadcast_capacity::database::findings(s));
    if !database.is_empty() {
        let _ = writeln!(out, "\nthe database, in its own terms:");
        for sentence in &database {
            let _ = writeln!(out, "  {sentence}");
        }
    }
    if let Some(m) = &s.data_model {
        let _ = writeln!(
            out,
            "\ncapacity against data volume: {} (a = {:.4e}, b = {:.4e}), {}{}",
            m.form.formula(),
            m.a,
            m.b,
            m.quality(),
            // Through two points every form fits exactly: naming them says nothing.
            if m.alternatives.is_empty() || m.dof == 0 {
                String::new()
            } else {
                format!(
                    "; {} fit about as well and widen the interval",
                    m.alternatives
                        .iter()
                        .map(|a| a.form.formula())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
        if let (Some(h), Some(p)) = (s.horizon_volume, s.at_horizon) {
            let _ = writeln!(
                out,
                "at the horizon's {} rows: {}{}/s (95%: {} – {})",
                si(h),
                s.measured_at_horizon().map_or(String::new(), |m| format!(
                    "measured {}/s; the fit ",
                    si(m.capacity())
                )),
                si(p.capacity),
                si(p.low),
                if p.high.is_finite() {
                    si(p.high)
                } else {
                    "∞".into()
                }
            );
        }
    }
    if let Some(u) = &s.usl {
        let _ = writeln!(
            out,
            "\nUSL: {}",
            usl_text(u, "POOR FIT, do not trust the peak")
        );
    }
    if let Some(r) = &s.runway {
        out += &runway_lines(r);
    }
    for w in &s.warnings {
        let _ = writeln!(out, "\nWARNING: {w}");
    }
    out
}

/// The two runways side by side, as the study and the watch print them.
pub(crate) fn runway_lines(r: &loadcast_capacity::runway::Runway) -> String {
    let mut out = format!(
        "\nrunway from {} to {}:\n",
        format_date(r.now),
        format_date(r.horizon)
    );
    match r.data_view() {
        Some(v) => {
            let _ = writeln!(out, "  {}", view_line("data-aware", v));
        }
        None => {
            let _ = writeln!(
                out,
                "  no data-aware view: {}",
                r.not_data_aware.as_deref().unwrap_or_default()
            );
        }
    }
    let _ = writeln!(out, "  {}", view_line("traffic-only", &r.traffic_only));
    if let Some(d) = r
        .days_earlier
        .filter(|_| !short_now(r.traffic_only.headroom_now))
    {
        let _ = writeln!(
            out,
            "  the data-aware runway ends {d:.0} days earlier than the traffic-only one"
        );
    }
    out
}

/// The USL fit in one line: parameters with their errors, R², the peak — and `poor_fit` when
/// the fit explains too little to be trusted.
pub(crate) fn usl_text(u: &loadcast_capacity::usl::UslFit, poor_fit: &str) -> String {
    format!(
        "λ {:.1} ± {:.1}/s, σ {:.4} ± {:.4}, κ {:.6} ± {:.6}, R² {:.3}{}; peak {}/s at {} users",
        u.lambda,
        u.lambda_error,
        u.sigma,
        u.sigma_error,
        u.kappa,
        u.kappa_error,
        u.r_squared,
        if u.poor {
            format!(" — {poor_fit}")
        } else {
            String::new()
        },
        si(u.peak_throughput),
        u.peak_concurrency.map_or("∞".into(), |n| format!("{n:.0}"))
    )
}

/// Two capacity studies side by side, as `loadcast compare` prints them.
pub fn study_comparison_text(
    c: &loadcast_capacity::compare::StudyComparison,
    a_name: &str,
    b_name: &str,
) -> String {
    use loadcast_capacity::compare::Verdict;
    let mut out = String::new();
    let _ = writeln!(out, "capacity: {a_name} → {b_name}");
    let _ = writeln!(
        out,
        "{:<10} {:>9} {:>24} {:>24} {:>8}  judged",
        "scale", "rows", "A capacity [limit in]", "B capacity [limit in]", "change"
    );
    let bracket = |capacity: f64, (held, broke): (f64, f64)| {
        format!("{}/s [{}–{}]", si(capacity), si(held), si(broke))
    };
    let rows = |v: Option<f64>| v.map_or("-".to_string(), si);
    for s in &c.scales {
        let verdict = match s.verdict {
            Verdict::Higher => "higher: B held a rate A broke at",
            Verdict::Lower => "LOWER: B broke at a rate A held",
            Verdict::Within => "within the searches' resolution (the brackets overlap)",
            Verdict::Unjudged => "not judged: a search was stopped or generator-limited",
        };
        let _ = writeln!(
            out,
            "{:<10} {:>9} {:>24} {:>24} {:>+7.1}%  {verdict}",
            s.scale,
            // Volumes that round alike read as one, not "250k→250k".
            match (rows(s.volume_a), rows(s.volume_b)) {
                (a, b) if a == b => a,
                (a, b) => format!("{a}→{b}"),
            },
            bracket(s.capacity_a, s.a),
            bracket(s.capacity_b, s.b),
            s.change * 100.0
        );
    }
    if !c.unmatched.is_empty() {
        let _ = writeln!(
            out,
            "measured by one study only: {}",
            c.unmatched.join(", ")
        );
    }
    if c.single_searches {
        let _ = writeln!(
            out,
            "note: a scale searched once has only that search's bracket, and a repeat of it can land tens of percent away on a busy machine; `loadcast capacity --repeat 3` measures that spread, and compare then judges by it"
        );
    }
    if let Some(r) = &c.runway {
        let _ = writeln!(
            out,
            "runway ({}): headroom now {:.2}× → {:.2}×; runs out {} → {}",
            if r.data_aware {
                "data-aware"
            } else {
                "traffic-only: a study's capacity did not follow the data"
            },
            r.headroom_now_a,
            r.headroom_now_b,
            runs_out_when(r.headroom_now_a, r.runs_out_a),
            runs_out_when(r.headroom_now_b, r.runs_out_b),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use loadcast_capacity::runway::Runway;

    use super::*;

    #[test]
    fn a_runway_already_short_says_now_not_the_forecasts_first_date() {
        // The history ended on 2026-12-04: the forecast's first step, where a service already
        // short "runs out", is 2026-12-05, days before the study ran.
        let first_step = 1_796_428_800;
        let mut study = CapacityStudy::new("p", "h", "http://127.0.0.1:1", "now");
        study.runway = Some(Runway {
            now: first_step,
            horizon: first_step + 180 * 86_400,
            data_aware: RunwayView::certain(0.69, Some(first_step)),
            traffic_only: RunwayView::certain(0.69, Some(first_step)),
            days_earlier: Some(0.0),
            not_data_aware: None,
        });
        let text = capacity_summary(&study);
        assert!(
            text.contains("runs out now: today's traffic is already above the capacity")
                && !text.contains("runs out 2026-12-05")
                && !text.contains("days earlier"),
            "{text}"
        );
        // With headroom today, the date stands.
        let ahead = RunwayView::certain(1.3, Some(first_step + 40 * 86_400));
        assert_eq!(
            runs_out_when(ahead.headroom_now, ahead.runs_out),
            "2027-01-14"
        );
    }

    #[test]
    fn a_runway_without_a_data_aware_view_shows_only_the_traffic_only_one() {
        let now = 1_796_428_800;
        let runway = Runway {
            now,
            horizon: now + 180 * 86_400,
            data_aware: RunwayView::certain(1.4, Some(now + 80 * 86_400)),
            traffic_only: RunwayView::certain(1.4, Some(now + 80 * 86_400)),
            days_earlier: Some(0.0),
            not_data_aware: None,
        }
        .without_data("capacity was not fitted against data volume".into());
        let text = runway_lines(&runway);
        assert!(
            text.contains("no data-aware view: capacity was not fitted against data volume")
                && text.contains("traffic-only")
                && !text.contains("data-aware     headroom")
                && !text.contains("days earlier"),
            "{text}"
        );
    }

    #[test]
    fn the_capacity_figure_says_which_search_stands() {
        use loadcast_capacity::search::BreakingPoint;
        let search = |held: f64, late: bool| BreakingPoint {
            max_rate: held,
            broke_at: (!late).then_some(held + 10.0),
            first_broken: None,
            generator_limited: late,
            steps: Vec::new(),
            steps_after_break: 1,
            interrupted: false,
        };
        let figure = |points: Vec<BreakingPoint>| {
            ScaleResult::of_searches("1x", None, None, points)
                .map(|s| capacity_figure(&s))
                .unwrap_or_default()
        };
        assert_eq!(
            figure(vec![search(150.0, true), search(0.0, true)]),
            "150/s (held; no break found), the highest of 2 searches, each a lower bound (they held 0–150/s)"
        );
        assert_eq!(
            figure(vec![search(0.0, true), search(120.0, false)]),
            "120/s (held; broke at 130/s), the one of 2 searches whose generator kept up (they held 0–120/s)"
        );
        assert_eq!(
            figure(vec![search(100.0, false), search(120.0, false)]),
            "100/s (held; broke at 110/s), the median of 2 searches (they held 100–120/s)"
        );
        assert_eq!(
            figure(vec![search(0.0, true)]),
            "0/s (no step measured validly)"
        );
    }

    #[test]
    fn compared_volumes_that_round_alike_read_as_one() {
        use loadcast_capacity::compare::{ScaleChange, StudyComparison, Verdict};
        let scale = |name: &str, a: f64, b: f64| ScaleChange {
            scale: name.into(),
            volume_a: Some(a),
            volume_b: Some(b),
            capacity_a: 100.0,
            capacity_b: 101.0,
            a: (98.0, 104.0),
            b: (99.0, 105.0),
            change: 0.01,
            verdict: Verdict::Within,
        };
        let c = StudyComparison {
            scales: vec![
                scale("today", 250_102.0, 250_311.0),
                scale("horizon", 250_000.0, 706_000.0),
            ],
            unmatched: vec![],
            runway: None,
            differences: vec![],
            single_searches: false,
        };
        let text = study_comparison_text(&c, "1", "2");
        let row = |name: &str| text.lines().find(|l| l.starts_with(name)).unwrap_or("");
        assert!(
            row("today").contains(" 250k ") && !row("today").contains('→'),
            "{text}"
        );
        assert!(row("horizon").contains("250k→706k"), "{text}");
    }
}
