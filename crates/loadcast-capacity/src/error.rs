//! What can go wrong in a capacity study, as types the binary maps to exit codes once.

/// A [`Probe`](crate::Probe) could not measure.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The user asked to stop (Ctrl-C): what was measured before stands.
    #[error("interrupted")]
    Interrupted,
    /// This probe cannot do what the study asked.
    #[error("this probe cannot run {0}")]
    Unsupported(&'static str),
    /// The load could not be run at all (the target cannot be reached, a request cannot be
    /// built); failures *during* a run are measurements, not errors.
    #[error("{0}")]
    Failed(Box<dyn std::error::Error + Send + Sync>),
}

/// A [`Grower`](crate::Grower) could not bring the data to a volume.
#[derive(Debug, thiserror::Error)]
pub enum GrowerError {
    #[error("interrupted")]
    Interrupted,
    /// The database refused (no test marker, a plan that does not fit the schema): the user's
    /// to fix.
    #[error("{0}")]
    Refused(Box<dyn std::error::Error + Send + Sync>),
    #[error("{0}")]
    Failed(Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    #[error("a capacity search needs an SLO: add [slo] p99 = \"…\" and/or errors = \"…\"")]
    NoSlo,
    #[error(
        "the search needs a start rate above 0 and a factor above 1 (from {from}/s, factor {factor})"
    )]
    BadSearch { from: f64, factor: f64 },
    #[error(
        "data scales need a database with the tables to grow ([database] in the plan); to measure today's data alone, --scales 1x"
    )]
    NoDatabase,
    #[error(
        "the {label} scale is the horizon's volume, which needs a projection with the data series of {table:?} (--projection, or [history] in the plan)"
    )]
    NoHorizonVolume { label: String, table: String },
    #[error("{0}")]
    Probe(#[from] ProbeError),
    #[error("growing the data to {label}: {source}")]
    Grow {
        label: String,
        #[source]
        source: GrowerError,
    },
    /// The data did not reach the volume a scale names: measuring it anyway would label today's
    /// capacity as tomorrow's (the post-mortem's false comfort).
    #[error(
        "the {label} scale was not reached: {table} has {reached:.0} rows, {target:.0} wanted; a scale the data did not reach is never measured under its name"
    )]
    ScaleNotReached {
        label: String,
        table: String,
        target: f64,
        reached: f64,
    },
    #[error("capacity against data volume: {0}")]
    Fit(String),
}

impl CapacityError {
    /// The user stopped the study.
    pub fn is_interrupted(&self) -> bool {
        matches!(
            self,
            CapacityError::Probe(ProbeError::Interrupted)
                | CapacityError::Grow {
                    source: GrowerError::Interrupted,
                    ..
                }
        )
    }
}
