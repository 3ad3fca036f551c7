//! The workers of one pipeline: a fixed set of pipeline instances, lent out
//! one call at a time, with a bounded wait.
//!
//! Each worker owns its own filter instances, so calls never share wasm state
//! and need no locking inside the engine. WebAssembly runs on tokio's blocking
//! pool, never on the reactor threads. A request that cannot get a worker
//! waits in a queue of bounded length for a bounded time; past either bound it
//! is refused at once with a status that tells the client to retry.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::engine::FilterModule;
use crate::metrics::Metrics;
use crate::pipeline::{EventResult, Pipeline};

/// Why a call did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// Every worker is busy and the queue is full (429).
    QueueFull,
    /// Waited `queue_timeout` without getting a worker (503).
    QueueTimeout,
    /// The worker thread panicked: a bug in the host, reported as a 500 so
    /// the client keeps (and tags) its events.
    WorkerPanicked,
}

pub struct PipelineWorkers {
    name: String,
    modules: Vec<FilterModule>,
    idle: Mutex<Vec<Pipeline>>,
    permits: Arc<Semaphore>,
    size: usize,
    waiting: AtomicUsize,
    queue: usize,
    queue_timeout: Duration,
    metrics: Arc<Metrics>,
}

/// Counts a waiting request for as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PipelineWorkers {
    pub fn new(
        name: &str,
        modules: Vec<FilterModule>,
        size: usize,
        queue: usize,
        queue_timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> PipelineWorkers {
        let idle = (0..size)
            .map(|worker| {
                Pipeline::new(name, modules.clone()).with_metrics(metrics.clone(), worker)
            })
            .collect();
        PipelineWorkers {
            name: name.to_owned(),
            modules,
            idle: Mutex::new(idle),
            permits: Arc::new(Semaphore::new(size)),
            size,
            waiting: AtomicUsize::new(0),
            queue,
            queue_timeout,
            metrics,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn modules(&self) -> &[FilterModule] {
        &self.modules
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Runs `events` through the pipeline on a free worker.
    pub async fn run(&self, events: Vec<Vec<u8>>) -> Result<Vec<EventResult>, Rejected> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(self.reject(Rejected::QueueFull));
                }
                let _waiting = Waiting(&self.waiting);
                match tokio::time::timeout(self.queue_timeout, self.permits.clone().acquire_owned())
                    .await
                {
                    Ok(Ok(permit)) => permit,
                    _ => return Err(self.reject(Rejected::QueueTimeout)),
                }
            }
        };
        let mut worker = self.take_idle();
        let handle = tokio::task::spawn_blocking(move || {
            let results = worker.process(events);
            (worker, results)
        });
        let (worker, results) = match handle.await {
            Ok(done) => done,
            // A panic in host code is a bug; the events cannot be recovered
            // from the dead thread, but the worker slot must not be lost.
            Err(e) => {
                tracing::error!(pipeline = %self.name, "worker panicked: {e}");
                self.idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(self.fresh_worker());
                return Err(self.reject(Rejected::WorkerPanicked));
            }
        };
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(worker);
        drop(permit);
        Ok(results)
    }

    /// Waits until no call is running, then gives `work` every worker (to
    /// take or restore snapshots). Calls that arrive meanwhile wait.
    pub async fn with_all_workers<R>(&self, work: impl FnOnce(&mut [Pipeline]) -> R) -> R {
        let all = self
            .permits
            .acquire_many(self.size as u32)
            .await
            .expect("the semaphore is never closed");
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let result = work(&mut idle);
        drop(idle);
        drop(all);
        result
    }

    fn take_idle(&self) -> Pipeline {
        // Holding a permit guarantees a worker is idle.
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .expect("a permit implies an idle worker")
    }

    fn fresh_worker(&self) -> Pipeline {
        Pipeline::new(&self.name, self.modules.clone()).with_metrics(self.metrics.clone(), 0)
    }

    fn reject(&self, reason: Rejected) -> Rejected {
        let label = match reason {
            Rejected::QueueFull => "queue_full",
            Rejected::QueueTimeout => "queue_timeout",
            Rejected::WorkerPanicked => "worker_panicked",
        };
        self.metrics.add(
            "wasmstash_rejected_total",
            &[("pipeline", &self.name), ("reason", label)],
            1,
        );
        reason
    }
}
