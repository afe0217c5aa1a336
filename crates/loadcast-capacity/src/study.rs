//! A capacity study as one versioned JSON document: the searches at each data scale, the fits
//! and the runway. Written by `loadcast capacity`, read by reports, `runs`, `plan render` and
//! the demo.

use serde::{Deserialize, Serialize};

use crate::data::{Cliff, DataModel, Prediction};
use crate::runway::Runway;
use crate::search::BreakingPoint;
use crate::usl::UslFit;

pub const STUDY_FORMAT: &str = "loadcast-capacity";
pub const STUDY_VERSION: u32 = 1;

impl loadcast_stats::Document for CapacityStudy {
    const FORMAT: &'static str = STUDY_FORMAT;
    const VERSION: u32 = STUDY_VERSION;
    const WHAT: &'static str = "capacity study";
}

/// One of several searches at a scale, by its bracket: what `compare` and the runway judge the
/// spread between repeated searches by.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchBracket {
    /// The highest rate that held every SLO.
    pub held: f64,
    /// The lowest rate that broke one (none found: `None`).
    pub broke_at: Option<f64>,
    /// A lower bound only: the generator fell behind, or the user stopped the search.
    pub lower_bound: bool,
}

impl SearchBracket {
    pub fn of(point: &BreakingPoint) -> Self {
        Self {
            held: point.capacity(),
            broke_at: point.broke_at,
            lower_bound: point.lower_bound(),
        }
    }
}

/// The breaking point at one data scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScaleResult {
    /// `1x`, `2x`, `horizon`, …
    pub scale: String,
    /// Rows of the table that measures the data volume (none without a database).
    pub volume: Option<f64>,
    /// Size of the database on disk at this scale.
    pub bytes: Option<f64>,
    /// The search whose capacity is the scale's: the median of the complete searches when the
    /// scale was searched more than once (the lower middle one of an even number; a search
    /// whose generator fell behind is a lower bound and counts only when all are, as the
    /// highest of them), else the one.
    pub breaking_point: BreakingPoint,
    /// Every search at this scale, in the order run, when there were several (`--repeat`);
    /// empty for a single search.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub searches: Vec<SearchBracket>,
    /// How the database planned the top statements at this scale.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<loadcast_stats::StatementPlan>,
}

