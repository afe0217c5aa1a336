//! The executors. A run is split across worker threads, each with its own single-threaded
//! runtime, its own virtual users and its own recorder, like wrk's threads. The open model shards
//! the global arrival schedule (worker `w` of `n` takes arrivals `w, w+n, …`); the closed model
//! shards the users. Both ask the same [`Pacer`](crate::pacer::Pacer) when work is due and run iterations with the
//! same code.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use loadcast_plan::{Capture, Checks, ConnectionMode, Load, ThinkTime};
use loadcast_stats::{ErrorKind, Second};
use tokio::sync::{Notify, watch};
use tokio::time::sleep_until;

use crate::client::{Connection, Connector, Message, PreparedRequest};
use crate::h1::{Answer, Failure, Want};
use crate::recorder::{Outcome, Recorder, ResponseSummary};
use crate::session::{Feeders, UserData, verdict};
use crate::sql::SqlConnector;

mod models;
mod sql_steps;
use models::{run_closed, run_open};
pub(crate) use sql_steps::{CompiledSql, CompiledTransaction, PoolShare};
use sql_steps::{HeldConnections, SqlPool};

/// Resolution of tokio's timer.
const TIMER_GRAIN: Duration = Duration::from_millis(1);

/// A scenario with its requests prepared.
#[derive(Debug)]
pub(crate) struct CompiledScenario {
    pub weight: u32,
    pub steps: Vec<CompiledStep>,
    /// Feeders whose row changes every iteration (not `unique`) that this scenario reads.
    pub iteration_feeders: Vec<usize>,
}

#[derive(Debug)]
pub(crate) enum CompiledStep {
    Request(Box<CompiledRequest>),
    Sql(Box<CompiledSql>),
    Transaction(Box<CompiledTransaction>),
    Set(Vec<(usize, loadcast_plan::template::Template)>),
    Think(ThinkTime),
}

