//! Synthetic targets whose capacity is known by construction, and data that grows on request.
//!
//! The target is a queue with `workers` servers whose service time grows linearly with the
//! rows of a table (a scan): capacity `C(V) = workers / (base + per_row·V)`, so `1/C` is exactly
//! linear in `V`. Overload leaves a backlog that the next step inherits, as a real server's
//! accept queue does: a search that does not let the target recover judges the next step on the
//! previous step's backlog.

#![allow(dead_code)]

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use loadcast_capacity::{
    Grower, GrowerError, Probe, ProbeError, ScaleTarget, SearchOptions, StudySpec, Volume,
};
use loadcast_stats::{
    ErrorKind, GeneratorStats, Metric, RequestStats, RunMeta, RunResult, RunStatus, Threshold,
};

pub fn slo_p99(ms: u64) -> Vec<Threshold> {
    vec![
        Threshold::latency(
            None,
            Metric::Latency { quantile: 0.99 },
            Duration::from_millis(ms),
        ),
        Threshold {
            scope: None,
            metric: Metric::ErrorRate,
            limit: 0.01,
        },
    ]
}

pub fn result(rate: f64, hold: Duration, ok: u64, errors: u64, p50: f64, p99: f64) -> RunResult {
    let mut r = RunResult::new(RunMeta {
        plan_name: "synthetic".into(),
        plan_hash: "0".into(),
        target: "synthetic://queue".into(),
        model: "open".into(),
        started_at: String::new(),
        planned_seconds: hold.as_secs_f64(),
        elapsed_seconds: hold.as_secs_f64(),
        status: RunStatus::Complete,
        loadcast_version: String::new(),
        shards: 1,
        shard: None,
    });
    let mut stats = RequestStats::new("GET /");
    stats.count = ok + errors;
    stats.ok = ok;
    if errors > 0 {
        stats.errors.insert(ErrorKind::Timeout, errors);
    }
    // 98% at the median, the rest (at least one) at the p99: the histogram's quantiles are
    // those values, however few requests there were.
    let slow = (ok as f64 * 0.02).ceil() as u64;
    for i in 0..ok {
        let latency = if i >= slow { p50 } else { p99 };
        let d = Duration::from_secs_f64(latency.max(1e-6));
        stats.latency.record(d);
        stats.service.record(d);
    }
    r.requests.push(stats);
    let scheduled = (rate * hold.as_secs_f64()).round() as u64;
    r.generator = GeneratorStats {
        scheduled,
        started: scheduled,
        workers: 1,
        ..GeneratorStats::default()
    };
    r
}

/// A queue of `workers` servers; the service time of each request is `base + per_row · rows`.
pub struct ScanTarget {
    pub workers: f64,
    pub base: f64,
    pub per_row: f64,
    /// The table's rows, shared with the grower.
    pub rows: Rc<Cell<f64>>,
    /// Requests queued beyond what the servers can take: carried into the next step.
    pub backlog: f64,
    /// Each measured capacity is off by this factor (1.0: exact); changed by the test.
    pub noise: Rc<Cell<f64>>,
    /// Seconds of load run in all (warm-ups, steps, recoveries).
    pub seconds: f64,
    pub timeout: f64,
    /// Random arrivals queue below capacity (p99 grows as the load nears it); `false`: requests
    /// that arrive evenly and are served in constant time never wait below capacity, so the
    /// SLO's capacity is exactly `workers / service`.
    pub queueing: bool,
}

impl ScanTarget {
    pub fn new(workers: f64, base: f64, per_row: f64, rows: Rc<Cell<f64>>) -> Self {
        Self {
            workers,
            base,
            per_row,
            rows,
            backlog: 0.0,
            noise: Rc::new(Cell::new(1.0)),
            seconds: 0.0,
            timeout: 5.0,
            queueing: true,
        }
    }

