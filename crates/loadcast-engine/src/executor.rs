//! The executors. A run is split across worker threads, each with its own single-threaded
//! runtime, its own virtual users and its own recorder, like wrk's threads. The open model shards
//! the global arrival schedule (worker `w` of `n` takes arrivals `w, w+n, …`); the closed model
//! shards the users. Both ask the same [`Pacer`] when work is due and run iterations with the
//! same code.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use loadcast_plan::{ClosedLoad, Load, OpenLoad, ThinkTime};
use loadcast_stats::{ErrorKind, Second};
use tokio::sync::{Notify, watch};
use tokio::time::sleep_until;

use crate::client::{Connection, Connector, PreparedRequest};
use crate::h1::Failure;
use crate::pacer::{ArrivalRate, Constant, Pacer, Unpaced, UserSchedule};
use crate::recorder::{Outcome, Recorder, ResponseSummary};

/// Resolution of tokio's timer.
const TIMER_GRAIN: Duration = Duration::from_millis(1);

/// A scenario with its requests prepared.
#[derive(Debug)]
pub(crate) struct CompiledScenario {
    pub weight: u32,
    pub steps: Vec<CompiledStep>,
}

#[derive(Debug)]
pub(crate) enum CompiledStep {
    Request {
        request: Box<PreparedRequest>,
        /// Index of the name results are recorded under.
        name: usize,
        timeout: Duration,
    },
    Think(ThinkTime),
}

/// What every worker shares (read-only) about the run.
#[derive(Debug)]
pub(crate) struct RunShape {
    pub load: Load,
    pub scenarios: Vec<CompiledScenario>,
    pub request_names: Vec<String>,
    pub start: Instant,
    pub workers: usize,
    /// How long in-flight work may finish after the schedule ends.
    pub graceful_stop: Duration,
}

/// One worker's view of the run.
struct Worker {
    shape: std::sync::Arc<RunShape>,
    index: usize,
    connector: Connector,
    recorder: RefCell<Recorder>,
    stop: watch::Receiver<bool>,
    total_weight: u32,
    /// Iterations running now, and a signal when one ends.
    running: Cell<u64>,
    iteration_ended: Notify,
}

/// A virtual user: its own connection and its own random stream.
struct VirtualUser {
    connection: Option<Connection>,
    rng: fastrand::Rng,
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

    fn end(&self) -> Instant {
        self.shape.start + self.shape.load.duration()
    }

