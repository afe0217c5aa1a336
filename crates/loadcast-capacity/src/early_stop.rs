//! When to end a search step early: once it is clearly broken (two consecutive seconds with
//! half the requests failing, or p99 ten times the SLO), holding it longer only piles a backlog
//! on the target that the next step would pay for.

use std::time::Duration;

/// Watches a step second by second.
#[derive(Clone, Debug, PartialEq)]
pub struct EarlyStop {
    /// The tightest latency limit of the SLO (seconds), if it has one.
    latency_limit: Option<f64>,
    bad_seconds: u32,
}

impl EarlyStop {
    pub fn new(thresholds: &[loadcast_stats::Threshold]) -> Self {
        Self {
            latency_limit: thresholds
                .iter()
                .filter(|t| t.scope.is_none() && t.metric.is_latency())
                .map(|t| t.limit)
                .reduce(f64::min),
            bad_seconds: 0,
        }
    }

    /// One finished second of the step; `true`: stop it now.
    pub fn second(&mut self, elapsed: Duration, second: &loadcast_stats::Second) -> bool {
        let errors = second.error_count() as f64 / second.completed.max(1) as f64;
        let slow = self
            .latency_limit
            .is_some_and(|l| second.latency.quantile(0.99).as_secs_f64() > 10.0 * l);
        // The first seconds of a step are its ramp: never judged.
        if elapsed >= Duration::from_secs(2) && (errors > 0.5 || slow) {
            self.bad_seconds += 1;
        } else {
            self.bad_seconds = 0;
        }
        self.bad_seconds >= 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadcast_stats::{ErrorKind, Metric, Second, Threshold};

    #[test]
    fn two_bad_seconds_in_a_row_stop_a_step_one_does_not() {
        let slo = [Threshold::latency(
            None,
            Metric::Latency { quantile: 0.99 },
            Duration::from_millis(100),
        )];
        let mut watch = EarlyStop::new(&slo);
        let fine = {
            let mut s = Second::new(0);
            s.completed = 100;
            s.latency.record(Duration::from_millis(20));
            s
        };
        let failing = {
            let mut s = Second::new(0);
            s.completed = 100;
            s.errors.insert(ErrorKind::Timeout, 80);
            s
        };
        let at = Duration::from_secs;
        assert!(!watch.second(at(1), &failing), "the ramp is not judged");
        assert!(!watch.second(at(2), &failing));
        assert!(!watch.second(at(3), &fine));
        assert!(!watch.second(at(4), &failing));
        assert!(watch.second(at(5), &failing));
    }
}
