//! loadcast's load engine: drives a [`Plan`]'s load at its target and measures it correctly.
//!
//! * **Executors.** The open model starts iterations on an arrival schedule that never waits for
//!   responses; the closed model loops a (ramping) number of virtual users. One [`Pacer`]
//!   abstraction says when work is due in both.
//! * **Measurement.** Latency counts from the *intended* start of an arrival (no coordinated
//!   omission) and, separately, from the actual send (service time). Each worker thread records
//!   into its own HDR histograms; the run merges them exactly. A per-second timeline streams to an
//!   [`Observer`] while the run goes on.
//! * **Errors are data.** Refused connections, timeouts, resets, TLS failures and error statuses
//!   are counted by kind; they never abort a run.
//! * **Protocol.** HTTP/1.1 with keep-alive and HTTP/2 (hyper), TLS via rustls with ALPN; every
//!   virtual user owns its connection. SQL statements and transactions on PostgreSQL and
//!   MySQL/MariaDB (SQL steps), on the user's own connection or a shared pool.
//!
//! ```no_run
//! let plan = loadcast_plan::load("plan.toml".as_ref())?;
//! let stop = loadcast_engine::Cancel::new();
//! let result = loadcast_engine::run(&plan, &loadcast_engine::RunOptions::default(), &stop, &mut ())?;
//! println!("p99 {:?}", result.total().latency.quantile(0.99));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod executor;
mod h1;
pub mod pacer;
mod probe;
mod recorder;
mod session;
mod sql;

use std::collections::BTreeMap;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime};

use loadcast_plan::template::Template;
use loadcast_plan::{CaptureSource, Load, Plan, Step};
use loadcast_stats::{RunMeta, RunResult, RunStatus, Second};
use tokio::sync::watch;

pub use loadcast_stats::Cancel;
pub use pacer::{ArrivalRate, Constant, Pacer, Unpaced, UserSchedule};
pub use probe::EngineProbe;

use crate::executor::{
    CompiledRequest, CompiledScenario, CompiledStep, GroupShape, RunShape, WorkerSetup,
};
use crate::h1::Want;
use crate::session::FeederRun;

/// A run could not start. Failures *during* a run are counted in the result instead.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("target {target} is unreachable: {cause}")]
    Unreachable { target: String, cause: String },
    #[error("TLS setup failed: {cause}")]
    Tls { cause: String },
    #[error("request {name:?} cannot be built: {cause}")]
    InvalidRequest { name: String, cause: String },
    #[error("cannot start the load generator: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Tuning that is not part of the plan (it describes the generator, not the test).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Worker threads; defaults to the CPUs this process may use.
    pub workers: Option<usize>,
    /// Skip the connection check before the run.
    pub skip_preflight: bool,
    /// This process runs shard `index` of `count` of the plan's load (`--shard I/N`).
    pub shard: Option<(u32, u32)>,
    /// When the schedule starts, shared by every shard (`--start-at`); now when `None`.
    pub start_at: Option<SystemTime>,
}

/// Live view of a run, one call per finished second.
#[derive(Debug)]
pub struct Progress<'a> {
    /// The second that just ended, merged over all workers.
    pub second: &'a Second,
    pub elapsed: Duration,
    pub planned: Duration,
    pub sent: u64,
    pub completed: u64,
    pub errors: u64,
}

