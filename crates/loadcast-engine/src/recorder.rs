//! A worker's own measurements. Each worker thread records without locks into its own
//! histograms; the run merges them at the end (whole-run) and every second (timeline).

use std::time::{Duration, Instant};

use loadcast_stats::{ErrorKind, GeneratorStats, RequestStats, Second};

/// What happened to one request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    /// When the request should have gone out (open model: the arrival's schedule time).
    pub intended: Instant,
    pub sent: Instant,
    pub ended: Instant,
    pub bytes_sent: u64,
    pub result: Result<ResponseSummary, ErrorKind>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct ResponseSummary {
    pub status: u16,
    pub bytes_received: u64,
    /// The status (or a check) made this response count as an error.
    pub error: Option<ErrorKind>,
}

#[derive(Debug)]
pub(crate) struct Recorder {
    /// Indexed by the run's request id.
    pub requests: Vec<RequestStats>,
    pub second: Second,
    pub generator: GeneratorStats,
    pub in_flight: u64,
}

impl Recorder {
    pub(crate) fn new(request_names: &[String]) -> Self {
        Self {
            requests: request_names
                .iter()
                .map(|n| RequestStats::new(n.clone()))
                .collect(),
            second: Second::new(0),
            generator: GeneratorStats {
                workers: 1,
                ..GeneratorStats::default()
            },
            in_flight: 0,
        }
    }

    pub(crate) fn sent(&mut self) {
        self.second.sent += 1;
        self.in_flight += 1;
        self.generator.max_in_flight = self.generator.max_in_flight.max(self.in_flight);
    }

    pub(crate) fn record(&mut self, request: usize, outcome: &Outcome) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let stats = &mut self.requests[request];
        stats.count += 1;
        stats.bytes_sent += outcome.bytes_sent;
        self.second.completed += 1;
        match outcome.result {
            Ok(response) => {
                // A request sent a little early (timer rounding) is measured from its send, one
                // sent late from its intended start: neither the timer's grain nor a queue in the
                // generator ever hides or inflates latency.
                let latency = outcome
                    .ended
                    .saturating_duration_since(outcome.intended.min(outcome.sent));
                let service = outcome.ended.saturating_duration_since(outcome.sent);
                stats.latency.record(latency);
                stats.service.record(service);
                self.second.latency.record(latency);
                stats.bytes_received += response.bytes_received;
                // SQL answers have no status.
                if response.status != 0 {
                    *stats.status.entry(response.status).or_default() += 1;
                }
                match response.error {
                    None => stats.ok += 1,
                    Some(kind) => {
                        *stats.errors.entry(kind).or_default() += 1;
                        *self.second.errors.entry(kind).or_default() += 1;
                    }
                }
            }
            Err(kind) => {
                *stats.errors.entry(kind).or_default() += 1;
                *self.second.errors.entry(kind).or_default() += 1;
            }
        }
    }

    /// A statement of a transaction: its own figures, while the run's counts and timeline
    /// follow the transaction.
    pub(crate) fn record_part(&mut self, statement: usize, outcome: &Outcome) {
        let stats = &mut self.requests[statement];
        stats.count += 1;
        match outcome.result {
            Ok(response) => {
                stats
                    .latency
                    .record(outcome.ended.saturating_duration_since(outcome.sent));
                stats
                    .service
                    .record(outcome.ended.saturating_duration_since(outcome.sent));
                match response.error {
                    None => stats.ok += 1,
                    Some(kind) => *stats.errors.entry(kind).or_default() += 1,
                }
            }
            Err(kind) => *stats.errors.entry(kind).or_default() += 1,
        }
    }

    /// Closes the current second and starts second `next`.
    pub(crate) fn roll_second(&mut self, next: u32) -> Second {
        let mut done = std::mem::replace(&mut self.second, Second::new(next));
        done.in_flight = self.in_flight;
        done
    }

    /// An iteration started `lag` after its intended time.
    pub(crate) fn started_with_lag(&mut self, lag: Duration) {
        let us = lag.as_micros() as u64;
        self.generator.started += 1;
        self.generator.lag_total_us += us;
        self.generator.lag_max_us = self.generator.lag_max_us.max(us);
    }

    pub(crate) fn late(&mut self, by: Duration, tolerance: Duration) {
        if by > tolerance {
            self.generator.late += 1;
            self.second.late += 1;
        }
    }
}
