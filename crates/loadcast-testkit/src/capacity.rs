//! [`CapacityServer`]: a target whose capacity is known by construction — `workers` requests
//! served at once, each holding a worker for `base + per_row × rows` — so a capacity search can
//! be checked against the truth, and `rows` (a data-size knob) can be turned between searches.
//! On a busy machine a worker's timer fires late, so the server also measures how long each
//! request really held its worker: [`CapacityServer::measured_capacity`] is the truth this
//! machine delivered, which can sit below the construction.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use tokio::sync::Semaphore;

use crate::{Serving, serve};

#[derive(Debug)]
pub struct CapacityServer {
    server: Serving,
    rows: Arc<AtomicU64>,
    pub served: Arc<AtomicU64>,
    held_nanos: Arc<AtomicU64>,
    workers: usize,
    base: Duration,
    per_row: Duration,
}

impl CapacityServer {
    pub fn start(workers: usize, base: Duration, per_row: Duration, rows: u64) -> Self {
        let permits = Arc::new(Semaphore::new(workers));
        let rows = Arc::new(AtomicU64::new(rows));
        let served = Arc::new(AtomicU64::new(0));
        let held_nanos = Arc::new(AtomicU64::new(0));
        let (p, r, s, h) = (
            permits.clone(),
            rows.clone(),
            served.clone(),
            held_nanos.clone(),
        );
        let server = serve(None, move |_req| {
            let (permits, rows, served, held) = (p.clone(), r.clone(), s.clone(), h.clone());
            async move {
                let _permit = permits.acquire_owned().await.expect("never closed");
                let started = std::time::Instant::now();
                let work = base + per_row * rows.load(Ordering::Relaxed) as u32;
                tokio::time::sleep(work).await;
                held.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                served.fetch_add(1, Ordering::Relaxed);
                Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
            }
        });
        Self {
            server,
            rows,
            served,
            held_nanos,
            workers,
            base,
            per_row,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    pub fn set_rows(&self, rows: u64) {
        self.rows.store(rows, Ordering::Relaxed);
    }

    /// Requests per second the server can serve at `rows`, by construction.
    pub fn capacity(&self, rows: u64) -> f64 {
        let work = self.base + self.per_row * rows as u32;
        self.workers as f64 / work.as_secs_f64()
    }

    /// Requests per second the workers could have served at the mean time a request really held
    /// one so far (late timers included); `None` before the first request.
    pub fn measured_capacity(&self) -> Option<f64> {
        let served = self.served.load(Ordering::Relaxed);
        let held = self.held_nanos.load(Ordering::Relaxed);
        (served > 0 && held > 0).then(|| self.workers as f64 * served as f64 / (held as f64 / 1e9))
    }
}