    pub fn service(&self) -> f64 {
        self.base + self.per_row * self.rows.get()
    }

    /// The true capacity at today's rows.
    pub fn capacity(&self) -> f64 {
        self.workers / self.service() * self.noise.get()
    }

    pub fn capacity_at(&self, rows: f64) -> f64 {
        self.workers / (self.base + self.per_row * rows)
    }
}

impl Probe for ScanTarget {
    fn measure(&mut self, rate: f64, hold: Duration) -> Result<RunResult, ProbeError> {
        let h = hold.as_secs_f64();
        self.seconds += h;
        let c = self.capacity();
        let s = self.service();
        let rho = rate / c;
        // The backlog drains at (c − rate) while the step runs, or grows at (rate − c).
        let start = self.backlog;
        self.backlog = (start + (rate - c) * h).max(0.0);
        // Waiting behind the backlog: the worst-placed request waits for all of it.
        let backlog_wait = start.max(self.backlog) / c;
        let queue_wait = if !self.queueing {
            0.0
        } else if rho < 1.0 {
            s * rho / (1.0 - rho) * 4.6 / self.workers
        } else {
            self.timeout
        };
        let p99 = (s + queue_wait + backlog_wait).min(self.timeout);
        let p50 = s + queue_wait * 0.15;
        let arrivals = (rate * h).round() as u64;
        // Past the timeout the overflow fails.
        let errors = if p99 >= self.timeout && rate > c {
            ((rate - c) * h).round() as u64
        } else {
            0
        };
        Ok(result(
            rate,
            hold,
            arrivals - errors.min(arrivals),
            errors.min(arrivals),
            p50,
            p99,
        ))
    }
}

/// The table the target scans, grown on request (`fail_to_grow`: it reports success and adds
/// nothing, as a plan without the table's section once did).
pub struct Table {
    pub rows: Rc<Cell<f64>>,
    pub fail_to_grow: bool,
    pub bytes_per_row: f64,
}

/// The studies' usual shop: a scan over 20,000 rows of 100 bytes (4 workers, 2 ms plus 0.5 µs
/// a row), and the table that grows it.
pub fn scan_of_20k_rows() -> (ScanTarget, Table) {
    let rows = Rc::new(Cell::new(20_000.0));
    let target = ScanTarget::new(4.0, 0.002, 0.0000005, rows.clone());
    let table = Table {
        rows,
        fail_to_grow: false,
        bytes_per_row: 100.0,
    };
    (target, table)
}

impl Grower for Table {
    fn current(&mut self) -> Result<Volume, GrowerError> {
        Ok(Volume {
            rows: self.rows.get(),
            bytes: Some(self.rows.get() * self.bytes_per_row),
        })
    }

    fn grow_to(&mut self, _label: &str, rows: f64) -> Result<Volume, GrowerError> {
        if !self.fail_to_grow {
            self.rows.set(rows.max(self.rows.get()));
        }
        self.current()
    }
}

/// The searches' options: 20/s first, 10 s steps, a 2% bracket.
pub fn options(factor: f64) -> SearchOptions {
    SearchOptions {
        from: 20.0,
        factor,
        hold: Duration::from_secs(10),
        warmup: Duration::from_secs(2),
        precision: 0.02,
        max_steps: 40,
        ..SearchOptions::default()
    }
}

/// A study of the synthetic queue at these scales after today's, one search each.
pub fn spec(scales: Vec<ScaleTarget>, horizon: Option<f64>) -> StudySpec {
    StudySpec {
        plan_name: "synthetic".into(),
        plan_hash: "0".into(),
        target: "synthetic://queue".into(),
        started_at: "2026-12-01T00:00:00Z".into(),
        thresholds: slo_p99(100),
        search: options(1.5),
        table: Some("orders".into()),
        scales,
        horizon_volume: horizon,
        usl_users: Vec::new(),
        runway: None,
        today: None,
        repeat: 1,
    }
}
