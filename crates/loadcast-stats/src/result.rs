//! The result of a run: per-request statistics, a per-second timeline and the generator's own
//! health, in a versioned file that re-renders and merges exactly.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error_kind::ErrorKind;
use crate::histogram::LatencyHistogram;
use crate::slo::ThresholdOutcome;

/// The `format` field of every result file.
pub const RESULT_FORMAT: &str = "loadcast-result";
/// The version this build writes. Readers accept this version only, and say so otherwise.
pub const RESULT_VERSION: u32 = 1;

/// Everything measured about one named request (a plan step).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RequestStats {
    pub name: String,
    /// Requests that ended, in success or in error.
    pub count: u64,
    /// Requests that got a response that passed its checks.
    pub ok: u64,
    /// Failed requests by kind.
    #[serde(default)]
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Responses by status code, whether or not the status counted as an error.
    #[serde(default)]
    pub status: BTreeMap<u16, u64>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Response latency measured from the *intended* start (open model): what a user would have
    /// waited, including time spent queued behind a slow target. In the closed model, equal to
    /// `service`.
    pub latency: LatencyHistogram,
    /// Response latency measured from the moment the request was actually sent.
    pub service: LatencyHistogram,
    /// The transaction this statement ran in: its figures are the transaction's parts, so the
    /// run's totals count the transaction once and not its statements again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
}

impl RequestStats {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            count: 0,
            ok: 0,
            errors: BTreeMap::new(),
            status: BTreeMap::new(),
            bytes_sent: 0,
            bytes_received: 0,
            latency: LatencyHistogram::new(),
            service: LatencyHistogram::new(),
            within: None,
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Failed share of ended requests (0.0 ..= 1.0).
    pub fn error_rate(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.error_count() as f64 / self.count as f64
        }
    }

    pub fn merge(&mut self, other: &RequestStats) {
        self.count += other.count;
        self.ok += other.ok;
        for (kind, n) in &other.errors {
            *self.errors.entry(*kind).or_default() += n;
        }
        for (code, n) in &other.status {
            *self.status.entry(*code).or_default() += n;
        }
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.latency.merge(&other.latency);
        self.service.merge(&other.service);
    }
}

/// One second of the run, merged over all workers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Second {
    /// Seconds since the start of the run (0 = the first second).
    pub t: u32,
    /// Arrivals the open model's schedule asked for during this second (iterations, not
    /// requests); 0 in the closed model, which has no schedule of arrivals.
    #[serde(default)]
    pub scheduled: u64,
    /// Requests sent during this second.
    pub sent: u64,
    /// Requests that ended during this second.
    pub completed: u64,
    #[serde(default)]
    pub errors: BTreeMap<ErrorKind, u64>,
    /// Arrivals due this second that started late (the generator could not keep the schedule).
    #[serde(default)]
    pub late: u64,
    /// Requests in flight at the end of the second.
    pub in_flight: u64,
    /// Intended-time latency of requests that ended this second (coarse precision).
    pub latency: LatencyHistogram,
}