/// Receives progress while a run goes on (the CLI draws a bar or prints lines).
pub trait Observer {
    fn on_second(&mut self, progress: &Progress<'_>);
}

/// No progress output.
impl Observer for () {
    fn on_second(&mut self, _: &Progress<'_>) {}
}

/// Runs the plan's load and returns everything measured. Blocks until the schedule ends (plus a
/// graceful stop for in-flight work) or `stop` is cancelled (the result is then partial, marked
/// interrupted).
pub fn run(
    plan: &Plan,
    options: &RunOptions,
    stop: &Cancel,
    observer: &mut dyn Observer,
) -> Result<RunResult, EngineError> {
    // The workers wait on a watch channel; the cancellation token wakes it.
    let stop_sender = Arc::new(watch::Sender::new(stop.is_cancelled()));
    let _wake = {
        let sender = stop_sender.clone();
        stop.on_cancel(move || {
            sender.send_replace(true);
        })
    };
    let workers = options
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let setup_runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Connections spawn their driver on the current thread: preflight needs a local set too.
    let compiled = compile(plan)?;
    let steps = || plan.scenarios.iter().flat_map(|s| &s.steps);
    let http = steps().any(|s| matches!(s, Step::Request(_)));
    let sql = plan
        .sql_databases()
        .into_iter()
        .map(|url| sql::SqlConnector::new(url, plan.http.connect_timeout, compiled.statements))
        .collect::<Result<Vec<_>, _>>()?;
    let connector = tokio::task::LocalSet::new().block_on(&setup_runtime, async {
        let connector = client::Connector::new(plan).await?;
        if !options.skip_preflight {
            if http {
                connector.preflight(&plan.target.url()).await?;
            }
            for database in &sql {
                database.preflight().await?;
            }
        }
        Ok::<_, EngineError>(connector)
    })?;
    drop(setup_runtime);

    let Compiled {
        scenarios,
        names: request_names,
        within,
        ..
    } = compiled;
    // A short lead so that every worker starts on the same instant; shards wait for theirs.
    let lead = match options.start_at {
        Some(at) => at
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .max(Duration::from_millis(20)),
        None => Duration::from_millis(20),
    };
    let start = Instant::now() + lead;
    let started_at = SystemTime::now() + lead;
    // Shard `index` of `count` runs workers `index × workers …` of `count × workers`: the
    // arrivals, users and in-order feeder rows interleave across shards as across workers.
    let (shard_index, shard_count) = options.shard.unwrap_or((0, 1));
    let all_workers = workers * shard_count as usize;
    let first_worker = workers * shard_index as usize;
    let groups = plan
        .groups()
        .into_iter()
        .map(|g| GroupShape {
            load: g.load.clone(),
            total_weight: g
                .scenarios
                .iter()
                .map(|i| plan.scenarios[*i].weight)
                .sum::<u32>()
                .max(1),
            scenarios: g.scenarios,
        })
        .collect();
    let shape = Arc::new(RunShape {
        groups,
        scenarios,
        request_names,
        start,
        workers: all_workers,
        graceful_stop: plan.http.graceful_stop,
        feeders: plan
            .feeders
            .iter()
            .map(|f| FeederRun::new(f, shard_index, shard_count))
            .collect(),
        shard: (shard_index, shard_count),
        variables: plan.variables.len(),
        cookies: plan.http.cookies,
        connections: plan.http.connections,
        next_user: std::sync::atomic::AtomicU64::new(0),
    });
    let watcher = watch_database(plan, start + plan.duration());
    let cpu_before = process_cpu_seconds();
    let (second_tx, second_rx) = mpsc::channel();
    let mut threads = Vec::with_capacity(workers);
    for index in 0..workers {
        let setup =
            WorkerSetup {
                shape: shape.clone(),
                index: first_worker + index,
                connector: connector.clone(),
                sql: sql.clone(),
                sql_pool: plan.database.as_ref().and_then(|d| d.pool).map(|size| {
                    executor::PoolShare {
                        size: size as usize,
                        workers: all_workers,
                    }
                }),
                stop: stop_sender.subscribe(),
                seconds: second_tx.clone(),
            };
        threads.push(
            std::thread::Builder::new()
                .name(format!("loadcast-worker-{index}"))
                .spawn(move || executor::run_worker(setup))?,
        );
    }
    drop(second_tx);

    let timeline = collect_timeline(&second_rx, (first_worker, workers), &shape, observer);

    let mut result = RunResult::new(RunMeta {
        plan_name: plan.name.clone(),
        plan_hash: plan.hash.clone(),
        target: plan.target.url(),
        model: plan.model_name().to_string(),
        started_at: humantime::format_rfc3339_seconds(started_at).to_string(),
        planned_seconds: plan.duration().as_secs_f64(),
        elapsed_seconds: 0.0,
        status: if stop.is_cancelled() {
            RunStatus::Interrupted
        } else {
            RunStatus::Complete
        },
        loadcast_version: env!("CARGO_PKG_VERSION").to_string(),
        shards: 1,
        shard: options
            .shard
            .map(|(index, count)| loadcast_stats::shard::ShardTag {
                index,
                count,
                attempt: started_at
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
            }),
    });
    // In the order the plan's steps first name them: the flow a user follows.
    let mut requests: Vec<loadcast_stats::RequestStats> = shape
        .request_names
        .iter()
        .zip(&within)
        .map(|(n, within)| loadcast_stats::RequestStats {
            within: within.clone(),
            ..loadcast_stats::RequestStats::new(n.clone())
        })
        .collect();
    for thread in threads {
        let recorder = thread
            .join()
            .map_err(|_| std::io::Error::other("a worker thread panicked"))??;
        for (total, stats) in requests.iter_mut().zip(&recorder.requests) {
            total.merge(stats);
        }
        let mut generator = recorder.generator;
        generator.abandoned += recorder.in_flight;
        result.generator.merge(&generator);
    }
    // Users beyond the rows of a `unique` feeder that allows reuse share its identities.
    result.generator.identities = plan
        .feeders
        .iter()
        .filter(|f| f.strategy.is_per_user())
        .map(|f| f.data.rows() as u64)
        .fold(result.generator.users, u64::min);
    result.generator.latency_limit_ms = shape
        .groups
        .iter()
        .find_map(|g| g.load.latency_limit())
        .map(|l| l.as_secs_f64() * 1e3);
    result.meta.elapsed_seconds = start.elapsed().as_secs_f64();
    if stop.is_cancelled() {
        result.meta.status = RunStatus::Interrupted;
    }
    result.generator.cpu_seconds = match (cpu_before, process_cpu_seconds()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    result.database = watcher.map(DatabaseWatch::finish);
    result.requests = requests;
    result.timeline = timeline;
    result.thresholds = loadcast_stats::slo::evaluate(&plan.thresholds, &result);
    Ok(result)
}

/// Who watches the plan's database during a run, and what the result should say about it.
struct DatabaseWatch {
    sampler: Option<sql::ViewSampler>,
    notes: Vec<String>,
}

impl DatabaseWatch {
    fn finish(self) -> loadcast_stats::DatabaseView {
        let mut view = self
            .sampler
            .map(sql::ViewSampler::finish)
            .unwrap_or_default();
        view.notes.extend(self.notes);
        view
    }
}

/// The database the view reads: `[database]` (the one `grow` fills, and an HTTP plan's
/// application database), else the first a scenario names; `None` with `observe = false`.
fn observed_database(plan: &Plan) -> Option<&str> {
    if plan.database.as_ref().is_some_and(|d| !d.observe) {
        return None;
    }
    let databases = plan.sql_databases();
    plan.database
        .as_ref()
        .map(|d| d.url.as_str())
        .or_else(|| databases.first().copied())
}

/// Starts watching the plan's database (`[database] observe`, the default), when it has one;
/// the schedule ends at `load_ends`.
fn watch_database(plan: &Plan, load_ends: Instant) -> Option<DatabaseWatch> {
    let url = observed_database(plan)?;
    let notes: Vec<String> = plan
        .sql_databases()
        .into_iter()
        .filter(|other| *other != url)
        .map(|other| {
            format!(
                "{} is not observed: the view reads one database, {}",
                loadcast_plan::redact_url(other),
                loadcast_plan::redact_url(url)
            )
        })
        .collect();
    let sampler = sql::ViewSampler::start(url, plan.http.connect_timeout, load_ends);
    (sampler.is_some() || !notes.is_empty()).then_some(DatabaseWatch { sampler, notes })
}

/// How the plan's database plans `statements` now (empty for a server the view does not read
/// or a plan without a database): the capacity study asks at each data scale.
pub fn explain(plan: &Plan, statements: &[String]) -> Vec<loadcast_stats::StatementPlan> {
    match observed_database(plan) {
        Some(url) => sql::explain(url, plan.http.connect_timeout, statements),
        None => Vec::new(),
    }
}

/// Seconds of the timeline kept with every latency bucket (a run of a minute or less keeps all
/// of them); older ones keep their quantiles (p50, p90, p99, p99.9, max), which is what charts
/// and the CSV read.
const FULL_RESOLUTION_SECONDS: usize = 60;

/// Merges per-worker seconds into the timeline, reporting each second once every worker has;
/// `workers` are this process's (the first one's run-wide index, and how many).
fn collect_timeline(
    seconds: &mpsc::Receiver<Second>,
    (first_worker, workers): (usize, usize),
    shape: &RunShape,
    observer: &mut dyn Observer,
) -> Vec<Second> {
    let mut pending: BTreeMap<u32, (Second, usize)> = BTreeMap::new();
    let mut timeline: Vec<Second> = Vec::new();
    let (mut sent, mut completed, mut errors) = (0u64, 0u64, 0u64);
    let planned = shape
        .groups
        .iter()
        .map(|g| g.load.duration())
        .max()
        .unwrap_or_default();
    // What the open model's schedules asked for each second, from the same pacer the workers
    // follow: the rate a report and the live display hold the achieved rate against.
    let schedules: Vec<pacer::ArrivalRate> = shape
        .groups
        .iter()
        .filter_map(|g| match &g.load {
            Load::Open(open) => Some(pacer::ArrivalRate::new(&open.stages)),
            Load::Closed(_) => None,
        })
        .collect();
    let mut publish = |mut second: Second, timeline: &mut Vec<Second>| {
        let (from, to) = (
            Duration::from_secs(u64::from(second.t)),
            Duration::from_secs(u64::from(second.t) + 1),
        );
        // This process's share: arrival k is worker k mod (all workers)'s.
        let (all, first, mine) = (shape.workers as u64, first_worker as u64, workers as u64);
        let ours = |k: u64| k / all * mine + (k % all).saturating_sub(first).min(mine);
        second.scheduled = schedules
            .iter()
            .map(|s| ours(s.hits_before(to)) - ours(s.hits_before(from)))
            .sum();
        sent += second.sent;
        completed += second.completed;
        errors += second.error_count();
        observer.on_second(&Progress {
            second: &second,
            elapsed: Duration::from_secs(u64::from(second.t) + 1),
            planned,
            sent,
            completed,
            errors,
        });
        // Kept for the result: its non-empty buckets while it is recent, its quantiles once it
        // is older than the window, so a soak's memory stays flat however long it runs.
        second.latency.compact();
        timeline.push(second);
        if let Some(old) = timeline.len().checked_sub(FULL_RESOLUTION_SECONDS + 1) {
            timeline[old].latency.summarize();
        }
    };
    for second in seconds.iter() {
        let entry = pending
            .entry(second.t)
            .or_insert_with(|| (Second::new(second.t), 0));
        entry.0.merge(&second);
        entry.1 += 1;
        while let Some(entry) = pending.first_entry() {
            if entry.get().1 < workers {
                break;
            }
            let (second, _) = entry.remove();
            publish(second, &mut timeline);
        }
    }
    // Seconds some worker never reported (it ended earlier): publish what there is.
    for (_, (second, _)) in pending {
        publish(second, &mut timeline);
    }
    // A final partial second with nothing in it is noise.
    while timeline
        .last()
        .is_some_and(|s| s.sent == 0 && s.completed == 0 && s.error_count() == 0)
    {
        timeline.pop();
    }
    timeline
}

/// The plan's scenarios made ready to run.
struct Compiled {
    scenarios: Vec<CompiledScenario>,
    /// Result names, in the order steps first name them.
    names: Vec<String>,
    /// For each name, the transaction it is a statement of.
    within: Vec<Option<String>>,
    /// SQL statements: each connection prepares up to this many.
    statements: usize,
}

impl Compiled {
    fn name(&mut self, name: &str, within: Option<&str>) -> usize {
        match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.within.push(within.map(str::to_string));
                self.names.len() - 1
            }
        }
    }

