//! loadcast's capacity stage: how much headroom there is now, how it shrinks as data grows, and
//! the date it runs out.
//!
//! * [`search`]: the breaking-point search over a [`Probe`] (open model; geometric steps, a
//!   confirmed break, bisection), with a generator self-check so that a saturated generator is
//!   never reported as the target's capacity.
//! * [`usl`]: the Universal Scalability Law fitted to a concurrency sweep.
//! * [`data`]: capacity as a function of data volume, extrapolated to the horizon, with the
//!   cliffs (cache, memory) an extrapolation cannot see.
//! * [`database`]: why capacity ends where it does, in the database's terms: the top
//!   statement, the wait class and the cache at each knee; plan changes across scales.
//! * [`runway`]: the first date projected peak traffic exceeds capacity(data(t)), with an
//!   interval, beside the traffic-only answer.
//!
//! * [`runner`]: the whole study as one call, [`run_study`], over a [`StudySpec`] and two
//!   traits: [`Probe`] (run load at a rate) and [`Grower`] (bring the data to a volume).
//! * [`early_stop`]: when a step is so clearly broken that holding it longer only hurts.
//! * [`watch`]: `loadcast watch`'s judgement each cycle: production against the latest study.
//! * [`compare`]: two studies side by side, each scale's capacity judged by the searches'
//!   brackets.
//!
//! The crate knows nothing of the engine or the database: the CLI implements [`Probe`] and
//! [`Grower`] with them; the crate's own tests with synthetic targets.
//!
//! ```
//! use loadcast_capacity::data::{DataPoint, fit};
//! let points: Vec<DataPoint> = [(1e6, 800.0), (2e6, 450.0), (4e6, 240.0)]
//!     .iter().map(|&(volume, capacity)| DataPoint::new(volume, capacity)).collect();
//! let model = fit(&points).unwrap();
//! assert!(model.predict(8e6).capacity < 240.0);
//! ```

pub mod compare;
pub mod data;
pub mod database;
pub mod early_stop;
mod error;
pub mod runner;
pub mod runway;
pub mod search;
pub mod study;
pub mod usl;
pub mod watch;

pub use early_stop::EarlyStop;
pub use error::{CapacityError, GrowerError, ProbeError};
pub use runner::{
    Grower, RunwayInput, ScaleTarget, StudyEvent, StudyObserver, StudySpec, Volume, run_study,
};
pub use search::{BreakingPoint, Probe, SearchOptions, Step, search};
pub use study::{CapacityStudy, ScaleResult};
