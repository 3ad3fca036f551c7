//! The workers of one pipeline: a fixed set of pipeline instances, lent out
//! one call at a time, with a bounded wait.
//!
//! Each worker owns its own instances of stateless filters, so those calls
//! never share wasm state and need no locking. A stateful filter's stage is
//! shared by all workers behind a lock (see `pipeline::PipelineStage`), so
//! every worker's events update the same baselines. WebAssembly runs on tokio's blocking
//! pool, never on the reactor threads. A request that cannot get a worker
//! waits in a queue of bounded length for a bounded time; past either bound it
//! is refused at once with a status that tells the client to retry.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::engine::{FilterModule, Stage};
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
    /// Shared with the blocking tasks, which put their worker back themselves:
    /// if the request is cancelled (the client hung up) while WebAssembly runs,
    /// the worker still comes back when the call ends.
    idle: Arc<Mutex<Vec<Pipeline>>>,
    /// The stateful stages every worker shares, for snapshots.
    shared: Vec<(usize, Arc<Mutex<Stage>>)>,
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
        let mut first = Pipeline::new(name, modules.clone()).with_metrics(metrics.clone(), 0);
        let shared = first.shared_stages();
        let mut idle: Vec<Pipeline> = (1..size)
            .map(|worker| first.sibling().with_metrics(metrics.clone(), worker))
            .collect();
        idle.push(first);
        PipelineWorkers {
            name: name.to_owned(),
            modules,
            idle: Arc::new(Mutex::new(idle)),
            shared,
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
        let idle = self.idle.clone();
        let handle = tokio::task::spawn_blocking(move || {
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker.process(events)));
            // A worker that panicked may hold broken state; replace it.
            let returned = if outcome.is_ok() {
                worker
            } else {
                worker.fresh()
            };
            lock(&idle).push(returned);
            // Released only now, so a permit always finds an idle worker.
            drop(permit);
            outcome
        });
        match handle.await {
            Ok(Ok(results)) => Ok(results),
            Ok(Err(_)) | Err(_) => {
                tracing::error!(pipeline = %self.name, "a pipeline worker panicked; it was replaced");
                Err(self.reject(Rejected::WorkerPanicked))
            }
        }
    }

    /// The stateful stages all workers share, with their positions.
    pub fn shared_stages(&self) -> &[(usize, Arc<Mutex<Stage>>)] {
        &self.shared
    }

    fn take_idle(&self) -> Pipeline {
        // Holding a permit guarantees a worker is idle.
        lock(&self.idle)
            .pop()
            .expect("a permit implies an idle worker")
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

fn lock(idle: &Mutex<Vec<Pipeline>>) -> std::sync::MutexGuard<'_, Vec<Pipeline>> {
    // A panic never happens while this lock is held; recover regardless.
    idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
