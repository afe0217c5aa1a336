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

/// The breaking point at one data scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScaleResult {
    /// `1x`, `2x`, `horizon`, …
    pub scale: String,
    /// Rows of the table that measures the data volume (none without a database).
    pub volume: Option<f64>,
    /// Size of the database on disk at this scale.
    pub bytes: Option<f64>,
    pub breaking_point: BreakingPoint,
    /// How the database planned the top statements at this scale.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<loadcast_stats::StatementPlan>,
}

impl ScaleResult {
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
    pub fn today(&self) -> Option<&BreakingPoint> {
        self.scales.first().map(|s| &s.breaking_point)
    }
}
