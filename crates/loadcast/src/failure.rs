//! The one place library errors become exit codes: each error type maps once, here.

use loadcast_capacity::{CapacityError, GrowerError, ProbeError};
use loadcast_datagen::GrowError;
use loadcast_engine::EngineError;
use loadcast_forecast::ForecastError;
use loadcast_plan::PlanError;
use loadcast_stats::DocumentError;
use loadcast_store::StoreError;

/// Documented exit codes (see `loadcast --help`).
pub mod exit {
    pub const PASSED: u8 = 0;
    pub const FAILED_TO_RUN: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const THRESHOLD_FAILED: u8 = 3;
    pub const INTERRUPTED: u8 = 130;
}

/// An error for the user, with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    /// Bad input: a flag, a plan, a file that is not what it should be (exit 2).
    pub fn usage(message: impl ToString) -> Self {
        Self {
            code: exit::USAGE,
            message: message.to_string(),
        }
    }

    /// The work could not be done: the target, the database, the disk (exit 1).
    pub fn run(message: impl ToString) -> Self {
        Self {
            code: exit::FAILED_TO_RUN,
            message: message.to_string(),
        }
    }

    pub fn interrupted(message: impl ToString) -> Self {
        Self {
            code: exit::INTERRUPTED,
            message: message.to_string(),
        }
    }
}

impl From<PlanError> for Failure {
    fn from(e: PlanError) -> Self {
        Failure::usage(e)
    }
}

impl From<loadcast_plan::resolve::GoalError> for Failure {
    fn from(e: loadcast_plan::resolve::GoalError) -> Self {
        Failure::usage(e)
    }
}

impl From<ForecastError> for Failure {
    fn from(e: ForecastError) -> Self {
        match e {
            // Prometheus not answering is the service's trouble, not the user's input.
            ForecastError::Prometheus { .. } => Failure::run(e),
            _ => Failure::usage(e),
        }
    }
}

impl From<DocumentError> for Failure {
    fn from(e: DocumentError) -> Self {
        match e {
            // The work was done and its document could not be written where asked.
            DocumentError::Rescued { .. } | DocumentError::Lost { .. } => Failure::run(e),
            _ => Failure::usage(e),
        }
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::InvalidRequest { .. } => Failure::usage(e),
            _ => Failure::run(e),
        }
    }
}

impl From<GrowError> for Failure {
    fn from(e: GrowError) -> Self {
        match e {
            GrowError::Refused { .. } | GrowError::Plan(_) => Failure::usage(e),
            GrowError::Interrupted(_) => Failure::interrupted(e),
            _ => Failure::run(e),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::run(e)
    }
}

impl From<CapacityError> for Failure {
    fn from(e: CapacityError) -> Self {
        match &e {
            CapacityError::NoSlo
            | CapacityError::BadSearch { .. }
            | CapacityError::NoDatabase
            | CapacityError::NoHorizonVolume { .. } => Failure::usage(e),
            CapacityError::Probe(ProbeError::Interrupted)
            | CapacityError::Grow {
                source: GrowerError::Interrupted,
                ..
            } => Failure::interrupted(e),
            CapacityError::Grow {
                source: GrowerError::Refused(_),
                ..
            } => Failure::usage(e),
            CapacityError::Probe(ProbeError::Unsupported(_)) => Failure::usage(e),
            CapacityError::Probe(ProbeError::Failed(_))
            | CapacityError::Grow { .. }
            | CapacityError::ScaleNotReached { .. }
            | CapacityError::Fit(_) => Failure::run(e),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::run(e)
    }
}
