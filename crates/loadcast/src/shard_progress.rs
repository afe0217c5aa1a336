//! A shard's progress in object storage while it runs (`loadcast_stats::shard::ShardProgress`
//! beside its results), and the waiting merge's view of it. Puts run off the engine's thread, one
//! at a time: a slow store delays the next report, never the load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use loadcast_engine::{Observer, Progress};
use loadcast_stats::shard::ShardProgress;
use loadcast_stats::time::{format_time, now};
use loadcast_store::objects::Location;

/// How often a running shard reports.
const EVERY: Duration = Duration::from_secs(5);

/// Passes each second on to `inner` and publishes the shard's progress every few seconds.
pub struct Publishing<'a, O: Observer> {
    pub inner: &'a mut O,
    object: Location,
    progress: ShardProgress,
    last: Option<Instant>,
    busy: Arc<AtomicBool>,
}

impl<'a, O: Observer> Publishing<'a, O> {
    pub fn new(
        inner: &'a mut O,
        prefix: &Location,
        plan: &str,
        shard: (u32, u32),
        planned: Duration,
    ) -> Self {
        let started = format_time(now());
        Self {
            inner,
            object: prefix.join(&ShardProgress::object_name(plan, shard.0, shard.1)),
            progress: ShardProgress {
                plan_name: plan.to_string(),
                index: shard.0,
                count: shard.1,
                started_at: started.clone(),
                updated_at: started,
                elapsed_seconds: 0.0,
                planned_seconds: planned.as_secs_f64(),
                sent: 0,
                completed: 0,
                errors: 0,
                finished: false,
            },
            last: None,
            busy: Arc::new(AtomicBool::new(false)),
        }
    }

    fn publish(&self, wait: bool) {
        if self.busy.swap(true, Ordering::SeqCst) && !wait {
            return;
        }
        let object = self.object.clone();
        let body = serde_json::to_vec_pretty(&self.progress).unwrap_or_default();
        let busy = self.busy.clone();
        let put = move || {
            if let Err(e) = object.put(body) {
                eprintln!(
                    "warning: shard progress not written to {}: {e}",
                    object.url()
                );
            }
            busy.store(false, Ordering::SeqCst);
        };
        if wait {
            put();
        } else {
            std::thread::spawn(put);
        }
    }

    /// The last report: the run ended.
    pub fn finish(mut self, completed: u64, errors: u64) {
        self.progress.finished = true;
        self.progress.completed = completed;
        self.progress.errors = errors;
        self.progress.updated_at = format_time(now());
        // The previous put may still be under way: this one must land last.
        while self.busy.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.publish(true);
    }
}

impl<O: Observer> Observer for Publishing<'_, O> {
    fn on_second(&mut self, p: &Progress<'_>) {
        self.inner.on_second(p);
        self.progress.elapsed_seconds = p.elapsed.as_secs_f64();
        self.progress.sent = p.sent;
        self.progress.completed = p.completed;
        self.progress.errors = p.errors;
        self.progress.updated_at = format_time(now());
        if self.last.is_none_or(|t| t.elapsed() >= EVERY) {
            self.last = Some(Instant::now());
            self.publish(false);
        }
    }
}

/// The progress of every shard under `prefix` that reported, by index.
pub fn progress_under(prefix: &Location) -> Vec<ShardProgress> {
    let Ok(names) = prefix.list() else {
        return Vec::new();
    };
    let mut found: Vec<ShardProgress> = names
        .iter()
        .filter(|n| n.ends_with(".progress.json"))
        .filter_map(|n| prefix.join(n).get().ok())
        .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
        .collect();
    found.sort_by_key(|p| p.index);
    found
}