    fn statement(
        &mut self,
        plan: &Plan,
        spec: &loadcast_plan::SqlSpec,
        within: Option<&str>,
        feeders_read: &mut Vec<usize>,
        database: usize,
    ) -> executor::CompiledSql {
        let templates = spec
            .params
            .iter()
            .chain(spec.checks.values.iter().map(|(_, _, t)| t));
        feeders_read.extend(templates.flat_map(Template::feeders));
        self.statements += 1;
        executor::CompiledSql {
            slot: self.statements - 1,
            name: self.name(&spec.name, within),
            sql: spec.sql.clone(),
            params: spec.params.clone(),
            timeout: spec.timeout.unwrap_or(plan.http.timeout),
            captures: spec.captures.clone(),
            checks: spec.checks.clone(),
            database,
        }
    }
}

fn compile(plan: &Plan) -> Result<Compiled, EngineError> {
    let mut out = Compiled {
        scenarios: Vec::new(),
        names: Vec::new(),
        within: Vec::new(),
        statements: 0,
    };
    let databases = plan.sql_databases();
    for (index, scenario) in plan.scenarios.iter().enumerate() {
        // Validation saw to it that a scenario with SQL steps has a database.
        let database = plan
            .scenario_database(index)
            .and_then(|url| databases.iter().position(|d| *d == url))
            .unwrap_or(0);
        let mut steps = Vec::new();
        let mut feeders_read: Vec<usize> = Vec::new();
        for step in &scenario.steps {
            steps.push(match step {
                Step::Think(think) => CompiledStep::Think(*think),
                Step::Set(values) => {
                    feeders_read.extend(values.iter().flat_map(|(_, t)| t.feeders()));
                    CompiledStep::Set(values.clone())
                }
                Step::Sql(spec) => CompiledStep::Sql(Box::new(out.statement(
                    plan,
                    spec,
                    None,
                    &mut feeders_read,
                    database,
                ))),
                Step::Transaction(txn) => {
                    // Named before its statements, so that they follow it in the results.
                    let name = out.name(&txn.name, None);
                    let statements = txn
                        .statements
                        .iter()
                        .map(|s| {
                            let within = Some(txn.name.as_str());
                            out.statement(plan, s, within, &mut feeders_read, database)
                        })
                        .collect();
                    CompiledStep::Transaction(Box::new(executor::CompiledTransaction {
                        name,
                        statements,
                        retries: txn.retries,
                        timeout: plan.http.timeout,
                        database,
                    }))
                }
                Step::Request(spec) => {
                    let name = out.name(&spec.name, None);
                    let templates = std::iter::once(&spec.path)
                        .chain(spec.headers.iter().map(|(_, t)| t))
                        .chain(plan.http.headers.iter().map(|(_, t)| t))
                        .chain(spec.body.template())
                        .chain(spec.checks.body_contains.as_ref());
                    feeders_read.extend(templates.flat_map(Template::feeders));
                    let mut headers: Vec<String> = spec
                        .captures
                        .iter()
                        .filter_map(|c| match &c.source {
                            CaptureSource::Header(h) => Some(h.as_str().to_string()),
                            _ => None,
                        })
                        .collect();
                    if plan.http.cookies {
                        headers.push("set-cookie".into());
                    }
                    let want = Want {
                        body: spec.checks.needs_body()
                            || spec.captures.iter().any(|c| c.source.needs_body()),
                        headers,
                    };
                    CompiledStep::Request(Box::new(CompiledRequest {
                        request: client::PreparedRequest::new(plan, spec)?,
                        name,
                        timeout: spec.timeout.unwrap_or(plan.http.timeout),
                        captures: spec.captures.clone(),
                        checks: spec.checks.clone(),
                        want,
                    }))
                }
            });
        }
        feeders_read.sort_unstable();
        feeders_read.dedup();
        out.scenarios.push(CompiledScenario {
            weight: scenario.weight,
            iteration_feeders: feeders_read
                .into_iter()
                .filter(|f| !plan.feeders[*f].strategy.is_per_user())
                .collect(),
            steps,
        });
    }
    Ok(out)
}

/// User + system CPU time of this process, from `/proc/self/stat` (Linux; `None` elsewhere).
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // /proc reports in USER_HZ, which Linux fixes at 100 for user space.
    Some((utime + stime) / 100.0)
}