    fn new_user(&self, seed: u64) -> VirtualUser {
        VirtualUser {
            connection: None,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Runs one iteration: a scenario picked by weight, step by step. Only the first request is
    /// measured from `intended`; later steps follow the previous answer, as a user does.
    ///
    /// The caller counts the iteration as running (synchronously, before it can be scheduled) so
    /// that draining never misses one that has not been polled yet.
    async fn iteration(&self, user: &mut VirtualUser, intended: Instant) {
        let scenario = self.pick(&mut user.rng);
        let mut intended = Some(intended);
        for step in &scenario.steps {
            if self.stopped() {
                break;
            }
            match step {
                CompiledStep::Think(think) => {
                    let pause = match *think {
                        ThinkTime::Fixed(d) => d,
                        ThinkTime::Uniform(low, high) => low + (high - low).mul_f64(user.rng.f64()),
                    };
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = self.stop_requested() => break,
                    }
                }
                CompiledStep::Request {
                    request,
                    name,
                    timeout,
                } => {
                    let sent = Instant::now();
                    self.recorder.borrow_mut().sent();
                    let result = self.exchange(user, request, *timeout).await;
                    let outcome = Outcome {
                        intended: intended.take().unwrap_or(sent),
                        sent,
                        ended: Instant::now(),
                        bytes_sent: request.wire_size,
                        result,
                    };
                    self.recorder.borrow_mut().record(*name, &outcome);
                }
            }
        }
        self.running.set(self.running.get() - 1);
        self.iteration_ended.notify_waiters();
    }

    fn pick<'a>(&'a self, rng: &mut fastrand::Rng) -> &'a CompiledScenario {
        let scenarios = &self.shape.scenarios;
        if scenarios.len() == 1 {
            return &scenarios[0];
        }
        let mut ticket = rng.u32(0..self.total_weight);
        for s in scenarios {
            if ticket < s.weight {
                return s;
            }
            ticket -= s.weight;
        }
        &scenarios[scenarios.len() - 1]
    }

    async fn exchange(
        &self,
        user: &mut VirtualUser,
        request: &PreparedRequest,
        timeout: Duration,
    ) -> Result<ResponseSummary, ErrorKind> {
        let attempt = async {
            loop {
                if user.connection.as_ref().is_none_or(Connection::is_closed) {
                    user.connection = None;
                    let connection = self.connector.connect().await?;
                    self.recorder.borrow_mut().generator.connections_opened += 1;
                    user.connection = Some(connection);
                }
                let connection = user.connection.as_mut().expect("connected above");
                let reused = connection.is_reused();
                match connection.exchange(request).await {
                    Ok(response) => return Ok(response),
                    // The server closed a kept-alive connection as we reused it: not the target
                    // failing. Repeat an idempotent request once on a fresh connection.
                    Err(Failure::NoAnswer(_)) if reused && request.is_idempotent() => {
                        user.connection = None;
                    }
                    Err(failure) => return Err(failure.kind()),
                }
            }
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(Ok(response)) => Ok(ResponseSummary {
                status: response.status,
                bytes_received: response.body_bytes,
                error: (response.status >= 400).then_some(ErrorKind::Status(response.status)),
            }),
            Ok(Err(kind)) => {
                user.connection = None;
                Err(kind)
            }
            Err(_) => {
                // A late answer would arrive on this connection: it cannot be reused.
                user.connection = None;
                Err(ErrorKind::Timeout)
            }
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

/// The open model: arrivals on the schedule, each served by an idle virtual user from a pool that
/// grows up to the in-flight cap. An arrival that finds the cap reached waits (counted) and is
/// still measured from its intended time; one still waiting at the end is dropped (counted).
async fn run_open(worker: Rc<Worker>, open: &OpenLoad) {
    let pacer = ArrivalRate::new(&open.stages);
    let workers = worker.shape.workers as u64;
    let me = worker.index as u64;
    let max_users = u64::from(open.max_in_flight).div_ceil(workers).max(1);
    let idle: Rc<RefCell<Vec<VirtualUser>>> = Rc::default();
    let returned = Rc::new(Notify::new());
    let mut users = 0u64;
    let end = worker.end();
    let mut k = 0u64;
    // Arrivals due before `cut` that never started are dropped: the end, or the moment of a stop.
    let mut cut = end;
    'arrivals: while let Some(due) = pacer.due(k * workers + me) {
        let intended = worker.shape.start + due;
        if worker.stopped() {
            cut = Instant::now();
            break;
        }
        if intended > Instant::now() + TIMER_GRAIN {
            tokio::select! {
                // The timer fires on the first millisecond tick after its deadline: aim one tick
                // early so arrivals go out on time, not up to a millisecond late.
                _ = sleep_until((intended - TIMER_GRAIN).into()) => {}
                _ = worker.stop_requested() => {
                    cut = Instant::now();
                    break;
                }
            }
        }
        let mut waited = false;
        let mut user = loop {
            if let Some(user) = idle.borrow_mut().pop() {
                break user;
            }
            if users < max_users {
                users += 1;
                break worker.new_user(users * workers + me);
            }
            if !waited {
                waited = true;
                worker.recorder.borrow_mut().generator.waited_for_capacity += 1;
            }
            tokio::select! {
                _ = returned.notified() => {}
                _ = sleep_until(end.into()) => break 'arrivals,
                _ = worker.stop_requested() => {
                    cut = Instant::now();
                    break 'arrivals;
                }
            }
        };
        {
            let mut recorder = worker.recorder.borrow_mut();
            recorder.late(
                Instant::now().saturating_duration_since(intended),
                open.late_after,
            );
            recorder.generator.started += 1;
        }
        k += 1;
        worker.running.set(worker.running.get() + 1);
        let worker = worker.clone();
        let idle = idle.clone();
        let returned = returned.clone();
        tokio::task::spawn_local(async move {
            worker.iteration(&mut user, intended).await;
            idle.borrow_mut().push(user);
            returned.notify_one();
        });
    }
    let due_before_cut = pacer.hits_before(cut.saturating_duration_since(worker.shape.start));
    let mine = due_before_cut / workers + u64::from(due_before_cut % workers > me);
    let mut recorder = worker.recorder.borrow_mut();
    recorder.generator.scheduled = mine.max(k);
    recorder.generator.dropped = mine.saturating_sub(k);
    recorder.generator.max_vus = users;
}

/// The closed model: each of this worker's users loops while the schedule wants it active.
async fn run_closed(worker: Rc<Worker>, closed: &ClosedLoad) {
    let schedule = Rc::new(UserSchedule::new(&closed.stages));
    let workers = worker.shape.workers as u32;
    let mut users = 0u64;
    let mut index = worker.index as u32;
    while index < schedule.peak() {
        let worker = worker.clone();
        let schedule = schedule.clone();
        let pacing = closed.pacing;
        users += 1;
        tokio::task::spawn_local(async move {
            match pacing {
                Some(interval) => {
                    user_loop(&worker, index, &schedule, &Constant { interval }).await
                }
                None => user_loop(&worker, index, &schedule, &Unpaced).await,
            }
        });
        index += workers;
    }
    worker.recorder.borrow_mut().generator.max_vus = users;
    // Users stop starting iterations at the end; the caller drains the ones still running.
    tokio::select! {
        _ = sleep_until(worker.end().into()) => {}
        _ = worker.stop_requested() => {}
    }
}

async fn user_loop(worker: &Worker, index: u32, schedule: &UserSchedule, pacer: &dyn Pacer) {
    let start = worker.shape.start;
    let end = worker.end();
    let mut user = worker.new_user(u64::from(index) + 1);
    let mut active_since: Option<Instant> = None;
    let mut iterations = 0u64;
    loop {
        let now = Instant::now();
        if worker.stopped() || now >= end {
            return;
        }
        let elapsed = now - start;
        if index >= schedule.users_at(elapsed) {
            active_since = None;
            iterations = 0;
            let Some(at) = schedule.next_active(index, elapsed) else {
                return;
            };
            let wake = (start + at).max(now + Duration::from_millis(1));
            tokio::select! {
                _ = sleep_until(wake.into()) => continue,
                _ = worker.stop_requested() => return,
            }
        }
        let since = *active_since.get_or_insert(now);
        let Some(due) = pacer.due(iterations) else {
            return;
        };
        let due = since + due;
        if due > now {
            tokio::select! {
                _ = sleep_until(due.into()) => {}
                _ = worker.stop_requested() => return,
            }
            if Instant::now() >= end {
                return;
            }
        }
        {
            let mut recorder = worker.recorder.borrow_mut();
            recorder.generator.scheduled += 1;
            recorder.generator.started += 1;
        }
        worker.running.set(worker.running.get() + 1);
        worker.iteration(&mut user, Instant::now()).await;
        iterations += 1;
    }
}

/// Everything one worker thread needs.
pub(crate) struct WorkerSetup {
    pub shape: std::sync::Arc<RunShape>,
    pub index: usize,
    pub connector: Connector,
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
    let worker = Rc::new(Worker {
        total_weight: shape.scenarios.iter().map(|s| s.weight).sum::<u32>().max(1),
        recorder: RefCell::new(Recorder::new(&shape.request_names)),
        shape: setup.shape,
        index: setup.index,
        connector: setup.connector,
        stop: setup.stop,
        running: Cell::new(0),
        iteration_ended: Notify::new(),
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
        match &shape.load {
            Load::Open(open) => run_open(worker.clone(), open).await,
            Load::Closed(closed) => run_closed(worker.clone(), closed).await,
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
