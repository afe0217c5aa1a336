//! [`CapacityServer`]: a target whose capacity is known by construction — `workers` requests
//! served at once, each holding a worker for `base + per_row × rows` — so a capacity search can
//! be checked against the truth, and `rows` (a data-size knob) can be turned between searches.

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
    workers: usize,
    base: Duration,
    per_row: Duration,
}

impl CapacityServer {
    pub fn start(workers: usize, base: Duration, per_row: Duration, rows: u64) -> Self {
        let permits = Arc::new(Semaphore::new(workers));
        let rows = Arc::new(AtomicU64::new(rows));
        let served = Arc::new(AtomicU64::new(0));
        let (p, r, s) = (permits.clone(), rows.clone(), served.clone());
        let server = serve(None, move |_req| {
            let (permits, rows, served) = (p.clone(), r.clone(), s.clone());
            async move {
                let _permit = permits.acquire_owned().await.expect("never closed");
                let work = base + per_row * rows.load(Ordering::Relaxed) as u32;
                tokio::time::sleep(work).await;
                served.fetch_add(1, Ordering::Relaxed);
                Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
            }
        });
        Self {
            server,
            rows,
            served,
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
}