impl ScaleResult {
    /// A scale measured by one search or more (`points` in the order run): the median one
    /// stands for the scale; each one's bracket is kept when there were several. `None`
    /// without a search.
    pub fn of_searches(
        label: &str,
        volume: Option<f64>,
        bytes: Option<f64>,
        mut points: Vec<BreakingPoint>,
    ) -> Option<Self> {
        let searches = if points.len() > 1 {
            points.iter().map(SearchBracket::of).collect()
        } else {
            Vec::new()
        };
        // A search whose generator fell behind (or that was stopped) measured a lower bound
        // of the capacity, not a draw of it: counted in a median, one such search on a busy
        // machine made a scale's capacity 0/s beside a search that held 150/s. The median is
        // of the complete searches; with none, the highest lower bound stands, since each is
        // a rate the target was measured to hold.
        let mut order: Vec<usize> = (0..points.len()).collect();
        order.sort_by(|&a, &b| points[a].capacity().total_cmp(&points[b].capacity()));
        let complete: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| !points[i].lower_bound())
            .collect();
        let stands = match complete.len() {
            0 => *order.last()?,
            n => complete[(n - 1) / 2],
        };
        Some(Self {
            scale: label.to_string(),
            volume,
            bytes,
            breaking_point: points.swap_remove(stands),
            searches,
            plans: Vec::new(),
        })
    }

    /// **The** capacity at this scale: [`BreakingPoint::capacity`] of the search that stands
    /// for it (the median of several).
    pub fn capacity(&self) -> f64 {
        self.breaking_point.capacity()
    }

    /// Where the true limit lies, by every search: from the lowest rate a search held to the
    /// highest at which one broke (one search: its bracket). Repeated searches of one target
    /// land apart by more than one search's bracket (the machine's load, the target's caches);
    /// this is the spread a change must leave to be one. A search that is only a lower bound
    /// (its generator fell behind) says nothing of where the limit is; when all are, the
    /// highest of them, which stands, is all that is known.
    pub fn interval(&self) -> (f64, f64) {
        let searches: Vec<&SearchBracket> = self.complete_searches().collect();
        if searches.is_empty() {
            return self.breaking_point.interval();
        }
        let held = searches.iter().map(|s| s.held).fold(f64::MAX, f64::min);
        let broke = searches
            .iter()
            .map(|s| s.broke_at.unwrap_or(s.held))
            .fold(0.0, f64::max);
        (held, broke)
    }

    /// The searches (of several) whose generator kept up and that ran to their end.
    pub fn complete_searches(&self) -> impl Iterator<Item = &SearchBracket> {
        self.searches.iter().filter(|s| !s.lower_bound)
    }

    /// The search that stands for this scale is a lower bound (the generator fell behind, or
    /// the user stopped it): not a capacity to fit or compare.
    pub fn lower_bound(&self) -> bool {
        self.breaking_point.lower_bound()
    }

    /// The step at the knee: the one that broke at the lowest rate, else the highest that
    /// held — where the database's view says why capacity ends here.
    pub fn knee(&self) -> Option<&crate::search::Step> {
        let bp = &self.breaking_point;
        let valid = || bp.steps.iter().filter(|s| s.valid);
        match bp.broke_at {
            Some(rate) => valid().find(|s| !s.passed && s.rate == rate),
            None => None,
        }
        .or_else(|| {
            valid()
                .filter(|s| s.passed)
                .max_by(|a, b| a.rate.total_cmp(&b.rate))
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityStudy {
    pub format: String,
    pub version: u32,
    pub plan_name: String,
    pub plan_hash: String,
    pub target: String,
    pub started_at: String,
    /// What "held" meant: the plan's thresholds every step was judged against.
    #[serde(default)]
    pub thresholds: Vec<loadcast_stats::slo::Threshold>,
    /// The table whose rows are the data volume.
    pub table: Option<String>,
    #[serde(default)]
    pub scales: Vec<ScaleResult>,
    /// Capacity against data volume (two scales or more).
    pub data_model: Option<DataModel>,
    /// Capacity predicted at the horizon's data volume.
    pub at_horizon: Option<Prediction>,
    pub horizon_volume: Option<f64>,
    /// Limits the extrapolation crosses.
    #[serde(default)]
    pub cliffs: Vec<Cliff>,
    pub usl: Option<UslFit>,
    /// `(concurrency, throughput)` of the sweep.
    #[serde(default)]
    pub sweep: Vec<(f64, f64)>,
    pub runway: Option<Runway>,
    /// Anything the reader must know to trust the figures.
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl CapacityStudy {
    pub fn new(plan_name: &str, plan_hash: &str, target: &str, started_at: &str) -> Self {
        Self {
            format: STUDY_FORMAT.into(),
            version: STUDY_VERSION,
            plan_name: plan_name.into(),
            plan_hash: plan_hash.into(),
            target: target.into(),
            started_at: started_at.into(),
            thresholds: Vec::new(),
            table: None,
            scales: Vec::new(),
            data_model: None,
            at_horizon: None,
            horizon_volume: None,
            cliffs: Vec::new(),
            usl: None,
            sweep: Vec::new(),
            runway: None,
            warnings: Vec::new(),
        }
    }

    /// Today's capacity: the first scale's.
    pub fn today(&self) -> Option<&ScaleResult> {
        self.scales.first()
    }

    /// The scale searched at the horizon's data volume (within 0.5%), when one was.
    pub fn measured_at_horizon(&self) -> Option<&ScaleResult> {
        let horizon = self.horizon_volume?;
        self.scales.iter().find(|s| {
            s.volume
                .is_some_and(|v| (v - horizon).abs() <= 0.005 * horizon.abs())
        })
    }

    /// The capacity at the horizon's data volume: the one a search measured there, else the
    /// fit's prediction. A measured figure stands over the curve through it, so a story
    /// quoting "the capacity at the horizon" names the figure the scale's table shows.
    pub fn capacity_at_horizon(&self) -> Option<f64> {
        self.measured_at_horizon()
            .map(ScaleResult::capacity)
            .or(self.at_horizon.map(|p| p.capacity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A search that held `held` and broke just above it, or (`generator_limited`) one whose
    /// generator fell behind above `held`, with no break found.
    fn search(held: f64, generator_limited: bool) -> BreakingPoint {
        BreakingPoint {
            max_rate: held,
            broke_at: (!generator_limited).then_some(held * 1.06),
            first_broken: (!generator_limited).then(|| "p99".into()),
            generator_limited,
            steps: Vec::new(),
            steps_after_break: 1,
            interrupted: false,
        }
    }

    fn scale(label: &str, volume: f64, held: f64) -> ScaleResult {
        ScaleResult::of_searches(label, Some(volume), None, vec![search(held, false)])
            .unwrap_or_else(|| panic!("one search makes a scale"))
    }

    #[test]
    fn a_search_whose_generator_fell_behind_is_a_lower_bound_not_a_draw_of_the_median() {
        let of = |points: Vec<BreakingPoint>| {
            ScaleResult::of_searches("1x", None, None, points)
                .unwrap_or_else(|| panic!("searches make a scale"))
        };
        // A CI run on a busy machine: one search held 150/s, the other's generator fell
        // behind at its first rate. Counted as a draw, the lower "0/s" stood.
        let busy = of(vec![search(150.0, true), search(0.0, true)]);
        assert_eq!(busy.capacity(), 150.0, "the highest lower bound stands");
        assert!(busy.lower_bound());
        assert_eq!(busy.interval(), (150.0, 150.0));
        // One complete search beside a late one: the complete one stands, and is a capacity.
        let one = of(vec![search(0.0, true), search(120.0, false)]);
        assert_eq!(one.capacity(), 120.0);
        assert!(!one.lower_bound());
        assert_eq!(one.interval(), (120.0, 120.0 * 1.06));
        // Of two complete searches the lower stands; the late one's 500/s is no draw.
        let two = of(vec![
            search(130.0, false),
            search(500.0, true),
            search(100.0, false),
        ]);
        assert_eq!(two.capacity(), 100.0);
        assert_eq!(two.interval(), (100.0, 130.0 * 1.06));
    }

    #[test]
    fn the_capacity_at_the_horizon_is_the_one_measured_there_before_the_fit() {
        let mut study = CapacityStudy::new("p", "h", "http://127.0.0.1:1", "now");
        study.scales = vec![scale("1x", 250_000.0, 153.6), scale("2x", 500_762.0, 78.6)];
        study.horizon_volume = Some(706_037.0);
        study.at_horizon = Some(Prediction {
            capacity: 59.4,
            low: 38.6,
            high: 128.6,
        });
        // Beyond the scales: only the fit knows.
        assert!(study.measured_at_horizon().is_none());
        assert_eq!(study.capacity_at_horizon(), Some(59.4));
        // Searched at the horizon's volume: that search's figure, not the curve through it.
        study.scales.push(scale("horizon", 706_036.8, 60.2));
        assert_eq!(
            study.measured_at_horizon().map(|s| s.scale.as_str()),
            Some("horizon")
        );
        assert_eq!(study.capacity_at_horizon(), Some(60.2));
    }
}