impl Second {
    pub fn new(t: u32) -> Self {
        Self {
            t,
            scheduled: 0,
            sent: 0,
            completed: 0,
            errors: BTreeMap::new(),
            late: 0,
            in_flight: 0,
            latency: LatencyHistogram::coarse(),
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn merge(&mut self, other: &Second) {
        self.scheduled += other.scheduled;
        self.sent += other.sent;
        self.completed += other.completed;
        for (kind, n) in &other.errors {
            *self.errors.entry(*kind).or_default() += n;
        }
        self.late += other.late;
        self.in_flight += other.in_flight;
        self.latency.merge(&other.latency);
    }
}

/// How the generator itself fared: a saturated generator must never pass for a slow target.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct GeneratorStats {
    /// Arrivals (open model) or iterations (closed model) the schedule asked for up to the end.
    pub scheduled: u64,
    /// Iterations that started.
    pub started: u64,
    /// Arrivals that started more than the lateness tolerance after their intended time.
    pub late: u64,
    /// Arrivals that found every allowed virtual user busy (the in-flight cap was hit).
    pub waited_for_capacity: u64,
    /// Arrivals due before the end that never started.
    pub dropped: u64,
    /// Iterations not run because a feeder had no row left: a `sequential` feeder used up, or
    /// (open model) an arrival for which a `unique` feeder had no identity left.
    #[serde(default)]
    pub feeder_exhausted: u64,
    /// Virtual users that ran, each a distinct identity (its own feeder row, cookies and
    /// captures). In the open model every arrival is a new user.
    #[serde(default)]
    pub users: u64,
    /// Distinct identities among them: fewer than `users` only when a `unique` feeder allows
    /// reuse and has fewer rows.
    #[serde(default)]
    pub identities: u64,
    /// Requests still in flight when the graceful stop (or an interrupt) cut the run off: sent,
    /// never answered, and not counted as answered or failed.
    #[serde(default)]
    pub abandoned: u64,
    /// Largest number of virtual users that existed at once (open model: of users in flight).
    pub max_vus: u64,
    /// Largest number of requests in flight at once (sum of per-worker maxima: an upper bound).
    pub max_in_flight: u64,
    pub connections_opened: u64,
    /// Transactions run again after a serialization failure or deadlock (`retries` in a plan).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u64,
    /// Schedule lag (actual start − intended start) of the iterations that started, summed
    /// and at most, in microseconds: pgbench's "schedule lag".
    #[serde(default)]
    pub lag_total_us: u64,
    #[serde(default)]
    pub lag_max_us: u64,
    /// The plan's `latency_limit` (pgbench `--latency-limit`), in milliseconds, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_limit_ms: Option<f64>,
    /// Iterations that ended beyond the latency limit, counted from their intended start.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub over_latency_limit: u64,
    /// Arrivals not run because they were already beyond the latency limit when they could
    /// start — a free user, then (SQL) a database connection — counted, never hidden; nothing
    /// of them was sent.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: u64,
    /// CPU seconds the generator process used (user + system), when the platform reports it.
    #[serde(default)]
    pub cpu_seconds: Option<f64>,
    pub workers: u32,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl GeneratorStats {
    /// Mean schedule lag of the iterations that started.
    pub fn mean_lag(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.lag_total_us / self.started.max(1))
    }

    pub fn merge(&mut self, other: &GeneratorStats) {
        self.scheduled += other.scheduled;
        self.started += other.started;
        self.late += other.late;
        self.waited_for_capacity += other.waited_for_capacity;
        self.dropped += other.dropped;
        self.feeder_exhausted += other.feeder_exhausted;
        self.users += other.users;
        self.identities += other.identities;
        self.abandoned += other.abandoned;
        self.max_vus += other.max_vus;
        self.max_in_flight += other.max_in_flight;
        self.connections_opened += other.connections_opened;
        self.retries += other.retries;
        self.lag_total_us += other.lag_total_us;
        self.lag_max_us = self.lag_max_us.max(other.lag_max_us);
        self.latency_limit_ms = self.latency_limit_ms.or(other.latency_limit_ms);
        self.over_latency_limit += other.over_latency_limit;
        self.skipped += other.skipped;
        self.cpu_seconds = match (self.cpu_seconds, other.cpu_seconds) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        self.workers += other.workers;
    }

    /// Share of scheduled arrivals that were late or dropped.
    pub fn miss_rate(&self) -> f64 {
        if self.scheduled == 0 {
            return 0.0;
        }
        (self.late + self.dropped) as f64 / self.scheduled as f64
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The schedule ran to its end.
    Complete,
    /// Stopped early by the user (Ctrl-C): a partial result.
    Interrupted,
}

/// Where a result came from and what it was asked to do.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunMeta {
    pub plan_name: String,
    /// SHA-256 of the plan file's bytes (hex), so any figure can be traced to the plan that made it.
    pub plan_hash: String,
    pub target: String,
    /// `open` or `closed`.
    pub model: String,
    /// Start time, RFC 3339 (UTC).
    pub started_at: String,
    /// Planned duration of the schedule in seconds.
    pub planned_seconds: f64,
    /// Measured wall time from start to the last response, in seconds.
    pub elapsed_seconds: f64,
    pub status: RunStatus,
    pub loadcast_version: String,
    /// How many result files were merged into this one (1 for a single run).
    #[serde(default = "one")]
    pub shards: u32,
    /// Which shard of a scaled-out run this result is (`loadcast run --shard I/N`); `None` for
    /// a whole run, or for shards already merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::ShardTag>,
}

fn one() -> u32 {
    1
}

impl RunMeta {
    /// How two runs differ in what they ran (plan, target, load model), in words: results that
    /// differ so are not shards of one run, and their comparison measures the plan as much as
    /// the service.
    pub fn differences(&self, other: &RunMeta) -> Vec<String> {
        let short = |hash: &str| hash.chars().take(12).collect::<String>();
        let mut out = Vec::new();
        if self.plan_hash != other.plan_hash {
            out.push(format!(
                "plan {} ({}) vs {} ({})",
                self.plan_name,
                short(&self.plan_hash),
                other.plan_name,
                short(&other.plan_hash)
            ));
        }
        if self.target != other.target {
            out.push(format!("target {} vs {}", self.target, other.target));
        }
        if self.model != other.model {
            out.push(format!("{} model vs {} model", self.model, other.model));
        }
        out
    }
}

/// A whole run: the serialized boundary between running and reporting.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunResult {
    pub format: String,
    pub version: u32,
    pub meta: RunMeta,
    /// Per named request, in the order the plan's steps first name them.
    #[serde(default)]
    pub requests: Vec<RequestStats>,
    #[serde(default)]
    pub timeline: Vec<Second>,
    pub generator: GeneratorStats,
    /// Threshold outcomes, when the plan had thresholds.
    #[serde(default)]
    pub thresholds: Vec<ThresholdOutcome>,
    /// The database's own view of the run, when the plan has a PostgreSQL database to watch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<crate::DatabaseView>,
    /// Each merged shard's own generator health, beside the global figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shard_health: Vec<crate::shard::ShardHealth>,
}