impl CompiledStep {
    /// The database a SQL step goes to.
    fn database(&self) -> Option<usize> {
        match self {
            CompiledStep::Sql(s) => Some(s.database),
            CompiledStep::Transaction(t) => Some(t.database),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub(crate) struct CompiledRequest {
    pub request: PreparedRequest,
    /// Index of the name results are recorded under.
    pub name: usize,
    pub timeout: Duration,
    pub captures: Vec<Capture>,
    pub checks: Checks,
    /// What of the response the captures, checks and cookie jar read.
    pub want: Want,
}

/// Scenarios that share one load model.
#[derive(Debug)]
pub(crate) struct GroupShape {
    pub load: Load,
    /// Indices into [`RunShape::scenarios`].
    pub scenarios: Vec<usize>,
    pub total_weight: u32,
}

/// What every worker shares (read-only, but for the run-wide counters) about the run.
#[derive(Debug)]
pub(crate) struct RunShape {
    pub groups: Vec<GroupShape>,
    pub scenarios: Vec<CompiledScenario>,
    pub request_names: Vec<String>,
    pub start: Instant,
    pub workers: usize,
    /// How long in-flight work may finish after the schedule ends.
    pub graceful_stop: Duration,
    pub feeders: Feeders,
    /// Number of captured variables a user keeps.
    pub variables: usize,
    pub cookies: bool,
    pub connections: ConnectionMode,
    /// Run-wide virtual user numbers, so that `unique` rows are unique across workers and groups.
    pub next_user: AtomicU64,
    /// This process's shard of the run: (index, count). User numbers interleave across shards.
    pub shard: (u32, u32),
}

/// One worker's view of the run.
struct Worker {
    shape: std::sync::Arc<RunShape>,
    index: usize,
    connector: Connector,
    /// Where SQL steps go: one connector per database, in `Plan::sql_databases` order.
    sql: Vec<SqlConnector>,
    /// SQL connections the worker's users share (`[database] connections = "pool"`): one pool
    /// per database, or none.
    sql_pool: Vec<SqlPool>,
    recorder: RefCell<Recorder>,
    stop: watch::Receiver<bool>,
    /// Iterations running now, and a signal when one ends.
    running: Cell<u64>,
    iteration_ended: Notify,
    /// Idle connections, when users share them (`http.connections = "shared"`).
    pool: RefCell<Vec<Connection>>,
}

/// A virtual user: its own session state, connection and request buffer.
struct VirtualUser {
    data: UserData,
    connection: Option<Connection>,
    sql: HeldConnections,
    /// Where requests that vary are rendered; kept to reuse its capacity.
    scratch: Vec<u8>,
}

/// What an open-model arrival borrows from the one before it: a connection and a buffer, never
/// an identity. Keeping connections alive across arrivals is a performance choice (as a browser
/// fleet behind a proxy would); the user — its row, cookies and captures — is new every time.
#[derive(Default)]
struct Slot {
    connection: Option<Connection>,
    sql: HeldConnections,
    scratch: Vec<u8>,
}

/// How an iteration ended, for the loop that runs the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IterationEnd {
    Done,
    /// A `sequential` feeder has no row left: this user has nothing more to do.
    FeederExhausted,
    /// Already beyond the latency limit once it had a database connection: nothing was sent
    /// (pgbench skips such a transaction and counts it).
    Skipped,
}

impl Worker {
    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Resolves when a stop is requested (Ctrl-C), never otherwise.
    async fn stop_requested(&self) {
        let mut stop = self.stop.clone();
        if stop.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    fn end(&self, group: usize) -> Instant {
        self.shape.start + self.shape.groups[group].load.duration()
    }

    /// A new user with the next run-wide number; `None` when a `unique` feeder has no row left
    /// for it (counted: the arrival is not run as somebody else).
    fn new_user(&self, slot: Slot) -> Option<VirtualUser> {
        let (shard, shards) = self.shape.shard;
        let id = self.shape.next_user.fetch_add(1, Ordering::Relaxed) * u64::from(shards)
            + u64::from(shard);
        let Some(data) = UserData::new(
            id,
            // Distinct, reproducible streams per user.
            (id + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            &self.shape.feeders,
            self.shape.variables,
        ) else {
            self.recorder.borrow_mut().generator.feeder_exhausted += 1;
            return None;
        };
        self.recorder.borrow_mut().generator.users += 1;
        Some(VirtualUser {
            data,
            connection: slot.connection,
            sql: slot.sql,
            scratch: slot.scratch,
        })
    }

    /// Runs one iteration: a scenario of the group picked by weight, step by step. Only the
    /// first request is measured from `intended`; later steps follow the previous answer, as a
    /// user does.
    ///
    /// The caller counts the iteration as running (synchronously, before it can be scheduled) so
    /// that draining never misses one that has not been polled yet.
    async fn iteration(
        &self,
        user: &mut VirtualUser,
        group: usize,
        intended: Instant,
    ) -> IterationEnd {
        let end = self.run_steps(user, group, intended).await;
        if let Some(limit) = self.shape.groups[group].load.latency_limit() {
            let mut recorder = self.recorder.borrow_mut();
            match end {
                IterationEnd::Skipped => {
                    // Counted when it began; it never sent anything.
                    recorder.generator.started -= 1;
                    recorder.generator.skipped += 1;
                }
                IterationEnd::Done if intended.elapsed() > limit => {
                    recorder.generator.over_latency_limit += 1;
                }
                _ => {}
            }
        }
        user.data.iteration += 1;
        self.running.set(self.running.get() - 1);
        self.iteration_ended.notify_waiters();
        end
    }

    async fn run_steps(
        &self,
        user: &mut VirtualUser,
        group: usize,
        intended: Instant,
    ) -> IterationEnd {
        let scenario = self.pick(group, &mut user.data.rng);
        if !user
            .data
            .next_rows(&self.shape.feeders, &scenario.iteration_feeders)
        {
            self.recorder.borrow_mut().generator.feeder_exhausted += 1;
            return IterationEnd::FeederExhausted;
        }
        let mut intended = Some(intended);
        for step in &scenario.steps {
            if self.stopped() {
                break;
            }
            if let (Some(at), Some(database)) = (intended, step.database()) {
                if self
                    .beyond_limit_once_connected(user, group, database, at)
                    .await
                {
                    return IterationEnd::Skipped;
                }
            }
            match step {
                CompiledStep::Think(think) => {
                    let pause = think.sample(&mut user.data.rng);
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = self.stop_requested() => break,
                    }
                }
                CompiledStep::Request(step) => {
                    if !self.request(user, step, intended.take()).await {
                        break;
                    }
                }
                CompiledStep::Set(values) => {
                    let feeders = &self.shape.feeders;
                    for (var, template) in values {
                        let value = template.render_string(&mut user.data.scope(feeders));
                        user.data.set_var(*var, value);
                    }
                }
                CompiledStep::Sql(step) => {
                    if !self.statement(user, step, intended.take()).await {
                        break;
                    }
                }
                CompiledStep::Transaction(txn) => {
                    if !self.transaction(user, txn, intended.take()).await {
                        break;
                    }
                }
            }
        }
        IterationEnd::Done
    }

    fn pick(&self, group: usize, rng: &mut fastrand::Rng) -> &CompiledScenario {
        let group = &self.shape.groups[group];
        let scenarios = &self.shape.scenarios;
        if group.scenarios.len() == 1 {
            return &scenarios[group.scenarios[0]];
        }
        let mut ticket = rng.u32(0..group.total_weight);
        for &i in &group.scenarios {
            let s = &scenarios[i];
            if ticket < s.weight {
                return s;
            }
            ticket -= s.weight;
        }
        &scenarios[group.scenarios[group.scenarios.len() - 1]]
    }

    /// Sends one request for the user, applies its cookies, checks and captures, and records
    /// it. Returns whether the iteration goes on: not after a capture that found nothing, since
    /// the steps after it would send an empty token.
    async fn request(
        &self,
        user: &mut VirtualUser,
        step: &CompiledRequest,
        intended: Option<Instant>,
    ) -> bool {
        let sent = Instant::now();
        self.recorder.borrow_mut().sent();
        // Boxed: the exchange (connect, TLS handshake, HTTP) is the largest state a user ever
        // holds, and exists only while a request is in flight; a thinking user does not carry it.
        let result = Box::pin(self.exchange(user, step)).await;
        let ended = Instant::now();
        let intended = intended.unwrap_or(sent);
        let (result, bytes_sent, proceed) = match result {
            Ok((answer, bytes_sent)) => {
                let (summary, proceed) =
                    self.apply(user, step, &answer, ended - intended.min(sent));
                (Ok(summary), bytes_sent, proceed)
            }
            Err(kind) => (
                Err(kind),
                step.request.fixed_size().unwrap_or(0),
                step.captures.is_empty(),
            ),
        };
        let outcome = Outcome {
            intended,
            sent,
            ended,
            bytes_sent,
            result,
        };
        self.recorder.borrow_mut().record(step.name, &outcome);
        proceed
    }

    /// Cookies, then the verdict of status and checks, then captures.
    fn apply(
        &self,
        user: &mut VirtualUser,
        step: &CompiledRequest,
        answer: &Answer,
        latency: Duration,
    ) -> (ResponseSummary, bool) {
        let feeders = &self.shape.feeders;
        if self.shape.cookies {
            let mut path = None;
            for (name, value) in &answer.headers {
                if name == "set-cookie" {
                    let path = path.get_or_insert_with(|| {
                        step.request.path_for_cookies(&mut user.data.scope(feeders))
                    });
                    user.data.cookies.store(value, path);
                }
            }
        }
        let body = answer.body.as_deref();
        let mut error = verdict(
            &step.checks,
            &mut user.data.scope(feeders),
            answer.status,
            body,
            latency,
        );
        let mut proceed = true;
        if !step.captures.is_empty()
            && user
                .data
                .capture(&step.captures, body, &answer.headers)
                .is_err()
        {
            error = error.or(Some(ErrorKind::Check));
            proceed = false;
        }
        let summary = ResponseSummary {
            status: answer.status,
            bytes_received: answer.body_bytes,
            error,
        };
        (summary, proceed)
    }

    /// One request on the user's connection (or one from the shared pool), with a fresh
    /// connection when there is none. A connection goes back only after a complete answer: one
    /// cut off by the timeout is dropped with the attempt, never reused.
    async fn exchange(
        &self,
        user: &mut VirtualUser,
        step: &CompiledRequest,
    ) -> Result<(Answer, u64), ErrorKind> {
        let request = &step.request;
        let head_only = request.method == http::Method::HEAD;
        let feeders = &self.shape.feeders;
        let attempt = async {
            loop {
                let taken = match self.shape.connections {
                    ConnectionMode::PerUser => user.connection.take(),
                    ConnectionMode::Shared => self.pool.borrow_mut().pop(),
                };
                let mut connection = match taken {
                    Some(c) if !c.is_closed() => c,
                    _ => {
                        let c = self.connector.connect().await?;
                        self.recorder.borrow_mut().generator.connections_opened += 1;
                        c
                    }
                };
                let reused = connection.is_reused();
                let cookie = if self.shape.cookies && !user.data.cookies.is_empty() {
                    let path = request.path_for_cookies(&mut user.data.scope(feeders));
                    user.data.cookies.header_for(&path)
                } else {
                    None
                };
                let mut scope = user.data.scope(feeders);
                let (message, size) = if connection.is_h2() {
                    let message = request.h2_request(&mut scope, cookie.as_deref())?;
                    (
                        Message::H2(Box::new(message)),
                        request.fixed_size().unwrap_or(0),
                    )
                } else {
                    let wire = request.h1_wire(&mut scope, cookie.as_deref(), &mut user.scratch);
                    let size = wire.len() as u64;
                    (Message::H1(wire), size)
                };
                match connection.exchange(message, head_only, &step.want).await {
                    Ok(answer) => {
                        if !connection.is_closed() {
                            match self.shape.connections {
                                ConnectionMode::PerUser => user.connection = Some(connection),
                                ConnectionMode::Shared => self.pool.borrow_mut().push(connection),
                            }
                        }
                        return Ok((answer, size));
                    }
                    // The server closed a kept-alive connection as we reused it: not the target
                    // failing. Repeat an idempotent request once on a fresh connection.
                    Err(Failure::NoAnswer(_)) if reused && request.is_idempotent() => {}
                    Err(failure) => return Err(failure.kind()),
                }
            }
        };
        match tokio::time::timeout(step.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(ErrorKind::Timeout),
        }
    }

    /// Waits until no iteration is running, up to `deadline`.
    async fn drain(&self, deadline: Instant) {
        while self.running.get() > 0 {
            let ended = self.iteration_ended.notified();
            tokio::select! {
                _ = ended => {}
                _ = sleep_until(deadline.into()) => return,
                _ = self.stop_requested(), if deadline > Instant::now() + Duration::from_secs(1) => {
                    // Interrupted while draining: give in-flight requests one more second.
                    let short = Instant::now() + Duration::from_secs(1);
                    return Box::pin(self.drain(short)).await;
                }
            }
        }
    }
}

/// Everything one worker thread needs.
pub(crate) struct WorkerSetup {
    pub shape: std::sync::Arc<RunShape>,
    pub index: usize,
    pub connector: Connector,
    pub sql: Vec<SqlConnector>,
    /// The plan's SQL pool (one per database), split among the workers.
    pub sql_pool: Option<PoolShare>,
    pub stop: watch::Receiver<bool>,
    pub seconds: mpsc::Sender<Second>,
}

/// A worker thread's body: runs its share of the load and returns what it recorded.
pub(crate) fn run_worker(setup: WorkerSetup) -> std::io::Result<Recorder> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let shape = setup.shape.clone();
    let databases = setup.sql.len();
    let worker = Rc::new(Worker {
        recorder: RefCell::new(Recorder::new(&shape.request_names)),
        shape: setup.shape,
        index: setup.index,
        connector: setup.connector,
        sql: setup.sql,
        sql_pool: setup
            .sql_pool
            .map(|size| {
                (0..databases)
                    .map(|_| SqlPool::new(size.share(setup.index)))
                    .collect()
            })
            .unwrap_or_default(),
        stop: setup.stop,
        running: Cell::new(0),
        iteration_ended: Notify::new(),
        pool: RefCell::new(Vec::new()),
    });
    let seconds = setup.seconds;
    let ticker = {
        let worker = worker.clone();
        let seconds = seconds.clone();
        async move {
            let mut t = 0u32;
            loop {
                t += 1;
                sleep_until((worker.shape.start + Duration::from_secs(u64::from(t))).into()).await;
                let second = worker.recorder.borrow_mut().roll_second(t);
                if seconds.send(second).is_err() {
                    return;
                }
            }
        }
    };
    local.block_on(&runtime, async {
        sleep_until(shape.start.into()).await;
        let ticker = tokio::task::spawn_local(ticker);
        let groups: Vec<_> = (0..shape.groups.len())
            .map(|g| {
                let worker = worker.clone();
                tokio::task::spawn_local(async move {
                    let shape = worker.shape.clone();
                    match &shape.groups[g].load {
                        Load::Open(open) => run_open(worker, g, open).await,
                        Load::Closed(closed) => run_closed(worker, g, closed).await,
                    }
                })
            })
            .collect();
        for group in groups {
            let _ = group.await;
        }
        let deadline = Instant::now() + shape.graceful_stop;
        worker.drain(deadline).await;
        ticker.abort();
        let _ = ticker.await;
    });
    // Requests still in flight were cut off by the graceful-stop deadline or an interrupt.
    let mut recorder = worker.recorder.borrow_mut();
    let last = recorder.second.t + 1;
    let final_second = recorder.roll_second(last);
    let _ = seconds.send(final_second);
    let recorder = std::mem::replace(&mut *recorder, Recorder::new(&[]));
    drop(local);
    Ok(recorder)
}
