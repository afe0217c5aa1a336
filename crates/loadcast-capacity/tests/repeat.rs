//! A scale searched several times (`--repeat`): the median search stands for it, every search's
//! bracket is kept, `compare` judges by their span, and a study stopped between searches keeps
//! the searches that ended.

mod support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use loadcast_capacity::compare::Verdict;
use loadcast_capacity::{CapacityStudy, run_study};
use loadcast_stats::Cancel;
use support::{ScanTarget, spec};

/// The target's capacity moved by a factor at each search (the machine's load, the target's
/// caches): each warm-up at the search's first rate starts the next search.
struct NoisyBySearch<'a> {
    target: &'a mut ScanTarget,
    noise: Rc<Cell<f64>>,
    by_search: &'a [f64],
    warmup: Duration,
    searches: usize,
    /// The user presses Ctrl-C at this search's warm-up.
    stop_at: Option<(usize, Cancel)>,
}

impl loadcast_capacity::Probe for NoisyBySearch<'_> {
    fn measure(
        &mut self,
        rate: f64,
        hold: Duration,
    ) -> Result<loadcast_stats::RunResult, loadcast_capacity::ProbeError> {
        if hold == self.warmup {
            self.noise
                .set(self.by_search[self.searches % self.by_search.len()]);
            self.searches += 1;
            if let Some((at, cancel)) = &self.stop_at {
                if *at == self.searches {
                    cancel.cancel();
                }
            }
        }
        self.target.measure(rate, hold)
    }
}

/// A scale searched three times stands for its median search, keeps every search's bracket,
/// and is compared by their span: a study inside it is within, one below it is lower, though
/// each is tens of percent from the other's median.
#[test]
fn repeated_searches_stand_by_their_median_and_compare_by_their_span() {
    let study = |by_search: &[f64]| -> CapacityStudy {
        let mut target = ScanTarget::new(4.0, 0.004, 0.0, Rc::new(Cell::new(10_000.0)));
        let noise = target.noise.clone();
        let mut spec = spec(Vec::new(), None);
        spec.repeat = by_search.len();
        let mut probe = NoisyBySearch {
            target: &mut target,
            noise,
            by_search,
            warmup: spec.search.warmup,
            searches: 0,
            stop_at: None,
        };
        run_study(&spec, &mut probe, None, &mut (), &Cancel::new())
            .unwrap_or_else(|e| panic!("{by_search:?}: {e}"))
    };
    // ρ ≤ 0.954 of 1000/s holds the 100 ms p99 (see the factor test).
    let truth = 1000.0 * 96.0 / (96.0 + 4.6);
    let a = study(&[0.8, 1.0, 1.25]);
    let scale = &a.scales[0];
    let held: Vec<f64> = scale.searches.iter().map(|s| s.held).collect();
    eprintln!(
        "searches held {held:?}; capacity {:.1}/s, span {:?}",
        scale.capacity(),
        scale.interval()
    );
    assert_eq!(held.len(), 3, "{:?}", scale.searches);
    assert!(
        (held[0] / (0.8 * truth) - 1.0).abs() < 0.05
            && (held[2] / (1.25 * truth) - 1.0).abs() < 0.05,
        "each search finds its own capacity: {held:?}, truth {truth:.1}/s × 0.8, 1, 1.25"
    );
    assert_eq!(scale.capacity(), held[1], "the median search stands");
    assert!(scale.breaking_point.steps.iter().all(|s| !s.unrecovered));
    let (low, high) = scale.interval();
    assert!(low == held[0] && high > held[2], "span {low}..{high}");
    let json = serde_json::to_value(&a).unwrap_or_default();
    assert_eq!(
        json["scales"][0]["searches"].as_array().map(Vec::len),
        Some(3)
    );
    // Two of the same spread, in another order: the medians differ by a few percent at most,
    // the spans overlap.
    let again = study(&[1.2, 0.85, 1.0]);
    let same = loadcast_capacity::compare::compare(&a, &again);
    assert_eq!(same.scales[0].verdict, Verdict::Within, "{:?}", same.scales);
    assert!(!same.single_searches, "both measured their spread");
    // Every search of B below A's lowest: lower, whatever one search of A said.
    let slower = study(&[0.5, 0.55, 0.6]);
    let worse = loadcast_capacity::compare::compare(&a, &slower);
    assert_eq!(
        worse.scales[0].verdict,
        Verdict::Lower,
        "{:?}",
        worse.scales
    );
    // The change is the medians': 0.55 / 1.0.
    assert!(
        (worse.scales[0].change + 0.45).abs() < 0.05,
        "{:?}",
        worse.scales
    );
}

/// Ctrl-C during the second of three searches: the first stands alone and the study says so;
/// nothing of the cut search is kept.
#[test]
fn a_study_stopped_between_searches_keeps_the_searches_that_ended() {
    let mut target = ScanTarget::new(4.0, 0.004, 0.0, Rc::new(Cell::new(10_000.0)));
    let noise = target.noise.clone();
    let mut spec = spec(Vec::new(), None);
    spec.repeat = 3;
    let cancel = Cancel::new();
    let mut probe = NoisyBySearch {
        target: &mut target,
        noise,
        by_search: &[0.8, 1.0, 1.25],
        warmup: spec.search.warmup,
        searches: 0,
        stop_at: Some((2, cancel.clone())),
    };
    let study = run_study(&spec, &mut probe, None, &mut (), &cancel)
        .unwrap_or_else(|e| panic!("a stopped study is saved, not an error: {e}"));
    let scale = &study.scales[0];
    let truth = 0.8 * 1000.0 * 96.0 / (96.0 + 4.6);
    assert!(
        scale.searches.is_empty() && (scale.capacity() / truth - 1.0).abs() < 0.05,
        "the first search alone: {:.1}/s (truth {truth:.1}/s), {:?}",
        scale.capacity(),
        scale.searches
    );
    assert!(
        !scale.breaking_point.interrupted,
        "{:?}",
        scale.breaking_point
    );
    assert!(
        study
            .warnings
            .iter()
            .any(|w| w.contains("search 2 of 3") && w.contains("the one search that ended")),
        "{:?}",
        study.warnings
    );
}