/// A result is not a shard of the run it was to be merged into: how the two differ.
#[derive(Debug, thiserror::Error)]
#[error("not a shard of the same run ({}): refusing to merge", .0.join("; "))]
pub struct NotAShard(pub Vec<String>);

impl RunResult {
    pub fn new(meta: RunMeta) -> Self {
        Self {
            format: RESULT_FORMAT.to_string(),
            version: RESULT_VERSION,
            meta,
            requests: Vec::new(),
            timeline: Vec::new(),
            generator: GeneratorStats::default(),
            thresholds: Vec::new(),
            database: None,
            shard_health: Vec::new(),
        }
    }

    /// All requests merged into one line.
    pub fn total(&self) -> RequestStats {
        let mut total = RequestStats::new("all");
        for r in self.requests.iter().filter(|r| r.within.is_none()) {
            total.merge(r);
        }
        total
    }

    pub fn request(&self, name: &str) -> Option<&RequestStats> {
        self.requests.iter().find(|r| r.name == name)
    }

    /// Completed requests per second over the measured wall time.
    pub fn throughput(&self) -> f64 {
        if self.meta.elapsed_seconds <= 0.0 {
            return 0.0;
        }
        self.total().count as f64 / self.meta.elapsed_seconds
    }

    pub fn elapsed(&self) -> Duration {
        Duration::from_secs_f64(self.meta.elapsed_seconds.max(0.0))
    }

    /// Merges another shard of the same plan into this one. Histograms merge exactly; the
    /// timeline is aligned by second. Threshold outcomes are dropped: re-evaluate after merging.
    /// Merges `other` as a shard of this run. Shards of one run share their plan and its
    /// settings; when `other` differs ([`RunMeta::differences`]) it is refused unless `force`.
    /// Returns the differences merged over.
    pub fn merge_shard(
        &mut self,
        other: &RunResult,
        force: bool,
    ) -> Result<Vec<String>, NotAShard> {
        let differences = self.meta.differences(&other.meta);
        if !differences.is_empty() && !force {
            return Err(NotAShard(differences));
        }
        self.merge(other);
        Ok(differences)
    }

