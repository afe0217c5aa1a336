//! The measurement vocabulary shared by every loadcast stage.
//!
//! * [`LatencyHistogram`]: HDR histograms in microseconds (1 µs – 1 h, 3 significant digits)
//!   that merge exactly and serialize losslessly (HDR V2, deflated, base64).
//! * [`ErrorKind`]: the error taxonomy; a failed request is counted, never raised.
//! * [`RunResult`]: per-request statistics, the per-second timeline and the generator's own
//!   health, in a versioned JSON file that `loadcast report` re-renders and shards merge into.
//! * [`Threshold`]: SLO thresholds and their evaluation.
//! * [`DatabaseView`]: what the database server itself reported while the load ran.
//!
//! ```
//! use std::time::Duration;
//! use loadcast_stats::{LatencyHistogram, RequestStats};
//!
//! let mut a = RequestStats::new("GET /");
//! a.count = 1;
//! a.latency.record(Duration::from_millis(12));
//! let mut b = RequestStats::new("GET /");
//! b.count = 1;
//! b.latency.record(Duration::from_millis(30));
//! a.merge(&b);
//! assert_eq!(a.latency.count(), 2);
//! assert!(a.latency.quantile(1.0) >= Duration::from_millis(29));
//! ```

mod cancel;
pub mod database;
pub mod document;
mod error_kind;
pub mod figure;
mod histogram;
mod result;
pub mod shard;
pub mod slo;
pub mod time;

use std::time::Duration;

pub use cancel::{Cancel, HookGuard};
pub use database::{DatabaseView, StatementPlan};
pub use document::{Document, DocumentError};
pub use error_kind::{ErrorKind, SqlError, UnknownErrorKind};
pub use histogram::{HistogramDecodeError, LatencyHistogram, MAX_TRACKABLE_MICROS};
pub use result::{
    GeneratorStats, NotAShard, RESULT_FORMAT, RESULT_VERSION, RequestStats, RunMeta, RunResult,
    RunStatus, Second,
};
pub use slo::{Metric, Threshold, ThresholdOutcome};

/// Formats a latency for people: `850µs`, `12.3ms`, `1.25s`.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0}µs")
    } else if us < 1e6 {
        let ms = us / 1000.0;
        if ms < 10.0 {
            format!("{ms:.2}ms")
        } else if ms < 100.0 {
            format!("{ms:.1}ms")
        } else {
            format!("{ms:.0}ms")
        }
    } else {
        format!("{:.2}s", us / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_micros(850)), "850µs");
        assert_eq!(format_duration(Duration::from_micros(12_340)), "12.3ms");
        assert_eq!(format_duration(Duration::from_micros(1_250_000)), "1.25s");
    }
}
