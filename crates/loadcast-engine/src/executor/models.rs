//! The two load models a worker runs: the open model's arrivals (each a new user on a pooled
//! slot) and the closed model's looping users.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use loadcast_plan::{ClosedLoad, OpenLoad};
use tokio::sync::Notify;
use tokio::time::sleep_until;

use super::{IterationEnd, Slot, TIMER_GRAIN, Worker};
use crate::pacer::{ArrivalRate, Constant, Pacer, Unpaced, UserSchedule};

/// The open model: arrivals on the schedule, each **a new user** (its own feeder row, cookie
/// jar and captures) on a slot — a connection and a buffer — from a pool that grows up to the
/// in-flight cap. An arrival that finds the cap reached waits (counted) and is still measured
/// from its intended time; one still waiting at the end is dropped (counted).
pub(super) async fn run_open(worker: Rc<Worker>, group: usize, open: &OpenLoad) {
    let pacer = ArrivalRate::new(&open.stages);
    let workers = worker.shape.workers as u64;
    let me = worker.index as u64;
    let max_slots = u64::from(open.max_in_flight).div_ceil(workers).max(1);
    let idle: Rc<RefCell<Vec<Slot>>> = Rc::default();
    let returned = Rc::new(Notify::new());
    let preallocate = u64::from(open.preallocate).div_ceil(workers).min(max_slots);
    idle.borrow_mut()
        .extend((0..preallocate).map(|_| Slot::default()));
    let mut slots = preallocate;
    let end = worker.end(group);
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
        let slot = loop {
            if let Some(slot) = idle.borrow_mut().pop() {
                break slot;
            }
            if slots < max_slots {
                slots += 1;
                break Slot::default();
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
        k += 1;
        let lag = Instant::now().saturating_duration_since(intended);
        if open.latency_limit.is_some_and(|limit| lag > limit) {
            // Already beyond the limit before it began: pgbench skips it, and counts it.
            let mut recorder = worker.recorder.borrow_mut();
            recorder.late(lag, open.late_after);
            recorder.generator.skipped += 1;
            drop(recorder);
            idle.borrow_mut().push(slot);
            returned.notify_one();
            continue;
        }
        let Some(mut user) = worker.new_user(slot) else {
            // No identity left for this arrival (a `unique` feeder used up): counted, not run.
            // Its slot was taken from the pool or never made; nothing to give back.
            idle.borrow_mut().push(Slot::default());
            continue;
        };
        {
            let mut recorder = worker.recorder.borrow_mut();
            recorder.late(lag, open.late_after);
            recorder.started_with_lag(lag);
        }
        worker.running.set(worker.running.get() + 1);
        let worker = worker.clone();
        let idle = idle.clone();
        let returned = returned.clone();
        tokio::task::spawn_local(async move {
            worker.iteration(&mut user, group, intended).await;
            // The user ends with its arrival; its connection and buffer serve the next one.
            idle.borrow_mut().push(Slot {
                connection: user.connection.take(),
                sql: std::mem::take(&mut user.sql),
                scratch: std::mem::take(&mut user.scratch),
            });
            returned.notify_one();
        });
    }
    let due_before_cut = pacer.hits_before(cut.saturating_duration_since(worker.shape.start));
    let mine = due_before_cut / workers + u64::from(due_before_cut % workers > me);
    let mut recorder = worker.recorder.borrow_mut();
    recorder.generator.scheduled += mine.max(k);
    recorder.generator.dropped += mine.saturating_sub(k);
    recorder.generator.max_vus += slots;
}

/// The closed model: each of this worker's users loops while the schedule wants it active.
pub(super) async fn run_closed(worker: Rc<Worker>, group: usize, closed: &ClosedLoad) {
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
                    user_loop(&worker, group, index, &schedule, &Constant { interval }).await
                }
                None => user_loop(&worker, group, index, &schedule, &Unpaced).await,
            }
        });
        index += workers;
    }
    worker.recorder.borrow_mut().generator.max_vus += users;
    // Users stop starting iterations at the end; the caller drains the ones still running.
    tokio::select! {
        _ = sleep_until(worker.end(group).into()) => {}
        _ = worker.stop_requested() => {}
    }
}

async fn user_loop(
    worker: &Worker,
    group: usize,
    index: u32,
    schedule: &UserSchedule,
    pacer: &dyn Pacer,
) {
    let start = worker.shape.start;
    let end = worker.end(group);
    // Validation gave every closed-model user a row of each `unique` feeder.
    let Some(mut user) = worker.new_user(Slot::default()) else {
        return;
    };
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
        // Boxed: a thinking user's task then holds a pointer, not the whole request machinery,
        // which keeps tens of thousands of idle users cheap.
        let end = Box::pin(worker.iteration(&mut user, group, Instant::now())).await;
        if end == IterationEnd::FeederExhausted {
            return;
        }
        iterations += 1;
    }
}
