//! loadcast's capacity stage: how much headroom there is now, how it shrinks as data grows, and
//! the date it runs out.
//!
//! * [`search`]: the breaking-point search over a [`Probe`] (open model; geometric steps, a
//!   confirmed break, bisection), with a generator self-check so that a saturated generator is
//!   never reported as the target's capacity.
//! * [`usl`]: the Universal Scalability Law fitted to a concurrency sweep.
//! * [`data`]: capacity as a function of data volume, extrapolated to the horizon, with the
//!   cliffs (cache, memory) an extrapolation cannot see.
//! * [`runway`]: the first date projected peak traffic exceeds capacity(data(t)), with an
//!   interval, beside the traffic-only answer.
//!
//! The crate knows nothing of the engine: the CLI implements [`Probe`] with it.
//!
//! ```
//! use loadcast_capacity::data::{DataPoint, fit};
//! let points: Vec<DataPoint> = [(1e6, 800.0), (2e6, 450.0), (4e6, 240.0)]
//!     .iter().map(|&(volume, capacity)| DataPoint { volume, capacity, bytes: None }).collect();
//! let model = fit(&points).unwrap();
//! assert!(model.predict(8e6).capacity < 240.0);
//! ```

pub mod data;
pub mod runway;
pub mod search;
pub mod study;
pub mod usl;

pub use search::{BreakingPoint, Probe, SearchOptions, search};
pub use study::{CapacityStudy, ScaleResult};