    pub fn merge(&mut self, other: &RunResult) {
        for theirs in &other.requests {
            match self.requests.iter_mut().find(|r| r.name == theirs.name) {
                Some(ours) => ours.merge(theirs),
                None => self.requests.push(theirs.clone()),
            }
        }
        // Requests keep the order of the first result (the plan's flow); new ones follow.
        // Seconds align by the wall clock: a shard that started a second later fills the
        // second after.
        let offset = match (
            crate::time::parse_time(&self.meta.started_at),
            crate::time::parse_time(&other.meta.started_at),
        ) {
            (Some(ours), Some(theirs)) => theirs - ours,
            _ => 0,
        };
        // The earlier start is the merged run's start.
        let offset = if offset < 0 {
            for second in &mut self.timeline {
                second.t += offset.unsigned_abs() as u32;
            }
            self.meta.started_at = other.meta.started_at.clone();
            0
        } else {
            offset
        };
        for theirs in &other.timeline {
            let t = i64::from(theirs.t) + offset;
            let Ok(t) = u32::try_from(t) else {
                continue;
            };
            let mut theirs = theirs.clone();
            theirs.t = t;
            let theirs = &theirs;
            match self.timeline.iter_mut().find(|s| s.t == theirs.t) {
                Some(ours) => {
                    ours.merge(theirs);
                    ours.latency.compact();
                }
                None => self.timeline.push(theirs.clone()),
            }
        }
        self.timeline.sort_by_key(|s| s.t);
        self.generator.merge(&other.generator);
        self.meta.elapsed_seconds = self.meta.elapsed_seconds.max(other.meta.elapsed_seconds);
        self.meta.planned_seconds = self.meta.planned_seconds.max(other.meta.planned_seconds);
        if other.meta.status == RunStatus::Interrupted {
            self.meta.status = RunStatus::Interrupted;
        }
        self.meta.shards += other.meta.shards;
        self.shard_health.extend(other.shard_health.iter().cloned());
        self.shard_health.sort_by_key(|h| h.index);
        self.thresholds.clear();
    }
}

impl crate::document::Document for RunResult {
    const FORMAT: &'static str = RESULT_FORMAT;
    const VERSION: u32 = RESULT_VERSION;
    const WHAT: &'static str = "run result";
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(plan_hash: &str, requests: u64) -> RunResult {
        let mut result = RunResult::new(RunMeta {
            plan_name: "shop".into(),
            plan_hash: plan_hash.into(),
            target: "http://127.0.0.1:8080".into(),
            model: "open".into(),
            started_at: "2026-12-01T00:00:00Z".into(),
            planned_seconds: 10.0,
            elapsed_seconds: 10.0,
            status: RunStatus::Complete,
            loadcast_version: "test".into(),
            shards: 1,
            shard: None,
        });
        let mut stats = RequestStats::new("GET /");
        stats.count = requests;
        stats.ok = requests;
        result.requests.push(stats);
        result
    }

    #[test]
    fn a_result_of_another_plan_is_not_merged_as_a_shard_unless_forced() {
        let mut merged = shard("aaaa", 100);
        let refused = merged
            .merge_shard(&shard("bbbb", 50), false)
            .expect_err("another plan's result is not a shard");
        assert!(
            refused.to_string().contains("plan shop (aaaa) vs"),
            "{refused}"
        );
        assert_eq!(merged.total().count, 100, "nothing merged when refused");

        let same = merged.merge_shard(&shard("aaaa", 50), false);
        assert!(matches!(&same, Ok(d) if d.is_empty()), "{same:?}");
        let forced = merged.merge_shard(&shard("bbbb", 25), true);
        assert!(matches!(&forced, Ok(d) if d.len() == 1), "{forced:?}");
        assert_eq!(merged.total().count, 175);
        assert_eq!(merged.meta.shards, 3);
    }
}
